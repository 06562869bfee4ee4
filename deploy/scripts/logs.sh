#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The logs of the running kwg workers (of one group), each line prefixed by its container.
# usage: logs.sh [--group GROUP] [--follow] [--tail N]     (exit 1 when no worker runs)
source "$(dirname "$0")/lib.sh"
group= follow=() tail=100
while [ $# -gt 0 ]; do
  case "$1" in
  --group) group=${2:?--group needs a value}; shift 2 ;;
  --follow | -f) follow=(--follow); shift ;;
  --tail) tail=${2:?--tail needs a value}; shift 2 ;;
  -h | --help) sed -n '3,4s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "logs.sh: unknown option '$1' (see logs.sh --help)" >&2; exit 2 ;;
  esac
done
names=$(workers "$group" | awk '{print $1}')
if [ -z "$names" ]; then
  echo "logs.sh: no kwg worker${group:+ of group $group} is running in project $project;" \
    "start one with: run.sh --group ${group:-GROUP} --detach (status.sh lists stopped ones)" >&2
  exit 1
fi
pids=()
for name in $names; do
  docker logs "${follow[@]}" --tail "$tail" "$name" 2>&1 | sed -u "s|^|$name  |" &
  pids+=($!)
done
wait "${pids[@]}"
