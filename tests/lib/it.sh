#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Helpers for integration tests: a database of their own in the shared test cluster, workers
# started and stopped for real, SQL, waiting on conditions with deadlines, assertions.
# Environment (set by ctest): KWGT_BIN (kwg), KWGT_PG_DIR (cluster), KWGT_SRC (source tree).
set -euo pipefail

: "${KWGT_BIN:?KWGT_BIN must name the kwg binary}"
: "${KWGT_PG_DIR:?KWGT_PG_DIR must name the test cluster directory}"
: "${KWGT_SRC:?KWGT_SRC must name the source tree}"

IT_NAME=$(basename "$0" .sh)
IT_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kwg-$IT_NAME.XXXXXX")
chmod 755 "$IT_TMP"
IT_PIDS=()
IT_FAILS=0
IT_PASSES=0

it_cleanup() {
  local pid
  for pid in "${IT_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [ -z "${IT_OWN_PG:-}" ] || "$KWGT_SRC/tests/lib/pg_env.sh" stop "$IT_OWN_PG" >/dev/null 2>&1 || true
  if [ "$IT_FAILS" -eq 0 ]; then rm -rf "$IT_TMP"; else echo "kept $IT_TMP for inspection"; fi
}
trap it_cleanup EXIT

# it_own_cluster: a PostgreSQL cluster of the test's own, for a test that stops or restarts it
# (pgctl restart|pause|resume) and may still run beside the others; it_cleanup stops it.
it_own_cluster() {
  IT_OWN_PG=$IT_TMP/pg
  "$KWGT_SRC/tests/lib/pg_env.sh" start "$IT_OWN_PG" >/dev/null
  KWGT_PG_DIR=$IT_OWN_PG
}
pgctl() { "$KWGT_SRC/tests/lib/pg_env.sh" "$1" "$KWGT_PG_DIR"; }

# it_db NAME: a fresh database from the Kestra schema template; sets DB (conninfo).
it_db() {
  DB=$("$KWGT_SRC/tests/lib/pg_env.sh" newdb "$KWGT_PG_DIR" "$1")
  export DB
}

# it_db2 NAME: the same, upgraded to Kestra 2.x's tables (tests/integration/fixtures/kestra_gen2.sql:
# the 2.x queue, worker_job_running with worker_uid, service_instance with fulltext).
it_db2() {
  it_db "$1"
  psql "$DB" -v ON_ERROR_STOP=1 -qAtX -f "$KWGT_SRC/tests/integration/fixtures/kestra_gen2.sql" >/dev/null
}

# sql QUERY: runs it on $DB (through stdin: queries may be large), unaligned, without headers.
sql() {
  psql "$DB" -v ON_ERROR_STOP=1 -qAtX -f - <<<"$1"
}

# it_worker NAME [kwg worker options…]: starts a worker in the background; log in $IT_TMP/NAME.log;
# its pid in WORKER_PID. Task working directories go under $IT_TMP/wd.
it_worker() {
  local name=$1
  shift
  mkdir -p "$IT_TMP/wd"
  "$KWGT_BIN" worker --database-url "$DB" --work-dir "$IT_TMP/wd" --log-level debug \
    --management-port 0 --heartbeat-interval 500ms "$@" \
    >"$IT_TMP/$name.log" 2>&1 &
  WORKER_PID=$!
  IT_PIDS+=("$WORKER_PID")
}

# it_stop PID [TIMEOUT]: SIGTERM and wait for the exit (fails past the deadline); sets STOP_RC.
it_stop() {
  local pid=$1 deadline=$((SECONDS + ${2:-30}))
  kill -TERM "$pid"
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      fail "worker $pid still running ${2:-30}s after SIGTERM"
      kill -KILL "$pid"
      break
    fi
    sleep 0.05
  done
  STOP_RC=0
  wait "$pid" || STOP_RC=$?
}

# wait_for DESCRIPTION SECONDS COMMAND…: polls the command until it succeeds; fails at the
# deadline, saying what was awaited.
wait_for() {
  local desc=$1 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      fail "timed out waiting for: $desc"
      return 1
    fi
    sleep 0.05
  done
}

pass() {
  IT_PASSES=$((IT_PASSES + 1))
  echo "ok   $*"
}

fail() {
  IT_FAILS=$((IT_FAILS + 1))
  echo "FAIL $*"
}

# expect_eq ACTUAL EXPECTED WHAT
expect_eq() {
  if [ "$1" == "$2" ]; then pass "$3"; else fail "$3: expected '$2', got '$1'"; fi
}

# expect_match TEXT REGEX WHAT
expect_match() {
  if [[ "$1" =~ $2 ]]; then pass "$3"; else fail "$3: '$2' not found in: ${1:0:2000}"; fi
}

# it_jobs PREFIX N GROUP COMMANDS_JSON: N WorkerTasks (keys PREFIX1…PREFIXN) of a shell task on the
# Process runner, inserted as Kestra 1.x's executor does (commands as a 1.x JSON string).
it_jobs() {
  sql "INSERT INTO queues (type, key, value, consumer_group)
       SELECT 'io.kestra.core.runners.WorkerJob', '$1' || i, jsonb_build_object('type', 'task',
         'taskRun', jsonb_build_object('tenantId', 'main', 'id', '$1' || i, 'executionId', 'x$1' || i,
           'namespace', 'n', 'flowId', 'f', 'taskId', 't', 'state', jsonb_build_object('current', 'CREATED',
           'histories', jsonb_build_array(jsonb_build_object('state', 'CREATED', 'date', '2025-09-02T10:15:30.101234Z')))),
         'task', jsonb_build_object('id', 't', 'type', 'io.kestra.plugin.scripts.shell.Commands',
           'commands', '$4', 'taskRunner', jsonb_build_object('type', 'io.kestra.plugin.core.runner.Process')),
         'runContext', '{}'::jsonb), '$3'
       FROM generate_series(1, $2) i"
}

# submit FILE [options]: runs kwg submit; output in OUT, exit status in RC.
submit() {
  local file=$1
  shift
  RC=0
  OUT=$("$KWGT_BIN" submit --database-url "$DB" --timeout 60s "$@" "$file" 2>&1) || RC=$?
}

# it_logtask NAME GROUP MESSAGE: a Log task of flow company.team printing MESSAGE (a YAML string),
# submitted to GROUP's workers as submit does (RC, OUT).
it_logtask() {
  cat >"$IT_TMP/$1.yaml" <<YAML
namespace: company.team
task:
  id: $1
  type: io.kestra.plugin.core.log.Log
  message: $3
YAML
  submit "$IT_TMP/$1.yaml" --group "$2"
}

# it_done: prints the summary line and exits with the verdict.
it_done() {
  echo "$IT_PASSES passed, $IT_FAILS failed"
  if [ "$IT_FAILS" -gt 0 ]; then
    for f in "$IT_TMP"/*.log; do
      [ -f "$f" ] || continue
      echo "--- tail of $f"
      tail -n 40 "$f"
    done
    exit 1
  fi
  exit 0
}
