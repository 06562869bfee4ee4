#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Schedule→start latency of trivial Process tasks (reported, not asserted): from the insert of a
# WorkerJob row (the server's clock at the insert) to the task's process start (the task prints
# its own clock), by polling alone and with `kwg notify`, in alternating rounds. One task at a
# time, with pauses of 20-200 ms between inserts, so the worker sits in its poll ladder as an idle
# worker does. Writes bench/results/latency-<date>.md. usage: bench/latency.sh [ROUNDS] [TASKS]
# (KWGB_WORKER_ARGS: extra worker options, e.g. "--sandbox none" to see the sandbox's share)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-4}
per=${2:-50}
source bench/lib.sh
bench_start latency
tmp=$BENCH_TMP
build/bench/kwg worker --database-url "$DB" --group lat --concurrency 4 --default-runner process \
  --work-dir "$tmp/wd" --management-port 0 ${KWGB_WORKER_ARGS:-} >"$tmp/worker.log" 2>&1 &
worker=$!
until grep -q "claiming tasks" "$tmp/worker.log"; do sleep 0.05; done

# insert KEY: one WorkerJob whose command prints the clock (µs); prints the server's clock (µs).
insert() {
  sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('io.kestra.core.runners.WorkerJob', '$1',
       $(bench_job "'$1'" "$(bench_shell_task '["date +%s%6N"]' "$PROCESS_RUNNER")"), 'lat')
       RETURNING (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
}

: >"$tmp/polling.ms"
: >"$tmp/notify.ms"
for r in $(seq "$rounds"); do
  for mode in polling notify; do
    if [ "$mode" == notify ]; then
      build/bench/kwg notify install --database-url "$DB" >/dev/null
    else
      build/bench/kwg notify uninstall --database-url "$DB" >/dev/null
    fi
    : >"$tmp/inserted"
    for i in $(seq "$per"); do
      key=$mode-$r-$i
      echo "$key $(insert "$key")" >>"$tmp/inserted"
      sleep "0.$(printf '%03d' $((20 + RANDOM % 180)))"
    done
    until [ "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key LIKE '$mode-$r-%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == "$per" ]; do
      sleep 0.1
    done
    sql "SELECT value->>'taskRunId', value->>'message' FROM queues
         WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' LIKE '$mode-$r-%'
           AND value->>'message' ~ '^[0-9]{16}$'" | tr '|' ' ' >"$tmp/started"
    join <(sort "$tmp/inserted") <(sort "$tmp/started") |
      awk '{printf "%.3f\n", ($3 - $2) / 1000}' >>"$tmp/$mode.ms"
  done
done

out=bench/results/latency-$(date +%Y-%m-%d).md
{
  echo "# Schedule→start latency, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "A Process task (\`date\`, default sandbox), one at a time, 20-200 ms apart; $rounds alternating rounds of $per."
  echo
  echo "| insert → process start | p50 ms | p90 ms | p99 ms | tasks |"
  echo "|---|---|---|---|---|"
  echo "| polling alone (25 ms ladder) | $(bench_stats "$tmp/polling.ms") |"
  echo "| kwg notify | $(bench_stats "$tmp/notify.ms") |"
  echo
  echo "Targets (issue 7): p50 ≤ 3 ms and p99 ≤ 15 ms with notify; p50 ≤ 30 ms polling alone."
} | tee "$out"
