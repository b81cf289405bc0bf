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
# Fields a controller sets at runtime are not drift, and are left out of the reported differences
# (managed_only below). istiod's webhook controller patches the webhook configurations its charts
# render: the istiod chart (templates/validatingwebhookconfiguration.yaml) and the base chart
# (templates/defaultrevision-validatingwebhookconfiguration.yaml) render `failurePolicy: Ignore` on
# install (`!.Release.IsUpgrade`: "Fail open until the validation webhook is ready. The webhook
# controller will update this to `Fail` and patch in the `caBundle`"), and it patches `caBundle`
# into the injector's MutatingWebhookConfiguration. So in a *WebhookConfiguration, a changed
# `failurePolicy` or `caBundle` line is dropped, and so is `metadata.generation` (the dry run bumps
# it with any spec change). An object whose every changed line is dropped is not reported.
#
# Permissions: the dry run is authorised as the write it simulates (kubernetes/kubernetes#95449),
# including the RBAC escalation check on Roles and ClusterRoles and writes to webhook
# configurations, so an identity without `patch` on those kinds gets "Forbidden". That is reported
# as "could not compare: permission" (exit 2), never as a difference or as a match.
#
# Blind spot: Helm 3 objects carry no `kubectl.kubernetes.io/last-applied-configuration`, so
# `kubectl diff` merges the manifest into the live object two-way: a field the chart sets and
# someone changed shows, a field someone ADDED by hand (`kubectl edit` adding an env var, a
# toleration, a label the chart does not set) is kept in both sides and does not show.
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

# managed_only: kubectl diff's output (`diff -u -N` per object, each starting `diff `) less the
# changed lines of fields a controller owns at runtime (above), and less every object left with
# no changed line. Context lines stay, so a hunk's counts may no longer add up: it is for reading.
managed_only() {
  awk '
    function flush(  i) { if (kept) for (i = 1; i <= n; i++) print buf[i]; n = 0; kept = 0 }
    /^diff / { flush(); webhook = ($0 ~ /WebhookConfiguration\./); buf[++n] = $0; next }
    /^(--- |\+\+\+ |@@)/ { buf[++n] = $0; next }
    /^[-+]/ {
      if (webhook && $0 ~ /^[-+][[:space:]]*(- )?(caBundle|failurePolicy):/) next
      if ($0 ~ /^[-+]  generation: [0-9]+$/) next
      kept = 1
    }
    { buf[++n] = $0 }
    END { flush() }
  '
}

status=0
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
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
  diff="$(printf '%s\n' "$manifest" | kubectl diff --namespace "$namespace" -f - 2> "$errors")"
  code=$?
  set -e
  if [ "$code" -eq 1 ]; then
    diff="$(printf '%s\n' "$diff" | managed_only)"
    [ -n "$diff" ] || code=0
  fi
  case "$code" in
    0) echo "helm release $namespace/$name: live objects match the release" >&2 ;;
    1)
      echo "helm release $namespace/$name: live objects differ from the release" >&2
      section "helm release $namespace/$name: live objects differ from what Helm applied" "$diff"
      [ "$status" -eq 2 ] || status=1
      ;;
    *)
      if grep -qE '\(Forbidden\)|is forbidden:' "$errors"; then
        echo "helm release $namespace/$name: could not compare: permission (kubectl diff exit $code)" >&2
        section "helm release $namespace/$name: could not compare: permission (the dry run is authorised as the write)" \
          "$(cat "$errors")"
      else
        echo "helm release $namespace/$name: kubectl diff failed (exit $code)" >&2
        section "helm release $namespace/$name: could not compare (kubectl diff exit $code)" \
          "$(printf '%s\n%s' "$diff" "$(cat "$errors")")"
      fi
      status=2
      ;;
  esac
done < <(printf '%s' "$releases" | jq -r '.[] | "\(.namespace) \(.name)"')

exit "$status"
