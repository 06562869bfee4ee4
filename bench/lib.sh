#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the benchmark scripts (sourced from the source tree's root): a Release build of kwg,
# a throwaway PostgreSQL cluster with a Kestra database, WorkerJob rows as Kestra's executor
# inserts them, and cleanup on exit.

# bench_start NAME: builds kwg and kwg-exec into build/bench, starts a cluster; sets BENCH_TMP
# (a scratch directory, wd/ for task working directories) and DB; `worker` is killed on exit.
bench_start() {
  bench_prepare "$1"
  tests/lib/pg_env.sh start "$BENCH_TMP/pg" >/dev/null
  DB=$(tests/lib/pg_env.sh newdb "$BENCH_TMP/pg" bench)
}

# bench_prepare NAME: bench_start without the cluster (for the scenarios that need no database).
bench_prepare() {
  cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DKWG_TESTS=OFF >/dev/null
  cmake --build build/bench --target kwg kwg-exec >/dev/null
  BENCH_TMP=$(mktemp -d "/tmp/kwg-bench-$1.XXXXXX")
  chmod 755 "$BENCH_TMP"
  mkdir -p "$BENCH_TMP/wd"
  # Task working directories on a tmpfs: on an ext4 without a journal (these machines' root file
  # system), every new inode is searched past the ones deleted in the last minute, and thousands
  # of tasks a minute make that search the worker's main cost (perf: recently_deleted).
  [ "$(id -u)" -ne 0 ] || mount -t tmpfs -o mode=755 kwg-bench "$BENCH_TMP/wd"
  trap bench_cleanup EXIT
}

bench_cleanup() {
  # (the worker's exit status must not end the trap under set -e before the cluster is stopped)
  if [ -n "${worker:-}" ]; then kill -KILL "$worker" 2>/dev/null && wait "$worker" 2>/dev/null || true; fi
  [ ! -d "$BENCH_TMP/pg" ] || tests/lib/pg_env.sh stop "$BENCH_TMP/pg" >/dev/null 2>&1 || true
  umount "$BENCH_TMP/wd" 2>/dev/null || true
  rm -rf "$BENCH_TMP"
}

sql() { psql "$DB" -qAtX -v ON_ERROR_STOP=1 -c "$1"; }

# bench_job KEY_SQL TASK_SQL: the value of a WorkerJob row (an SQL expression) whose task run id is
# KEY_SQL and whose task is TASK_SQL (a jsonb expression), as Kestra 1.x's executor writes it.
bench_job() {
  echo "jsonb_build_object('type', 'task',
    'taskRun', jsonb_build_object('tenantId', 'main', 'id', $1, 'executionId', 'x' || $1,
      'namespace', 'n', 'flowId', 'f', 'taskId', 't', 'state', jsonb_build_object('current', 'CREATED',
      'histories', jsonb_build_array(jsonb_build_object('state', 'CREATED', 'date', '2025-09-02T10:15:30.101234Z')))),
    'task', $2, 'runContext', '{}'::jsonb)"
}

# bench_jobs PREFIX N GROUP TASK_SQL: N WorkerJob rows keyed PREFIX1…PREFIXN in one statement.
bench_jobs() {
  sql "INSERT INTO queues (type, key, value, consumer_group)
       SELECT 'io.kestra.core.runners.WorkerJob', '$1' || i, $(bench_job "'$1' || i" "$4"), '$3'
       FROM generate_series(1, $2) i"
}

# bench_shell_task COMMANDS_JSON RUNNER_SQL: a shell Commands task (jsonb) on the given runner.
bench_shell_task() {
  echo "jsonb_build_object('id', 't', 'type', 'io.kestra.plugin.scripts.shell.Commands',
    'commands', '$1', 'taskRunner', $2)"
}
PROCESS_RUNNER="jsonb_build_object('type', 'io.kestra.plugin.core.runner.Process')"

# bench_stats FILE: "p50 | p90 | p99 | n" of a file of numbers; bench_p50 FILE: its median.
bench_stats() {
  sort -n "$1" | awk '{v[NR]=$1} END {printf "%.1f | %.1f | %.1f | %d", v[int(NR*0.5)+1], v[int(NR*0.9)+1], v[int(NR*0.99)+1], NR}'
}
bench_p50() { sort -n "$1" | awk '{v[NR]=$1} END {print v[int(NR*0.5)+1]}'; }
