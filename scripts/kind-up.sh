#!/usr/bin/env bash
# Create, or reuse, the kind cluster the `local` stack deploys to, with the Istio gateway's HTTP
# node port published on the host: after `pulumi up --stack local`, http://127.0.0.1:8080 with
# `Host: podinfo.local` reaches podinfo through the gateway, as a load balancer would.
#
#   scripts/kind-up.sh
#
# Environment: HOST_ADDRESS (127.0.0.1), HOST_PORT (8080), GATEWAY_NODE_PORT (the stack's
# platform.gatewayNodePort, else 30080, the program's default), KIND_NODE_IMAGE (pinned below),
# STACK_FILE (Pulumi.local.yaml). Exit 2: a prerequisite is missing or the stack file does not
# name a kind context; 3: Docker does not answer; 1: an existing cluster lacks the port mapping.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source-path=SCRIPTDIR source=kind-env.sh
. scripts/kind-env.sh

# The kind release CI installs, and its default node image (pkg/apis/config/defaults/image.go at
# v0.32.0): the image that kind release is tested with. Kubernetes 1.36 is inside Istio 1.30's
# supported range (1.32 to 1.36).
KIND_VERSION=v0.32.0
NODE_IMAGE="${KIND_NODE_IMAGE:-kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5}"
HOST_ADDRESS="${HOST_ADDRESS:-127.0.0.1}"
HOST_PORT="${HOST_PORT:-8080}"

missing=0
require() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "error: $1 not found: $2" >&2
    missing=1
  fi
}
require docker "install Docker Engine or Docker Desktop (https://docs.docker.com/engine/install/)"
require kind "go install sigs.k8s.io/kind@$KIND_VERSION, or a release binary (https://kind.sigs.k8s.io/docs/user/quick-start/#installation)"
require kubectl "https://kubernetes.io/docs/tasks/tools/"
require pulumi "curl -fsSL https://get.pulumi.com | sh (https://www.pulumi.com/docs/install/)"
[ "$missing" -eq 0 ] || exit 2

CLUSTER="$(kind_cluster_name)"
GATEWAY_NODE_PORT="${GATEWAY_NODE_PORT:-$(stack_value platform gatewayNodePort)}"
GATEWAY_NODE_PORT="${GATEWAY_NODE_PORT:-30080}"

if ! docker info >/dev/null 2>&1; then
  echo "error: Docker is installed but its engine does not answer ('docker info' failed): start Docker" >&2
  exit 3
fi
installed="$(kind version 2>/dev/null || true)"
case "$installed" in
  *"$KIND_VERSION "*) ;;
  *) echo "warning: this script is tested with kind $KIND_VERSION; found: ${installed:-unknown}" >&2 ;;
esac

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  # extraPortMappings are fixed when a cluster is created: an old cluster without ours would
  # deploy fine and then never answer on the host port.
  if ! docker port "$CLUSTER-control-plane" "$GATEWAY_NODE_PORT/tcp" 2>/dev/null | grep -qx "$HOST_ADDRESS:$HOST_PORT"; then
    echo "error: kind cluster '$CLUSTER' exists but does not publish node port $GATEWAY_NODE_PORT" \
      "on $HOST_ADDRESS:$HOST_PORT; delete it with scripts/kind-down.sh and run this again" >&2
    exit 1
  fi
  echo "kind cluster '$CLUSTER' exists: reusing it"
  kind export kubeconfig --name "$CLUSTER"
else
  echo "creating kind cluster '$CLUSTER' ($NODE_IMAGE), node port $GATEWAY_NODE_PORT -> $HOST_ADDRESS:$HOST_PORT"
  kind create cluster --name "$CLUSTER" --image "$NODE_IMAGE" --wait 120s --config - <<CONFIG
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
  - role: control-plane
    extraPortMappings:
      - containerPort: $GATEWAY_NODE_PORT
        hostPort: $HOST_PORT
        listenAddress: "$HOST_ADDRESS"
        protocol: TCP
CONFIG
fi

kubectl --context "kind-$CLUSTER" get nodes
cat <<NEXT

Next:
  pulumi up --stack local --policy-pack policies
  scripts/observe-split.sh -w 120 http://$HOST_ADDRESS:$HOST_PORT/
NEXT
