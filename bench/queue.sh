#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kwg next to graphile-worker 0.17.3 (bench/peers), on the same PostgreSQL, the same machine, the
# same concurrency, in alternating rounds (reported, not asserted):
#  - schedule→start latency: from the commit of the queue row (the server's clock right after it)
#    to the task's process start (the task prints its own clock); kwg polling alone, kwg with
#    `kwg notify`, graphile-worker (LISTEN/NOTIFY); one task at a time, 20-200 ms apart, so each
#    worker sits idle as it does between tasks;
#  - throughput: TASKS trivial tasks (`/bin/sh -c true`; kwg: a shell Commands task on the Process
#    runner, default sandbox) queued in one statement, from its commit to the last result.
# Writes bench/results/queue-<date>.md and, for bench/run's report, queue-<date>.json.
# usage: bench/queue.sh [ROUNDS] [LATENCY_TASKS] [THROUGHPUT_TASKS] [CONCURRENCY]
# (KWGB_WORKER_ARGS: extra worker options, e.g. "--sandbox none" to see the sandbox's share)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
per=${2:-40}
bulk=${3:-20000}
conc=${4:-16}
source bench/lib.sh
bench_start queue
tmp=$BENCH_TMP
(cd bench/peers && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
eval "$(tests/lib/pg_env.sh start "$tmp/pg")"
export PGUSER=postgres PGDATABASE=bench
build/bench/kwg notify install --database-url "$DB" >/dev/null
now_us() { echo "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"; }

# Each system's worker is started for its rounds and stopped after them, so that only one runs.
peer=
start_kwg() {
  build/bench/kwg worker --database-url "$DB" --group q --concurrency "$1" --default-runner process \
    --work-dir "$tmp/wd" --management-port 0 ${KWGB_WORKER_ARGS:-} >"$tmp/kwg.log" 2>&1 &
  worker=$!
  until grep -qs "claiming tasks" "$tmp/kwg.log"; do sleep 0.05; done
}
start_graphile() {
  node bench/peers/graphile.js "$1" "$tmp/graphile.out" >"$tmp/graphile.log" 2>&1 &
  peer=$!
  until grep -qs "^ready" "$tmp/graphile.log"; do
    kill -0 "$peer" 2>/dev/null || { cat "$tmp/graphile.log" >&2; exit 1; }
    sleep 0.05
  done
}
stop_all() {
  for p in ${worker:-} ${peer:-}; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  worker= peer=
}
trap 'stop_all; bench_cleanup' EXIT

# insert_one SYSTEM KEY: one task printing the clock (µs); prints the server's clock after commit.
insert_one() {
  if [ "$1" == graphile ]; then
    psql -qAtX -v ON_ERROR_STOP=1 -c "SELECT FROM graphile_worker.add_job('sh', json_build_object('key', '$2', 'cmd', 'date +%s%6N'))" \
      -c "SELECT $(now_us)"
  else
    psql -qAtX -v ON_ERROR_STOP=1 -c "INSERT INTO queues (type, key, value, consumer_group) VALUES ('io.kestra.core.runners.WorkerJob', '$2',
       $(bench_job "'$2'" "$(bench_shell_task '["date +%s%6N"]' "$PROCESS_RUNNER")"), 'q')" -c "SELECT $(now_us)"
  fi
}

# started SYSTEM PREFIX: "<key> <process start µs>" of the latency tasks so far.
started() {
  if [ "$1" == graphile ]; then
    grep "^$2" "$tmp/graphile.out" || true
  else
    sql "SELECT value->>'taskRunId', value->>'message' FROM queues
         WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' LIKE '$2%'
           AND value->>'message' ~ '^[0-9]{16}$'" | tr '|' ' '
  fi
}

latency_round() { # latency_round MODE ROUND
  local mode=$1 system=kwg prefix=$1-$2- i
  [ "$mode" == graphile ] && system=graphile
  if [ "$mode" == kwg-polling ]; then
    build/bench/kwg notify uninstall --database-url "$DB" >/dev/null
  else
    build/bench/kwg notify install --database-url "$DB" >/dev/null
  fi
  if [ $system == graphile ]; then start_graphile 4; else start_kwg 4; fi
  : >"$tmp/inserted"
  for i in $(seq "$per"); do
    echo "$prefix$i $(insert_one $system "$prefix$i")" >>"$tmp/inserted"
    sleep "0.$(printf '%03d' $((20 + RANDOM % 180)))"
  done
  local deadline=$((SECONDS + 60))
  until [ "$(started $system "$prefix" | wc -l)" -ge "$per" ]; do
    [ $SECONDS -lt $deadline ] || { echo "queue.sh: $mode: tasks missing after 60 s" >&2; exit 1; }
    sleep 0.1
  done
  stop_all
  started $system "$prefix" >"$tmp/started"
  join <(sort "$tmp/inserted") <(sort "$tmp/started") |
    awk '{printf "%.3f\n", ($3 - $2) / 1000}' >>"$tmp/lat-$mode.ms"
}

# throughput_round SYSTEM ROUND: seconds from the commit of BULK queued tasks to the last result.
throughput_round() {
  local system=$1 prefix=tp-$1-$2- t0 done_sql from
  if [ "$system" == graphile ]; then
    start_graphile "$conc"
    t0=$(psql -qAtX -v ON_ERROR_STOP=1 -c "SELECT count(graphile_worker.add_job('sh', json_build_object('cmd', 'true', 'i', i)))
        FROM generate_series(1, $bulk) i" -c "SELECT $(now_us)" | tail -1)
    done_sql="SELECT count(*) = 0 FROM graphile_worker.jobs"
  else
    start_kwg "$conc"
    from=$(sql "SELECT COALESCE(max(\"offset\"), 0) FROM queues")
    t0=$(psql -qAtX -v ON_ERROR_STOP=1 -c "INSERT INTO queues (type, key, value, consumer_group)
       SELECT 'io.kestra.core.runners.WorkerJob', '$prefix' || i,
         $(bench_job "'$prefix' || i" "$(bench_shell_task '["true"]' "$PROCESS_RUNNER")"), 'q'
       FROM generate_series(1, $bulk) i" -c "SELECT $(now_us)")
    done_sql="SELECT count(*) = $bulk FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult'
      AND \"offset\" > $from AND value->'taskRun'->'state'->>'current' IN ('SUCCESS', 'FAILED', 'KILLED')"
  fi
  local deadline=$((SECONDS + 900))
  until [ "$(sql "$done_sql")" == t ]; do
    [ $SECONDS -lt $deadline ] || { echo "queue.sh: $system: $bulk tasks not done after 900 s" >&2; exit 1; }
    sleep 0.05
  done
  local t1
  t1=$(sql "SELECT $(now_us)")
  stop_all
  if [ "$system" == kwg ]; then
    local failed
    failed=$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult'
      AND \"offset\" > $from AND value->'taskRun'->'state'->>'current' <> 'RUNNING' AND value->'taskRun'->'state'->>'current' <> 'SUCCESS'")
    [ "$failed" == 0 ] || { echo "queue.sh: kwg: $failed tasks did not succeed" >&2; exit 1; }
  elif [ "$(sql "SELECT count(*) FROM graphile_worker._private_jobs WHERE last_error IS NOT NULL")" != 0 ]; then
    echo "queue.sh: graphile-worker: some jobs failed" >&2
    exit 1
  fi
  echo "scale=1; $bulk * 1000000 / ($t1 - $t0)" | bc >>"$tmp/tp-$system"
}

# graphile-worker installs its schema on its first start.
start_graphile 1
stop_all
for r in $(seq "$rounds"); do
  for mode in kwg-polling kwg-notify graphile; do latency_round $mode "$r"; done
done
for r in $(seq "$rounds"); do
  for system in kwg graphile; do throughput_round $system "$r"; done
done

kwg_tp=$(bench_p50 "$tmp/tp-kwg")
gw_tp=$(bench_p50 "$tmp/tp-graphile")
out=${KWGB_RESULTS:-bench/results}/queue-$(date +%Y-%m-%d).md
{
  echo "# kwg and graphile-worker 0.17.3, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "Schedule→start latency: one task at a time (prints the clock), 20-200 ms apart, concurrency 4; $rounds alternating rounds of $per."
  echo
  echo "| commit → process start | p50 ms | p90 ms | p99 ms | tasks |"
  echo "|---|---|---|---|---|"
  echo "| kwg, polling alone | $(bench_stats "$tmp/lat-kwg-polling.ms") |"
  echo "| kwg, \`kwg notify\` | $(bench_stats "$tmp/lat-kwg-notify.ms") |"
  echo "| graphile-worker (LISTEN/NOTIFY) | $(bench_stats "$tmp/lat-graphile.ms") |"
  echo
  echo "Throughput: $bulk queued \`/bin/sh -c true\` tasks, concurrency $conc, from the commit to the last result; median of $rounds alternating rounds."
  echo
  echo "| | tasks/s (median) | rounds |"
  echo "|---|---|---|"
  echo "| kwg (Process runner, ${KWGB_WORKER_ARGS:-default sandbox}) | $kwg_tp | $(tr '\n' ' ' <"$tmp/tp-kwg") |"
  echo "| graphile-worker (child_process.spawn) | $gw_tp | $(tr '\n' ' ' <"$tmp/tp-graphile") |"
  echo "| ratio kwg / graphile-worker | $(echo "scale=2; $kwg_tp / $gw_tp" | bc) | |"
  echo
  echo "Targets (issue 19): latency with notify p50 ≤ 0.6× graphile-worker's and ≤ 3 ms, p99 ≤ graphile-worker's;"
  echo "throughput ≥ 1,000 tasks/s and ≥ 2× graphile-worker."
} | tee "$out"
pct() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {print v[int(NR*p)+1]}'; }
jq -n --argjson lk "$(pct "$tmp/lat-kwg-notify.ms" 0.5)" --argjson lg "$(pct "$tmp/lat-graphile.ms" 0.5)" \
  --argjson hk "$(pct "$tmp/lat-kwg-notify.ms" 0.99)" --argjson hg "$(pct "$tmp/lat-graphile.ms" 0.99)" \
  --argjson tk "$kwg_tp" --argjson tg "$gw_tp" \
  '{latency_p50_ms: {kwg_notify: $lk, graphile: $lg}, latency_p99_ms: {kwg_notify: $hk, graphile: $hg},
    throughput_per_s: {kwg: $tk, graphile: $tg}}' >"${out%.md}.json"
