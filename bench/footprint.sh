#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kwg's footprint (reported, not asserted): the worker's resident memory idle and with 64 running
# Process tasks (its own RSS: children excluded), and the time from its start to its first claim
# poll. Writes bench/results/footprint-<date>.md. usage: bench/footprint.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DKWG_TESTS=OFF >/dev/null
cmake --build build/bench --target kwg kwg-exec >/dev/null
tmp=$(mktemp -d /tmp/kwg-bench-footprint.XXXXXX)
chmod 755 "$tmp"
cleanup() {
  [ -n "${worker:-}" ] && kill -KILL "$worker" 2>/dev/null && wait "$worker" 2>/dev/null
  tests/lib/pg_env.sh stop "$tmp/pg" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
tests/lib/pg_env.sh start "$tmp/pg" >/dev/null
db=$(tests/lib/pg_env.sh newdb "$tmp/pg" bench)
sql() { psql "$db" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
mkdir -p "$tmp/wd"
: >"$tmp/idle" ; : >"$tmp/busy" ; : >"$tmp/start"
for run in $(seq "$runs"); do
  t0=$(date +%s%N)
  build/bench/kwg worker --database-url "$db" --group fp --concurrency 64 --default-runner process \
    --work-dir "$tmp/wd" --management-port 0 --log-level debug >"$tmp/worker.log" 2>&1 &
  worker=$!
  until grep -q "claiming tasks" "$tmp/worker.log"; do sleep 0.005; done
  echo "scale=1; ($(date +%s%N) - $t0) / 1000000" | bc >>"$tmp/start"
  sleep 2
  rss_kib "$worker" >>"$tmp/idle"
  sql "INSERT INTO queues (type, key, value, consumer_group)
       SELECT 'io.kestra.core.runners.WorkerJob', 'f$run-' || i, jsonb_build_object('type', 'task',
         'taskRun', jsonb_build_object('tenantId', 'main', 'id', 'f$run-' || i, 'executionId', 'x$run-' || i,
           'namespace', 'n', 'flowId', 'f', 'taskId', 't', 'state', jsonb_build_object('current', 'CREATED',
           'histories', jsonb_build_array(jsonb_build_object('state', 'CREATED', 'date', '2025-09-02T10:15:30.101234Z')))),
         'task', jsonb_build_object('id', 't', 'type', 'io.kestra.plugin.scripts.shell.Commands',
           'commands', '[\"echo running\", \"sleep 5\"]',
           'taskRunner', jsonb_build_object('type', 'io.kestra.plugin.core.runner.Process')),
         'runContext', '{}'::jsonb), 'fp'
       FROM generate_series(1, 64) i"
  until [ "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' LIKE 'f$run-%' AND value->>'message' = 'running'")" == 64 ]; do
    sleep 0.05
  done
  rss_kib "$worker" >>"$tmp/busy"
  kill -KILL "$worker"
  wait "$worker" 2>/dev/null || true
  worker=
  sleep 6 # the tasks die with their worker (PDEATHSIG); their cgroups go at the next start
done

med() { sort -n "$1" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
out=bench/results/footprint-$(date +%Y-%m-%d).md
{
  echo "# Footprint, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, median of $runs runs"
  echo
  echo "| | kwg | target (issue 7) |"
  echo "|---|---|---|"
  echo "| RSS idle | $(echo "scale=1; $(med "$tmp/idle") / 1024" | bc) MiB | ≤ 8 MB |"
  echo "| RSS with 64 running tasks (children excluded) | $(echo "scale=1; $(med "$tmp/busy") / 1024" | bc) MiB | ≤ 32 MB |"
  echo "| start → first claim poll | $(med "$tmp/start") ms | ≤ 50 ms |"
} | tee "$out"
