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
    "refuses `1h`), at most what a Go `time.Duration` holds",
    "_cidr": "a CIDR block with zero host bits (`203.0.113.0/24`)",
    "_regex": "a regular expression RE2 accepts (no lookarounds, backreferences, atomic or possessive groups)",
    "_header": "a lowercase HTTP header name (`user-agent`, `cookie`, `x-canary`)",
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
    "apps.<name>.namespace": "The app's namespace, created with sidecar injection on. Not a platform namespace "
    "(`istio-system`, `monitoring`, any `kube-*`); `default` is allowed.",
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
    "apps.<name>.loadtest.qps": "Requests per second the app's in-mesh load tester sends, so both sides have "
    "traffic to judge.",
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
    "delivery.maxWeightStep": "The most one PR may raise a canary weight (`check`); autopilot's steps stay within it.",
    "delivery.alpha": "The most a whole release may be rolled back while its canary is within tolerance, and "
    "promoted while beyond it; split evenly over `delivery.steps` (0.0033 per step with the defaults). Smaller: "
    "fewer false rollbacks, more traffic and time before a verdict (the judge, autopilot).",
    "delivery.errorRateTolerance": "How many times GA's error rate the canary's may reach (the judge, the alert "
    "`CanaryErrorRateAboveGA`).",
    "delivery.errorRateFloor": "Percentage points the canary's error rate may exceed GA's in any case; it matters "
    "only while GA's rate is below `errorRateFloor / (errorRateTolerance - 1)` (0.4 % with the defaults).",
    "delivery.latencyTolerance": "How many times GA's share of requests slower than GA's p99 bucket edge the "
    "canary's may reach (plus `errorRateFloor`); the alert `CanaryLatencyAboveGA` reads it as a p99 ratio.",
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
