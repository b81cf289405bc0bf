"""A team's own services (tests/fixtures/team): each app's pods are exactly what its keys say, and
nothing of the podinfo demo leaks into them."""

from __future__ import annotations

import json

import pytest

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
HPA = "kubernetes:autoscaling/v2:HorizontalPodAutoscaler"
CANARY = "kubernetes:flagger.app/v1beta1:Canary"
KSA = "kubernetes:core/v1:ServiceAccount"
IAM_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
NAMESPACE, NAMESPACE_PATCH = "kubernetes:core/v1:Namespace", "kubernetes:core/v1:NamespacePatch"
APP_COMPONENTS = ("ProgressiveCanary", "ABTest", "WeightedRelease")


def pod(plan, name: str) -> dict:
    return plan.named(name, DEPLOYMENT)["inputs"]["spec"]["template"]


def container(plan, name: str) -> dict:
    (only,) = pod(plan, name)["spec"]["containers"]
    return only


def apps(config: dict) -> dict:
    return config["istio-canary:apps"]


def app_resources(plan) -> list[dict]:
    components = {r["urn"] for r in plan.resources if r["type"].rsplit(":", 1)[-1] in APP_COMPONENTS}
    return [r for r in plan.resources if r["parent"] in components]


def test_the_api_container_is_exactly_its_keys(team_plan, team_config):
    api = apps(team_config)["api"]
    c = container(team_plan, "api")
    assert c["name"] == "api"
    assert c["image"] == f"{api['image']}:{api['tag']}"
    assert c["command"] == api["command"] and c["args"] == api["args"]
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]  # the default port
    assert c["env"] == [
        {"name": "LOG_LEVEL", "value": "info"},
        {"name": "FEATURE_REFUNDS", "value": "on"},
        {"name": "DATABASE_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "api-db", "key": "password"}}},
    ]
    assert c["envFrom"] == [{"configMapRef": {"name": "api-config"}}, {"secretRef": {"name": "api-env"}}]
    assert c["resources"] == api["resources"]
    assert c["readinessProbe"] == {"httpGet": {"path": "/ready", "port": "http"}, "periodSeconds": 10}
    assert c["livenessProbe"] == {"httpGet": {"path": "/live", "port": "http"}, "failureThreshold": 5}
    assert c["startupProbe"] == {
        "httpGet": {"path": "/started", "port": "http"},
        "periodSeconds": 2,
        "failureThreshold": 30,
    }
    sc = c["securityContext"]
    assert (sc["runAsUser"], sc["runAsGroup"], sc["runAsNonRoot"], sc["readOnlyRootFilesystem"]) == (
        1000,
        1000,
        True,
        True,
    )
    assert c["volumeMounts"] == [
        {"name": "tmp", "mountPath": "/tmp"},
        {"name": "var-cache-api", "mountPath": "/var/cache/api"},
    ]


def test_the_api_pod_has_its_volumes_annotations_pull_secrets_and_account(team_plan):
    template = pod(team_plan, "api")
    spec = template["spec"]
    # The app's own annotations, and the version of istiod that injects its sidecar (an upgrade rolls it).
    istio = team_plan.named("istiod", "kubernetes:helm.sh/v3:Release")["inputs"]["version"]
    assert template["metadata"]["annotations"] == {
        "sidecar.istio.io/proxyCPU": "200m",
        "istio-canary/istio-version": istio,
    }
    assert spec["volumes"] == [{"name": "tmp", "emptyDir": {}}, {"name": "var-cache-api", "emptyDir": {}}]
    assert spec["imagePullSecrets"] == [{"name": "registry-creds"}]
    assert spec["serviceAccountName"] == "api"
    assert spec["automountServiceAccountToken"] is False


def test_defaults_are_a_new_services_not_the_demos(team_plan):
    c = container(team_plan, "ledger-ga")
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert c["readinessProbe"] == {"tcpSocket": {"port": "http"}, "initialDelaySeconds": 3}
    assert "livenessProbe" not in c and "startupProbe" not in c and "command" not in c and "env" not in c
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "256Mi"}}
    assert c["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    spec = pod(team_plan, "ledger-ga")["spec"]
    assert "serviceAccountName" not in spec and "imagePullSecrets" not in spec
    assert c["securityContext"]["runAsUser"] == 10001 and c["securityContext"]["readOnlyRootFilesystem"] is True


def test_no_podinfo_constant_in_any_team_resource(team_plan):
    text = json.dumps([r["inputs"] for r in app_resources(team_plan)])
    for constant in ("podinfo", "9898", "/readyz", "/healthz", "/token", "/version", "/data"):
        assert constant not in text, constant


def test_workload_identity_binds_the_apps_own_account_to_its_google_account(team_plan, team_config):
    email = apps(team_config)["api"]["serviceAccount"]["gcpServiceAccount"]
    ksa = team_plan.named("api", KSA)
    assert ksa["inputs"]["metadata"] == {
        "name": "api",
        "namespace": "payments",
        "annotations": {"iam.gke.io/gcp-service-account": email},
    }
    member = team_plan.named("api-workload-identity", IAM_MEMBER)["inputs"]
    assert member == {
        "serviceAccountId": f"projects/acme-payments/serviceAccounts/{email}",
        "role": "roles/iam.workloadIdentityUser",
        "member": "serviceAccount:acme-payments.svc.id.goog[payments/api]",
    }
    # The pods run as the account once it exists; the binding waits for the cluster (through the KSA).
    assert ksa["urn"] in team_plan.named("api", DEPLOYMENT)["dependencies"]
    assert ksa["urn"] in team_plan.named("api-workload-identity", IAM_MEMBER)["dependencies"]
    assert not team_plan.of_type(KSA)[1:], "only apps that set serviceAccount get one"


def test_on_an_existing_cluster_the_account_is_annotated_and_no_google_binding_is_made(render_config, team_config):
    def existing(config):
        config.clear()
        config["istio-canary:cluster"] = {"provider": "existing", "context": "kind-team"}
        config["istio-canary:apps"] = {"api": apps(team_config)["api"]}

    plan = render_config(existing)
    assert plan.named("api", KSA)["inputs"]["metadata"]["annotations"]
    assert not plan.of_type(IAM_MEMBER)


def test_a_google_account_of_another_project_is_bound_in_its_own_project(render_config, team_config):
    # A shared identity project: the binding is a policy of the account, in the account's project;
    # the member stays the cluster project's identity pool.
    shared = "api@acme-identities.iam.gserviceaccount.com"

    def shared_identity(config):
        app = {**apps(team_config)["api"], "serviceAccount": {"gcpServiceAccount": shared}}
        config["istio-canary:apps"] = {"api": app}

    member = render_config(shared_identity).named("api-workload-identity", IAM_MEMBER)["inputs"]
    assert member["serviceAccountId"] == f"projects/acme-identities/serviceAccounts/{shared}"
    assert member["member"].startswith("serviceAccount:acme-istio-canary.svc.id.goog[")


def test_autoscaling_follows_the_stack_file(team_plan, team_config):
    hpa = team_plan.named("api", HPA)["inputs"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    assert hpa["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    rates = team_plan.named("rates", HPA)["inputs"]["spec"]
    assert (
        rates["minReplicas"],
        rates["maxReplicas"],
        rates["metrics"][0]["resource"]["target"]["averageUtilization"],
    ) == (
        2,
        4,
        80,
    )


def test_a_grpc_app_names_its_port_grpc_and_probes_and_load_tests_in_grpc(team_plan):
    c = container(team_plan, "rates")
    assert c["ports"] == [{"name": "grpc", "containerPort": 9090, "protocol": "TCP"}]
    assert c["readinessProbe"] == {"grpc": {"port": 9090}}
    canary = team_plan.named("rates", CANARY)["inputs"]["spec"]
    assert canary["service"] == {"port": 9090, "targetPort": 9090, "portName": "grpc"}
    (hook,) = canary["analysis"]["webhooks"]
    assert hook["metadata"]["cmd"].startswith("ghz ")
    assert "grpc.health.v1.Health/Check" in hook["metadata"]["cmd"]
    assert hook["metadata"]["cmd"].endswith(" rates-canary.payments:9090")


def test_a_weighted_app_without_loadtest_gets_no_load_generator(team_plan):
    names = {r["name"] for r in team_plan.of_type(DEPLOYMENT)}
    assert {"ledger-ga", "ledger-canary"} <= names and "ledger-loadtest" not in names
    service = team_plan.named("ledger", SERVICE)["inputs"]["spec"]
    assert service["ports"] == [{"name": "http", "port": 8080, "targetPort": "http"}]


@pytest.mark.parametrize("namespace", ["default", "ledger"])
def test_an_existing_namespace_is_labelled_by_a_patch_never_created(team_plan, namespace):
    assert namespace not in {r["inputs"]["metadata"]["name"] for r in team_plan.of_type(NAMESPACE)}
    patch = team_plan.named(namespace, NAMESPACE_PATCH)
    assert patch["inputs"]["metadata"] == {"name": namespace, "labels": {"istio-injection": "enabled"}}
    istiod = team_plan.named("istiod", "kubernetes:helm.sh/v3:Release")["urn"]
    assert istiod in patch["dependencies"]
    # Workloads take the namespace's name from the patch: they are created once it is labelled.
    workloads = [r for r in team_plan.of_type(DEPLOYMENT) if r["inputs"]["metadata"]["namespace"] == namespace]
    assert workloads and all(patch["urn"] in w["dependencies"] for w in workloads)


def test_a_namespace_the_program_creates_is_still_a_namespace(team_plan):
    (payments,) = [r for r in team_plan.of_type(NAMESPACE) if r["inputs"]["metadata"]["name"] == "payments"]
    assert payments["inputs"]["metadata"]["labels"] == {"istio-injection": "enabled"}
