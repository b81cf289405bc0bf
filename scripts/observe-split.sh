#!/usr/bin/env bash
# Send COUNT requests through the gateway to a weighted app and count which side answered:
# podinfo's JSON at `/` names the pod that served it (`hostname`), and the program names the
# pods `<app>-ga-...` and `<app>-canary-...`. Counting pods, not `version`, stays right when
# both sides run the same tag (right after `delivery finalize`).
#
#   scripts/observe-split.sh [-H HOST] [-a APP] [-n COUNT] [-c PERCENT [-t POINTS]] [-w SECONDS] [URL]
#
#   URL         the gateway (default http://127.0.0.1:8080/, what scripts/kind-up.sh publishes)
#   -H HOST     Host header the VirtualService routes on (default podinfo.local)
#   -a APP      the weighted app (default podinfo)
#   -n COUNT    requests to send (default 200)
#   -c PERCENT  expected canary share; without it the split is only printed
#   -t POINTS   allowed distance from PERCENT, in percentage points (default 10)
#   -w SECONDS  first wait up to SECONDS for the app to answer through the gateway (default 0)
#
# Exit 0: split printed (and within tolerance); 1: outside tolerance; 2: bad arguments;
# 3: a request failed or was not answered by a pod of APP.
set -euo pipefail

HOST=podinfo.local
APP=podinfo
COUNT=200
EXPECTED=""
TOLERANCE=10
WAIT=0

usage() {
  echo "usage: $0 [-H HOST] [-a APP] [-n COUNT] [-c PERCENT [-t POINTS]] [-w SECONDS] [URL]" >&2
  exit 2
}
integer() {  # NAME VALUE MIN MAX
  if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt "$3" ] || [ "$2" -gt "$4" ]; then
    echo "error: $1 must be an integer $3..$4, got '$2'" >&2
    exit 2
  fi
}

while getopts ":H:a:n:c:t:w:" opt; do
  case "$opt" in
    H) HOST="$OPTARG" ;;
    a) APP="$OPTARG" ;;
    n) integer "-n COUNT" "$OPTARG" 1 100000; COUNT="$OPTARG" ;;
    c) integer "-c PERCENT" "$OPTARG" 0 100; EXPECTED="$OPTARG" ;;
    t) integer "-t POINTS" "$OPTARG" 0 100; TOLERANCE="$OPTARG" ;;
    w) integer "-w SECONDS" "$OPTARG" 0 3600; WAIT="$OPTARG" ;;
    :) echo "error: -$OPTARG needs a value" >&2; usage ;;
    *) echo "error: unknown option -$OPTARG" >&2; usage ;;
  esac
done
shift $((OPTIND - 1))
[ "$#" -le 1 ] || usage
URL="${1:-http://127.0.0.1:8080/}"
command -v curl >/dev/null 2>&1 || { echo "error: curl not found" >&2; exit 2; }

# Prints the pod name that served one request, or fails (curl error, non-2xx, not podinfo JSON).
served_by() {
  local body
  body="$(curl --silent --show-error --fail --max-time 5 -H "Host: $HOST" "$URL")" || return 1
  # podinfo pretty-prints its JSON; this also reads the compact form.
  printf '%s\n' "$body" | sed -n 's/.*"hostname": *"\([^"]*\)".*/\1/p' | head -n 1 | grep . || return 1
  printf '%s\n' "$body" | sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' | head -n 1 >&3
}

if [ "$WAIT" -gt 0 ]; then
  deadline=$((SECONDS + WAIT))
  until served_by >/dev/null 2>&1 3>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "error: $URL (Host: $HOST) did not answer as $APP within ${WAIT}s" >&2
      exit 3
    fi
    sleep 2
  done
fi

ga=0 canary=0 failed=0 strangers=0
versions="$(mktemp)"
trap 'rm -f "$versions"' EXIT
for _ in $(seq "$COUNT"); do
  if ! pod="$(served_by 3>>"$versions" 2>/dev/null)"; then
    failed=$((failed + 1))
    continue
  fi
  case "$pod" in
    "$APP"-canary-*) canary=$((canary + 1)) ;;
    "$APP"-ga-*) ga=$((ga + 1)) ;;
    *) strangers=$((strangers + 1)) ;;
  esac
done

total=$((ga + canary))
percent() { awk -v n="$1" -v d="$2" -v w="${3:-5}" 'BEGIN { printf "%" w ".1f%%", (d ? 100 * n / d : 0) }'; }
echo "$COUNT requests to $URL (Host: $HOST):"
echo "  ga      $(printf '%5d' "$ga")  $(percent "$ga" "$total")"
echo "  canary  $(printf '%5d' "$canary")  $(percent "$canary" "$total")"
echo "  versions: $(sort "$versions" | uniq -c | awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }')"

if [ "$failed" -gt 0 ] || [ "$strangers" -gt 0 ]; then
  echo "error: $failed requests failed and $strangers were answered by pods other than $APP-ga-*/$APP-canary-*" >&2
  exit 3
fi
if [ -n "$EXPECTED" ]; then
  # |canary/total*100 - EXPECTED| <= TOLERANCE, in integers.
  distance=$((canary * 100 - EXPECTED * total))
  distance=${distance#-}
  if [ "$distance" -gt $((TOLERANCE * total)) ]; then
    echo "FAIL: canary share $(percent "$canary" "$total" 0), expected ${EXPECTED}% +/- $TOLERANCE" >&2
    exit 1
  fi
  echo "ok: canary share within ${EXPECTED}% +/- $TOLERANCE"
fi
