# shellcheck shell=bash
# Sourced by kind-up.sh and kind-down.sh: which kind cluster the `local` stack deploys to.
#
# The stack reaches its cluster through `cluster.context` in Pulumi.local.yaml, and kind names
# a cluster's context `kind-<cluster>`, so the cluster name is read from the stack file: the
# two cannot drift apart. STACK_FILE overrides the file (path relative to the repository).

STACK_FILE="${STACK_FILE:-Pulumi.local.yaml}"

# stack_value SECTION KEY: the scalar `KEY:` inside `istio-canary:SECTION:` of the stack file,
# unquoted, or nothing. Enough YAML for the block mappings stack files use; the program's own
# parser (model/settings/) still validates the file on `pulumi up`.
stack_value() {
  awk -v section="  istio-canary:$1:" -v key="$2:" '
    $0 == section { inside = 1; next }
    inside && /^  [^ #]/ { exit }
    inside && $1 == key { value = $2; gsub(/["'\'']/, "", value); print value; exit }
  ' "$STACK_FILE"
}

# kind_cluster_name: the cluster named by the stack's kubeconfig context, or exit 2.
kind_cluster_name() {
  local context
  if [ ! -f "$STACK_FILE" ]; then
    echo "error: $STACK_FILE not found (run from the repository, or set STACK_FILE)" >&2
    exit 2
  fi
  context="$(stack_value cluster context)"
  case "$context" in
    kind-?*) echo "${context#kind-}" ;;
    *)
      echo "error: cluster.context in $STACK_FILE is '${context:-(unset)}'; kind names its context" \
        "kind-<cluster>: set it to kind-istio-canary (or another kind-<name>)" >&2
      exit 2
      ;;
  esac
}
