#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kestra 2.x through PostgreSQL (docs/kestra-integration.md, "Kestra 2.x open source"), on the 2.x
# tables of tests/integration/fixtures/kestra_gen2.sql: the database is recognised, a worker of a
# group claims its routing key (delete on claim, worker_job_running with workerInstance.uid and
# workerQueueId, deleted with the terminal result), results carry their outputs beside the task
# run, logs go to log_entry and follow_log_event, metrics to metric_entry; kwg routing diverts
# tagged tasks; status sees a Kestra migration that dropped it; release; bad rows; kill; a worker
# killed mid-task and its job resubmitted by the test playing Kestra's liveness coordinator.
source "$(dirname "$0")/../lib/it.sh"
it_db2 gen2
K() { "$KWGT_BIN" "$@" --database-url "$DB"; }

# jobs2 PREFIX FROM TO TASK_JSON [ROUTING_KEY_SQL]: WorkerJobEvents as Kestra 2.x's executor
# queues them (kestra-2x-queue.md §2.2): routing key NULL for the default queue; a SECRET input.
jobs2() {
  local task=${4//\'/\'\'}
  sql "INSERT INTO queues (type, routing_key, key, value, created)
       SELECT 'worker_job_event', ${5:-NULL}, COALESCE(${5:-NULL}, ''), jsonb_build_object('job', jsonb_build_object(
         'type', 'task',
         'taskRun', jsonb_build_object('tenantId', 'main', 'id', '$1' || i, 'executionId', 'x$1' || i,
           'namespace', 'company.team', 'flowId', 'f', 'taskId', 't',
           'state', jsonb_build_object('current', 'SUBMITTED', 'histories', jsonb_build_array(
             jsonb_build_object('state', 'CREATED', 'date', '2026-09-02T10:15:30.101234Z'),
             jsonb_build_object('state', 'SUBMITTED', 'date', '2026-09-02T10:15:30.201234Z')))),
         'task', '$task'::jsonb,
         'data', jsonb_build_object('variables', jsonb_build_object(
             'flow', jsonb_build_object('id', 'f', 'namespace', 'company.team', 'tenantId', 'main'),
             'execution', jsonb_build_object('id', 'x$1' || i),
             'inputs', jsonb_build_object('pw', 'hunter2-' || i)),
           'secretInputs', jsonb_build_array('pw'), 'traceParent', NULL))), now()
       FROM generate_series($2, $3) i" >/dev/null
}
final_state() { sql "SELECT string_agg(value->'taskRun'->'state'->>'current', ',') FROM queues WHERE type = 'worker_task_result' AND key = '$1' AND value->'taskRun'->'state'->>'current' IN ('SUCCESS','FAILED','CANCELLED','KILLED','WARNING')"; }
is_final() { [ -n "$(final_state "$1")" ]; }
logs_of() { sql "SELECT string_agg(value->>'message', ' | ' ORDER BY \"offset\") FROM queues WHERE type = 'log_entry' AND value->>'taskRunId' = '$1'"; }
LOG_TASK='{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"hello {{ flow.id }} {{ taskrun.id }} {{ inputs.pw }}"}'
SHELL_TASK='{"id":"t","type":"io.kestra.plugin.scripts.shell.Commands","taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},"commands":["echo out-{{ taskrun.attemptsCount }}","echo '"'"'::{\"outputs\":{\"answer\":42},\"metrics\":[{\"name\":\"rows\",\"type\":\"counter\",\"value\":3}]}::'"'"'"]}'
SLEEP_TASK='{"id":"t","type":"io.kestra.plugin.scripts.shell.Commands","taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},"commands":["echo started","sleep 60"]}'

# --- detection: no group is refused on 2.x (the default queue is the controller's)
it_worker nogroup --default-runner process
wait "$WORKER_PID" && rc=0 || rc=$?
expect_eq "$rc" 1 "a worker without a group stops on a Kestra 2.x database (exit 1)"
expect_match "$(cat "$IT_TMP/nogroup.log")" "Kestra 2.x database.*a kwg worker serves a group \(--group G" "saying it needs a group"

# --- a worker of group g2
it_worker g2a --group g2 --default-runner process
G2A=$WORKER_PID
wait_for "g2a claiming" 15 grep -q "claiming tasks" "$IT_TMP/g2a.log"
expect_match "$(cat "$IT_TMP/g2a.log")" "Kestra 2.x database \(queues with routing_key and type character varying\(250\)" "the worker names the 2.x database"
expect_eq "$(grep -c ' [EW] control:' "$IT_TMP/g2a.log")" 0 \
  "the first control reads on a 2.x database leave no warning or error"
wait_for "the missing-routing error" 15 grep -q "kwg routing is NOT installed" "$IT_TMP/g2a.log" &&
  pass "a worker says loudly (ERROR) that routing is not installed"
WID=$(sql "SELECT value->>'id' FROM service_instance WHERE value->'props'->>'worker.group' = 'g2' LIMIT 1")
expect_match "$WID" "^[0-9a-f-]{36}$" "the worker keeps its service_instance heartbeat (fulltext column generated)"

# --- kwg submit on 2.x: a Log task and a shell task, results and messages
SUB=$IT_TMP/log.yaml
printf 'id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: "hello {{ flow.id }}"\n' >"$SUB"
submit "$SUB" --group g2
expect_eq "$RC" 0 "kwg submit --group g2 on 2.x: SUCCESS"
expect_match "$OUT" "queued at offset [0-9]+ with routing key kwg:g2.*state RUNNING.*INFO +hello kwg_submit.*state SUCCESS" "it queues a worker_job_event and follows RUNNING, the log line, SUCCESS"
submit "$KWGT_SRC/deploy/examples/hello-outputs.yaml" --group g2
expect_eq "$RC" 0 "kwg submit of a shell Commands task: SUCCESS"
expect_match "$OUT" "metric counter rows = 3.*state SUCCESS outputs \{\"vars\":\{\"answer\":42,\"greeting\":\"hello\"\},\"exitCode\":0" "its outputs (beside the task run) and metric"

# --- jobs as Kestra's executor writes them, on g2's key
jobs2 a- 1 1 "$LOG_TASK" "'kwg:g2'"
jobs2 b- 1 1 "$SHELL_TASK" "'kwg:g2'"
wait_for "a-1 and b-1 ended" 20 is_final a-1
wait_for "b-1 ended" 20 is_final b-1
expect_eq "$(final_state a-1)|$(final_state b-1)" "SUCCESS|SUCCESS" "a Log task and a shell task from WorkerJobEvents: SUCCESS"
expect_eq "$(sql "SELECT string_agg(value->'taskRun'->'state'->>'current', ',' ORDER BY \"offset\") FROM queues WHERE type = 'worker_task_result' AND key = 'b-1'")" "RUNNING,SUCCESS" \
  "results: RUNNING, then SUCCESS (key = task run id)"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'worker_task_result' AND key = 'b-1' AND routing_key IS NULL AND created > now() - interval '5 minutes'")" 2 \
  "result rows: routing key NULL, created set"
expect_eq "$(sql "SELECT value->'outputs'->'vars'->>'answer' || '|' || COALESCE(value->'taskRun'->>'outputs', 'null') || '|' || (value->'dynamicTaskRuns')::text FROM queues WHERE type = 'worker_task_result' AND key = 'b-1' ORDER BY \"offset\" DESC LIMIT 1")" "42|null|[]" \
  "the final result: outputs beside the task run, taskRun.outputs null, dynamicTaskRuns []"
expect_eq "$(sql "SELECT value->'outputs' FROM queues WHERE type = 'worker_task_result' AND key = 'b-1' ORDER BY \"offset\" LIMIT 1")" "null" "the RUNNING result: outputs null"
expect_eq "$(sql "SELECT value->'taskRun'->'attempts'->0->>'workerId' FROM queues WHERE type = 'worker_task_result' AND key = 'b-1' ORDER BY \"offset\" DESC LIMIT 1")" "$WID" "the attempt names the worker"
expect_match "$(logs_of a-1)" "^hello f a-1 [*]+masked[*]+$" "the Log task rendered flow, taskrun (rebuilt) and masked the SECRET input"
expect_match "$(logs_of b-1)" "out-[0-9]" "the shell task's output line (taskrun.attemptsCount rebuilt)"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'log_entry' AND value->>'taskRunId' = 'b-1'")" \
  "$(sql "SELECT count(*) FROM queues WHERE type = 'follow_log_event' AND value->>'taskRunId' = 'b-1'")" "every log_entry has its follow_log_event copy"
expect_eq "$(sql "SELECT value->>'attemptNumber' FROM queues WHERE type = 'log_entry' AND value->>'taskRunId' = 'b-1' LIMIT 1")" 0 "log entries carry attemptNumber"
expect_eq "$(sql "SELECT value->>'name' || '=' || (value->>'value') FROM queues WHERE type = 'metric_entry' AND value->>'taskRunId' = 'b-1'")" "rows=3.0" "the metric as a metric_entry row"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'worker_job_event'")" 0 "claimed worker_job_event rows are deleted"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running")" 0 "worker_job_running: deleted with each terminal result"

# --- worker_job_running while a task runs
jobs2 s- 1 1 "$SLEEP_TASK" "'kwg:g2'"
started() { [ -n "$(sql "SELECT 1 FROM queues WHERE type = 'log_entry' AND value->>'taskRunId' = 's-1' AND value->>'message' = 'started'")" ]; }
wait_for "s-1 started" 20 started
expect_eq "$(sql "SELECT worker_uid || '|' || (value->'workerInstance'->>'workerQueueId') || '|' || (value->>'type') || '|' || (value->'data' ? 'variables')::text FROM worker_job_running WHERE key = 's-1'")" \
  "$WID|kwg:g2|task|true" "worker_job_running while running: worker_uid = worker id, workerQueueId = kwg:g2, the job's data"

# --- kill: an execution_killed broadcast row
sql "INSERT INTO queues (type, key, value, created) VALUES ('execution_killed', 'xs-1',
     '{\"type\":\"execution\",\"state\":\"EXECUTED\",\"executionId\":\"xs-1\",\"tenantId\":\"main\"}', now())" >/dev/null
wait_for "s-1 killed" 20 is_final s-1
expect_eq "$(final_state s-1)" KILLED "an execution_killed row kills the running task: KILLED"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running WHERE key = 's-1'")" 0 "and its record is deleted"
sql "INSERT INTO queues (type, key, value, created) VALUES ('execution_killed', 'xk-1',
     '{\"type\":\"execution\",\"state\":\"EXECUTED\",\"executionId\":\"xk-1\",\"tenantId\":\"main\"}', now())" >/dev/null
wait_for "the kill of xk-1 read" 20 grep -q "execution 'xk-1' killed" "$IT_TMP/g2a.log"
jobs2 k- 1 1 "$SLEEP_TASK" "'kwg:g2'"
wait_for "k-1 ended" 20 is_final k-1
expect_eq "$(final_state k-1)|$(logs_of k-1)" "KILLED|" "a job of an execution killed before it came ends KILLED without running"

# --- bad rows: clear errors, the worker goes on
sql "INSERT INTO queues (type, routing_key, key, value, created) VALUES
  ('worker_job_event', 'kwg:g2', 'kwg:g2', '{\"job\": 42}', now()),
  ('worker_job_event', 'kwg:g2', 'kwg:g2', '{\"job\": {\"type\": \"task\", \"taskRun\": {\"id\": \"bad-2\", \"executionId\": \"xb\", \"namespace\": \"n\", \"flowId\": \"f\", \"taskId\": \"t\", \"state\": {\"current\": \"SUBMITTED\"}}, \"task\": {\"id\": \"t\", \"type\": \"io.kestra.plugin.core.log.Log\", \"message\": \"m\"}}}', now())" >/dev/null
wait_for "bad-2 ended" 20 is_final bad-2
expect_eq "$(final_state bad-2)" FAILED "a job without data: FAILED"
expect_match "$(logs_of bad-2)" "\\\$.job.data" "with an ERROR log naming \$.job.data"
expect_match "$(cat "$IT_TMP/g2a.log")" "cannot be read and is skipped: \\\$.job: expected an object" "an unreadable row is logged, naming \$.job"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'worker_job_event'")" 0 "both bad rows are taken off the queue"
jobs2 a- 2 2 "$LOG_TASK" "'kwg:g2'"
wait_for "a-2 after the bad rows" 20 is_final a-2 && pass "the worker goes on after bad rows"

# --- routing: install, tagged tasks diverted, the rest left to Kestra
K migrate >/dev/null
K group create g2 >/dev/null
out=$(K routing install 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing installed \(Kestra 2.x\)" "routing install on 2.x"
expect_match "$(K routing status 2>&1)" "installed and active \(Kestra 2.x; version, kwg, queue: 1 [^ ]+ worker_job_event\)" "routing status: installed and active"
expect_eq "$(sql "SELECT count(*) FROM pg_trigger WHERE tgname = 'kwg_route_worker_job_event' AND tgqual IS NULL")" 1 "one trigger, without a WHEN clause"
tag() { echo "{\"id\":\"t\",\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"m\",\"workerSelector\":$1}"; }
key_of() { sql "SELECT COALESCE(routing_key, '<null>') FROM queues WHERE type = 'worker_job_event' AND value->'job'->'taskRun'->>'id' = '$1'"; }
it_stop "$G2A"
jobs2 t- 1 1 "$(tag '{"tags":["g2"]}')"
jobs2 t- 2 2 "$(tag '{"tags":["g2","g2"],"match":"ALL"}')"
jobs2 t- 3 3 "$(tag '{"tags":["gpu","g2"],"match":"ANY"}')"
jobs2 t- 4 4 "$(tag '{"tags":["g2","gpu"]}')"
jobs2 t- 5 5 "$(tag '{"tags":["gpu"]}')"
jobs2 t- 6 6 "$LOG_TASK"
jobs2 t- 7 7 "$(tag '{"tags":[]}')"
jobs2 t- 8 8 "$(tag '{"tags":["g2"]}')" "'system'"
expect_eq "$(for i in 1 2 3 4 5 6 7 8; do printf '%s ' "$(key_of t-$i)"; done)" "kwg:g2 kwg:g2 kwg:g2 <null> <null> <null> <null> system " \
  "tags [g2], [g2,g2] ALL, [gpu,g2] ANY → kwg:g2; [g2,gpu] ALL, [gpu] (no such kwg group), none, [] → Kestra; a key already set stays"
sql "DELETE FROM queues WHERE type = 'worker_job_event' AND routing_key IS DISTINCT FROM 'kwg:g2'" >/dev/null

# release and uninstall with jobs waiting
expect_match "$(K group list 2>&1)" "g2 +0 +0 +3 +[0-9]+s +active" "kwg group list: the 3 jobs waiting for g2, and how long"
expect_match "$(K status 2>&1)" "routing: installed and active \(Kestra 2.x.*g2 +0 +3 +[0-9]+s" "kwg status: the 2.x routing and the jobs waiting per group"
out=$(K routing uninstall 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*routed jobs are waiting on kwg:g2 \(3 job\(s\)\)" "uninstall refuses while routed jobs wait, naming them"
out=$(K routing release --group g2 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 released 3 job\(s\) of group g2" "routing release --group g2 gives them back"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'worker_job_event' AND routing_key IS NULL")" 3 "they wait on the default queue again"
sql "DELETE FROM queues WHERE type = 'worker_job_event'" >/dev/null

# --- a Kestra migration that recreates queues drops the trigger: status and workers say so
it_worker g2b --group g2 --default-runner process
G2B=$WORKER_PID
wait_for "g2b claiming" 15 grep -q "claiming tasks" "$IT_TMP/g2b.log"
expect_eq "$(grep -c "kwg routing is NOT installed" "$IT_TMP/g2b.log")" 0 "no routing error while it is installed"
psql "$DB" -qAtX -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
BEGIN;
DROP TABLE queues;
CREATE TABLE queues ("offset" SERIAL PRIMARY KEY, type VARCHAR(250) NOT NULL, routing_key VARCHAR(250),
  key VARCHAR(250) NOT NULL, value JSONB NOT NULL, created TIMESTAMPTZ NOT NULL);
CREATE INDEX queues_type__key__offset ON queues (type, routing_key, "offset");
CREATE INDEX queues_type__created ON queues (type, created);
COMMIT;
SQL
out=$(K routing status 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 routing: BROKEN: the trigger kwg_route_worker_job_event is missing on queues" "status: BROKEN after the table was recreated (exit 1)"
wait_for "the worker's ERROR after the migration" 25 grep -q "kwg routing is NOT installed" "$IT_TMP/g2b.log" &&
  pass "the running worker logs an ERROR once the trigger is gone"
K routing install >/dev/null 2>&1
wait_for "the worker sees it back" 25 grep -q "kwg routing is installed again" "$IT_TMP/g2b.log" && pass "and a notice when it is back"
jobs2 m- 1 1 "$(tag '{"tags":["g2"]}')"
wait_for "m-1 ran after the reinstall" 20 is_final m-1 && pass "a tagged job reaches kwg again"

# --- pause and maintenance, as on 1.x
K group pause g2 >/dev/null
wait_for "g2b paused" 10 grep -q "claiming paused (group paused)" "$IT_TMP/g2b.log"
jobs2 p- 1 1 "$LOG_TASK" "'kwg:g2'"
# still_queued KEY: the row stays on its routing key for 2 s (an unpaused worker takes it in ms)
still_queued() {
  local deadline=$((SECONDS + 2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(key_of "$1")" == kwg:g2 ] || return 1
    sleep 0.1
  done
}
still_queued p-1 && pass "a paused group claims nothing: the job waits on its key" || fail "p-1 was claimed while paused"
K group resume g2 >/dev/null
wait_for "p-1 after resume" 20 is_final p-1 && pass "resumed: the job runs"
K maintenance enter >/dev/null
wait_for "g2b in maintenance" 10 grep -q "claiming paused (maintenance)" "$IT_TMP/g2b.log" && pass "kwg maintenance enter pauses a 2.x worker"
K maintenance exit >/dev/null

# --- liveness: a worker killed mid-task; the test plays Kestra's coordinator and resubmits the
# job to workerQueueId; another worker of the group runs it
jobs2 r- 1 1 "$SLEEP_TASK" "'kwg:g2'"
rstarted() { [ -n "$(sql "SELECT 1 FROM queues WHERE type = 'log_entry' AND value->>'taskRunId' = 'r-1' AND value->>'message' = 'started'")" ]; }
wait_for "r-1 started on g2b" 20 rstarted
kill -KILL "$G2B"
wait "$G2B" 2>/dev/null || true
rec=$(sql "SELECT value->'workerInstance'->>'workerQueueId' FROM worker_job_running WHERE key = 'r-1'")
expect_eq "$rec" "kwg:g2" "the dead worker's record names its queue"
it_worker g2c --group g2 --default-runner process
wait_for "g2c claiming" 15 grep -q "claiming tasks" "$IT_TMP/g2c.log"
# KESTRA: DefaultServiceLivenessCoordinator re-emits WorkerJobEvent(workerQueueId) with the
# attempt moved to RESUBMITTED (taskRun.onRunningResend); the record is not deleted.
sql "INSERT INTO queues (type, routing_key, key, value, created)
     SELECT 'worker_job_event', value->'workerInstance'->>'workerQueueId', value->'workerInstance'->>'workerQueueId',
       jsonb_build_object('job', jsonb_build_object('type', 'task', 'task', value->'task', 'data', value->'data',
         'taskRun', jsonb_set(value->'taskRun', '{state}', jsonb_build_object('current', 'RESUBMITTED', 'histories',
           (value->'taskRun'->'state'->'histories') || jsonb_build_array(jsonb_build_object('state', 'RESUBMITTED', 'date', '2026-09-02T10:20:00Z')))))), now()
     FROM worker_job_running WHERE key = 'r-1'" >/dev/null
resumed() { [ "$(sql "SELECT count(*) FROM queues WHERE type = 'log_entry' AND value->>'taskRunId' = 'r-1' AND value->>'message' = 'started'")" -ge 2 ]; }
wait_for "r-1 running again on g2c" 20 resumed && pass "the resubmitted job runs on another worker of the group"
G2C_ID=$(sql "SELECT value->>'id' FROM service_instance WHERE value->'props'->>'worker.group' = 'g2' ORDER BY updated_at DESC LIMIT 1")
expect_eq "$(sql "SELECT worker_uid FROM worker_job_running WHERE key = 'r-1'")" "$G2C_ID" "its record now names the new worker"
sql "INSERT INTO queues (type, key, value, created) VALUES ('execution_killed', 'xr-1',
     '{\"type\":\"execution\",\"state\":\"EXECUTED\",\"executionId\":\"xr-1\",\"tenantId\":\"main\"}', now())" >/dev/null
wait_for "r-1 killed" 20 is_final r-1
it_stop "$WORKER_PID"
expect_eq "$STOP_RC" 0 "the worker stops cleanly"

# --- kestra.queue.prefix: every queue name becomes <prefix>__<name>, in a database of its own
MAIN_DB=$DB
it_db2 gen2_prefix
K migrate >/dev/null
K group create g2 >/dev/null
K routing install --kestra-queue-prefix acme >/dev/null
expect_match "$(K routing status --kestra-queue-prefix acme 2>&1)" "queue: 1 [^ ]+ acme__worker_job_event\)" "routing installed for acme__worker_job_event"
it_worker prefixed --group g2 --default-runner process --kestra-queue-prefix acme
wait_for "the prefixed worker claiming" 15 grep -q "claiming acme__worker_job_event rows" "$IT_TMP/prefixed.log"
printf 'id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: prefixed\nworkerSelector:\n  tags: [g2]\n' >"$IT_TMP/tagged.yaml"
submit "$IT_TMP/tagged.yaml" --kestra-queue-prefix acme
expect_match "$RC $OUT" "^0 .*routing key kwg:g2 \(routed by kwg routing\).*prefixed.*state SUCCESS" "a tagged task on acme__worker_job_event, routed, run, followed"
expect_eq "$(sql "SELECT string_agg(DISTINCT type, ',' ORDER BY type) FROM queues")" "acme__follow_log_event,acme__log_entry,acme__worker_task_result"   "its messages carry the prefixed queue names"
it_stop "$WORKER_PID"
DB=$MAIN_DB

# --- an unknown queue shape is still refused, naming what it found
sql "ALTER TABLE queues DROP COLUMN routing_key" >/dev/null
it_worker unknown --group g2
wait "$WORKER_PID" && rc=0 || rc=$?
expect_match "$rc $(cat "$IT_TMP/unknown.log")" "^1 .*neither Kestra 1.x's consumer_worker and consumer_group columns nor Kestra 2.x's routing_key.*columns found: offset:integer,type:character varying\(250\),key" \
  "a queue of neither shape is refused, naming its columns"
it_done
