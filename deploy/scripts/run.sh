#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Starts the kwg workers of a group (the compose service kwg-GROUP) and PostgreSQL if it is not up.
# usage: run.sh --group GROUP [--replicas N] [--detach]
#   --replicas N   how many workers of the group run (default 1; 0 stops them, draining each)
#   --detach       start them in the background, wait until they are healthy, print their table;
#                  without it the workers run in the foreground (Ctrl-C stops them gracefully)
source "$(dirname "$0")/lib.sh"
group= replicas=1 detach=false
while [ $# -gt 0 ]; do
  case "$1" in
  --group) group=${2:?--group needs a value}; shift 2 ;;
  --replicas) replicas=${2:?--replicas needs a value}; shift 2 ;;
  --detach | -d) detach=true; shift ;;
  -h | --help) sed -n '3,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "run.sh: unknown option '$1' (see run.sh --help)" >&2; exit 2 ;;
  esac
done
[ -n "$group" ] || { echo "run.sh: --group is required (see run.sh --help)" >&2; exit 2; }
[[ "$replicas" =~ ^[0-9]+$ ]] || { echo "run.sh: --replicas must be a number, not '$replicas'" >&2; exit 2; }
svc=$(service "$group")
if ! $detach; then
  exec compose up --scale "$svc=$replicas" "$svc"
fi
compose up -d --scale "$svc=$replicas" "$svc"
"$(dirname "$0")/health.sh" --group "$group" --wait "${KWG_RUN_WAIT:-120}" >/dev/null || true
"$(dirname "$0")/status.sh" --group "$group"
[ "$replicas" -eq 0 ] || "$(dirname "$0")/health.sh" --group "$group" >/dev/null
