"""istio-canary: GKE (or an existing cluster) -> Istio -> Prometheus/Grafana -> Flagger -> apps.
Wiring only: each concern lives in its component; the dependency reasons live there too."""

import pulumi

from components import alert_rules, config
from components.apps import build_app
from components.cluster import build_cluster
from components.flagger import Flagger
from components.mesh import Mesh
from components.namespaces import AppNamespaces
from components.observability import Observability

# Parse and validate the whole stack config before registering anything.
settings = config.load()

cluster = build_cluster(settings.cluster, settings.gcp)
on_cluster = pulumi.ResourceOptions(providers=[cluster.provider])

mesh = Mesh("mesh", settings.platform, settings.https_servers(), opts=on_cluster)
observability = Observability("observability", settings.platform, alert_rules.alerting_rules(settings), opts=on_cluster)
namespaces = AppNamespaces("namespaces", settings, mesh.istiod, opts=on_cluster)
flagger = Flagger(
    "flagger",
    settings,
    cluster.cluster_name,
    observability.prometheus_url,
    mesh,
    namespaces.flagger_namespaces,
    opts=on_cluster,
)
apps = {n: build_app(n, app, namespaces, mesh, flagger, settings.gcp, on_cluster) for n, app in settings.apps.items()}

if cluster.kubeconfig is not None:  # GKE only: an existing cluster's kubeconfig stays the user's
    pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("clusterName", cluster.cluster_name)
pulumi.export("ingressAddress", mesh.ingress_address)
pulumi.export("grafanaUrlHint", observability.grafana_url_hint)
pulumi.export("prometheusUrl", observability.prometheus_url)
pulumi.export("apps", {name: app.exports for name, app in apps.items()})
