"""What each configuration key means, in a person's words: the one hand-written input of
docs/reference/configuration.md (scripts/config_reference.py derives the rest from the model).

MEANINGS is keyed by the key's path under `istio-canary:` (`cluster.name`, `apps.<name>.ga.tag`);
`<path>@<strategy>` overrides it for the one strategy whose rule differs (`apps.<name>.hosts@ab`).
A field's own `description=` in the model wins over this table.
"""

from __future__ import annotations

# The text for each field type of model/settings/fields.py, by the name of its validator.
VALIDATORS = {
    "_dns_label": "a DNS-1123 label: lowercase letters, digits, `-`; at most 63",
    "_gke_cluster_name": "a lowercase letter, then lowercase letters, digits, `-`; at most 40",
    "_host": "a DNS name (`app.example.com`), `*.example.com` or `*`",
    "_tag": "an OCI tag or a `sha256:` digest; never `latest`",
    "_track": "a semver range: `6.13.x`, `~6.13`, `^6.0.0`, `>=6.0.0 <7.0.0`, "
    "or several ranges separated by a double pipe",
    "_repository": "an OCI repository without tag or digest (`ghcr.io/owner/name`)",
    "_exact_version": "an exact chart version `X.Y.Z`",
    "_duration": "a duration: numbers with `ms`, `s`, `m` or `h` (`15s`, `1m`, `1h30m`), at most what a Go "
    "`time.Duration` holds (about `2562047h`)",
    "_flagger_interval": "a duration starting with seconds or minutes (`15s`, `1m`, `90m`; Flagger's Canary CRD "
    "refuses `1h`), at least `1s` and at most what a Go `time.Duration` holds",
    "_cidr": "a CIDR block with zero host bits (`203.0.113.0/24`)",
    "_regex": "a regular expression RE2 accepts (no lookarounds, backreferences, atomic or possessive groups)",
    "_header": "a lowercase HTTP header name (`user-agent`, `cookie`, `x-canary`)",
    # An app's own service (model/settings/workload.py).
    "_dns_subdomain": "a Kubernetes object name: a DNS subdomain (lowercase letters, digits, `-`, `.`; at most 253)",
    "_config_key": "a Secret key: letters, digits, `-`, `_`, `.`",
    "_email": "a Google service account email (`api@my-project.iam.gserviceaccount.com`)",
    "_quantity": "a Kubernetes quantity (`250m`, `1`, `128Mi`, `1Gi`); `null` unsets it",
    "_path": "an absolute path (`/tmp`, `/healthz`)",
    "_annotation_key": "an annotation key (`sidecar.istio.io/proxyCPU`)",
    "_metric_name": "a DNS label of at most 40 characters (`error-rate`)",
    "_url": "an `http://` or `https://` URL",
    "_flagger_duration": "a number with `s` or `m` (`30s`, `1m`): Flagger's webhook timeout",
}

_GKE = " GKE only (`cluster.provider: gke`)."

MEANINGS = {
    "cluster.provider": "`gke`: this program creates the network and the GKE cluster; `existing`: use the "
    "cluster of a kubeconfig context (kind, minikube, any cluster).",
    "cluster.name": "The GKE cluster's name." + _GKE,
    "cluster.location": "A region (regional cluster, nodes in 3 zones) or a zone (zonal), inside `gcp:region`; "
    "default `gcp:region`." + _GKE,
    "cluster.releaseChannel": "GKE release channel: the Kubernetes minor and its upgrades." + _GKE,
    "cluster.machineType": "Node machine type (`e2-standard-4`)." + _GKE,
    "cluster.minNodes": "Autoscaler minimum for the whole pool (not per zone); at most `maxNodes`." + _GKE,
    "cluster.maxNodes": "Autoscaler maximum for the whole pool. A regional cluster starts with `ceil(minNodes / 3)` "
    "nodes in each of 3 zones, so `maxNodes` must be at least that total." + _GKE,
    "cluster.privateNodes": "Nodes without public IPs; adds Cloud NAT and the firewall rule for istiod's webhook. "
    "Needs at least one `masterAuthorizedNetworks` entry." + _GKE,
    "cluster.masterAuthorizedNetworks": "CIDRs allowed to reach the control plane's IP endpoint; empty closes it. "
    "Pulumi, CI and people connect through the DNS endpoint, gated by IAM. The demo's `203.0.113.0/24` is a "
    "documentation range: replace it." + _GKE,
    "cluster.deletionProtection": "GKE refuses to delete the cluster while `true`. The mandatory policy "
    "`gke-deletion-protection` refuses `false` unless the stack's `policy-config.<stack>.json` relaxes it "
    "(Operations, Teardown)." + _GKE,
    "cluster.context": "The kubeconfig context of the cluster (`existing` only); default: the current context.",
    "platform.istioVersion": "Istio's charts (`base`, `istiod`, `gateway`), one version for all three.",
    "platform.flaggerVersion": "Flagger's chart.",
    "platform.loadtesterVersion": "Flagger's load tester chart (the Flagger apps' webhooks).",
    "platform.prometheusVersion": "The prometheus-community `prometheus` chart.",
    "platform.grafanaVersion": "Grafana's chart.",
    "platform.gatewayServiceType": "The ingress gateway's Service type; `NodePort` on kind (no load balancer).",
    "platform.gatewayNodePort": "The gateway's fixed HTTP node port (`NodePort` only): what `scripts/kind-up.sh` "
    "maps to the host.",
    "platform.mtls": "Mesh-wide PeerAuthentication mode.",
    "platform.istiodReplicas": "The fewest istiod replicas (the chart's `autoscaleMin`). Default 2 on `gke`, 1 on "
    "`existing`; at least 2 on `gke`. Above 1: a PodDisruptionBudget (`minAvailable: 1`) and a spread over zones "
    "and nodes, so a node drain never takes the injector down.",
    "platform.istiodMaxReplicas": "The most istiod replicas (`autoscaleMax`); at least `istiodReplicas`.",
    "platform.gatewayReplicas": "The fewest ingress gateway replicas (`autoscaling.minReplicas`). Default 2 on "
    "`gke`, 1 on `existing`; at least 2 on `gke`. Above 1: a PodDisruptionBudget (`minAvailable: 1`) and a spread "
    "over zones and nodes, so a node drain never drops ingress.",
    "platform.gatewayMaxReplicas": "The most gateway replicas (`autoscaling.maxReplicas`); at least `gatewayReplicas`.",
    "apps.<name>.namespace": "The app's namespace, labelled for sidecar injection. Created (and deleted on "
    "destroy) unless it is `default` or marked `namespaces.<ns>.create: false`, which the program only labels. "
    "Not a platform namespace (`istio-system`, `monitoring`, any `kube-*`).",
    "apps.<name>.strategy": "`weighted`: GA and canary Deployments, weights edited by PR; `canary`: Flagger "
    "progressive canary; `ab`: Flagger A/B test on header or cookie matches.",
    "apps.<name>.image": "The image repository; the tag is in `tag` (Flagger apps) or `ga.tag`/`canary.tag`.",
    "apps.<name>.hosts": "Hosts the public gateway routes to the app; a host belongs to one app. A weighted app "
    "cannot use `*` (its VirtualService also routes in-mesh traffic).",
    "apps.<name>.hosts@ab": "Hosts the public gateway routes to the app (at least one); a host belongs to one app.",
    "apps.<name>.ga.tag": "The tag GA runs; inside `ga.track` when a track is set.",
    "apps.<name>.ga.track": "The range `ga.tag` must stay in (`check`, `images` follow it).",
    "apps.<name>.ga.replicas": "GA's Deployment replicas.",
    "apps.<name>.canary.tag": "The tag the canary runs; inside `canary.track` when a track is set.",
    "apps.<name>.canary.track": "The range `canary.tag` must stay in.",
    "apps.<name>.canary.replicas": "The canary Deployment's replicas.",
    "apps.<name>.weights.ga": "GA's share of traffic in percent; `weights.ga + weights.canary = 100`.",
    "apps.<name>.weights.canary": "The canary's share in percent: what a release PR changes "
    "(`promote`, `rollback`, `finalize`).",
    "apps.<name>.loadtest.qps": "Requests per second of the app's in-mesh load generator, so both sides have "
    "traffic to judge. No `loadtest` key: no load generator (the app's own clients make its traffic).",
    "apps.<name>.loadtest.concurrency": "Concurrent connections of the load tester.",
    "apps.<name>.autopilot": "`false`: autopilot leaves this app to people (it reports `skip`).",
    "apps.<name>.tag": "The one tag in Git: Flagger runs it as the canary and promotes it to primary.",
    "apps.<name>.track": "The range `tag` must stay in.",
    "apps.<name>.analysis.interval": "How often Flagger runs the analysis (one check per interval).",
    "apps.<name>.analysis.threshold": "Failed checks before Flagger rolls back.",
    "apps.<name>.analysis.maxWeight": "The canary weight at which Flagger promotes.",
    "apps.<name>.analysis.stepWeight": "How much Flagger raises the canary weight per interval; at most `maxWeight`.",
    "apps.<name>.analysis.iterations": "Checks an A/B test runs before Flagger promotes.",
    "apps.<name>.match[].header": "The header a request must carry to reach the candidate (`cookie` is a header).",
    "apps.<name>.match[].regex": "The regular expression the header's value must match.",
    "delivery.maxWeightStep": "The most one step (one PR) may raise a canary weight. The next step is the "
    "smallest of `steps` above the weight, capped by this: `check`, `promote --step` and autopilot share it.",
    "delivery.alpha": "The most a whole release may be rolled back while its canary is within tolerance, and "
    "promoted while beyond it; split evenly over `delivery.steps` (0.0033 per step with the defaults). Smaller: "
    "fewer false rollbacks, more traffic and time before a verdict (the judge, autopilot).",
    "delivery.errorRateTolerance": "How many times GA's error rate the canary's may reach (the judge, the alert "
    "`CanaryErrorRateAboveGA`).",
    "delivery.errorRateFloor": "Percentage points the canary's error rate may exceed GA's in any case; it matters "
    "only while GA's rate is below `errorRateFloor / (errorRateTolerance - 1)` (0.4 % with the defaults).",
    "delivery.latencyTolerance": "How many times GA's share of requests slower than each edge of GA's p99 bucket "
    "the canary's may reach, plus 1 percentage point (the judge tests both edges); the alert "
    "`CanaryLatencyAboveGA` reads it as a p99 ratio.",
    "delivery.slo.errorRate": "Percent: the most 5xx a canary at 100 may show when no earlier step of its release "
    "measured GA to compare with.",
    "delivery.slo.p99Ms": "Milliseconds: such a canary may have at most 1 % of its requests slower than the first "
    "Istio histogram boundary at or above this.",
    "delivery.steps": "The canary weights autopilot walks: rising strictly from 0, ending at 100, each within "
    "`maxWeightStep` of the previous when you set them (the default is capped at `maxWeightStep` per move).",
    "delivery.bakeTime": "At least `1m`: how long a step runs healthy before autopilot moves on.",
    "delivery.autoRollback": "`true`: autopilot rolls a canary the judge fails back to 0 at once; "
    "`false`: it holds and says so.",
    "delivery.autopilot": "`false` pauses autopilot for the whole stack.",
    # --- Issue 18: a team's own service (model/settings/workload.py), every strategy unless noted ---
    "apps.<name>.port": "The container port. Services, VirtualService, DestinationRule, Flagger's `service.port`, "
    "probes, load tests and URLs all follow it. Not a port the Istio sidecar binds (15000, 15001, 15004, "
    "15006, 15008, 15009, 15020, 15021, 15053, 15090).",
    "apps.<name>.protocol": "The Service and container port name, which Istio selects the protocol by. `grpc` "
    "load tests call the gRPC health service (`ghz`) instead of a path.",
    "apps.<name>.command": "The container's command (entrypoint); unset: the image's.",
    "apps.<name>.args": "The container's arguments; unset: the image's.",
    "apps.<name>.env": "Plain environment variables `NAME: value`; names are C identifiers, values strings "
    "(quote numbers). Never a credential: the mandatory policy `secrets-are-secret` rejects names with "
    "`PASSWORD`, `PASSWD`, `TOKEN`, `SECRET`, `API_KEY`, `WEBHOOK` or ending in `KEY`/`KEYS`: use `secretEnv`.",
    "apps.<name>.envFrom[].secretRef": "A Secret in the app's namespace whose keys all become environment "
    "variables. The team creates it; `verify` lists it as an external reference. One of `secretRef`, "
    "`configMapRef` per item.",
    "apps.<name>.envFrom[].configMapRef": "A ConfigMap in the app's namespace whose keys all become environment "
    "variables (created by the team; an external reference for `verify`).",
    "apps.<name>.secretEnv.<key>.secret": "The Secret (in the app's namespace, created by the team) the variable "
    "`<key>` reads (`valueFrom.secretKeyRef`). A name may not also be in `env`.",
    "apps.<name>.secretEnv.<key>.key": "The key inside that Secret.",
    "apps.<name>.resources.requests.cpu": "CPU request of the app container; at most `limits.cpu`.",
    "apps.<name>.resources.requests.memory": "Memory request; at most `limits.memory`.",
    "apps.<name>.resources.limits.cpu": "CPU limit.",
    "apps.<name>.resources.limits.memory": "Memory limit.",
    **{
        f"apps.<name>.probes.{probe}.{key}": text
        for probe, what in (
            ("readiness", "Readiness probe (none by default; the advisory policy `readiness-probe` warns)"),
            ("liveness", "Liveness probe (none by default)"),
            ("startup", "Startup probe (none by default)"),
        )
        for key, text in (
            ("path", f"{what}: an HTTP GET of this path on the app's port. Set exactly one of `path`, `tcp`, `grpc`."),
            ("tcp", f"{what}: a TCP connect to the app's port."),
            ("grpc", f"{what}: the gRPC health check on the app's port."),
            ("initialDelaySeconds", "Seconds before the first probe; unset: Kubernetes' default."),
            ("periodSeconds", "Seconds between probes; unset: Kubernetes' default."),
            ("timeoutSeconds", "Seconds one probe may take; unset: Kubernetes' default."),
            ("failureThreshold", "Failed probes in a row that count as a failure; unset: Kubernetes' default."),
        )
    },
    "apps.<name>.serviceAccount.gcpServiceAccount": "Workload Identity: the app runs as its own ServiceAccount "
    "(named after the app) annotated `iam.gke.io/gcp-service-account`; on `cluster.provider: gke` the program "
    "also grants `roles/iam.workloadIdentityUser` on that Google account to "
    "`serviceAccount:<gcp:project>.svc.id.goog[<ns>/<app>]`. No `serviceAccount`: the namespace's `default`.",
    "apps.<name>.securityContext.runAsUser": "The uid the containers run as. `0` (root) violates the mandatory "
    "policy `pod-security-restricted`.",
    "apps.<name>.securityContext.runAsGroup": "The gid the containers run as.",
    "apps.<name>.securityContext.readOnlyRootFilesystem": "`false` makes the root filesystem writable (advisory "
    "policy `workload-security`); prefer `writablePaths`.",
    "apps.<name>.writablePaths": "Directories mounted as `emptyDir` under the read-only root (at most 20; "
    "volume named after the path: `/var/cache/app` -> `var-cache-app`).",
    "apps.<name>.imagePullSecrets": "Secrets in the app's namespace to pull a private image with (created by "
    "the team).",
    "apps.<name>.podAnnotations": "Annotations on the app's pods (`sidecar.istio.io/proxyCPU: 200m`).",
    "apps.<name>.tls.credentialName": "HTTPS: a `kubernetes.io/tls` Secret in `istio-system` (the gateway's "
    "namespace). The public Gateway serves the app's `hosts` on 443 with it (`tls.mode: SIMPLE`) and redirects "
    "them from port 80 to HTTPS. Needs concrete `hosts` (no `*`).",
    "apps.<name>.loadtest.path": "The path the load generator requests; not for `protocol: grpc`.",
    "apps.<name>.autoscaling.minReplicas": "The fewest replicas of the HPA Flagger scales the app with "
    "(Flagger's target sets no `replicas`); at most `maxReplicas`.",
    "apps.<name>.autoscaling.maxReplicas": "The most replicas of the HPA.",
    "apps.<name>.autoscaling.cpu": "The HPA's target CPU utilisation, in percent of the CPU request.",
    "apps.<name>.analysis.metrics[].name": "One check per analysis interval, in Flagger's shape. `error-rate` "
    "(percent of 5xx) and `latency` (p99 ms) use the platform's MetricTemplates; any other name needs `query`. "
    "Default: `[{name: error-rate, thresholdRange: {max: 1}}, {name: latency, thresholdRange: {max: 500}}]`.",
    "apps.<name>.analysis.metrics[].thresholdRange.min": "The lowest passing value; set `min`, `max` or both.",
    "apps.<name>.analysis.metrics[].thresholdRange.max": "The highest passing value.",
    "apps.<name>.analysis.metrics[].interval": "The metric's query window.",
    "apps.<name>.analysis.metrics[].query": "PromQL for a custom metric, with Flagger's `{{ namespace }}`, "
    "`{{ target }}` and `{{ interval }}`; the app gets a MetricTemplate `<app>-<name>` in its namespace.",
    "apps.<name>.analysis.webhooks[].name": "A Flagger webhook. Unset `webhooks`: one `rollout` load test "
    "`load-test` of the canary on its port (`hey`, or `ghz` for grpc); `[]`: none.",
    "apps.<name>.analysis.webhooks[].type": "When Flagger calls it (Flagger's webhook types).",
    "apps.<name>.analysis.webhooks[].url": "Your endpoint; exactly one of `url` and `cmd`.",
    "apps.<name>.analysis.webhooks[].cmd": "A command the namespace's Flagger load tester runs (its URL is the "
    "webhook's).",
    "apps.<name>.analysis.webhooks[].timeout": "How long Flagger waits for the webhook.",
    "apps.<name>.analysis.webhooks[].metadata": "Flagger's webhook metadata (`type: bash` runs `cmd` in a shell).",
    "namespaces.<ns>.create": "`false`: the app namespace exists already; the program only adds "
    "`istio-injection=enabled` (a server-side-apply patch) and leaves it on destroy. `default` is never created "
    "nor deleted (`create: true` for it is an error). Each key must be a namespace an app runs in. Never flip a "
    "namespace the program created to `false`: Pulumi would delete it first.",
    # --- end of issue 18 ---
    "notifications.slackChannel": "The Slack channel Flagger posts to (`#deploys`); required when "
    "`slackWebhookUrl` is set.",
    "notifications.slackUser": "The name Flagger posts as.",
}

# Keys the pydantic models do not hold: (default, allowed, meaning, `pulumi config set` form).
NOT_MODELLED = {
    "gcp:project": (
        "required (gke)",
        "a GCP project id",
        "The project every GCP resource goes to. The demo's `acme-istio-canary` is a placeholder: replace it.",
        "pulumi config set gcp:project VALUE",
    ),
    "gcp:region": (
        "none",
        "a GCP region (`europe-west1`)",
        "The region of the subnet, router and NAT; `cluster.location` must be inside it.",
        "pulumi config set gcp:region VALUE",
    ),
    "apps.<name>": (
        "none",
        "a DNS-1035 label (starts with a letter) of at most 54 characters",
        "One app. Its derived names (`-ga`, `-canary`, `-loadtest`, Flagger's `-primary`) must not collide with "
        "another app's in the namespace; in a namespace with a `canary` or `ab` app it cannot be named "
        "`flagger-loadtester` or `loadtester` (the Flagger load tester's names there).",
        "pulumi config set --path 'istio-canary:apps.<name>.strategy' --type string VALUE",
    ),
    "slackWebhookUrl": (
        "none",
        "a Pulumi secret only",
        "Flagger's Slack webhook. Unset: Flagger posts nothing.",
        "pulumi config set --secret istio-canary:slackWebhookUrl VALUE",
    ),
}
