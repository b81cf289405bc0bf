#!/usr/bin/env bash
# deploys-in-flight.sh: the stacks a deploy.yml run is about to update or updating, one per line,
# or `*` when a run in flight has not yet said which stacks it touches (its `stacks` job has not
# finished): the drift job skips those stacks, so its daily refresh never reports an update in
# progress as drift. Reads GitHub's REST API through `gh api` (GH_TOKEN, GITHUB_REPOSITORY):
# GET /repos/{repo}/actions/workflows/deploy.yml/runs?status=... and GET /repos/{repo}/actions/runs/{id}/jobs;
# a matrix job is named `up (<stack>)`. Exit 2 when the API cannot be read.
set -euo pipefail

repo="${GITHUB_REPOSITORY:?set GITHUB_REPOSITORY to owner/name}"
workflow="${DEPLOY_WORKFLOW:-deploy.yml}"

# Every run not completed, whatever its age: one query per status GitHub gives such a run (the
# `status` filter of "List workflow runs for a workflow"; `waiting`: held by an environment's
# protection rule), each paged to its end, so no run hides past a first page of completed ones.
runs=""
for status in queued in_progress waiting requested pending; do
  if ! found="$(gh api --paginate "repos/$repo/actions/workflows/$workflow/runs?status=$status&per_page=100" \
    --jq '.workflow_runs[] | select(.status != "completed") | .id')"; then
    echo "error: cannot list the $workflow runs of $repo" >&2
    exit 2
  fi
  runs="$runs $found"
done

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
