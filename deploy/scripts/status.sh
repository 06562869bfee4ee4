#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The kwg workers of the compose project, as a table: container, group, state, health.
# usage: status.sh [--group GROUP]     (exit 0; stopped containers are listed too)
source "$(dirname "$0")/lib.sh"
group=
while [ $# -gt 0 ]; do
  case "$1" in
  --group) group=${2:?--group needs a value}; shift 2 ;;
  -h | --help) sed -n '3,4s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "status.sh: unknown option '$1' (see status.sh --help)" >&2; exit 2 ;;
  esac
done
rows=$(workers "$group" --all)
if [ -z "$rows" ]; then
  echo "no kwg workers${group:+ of group $group} in project $project (start some: run.sh --group G --detach)"
  exit 0
fi
{
  echo "CONTAINER GROUP STATE HEALTH"
  echo "$rows"
} | column -t
