#!/usr/bin/env bash
# helm-drift.sh [REPORT]: what a refresh cannot see. `pulumi refresh` reads a Helm release's record
# only, so `kubectl edit deploy/istiod` leaves it unchanged. For every Helm release in the cluster,
# compare the live objects with what Helm applied:
#
#   helm get manifest <release> --namespace <ns> | kubectl diff --namespace <ns> -f -
#
# `kubectl diff` asks the API server for the object as the manifest would make it (a server-side dry
# run, so defaults and admission are applied before comparing) and prints a unified diff against the
# live object; an object deleted by hand shows as added. Its exit status is 0 for no difference, 1
# for differences, above 1 for an error (kubectl reference, "kubectl diff").
#
# Writes a Markdown section per release that differs (or could not be compared) to REPORT (default:
# standard output). Exit 0 no difference, 1 differences, 2 a release could not be compared.
set -euo pipefail

report="${1:-/dev/stdout}"
: > "$report"

if ! releases="$(helm list --all-namespaces --output json)"; then
  echo "error: helm list failed: is the kubeconfig set?" >&2
  exit 2
fi

status=0
section() { # section TITLE BODY: one release's part of the report
  {
    printf '### %s\n\n```diff\n' "$1"
    printf '%s\n' "$2" | tail -c 20000
    printf '```\n\n'
  } >> "$report"
}

while read -r namespace name; do
  [ -n "$name" ] || continue
  if ! manifest="$(helm get manifest "$name" --namespace "$namespace" 2>&1)"; then
    section "helm release $namespace/$name: could not read what Helm applied" "$manifest"
    status=2
    continue
  fi
  set +e
  diff="$(printf '%s\n' "$manifest" | kubectl diff --namespace "$namespace" -f - 2>&1)"
  code=$?
  set -e
  case "$code" in
    0) echo "helm release $namespace/$name: live objects match the release" >&2 ;;
    1)
      echo "helm release $namespace/$name: live objects differ from the release" >&2
      section "helm release $namespace/$name: live objects differ from what Helm applied" "$diff"
      [ "$status" -eq 2 ] || status=1
      ;;
    *)
      echo "helm release $namespace/$name: kubectl diff failed (exit $code)" >&2
      section "helm release $namespace/$name: could not compare (kubectl diff exit $code)" "$diff"
      status=2
      ;;
  esac
done < <(printf '%s' "$releases" | jq -r '.[] | "\(.namespace) \(.name)"')

exit "$status"
