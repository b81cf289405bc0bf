"""istio-canary: GKE (or an existing cluster) -> Istio -> Prometheus/Grafana -> Flagger -> apps.

Wiring only: each concern lives in its component; the dependency reasons live there too.
"""

import pulumi

from components import settings as stack_settings
from components.cluster import build_cluster

# Parse and validate the whole stack config before registering anything.
settings = stack_settings.load()

cluster = build_cluster(settings.cluster, settings.gcp)

pulumi.export("kubeconfig", cluster.kubeconfig)
pulumi.export("clusterName", cluster.cluster_name)
