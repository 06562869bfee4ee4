#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kwg on Kestra 2.x's PostgreSQL queue next to Kestra 1.x's (docs/kestra-integration.md), the same
# PostgreSQL, the same machine, the same concurrency, in alternating rounds (reported, not
# asserted): throughput of TASKS trivial tasks (`/bin/sh -c true`, a shell Commands task on the
# Process runner, default sandbox) queued in one statement, from its commit to the last final
# result. On 1.x the rows are queued for group q; on 2.x as Kestra 2.x's executor queues them
# (routing key NULL, workerSelector.tags [q]) and `kwg routing install`'s trigger routes them to
# kwg:q, so the figure includes the trigger, the delete on claim and the worker_job_running
# deletion with each result.
# Writes bench/results/gen2-<date>.md and gen2-<date>.json.
# usage: bench/gen2.sh [ROUNDS] [TASKS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
bulk=${2:-10000}
conc=${3:-16}
source bench/lib.sh
bench_start gen2
tmp=$BENCH_TMP
DB1=$DB
DB2=$(tests/lib/pg_env.sh newdb "$tmp/pg" bench2)
psql "$DB2" -qAtX -v ON_ERROR_STOP=1 -f tests/integration/fixtures/kestra_gen2.sql >/dev/null
for d in "$DB1" "$DB2"; do build/bench/kwg migrate --database-url "$d" >/dev/null; done
build/bench/kwg group create q --database-url "$DB2" >/dev/null
build/bench/kwg routing install --database-url "$DB2" >/dev/null
now_us() { echo "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"; }

start_kwg() { # DB
  build/bench/kwg worker --database-url "$1" --group q --concurrency "$conc" --default-runner process \
    --work-dir "$tmp/wd" --management-port 0 >"$tmp/kwg.log" 2>&1 &
  worker=$!
  until grep -qs "claiming tasks" "$tmp/kwg.log"; do
    kill -0 "$worker" 2>/dev/null || { cat "$tmp/kwg.log" >&2; exit 1; }
    sleep 0.05
  done
}
stop_kwg() { kill -TERM "$worker" 2>/dev/null && wait "$worker" 2>/dev/null || true; worker=; }

# round GEN ROUND: appends tasks/s to $tmp/tp-GEN.
round() {
  local gen=$1 prefix=tp-$1-$2- t0 t1 done_sql db
  db=$([ "$gen" == 1 ] && echo "$DB1" || echo "$DB2")
  start_kwg "$db"
  local task="jsonb_build_object('id', 't', 'type', 'io.kestra.plugin.scripts.shell.Commands', 'commands', '[\"true\"]',
    'taskRunner', $PROCESS_RUNNER, 'workerSelector', jsonb_build_object('tags', jsonb_build_array('q')))"
  if [ "$gen" == 1 ]; then
    t0=$(psql "$db" -qAtX -v ON_ERROR_STOP=1 -c "INSERT INTO queues (type, key, value, consumer_group)
       SELECT 'io.kestra.core.runners.WorkerJob', '$prefix' || i,
         $(bench_job "'$prefix' || i" "$(bench_shell_task '["true"]' "$PROCESS_RUNNER")"), 'q'
       FROM generate_series(1, $bulk) i" -c "SELECT $(now_us)")
    done_sql="SELECT count(*) = $bulk FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult'
      AND key LIKE '$prefix%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'"
  else
    t0=$(psql "$db" -qAtX -v ON_ERROR_STOP=1 -c "INSERT INTO queues (type, routing_key, key, value, created)
       SELECT 'worker_job_event', NULL, '', jsonb_build_object('job', $(bench_job "'$prefix' || i" "$task") - 'runContext'
         || jsonb_build_object('data', jsonb_build_object('variables', '{}'::jsonb, 'secretInputs', '[]'::jsonb, 'traceParent', NULL))), now()
       FROM generate_series(1, $bulk) i" -c "SELECT $(now_us)")
    done_sql="SELECT count(*) = $bulk FROM queues WHERE type = 'worker_task_result'
      AND key LIKE '$prefix%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'"
  fi
  local deadline=$((SECONDS + 900))
  until [ "$(psql "$db" -qAtX -c "$done_sql")" == t ]; do
    [ $SECONDS -lt $deadline ] || { echo "gen2.sh: $bulk tasks on gen $gen not done after 900 s" >&2; exit 1; }
    sleep 0.05
  done
  t1=$(psql "$db" -qAtX -c "SELECT $(now_us)")
  stop_kwg
  echo "scale=1; $bulk * 1000000 / ($t1 - $t0)" | bc >>"$tmp/tp-$gen"
}
for r in $(seq "$rounds"); do
  round 1 "$r"
  round 2 "$r"
done
tp1=$(bench_p50 "$tmp/tp-1")
tp2=$(bench_p50 "$tmp/tp-2")
out=${KWGB_RESULTS:-bench/results}/gen2-$(date +%Y-%m-%d).md
{
  echo "# kwg on Kestra 2.x's queue and on Kestra 1.x's, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "Throughput: $bulk queued \`/bin/sh -c true\` tasks, concurrency $conc, from the commit to the last result; median of $rounds alternating rounds."
  echo
  echo "| | tasks/s (median) | rounds |"
  echo "|---|---|---|"
  echo "| Kestra 1.x queue (group q) | $tp1 | $(tr '\n' ' ' <"$tmp/tp-1") |"
  echo "| Kestra 2.x queue (tags [q], routed by the trigger) | $tp2 | $(tr '\n' ' ' <"$tmp/tp-2") |"
  echo "| ratio 2.x / 1.x | $(echo "scale=2; $tp2 / $tp1" | bc) | |"
} | tee "$out"
jq -n --argjson t1 "$tp1" --argjson t2 "$tp2" '{gen2_throughput_per_s: {gen1: $t1, gen2: $t2}}' >"${out%.md}.json"
