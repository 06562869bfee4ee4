#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Log throughput (reported, not asserted): one Process task (default sandbox) printing LINES lines
# (`seq`), from the commit of its WorkerJob row to the commit of its final WorkerTaskResult, which
# kwg writes after the task's last LogEntry; then a check that every line is there once, in order
# (the LogEntry rows' offsets follow the lines). Writes bench/results/logs-<date>.md and, for
# bench/run's report, logs-<date>.json (log_lines_lost: lines missing or out of place, all runs).
# usage: bench/logs.sh [RUNS] [LINES]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
lines=${2:-1000000}
source bench/lib.sh
bench_start logs
tmp=$BENCH_TMP
build/bench/kwg worker --database-url "$DB" --group logs --concurrency 1 --default-runner process \
  --work-dir "$tmp/wd" --management-port 0 >"$tmp/worker.log" 2>&1 &
worker=$!
until grep -qs "claiming tasks" "$tmp/worker.log"; do sleep 0.05; done
now_us() { echo "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"; }

: >"$tmp/rates"
lost=0
for run in $(seq "$runs"); do
  key=logs-$run
  t0=$(psql "$DB" -qAtX -v ON_ERROR_STOP=1 -c "INSERT INTO queues (type, key, value, consumer_group)
    VALUES ('io.kestra.core.runners.WorkerJob', '$key', $(bench_job "'$key'" "$(bench_shell_task "[\"seq $lines\"]" "$PROCESS_RUNNER")"), 'logs')" \
    -c "SELECT $(now_us)")
  deadline=$((SECONDS + 600))
  until [ "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key = '$key'
                  AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == 1 ]; do
    [ $SECONDS -lt $deadline ] || { echo "logs.sh: $key not done after 600 s" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(sql "SELECT $(now_us)")
  # Every line once and in order: the n-th of the task's numeric lines, by offset, reads n; the
  # lines that do not are lost (missing, or out of place).
  check=$(sql "SELECT count(*), count(*) FILTER (WHERE m::bigint = n) FROM (
                 SELECT value->>'message' AS m, row_number() OVER (ORDER BY \"offset\") AS n FROM queues
                 WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$key'
                   AND value->>'message' ~ '^[0-9]+$') l")
  [ "$check" == "$lines|$lines" ] || echo "logs.sh: $key: lines and lines in place: $check (want $lines|$lines)" >&2
  lost=$((lost + lines - ${check#*|}))
  echo "$lines * 1000000 / ($t1 - $t0)" | bc >>"$tmp/rates"
  sql "DELETE FROM queues WHERE key = '$key' OR value->>'taskRunId' = '$key'"
done

out=${KWGB_RESULTS:-bench/results}/logs-$(date +%Y-%m-%d).md
{
  echo "# Log throughput, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "One Process task printing $lines lines (\`seq $lines\`), from the commit of its WorkerJob to the commit"
  echo "of its result (after its last LogEntry); every line checked present once and in order."
  echo
  echo "| | lines/s (median) | runs |"
  echo "|---|---|---|"
  echo "| kwg → LogEntry rows | $(bench_p50 "$tmp/rates") | $(tr '\n' ' ' <"$tmp/rates") |"
  echo
  echo "Lines lost or out of place, all runs: $lost."
  echo
  echo "Target (issue 19): ≥ 150,000 lines/s, every line present and in order."
} | tee "$out"
jq -n --argjson r "$(bench_p50 "$tmp/rates")" --argjson lost "$lost" \
  '{log_lines_per_s: $r, log_lines_lost: $lost}' >"${out%.md}.json"
