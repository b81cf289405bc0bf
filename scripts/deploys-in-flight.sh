#!/usr/bin/env bash
# deploys-in-flight.sh: the stacks a deploy.yml run is about to update or updating, one per line,
# or `*` when a run in flight has not yet said which stacks it touches (its `stacks` job has not
# finished): the drift job skips those stacks, so its daily refresh never reports an update in
# progress as drift. Reads GitHub's REST API through `gh api` (GH_TOKEN, GITHUB_REPOSITORY):
# GET /repos/{repo}/actions/workflows/deploy.yml/runs and GET /repos/{repo}/actions/runs/{id}/jobs;
# a matrix job is named `up (<stack>)`. Exit 2 when the API cannot be read.
set -euo pipefail

repo="${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY to owner/name}"
workflow="${DEPLOY_WORKFLOW:-deploy.yml}"

if ! runs="$(gh api "repos/$repo/actions/workflows/$workflow/runs?per_page=50" \
  --jq '.workflow_runs[] | select(.status != "completed") | .id')"; then
  echo "error: cannot list the $workflow runs of $repo" >&2
  exit 2
fi

for run in $runs; do
  if ! jobs="$(gh api "repos/$repo/actions/runs/$run/jobs?per_page=100" \
    --jq '.jobs[] | "\(.status) \(.name)"')"; then
    echo "error: cannot list the jobs of run $run" >&2
    exit 2
  fi
  ups="$(printf '%s\n' "$jobs" | sed -n 's/^\([a-z_]*\) up (\(.*\))$/\1 \2/p')"
  if [ -z "$ups" ]; then
    echo "*" # queued, or still deciding its stacks: any stack may be next
    continue
  fi
  printf '%s\n' "$ups" | awk '$1 != "completed" { print $2 }'
done | sort -u
