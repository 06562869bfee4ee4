#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The control plane: kwg migrate; pause, resume, drain (--wait), maintenance, Kestra's ClusterEvent;
# each takes effect within a second and claims nothing while active; /health and /metrics answer
# in each state; group list and status show what runs.
source "$(dirname "$0")/../lib/it.sh"
it_db control

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
CE=io.kestra.core.server.ClusterEvent
kwg() { "$KWGT_BIN" "$@" --database-url "$DB"; }

out=$(kwg migrate)
expect_match "$out" "schema kwg is up to date" "kwg migrate creates schema kwg"
out=$(kwg migrate)
expect_match "$out" "schema kwg is up to date" "kwg migrate runs again harmlessly"
expect_eq "$(kwg group create ctl --description 'the control test')" "group ctl created" "group create"

job() { # job ID COMMAND
  sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('$WJ', '$1', '{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"$1\",\"executionId\":\"x$1\",\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\",\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":\"[\\\"$2\\\"]\",\"taskRunner\":{\"type\":\"io.kestra.plugin.core.runner.Process\"}},\"runContext\":{}}', 'ctl')"
}
claimed() { sql "SELECT consumer_worker FROM queues WHERE type = '$WJ' AND key = '$1'"; }
is_claimed() { [ "$(claimed "$1")" == t ]; }
done_ok() { [ "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = '$1' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == 1 ]; }
# still_unclaimed ID: 40 claim polls (25 ms each) pass without the row being taken.
still_unclaimed() {
  local deadline=$((SECONDS + 2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(claimed "$1")" == f ] || return 1
    sleep 0.1
  done
}
since_ms() { echo $(( $(date +%s%3N) - $1 )); }

# A group paused before its worker starts: the first flags (read before anything is claimed)
# hold the worker from its first moment.
kwg group pause ctl >/dev/null
job s1 "true"
PORT=$((30000 + RANDOM % 20000))
it_worker w --group ctl --concurrency 2 --management-port "$PORT"
health() { curl -s -o "$IT_TMP/health.json" -w '%{http_code}' "http://127.0.0.1:$PORT/health"; }
health_has() { health >/dev/null && grep -q "$1" "$IT_TMP/health.json"; }
wait_for "the worker paused from its start" 10 health_has '"paused":true'
still_unclaimed s1 && pass "a group paused at start claims nothing" || fail "s1 was claimed by a worker started paused"
expect_eq "$(grep -c 'claiming tasks' "$IT_TMP/w.log")" 0 "a worker started paused never says it claims"
kwg group resume ctl >/dev/null
wait_for "the worker claiming" 10 health_has '"claiming":true'
wait_for "s1 done after resume" 10 done_ok s1
expect_eq "$(health)" 200 "/health is 200 when serving"
expect_match "$(cat "$IT_TMP/health.json")" '"service":"RUNNING"' "/health names the service state"

# pause / resume
t=$(date +%s%3N)
kwg group pause ctl >/dev/null
wait_for "the pause seen by the worker" 5 health_has '"paused":true'
d=$(since_ms "$t")
pass "pause seen by the worker $d ms after the command started (the deadline above is the check)"
expect_match "$(cat "$IT_TMP/health.json")" '"claiming":false' "/health says it claims nothing while paused"
expect_eq "$(health)" 200 "a paused worker is still ready"
job p1 "true"
still_unclaimed p1 && pass "nothing is claimed while the group is paused" || fail "p1 was claimed while paused"
depth_one() { curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^kwg_queue_depth 1$'; }
wait_for "the queue depth in /metrics" 5 depth_one
pass "/metrics shows the waiting job in the group's queue depth"
t=$(date +%s%3N)
kwg group resume ctl >/dev/null
wait_for "p1 claimed after resume" 5 is_claimed p1
d=$(since_ms "$t")
pass "resume seen by the worker $d ms after the command started (the deadline above is the check)"
wait_for "p1 done" 10 done_ok p1

# drain --wait returns when the last task ends
job d1 "sleep 2"
wait_for "d1 running" 10 is_claimed d1
out=$(kwg group drain ctl --wait --timeout 30s)
expect_match "$out" "group ctl draining" "drain says what it does"
expect_match "$out" "1 task\\(s\\) running on 1 live worker\\(s\\)" "drain --wait shows progress"
expect_match "$out" "no task running: done" "drain --wait returns when no task runs"
done_ok d1 && pass "the task drained was finished, not killed" || fail "d1 not SUCCESS after the drain"
job d2 "true"
still_unclaimed d2 && pass "nothing is claimed while draining" || fail "d2 claimed while draining"
list=$(kwg group list)
expect_match "$list" "ctl +1 +0 +1 +[0-9]+s +draining the control test" "group list: workers, running, queued, oldest wait, state, description"
expect_match "$(kwg group list --json)" '"group":"ctl","description":"the control test","workers":1,"running":0,"queued":1,"paused":false,"draining":true' "group list --json"
kwg group resume ctl >/dev/null
wait_for "d2 done after resume" 10 done_ok d2

# kwg maintenance: every worker stops claiming; the service state is MAINTENANCE
kwg maintenance enter --message "upgrade" >/dev/null
wait_for "maintenance seen" 5 health_has '"maintenance":true'
state_is() { [ "$(sql "SELECT state FROM service_instance WHERE value->'props'->>'worker.group' = 'ctl'")" == "$1" ]; }
wait_for "service state MAINTENANCE" 5 state_is MAINTENANCE
pass "the worker's service state is MAINTENANCE"
job m1 "true"
still_unclaimed m1 && pass "nothing is claimed in maintenance" || fail "m1 claimed in maintenance"
kwg maintenance exit >/dev/null
wait_for "m1 done after maintenance" 10 done_ok m1
wait_for "service state RUNNING again" 5 state_is RUNNING
pass "the service state returns to RUNNING"

# Kestra's own maintenance events (Enterprise ClusterEvent)
sql "INSERT INTO queues (type, key, value) VALUES ('$CE', 'ev1', '{\"uid\":\"ev1\",\"eventType\":\"MAINTENANCE_ENTER\",\"eventDate\":\"2025-09-02T10:20:00.123456\",\"message\":\"EE\"}')"
wait_for "ClusterEvent MAINTENANCE_ENTER seen" 5 health_has '"maintenance":true'
job c1 "true"
still_unclaimed c1 && pass "nothing is claimed during Kestra's maintenance" || fail "c1 claimed during ClusterEvent maintenance"
sql "INSERT INTO queues (type, key, value) VALUES ('$CE', 'ev2', '{\"uid\":\"ev2\",\"eventType\":\"MAINTENANCE_EXIT\",\"eventDate\":\"2025-09-02T10:21:00.123456\"}')"
wait_for "c1 done after MAINTENANCE_EXIT" 10 done_ok c1

metrics=$(curl -s "http://127.0.0.1:$PORT/metrics")
expect_match "$metrics" 'kwg_tasks_finished_total\{state="SUCCESS"\} 6' "/metrics counts finished tasks by state"
expect_match "$metrics" 'kwg_task_duration_seconds_count 6' "/metrics has the duration histogram"
expect_match "$metrics" 'kwg_claiming 1' "/metrics says it claims"
depth_zero() { curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^kwg_queue_depth 0$'; }
wait_for "the queue depth back to 0" 5 depth_zero
pass "/metrics queue depth returns to 0 once every job is claimed"
# status shows each worker's last heartbeat (every 500 ms here): c1's end shows at the next one.
status_idle() { kwg status | grep -Eq "ctl +RUNNING +0 "; }
wait_for "status to list the worker idle" 3 status_idle && pass "status lists the worker"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/nope")" 404 "unknown paths are 404"
out=$("$KWGT_BIN" health --port "$PORT" 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" '^0 .*"service":"RUNNING"' "kwg health exits 0 with the worker's /health"
out=$(KWG_MANAGEMENT_PORT=$PORT "$KWGT_BIN" health 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 0 "kwg health takes the port from KWG_MANAGEMENT_PORT"

expect_eq "$(kwg group delete ctl)" "group ctl deleted" "group delete"
out=$(kwg group delete ctl 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 1 "deleting a missing group fails"
it_stop "$WORKER_PID"
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
out=$("$KWGT_BIN" health --port "$PORT" 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 kwg health: no worker answers on port $PORT" "kwg health exits 1 when no worker answers"
it_done
