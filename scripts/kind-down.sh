#!/usr/bin/env bash
# Delete the kind cluster the `local` stack deploys to (the one scripts/kind-up.sh created).
# Safe to run twice. The stack's Pulumi state still lists what was in the cluster: run
# `pulumi destroy --stack local` first, or `pulumi stack rm local --force` afterwards.
#
#   scripts/kind-down.sh            # STACK_FILE (Pulumi.local.yaml) names the cluster
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=kind-env.sh
. scripts/kind-env.sh

if ! command -v kind >/dev/null 2>&1; then
  echo "error: kind not found: https://kind.sigs.k8s.io/docs/user/quick-start/#installation" >&2
  exit 2
fi
CLUSTER="$(kind_cluster_name)"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  kind delete cluster --name "$CLUSTER"
else
  echo "no kind cluster '$CLUSTER': nothing to delete"
fi
