#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Stops the running kwg workers (of one group) gracefully: SIGTERM, each finishes its running tasks
# within its grace period and claims nothing new; reports each container with its exit code and
# whether it drained. The containers stay (status.sh lists them; run.sh starts them again).
# usage: stop.sh [--group GROUP] [--timeout SECONDS]    (default timeout: KWG_STOP_GRACE_PERIOD)
source "$(dirname "$0")/lib.sh"
group=
timeout=$(sed -n 's/^KWG_STOP_GRACE_PERIOD=\([0-9]*\)s\{0,1\}$/\1/p' "$compose_dir/.env" | tail -n 1)
timeout=${timeout:-330}
while [ $# -gt 0 ]; do
  case "$1" in
  --group) group=${2:?--group needs a value}; shift 2 ;;
  --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
  -h | --help) sed -n '3,6s/^# \{0,1\}//p' "$0"; exit 0 ;;
  *) echo "stop.sh: unknown option '$1' (see stop.sh --help)" >&2; exit 2 ;;
  esac
done
names=$(workers "$group" | awk '{print $1}')
if [ -z "$names" ]; then
  echo "nothing to stop: no kwg worker${group:+ of group $group} is running in project $project"
  exit 0
fi
status=0
since=$(date +%s)
for name in $names; do docker stop -t "$timeout" "$name" >/dev/null & done
wait
for name in $names; do
  code=$(docker inspect "$name" --format '{{.State.ExitCode}}')
  # A worker that drained says so last (kwg: "… TERMINATED_GRACEFULLY; exiting"). The daemon
  # copies a container's last lines to its log a moment after the exit: look again for 2 s.
  drained=no
  for _ in $(seq 20); do
    if docker logs --since "$since" "$name" 2>&1 | grep -q "TERMINATED_GRACEFULLY"; then
      drained=yes
      break
    fi
    sleep 0.1
  done
  [ $drained == yes ] || status=1
  echo "stopped $name (group $(docker inspect "$name" --format '{{index .Config.Labels "kwg.group"}}'), exit $code, drained: $drained)"
done
exit $status
