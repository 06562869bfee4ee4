#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Health of the kwg workers of a group (or of the given containers), for a service launcher or a
# monitor: exit 0 when every one runs and its health check (kwg health: GET /health) says healthy,
# 1 otherwise, one line per worker. --wait SECONDS: wait up to that long for all to be healthy.
# usage: health.sh (--group GROUP | CONTAINER...) [--wait SECONDS]
source "$(dirname "$0")/lib.sh"
group= wait=0 names=()
while [ $# -gt 0 ]; do
  case "$1" in
  --group) group=${2:?--group needs a value}; shift 2 ;;
  --wait) wait=${2:?--wait needs a value}; shift 2 ;;
  -h | --help) sed -n '3,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
  -*) echo "health.sh: unknown option '$1' (see health.sh --help)" >&2; exit 2 ;;
  *) names+=("$1"); shift ;;
  esac
done
[ -n "$group" ] || [ ${#names[@]} -gt 0 ] || { echo "health.sh: name a --group or containers" >&2; exit 2; }
check() {
  local rows ok=0
  if [ -n "$group" ]; then
    rows=$(workers "$group" --all)
  else
    rows=$(for n in "${names[@]}"; do
      docker inspect "$n" --format '{{.Name}} {{index .Config.Labels "kwg.group"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}' 2>/dev/null | sed 's|^/||' ||
        echo "$n ? missing -"
    done)
  fi
  [ -n "$rows" ] || { report="no kwg worker${group:+ of group $group} in project $project"; return 1; }
  report=$(awk '{printf "%s %s: %s, %s\n", $1, ($2 == "" ? "" : "(group " $2 ")"), $3, $4}' <<<"$rows")
  while read -r _ _ state health; do
    [ "$state" == running ] && [ "$health" == healthy ] || ok=1
  done <<<"$rows"
  return $ok
}
deadline=$((SECONDS + wait))
until check; do
  if [ $SECONDS -ge $deadline ]; then
    echo "$report"
    exit 1
  fi
  sleep 1
done
echo "$report"
