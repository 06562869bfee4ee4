#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The one-statement claim whose answer is lost (docs/performance.md, round 3): the worker reaches
# the database through a socket proxy the test cuts while a claim waits on a lock on the server.
#   (a) the claim commits after the cut: after reconnecting the worker finds the worker_job_running
#       record it wrote (its id, written after its last answered claim) and runs the job, once;
#   (b) the claim still waits after the reconnect: the worker waits for the old session, cancels
#       its statement after a second, finds no record, and the job, still queued, is claimed
#       again and runs once.
source "$(dirname "$0")/../lib/it.sh"
it_db claim_lost

WTR=io.kestra.core.runners.WorkerTaskResult
PORT=${DB##*port=}
PORT=${PORT%% *}
PG_SOCK=${DB#host=}
PG_SOCK=${PG_SOCK%% *}
PX=$IT_TMP/px
mkdir -p "$PX"
chmod 777 "$PX"
PX_URL=${DB/host=$PG_SOCK/host=$PX}

proxy_start() {
  python3 "$KWGT_SRC/tests/lib/sock_proxy.py" "$PX/.s.PGSQL.$PORT" "$PG_SOCK/.s.PGSQL.$PORT" >"$IT_TMP/proxy.out" 2>&1 &
  PROXY_PID=$!
  IT_PIDS+=("$PROXY_PID")
  wait_for "the proxy listening" 10 grep -q ready "$IT_TMP/proxy.out"
}
proxy_cut() {
  kill -TERM "$PROXY_PID"
  wait "$PROXY_PID" 2>/dev/null || true
}

# A session holding the worker_job_running key KEY in an open transaction: a claim of that task
# run waits on it (the ON CONFLICT of its upsert).
blocker_start() {
  coproc BLOCKER { psql "$DB" -qAtX -v ON_ERROR_STOP=1; }
  echo "BEGIN; INSERT INTO worker_job_running (key, value) VALUES ('$1', '{\"workerInstance\": {\"workerUuid\": \"blocker\"}}'); SELECT 'held';" >&"${BLOCKER[1]}"
  read -r -t 10 line <&"${BLOCKER[0]}"
  expect_eq "$line" held "a session holds the record key $1"
}
blocker_release() {
  echo "ROLLBACK;" >&"${BLOCKER[1]}"
  exec {BLOCKER[1]}>&-
  wait "$BLOCKER_PID" 2>/dev/null || true
}
claim_waiting() {
  [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'WITH c AS%'")" == 1 ]
}
claim_ended() { ! claim_waiting; }
lost_twice() { [ "$(grep -c 'connection lost with a claim in flight' "$IT_TMP/w.log")" -ge 2 ]; }
results() { sql "SELECT string_agg(value->'taskRun'->'state'->>'current', ',' ORDER BY \"offset\") FROM queues WHERE type = '$WTR' AND key = '$1'"; }
succeeded() { [ "$(results "$1")" == "RUNNING,SUCCESS" ]; }
logged() { grep -q "$1" "$IT_TMP/w.log"; }

proxy_start
it_worker w --group lost --concurrency 2 --database-url "$PX_URL"
wait_for "the worker claiming" 30 logged "claiming tasks"
WID=$(sed -n 's/.* worker \([0-9a-f-]\{36\}\): group.*/\1/p' "$IT_TMP/w.log" | head -n 1)

# (a) The claim commits while its connection is gone.
blocker_start lost-1
it_jobs lost- 1 lost '["echo ran"]'
wait_for "the claim waiting on the held key" 30 claim_waiting
proxy_cut
wait_for "the worker noticing the lost answer" 30 logged "connection lost with a claim in flight"
pass "the worker knows its claim's answer was lost"
blocker_release
wait_for "the old session's claim ending" 30 claim_ended
expect_eq "$(sql "SELECT worker_uuid || ' ' || (SELECT consumer_worker FROM queues WHERE key = 'lost-1') FROM worker_job_running WHERE key = 'lost-1'")" \
  "$WID true" "the lost claim committed: record held by this worker, row consumed"
proxy_start
wait_for "lost-1 run after the reconnect" 60 succeeded lost-1
expect_eq "$(results lost-1)" "RUNNING,SUCCESS" "the job of the lost claim ran once"
expect_match "$(cat "$IT_TMP/w.log")" "claim whose answer was lost: it had committed; 1 job\(s\) taken up" \
  "the worker took the job up from its record"

# (b) The claim still waits in its old session after the reconnect: cancelled, claimed anew.
blocker_start lostb-1
it_jobs lostb- 1 lost '["echo ran"]'
wait_for "the second claim waiting on the held key" 30 claim_waiting
proxy_cut
wait_for "the worker noticing the second lost answer" 30 lost_twice
proxy_start
wait_for "the worker cancelling the old statement" 30 logged "it had not committed (the rows are queued)"
pass "the old session's statement was cancelled and nothing was claimed"
expect_eq "$(sql "SELECT consumer_worker FROM queues WHERE key = 'lostb-1'")" f "lostb-1 is still queued"
blocker_release
wait_for "lostb-1 run" 60 succeeded lostb-1
expect_eq "$(results lostb-1)" "RUNNING,SUCCESS" "lostb-1 ran once"
expect_eq "$(results lost-1)" "RUNNING,SUCCESS" "lost-1 was not run again"
it_stop "$WORKER_PID"
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
proxy_cut
it_done
