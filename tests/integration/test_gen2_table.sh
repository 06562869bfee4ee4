#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kestra 2.x with its queue table renamed (kestra.queue.jdbc.table; kwg's kestra_queue_table,
# docs/config.md): without the setting kwg refuses, naming the table it looked for; with it,
# routing install/status/release/uninstall, a worker of a group and kwg submit run a tagged task
# end to end on the renamed table, then on the table moved to a schema of its own.
source "$(dirname "$0")/../lib/it.sh"
it_db2 gen2_table
K() { "$KWGT_BIN" "$@" --database-url "$DB"; }
sql "ALTER TABLE queues RENAME TO kestra_queue" >/dev/null

# jobs2 TABLE PREFIX N TASK_JSON: WorkerJobEvents as Kestra 2.x's executor queues them on the
# default queue (routing key NULL), into TABLE.
jobs2() {
  local task=${4//\'/\'\'}
  sql "INSERT INTO $1 (type, routing_key, key, value, created)
       SELECT 'worker_job_event', NULL, '', jsonb_build_object('job', jsonb_build_object(
         'type', 'task',
         'taskRun', jsonb_build_object('tenantId', 'main', 'id', '$2' || i, 'executionId', 'x$2' || i,
           'namespace', 'company.team', 'flowId', 'f', 'taskId', 't',
           'state', jsonb_build_object('current', 'SUBMITTED', 'histories', jsonb_build_array(
             jsonb_build_object('state', 'SUBMITTED', 'date', '2026-09-02T10:15:30.201234Z')))),
         'task', '$task'::jsonb,
         'data', jsonb_build_object('variables', jsonb_build_object(
             'flow', jsonb_build_object('id', 'f', 'namespace', 'company.team', 'tenantId', 'main'),
             'execution', jsonb_build_object('id', 'x$2' || i))))), now()
       FROM generate_series(1, $3) i" >/dev/null
}
# final_state TABLE KEY
final_state() { sql "SELECT string_agg(value->'taskRun'->'state'->>'current', ',') FROM $1 WHERE type = 'worker_task_result' AND key = '$2' AND value->'taskRun'->'state'->>'current' IN ('SUCCESS','FAILED','CANCELLED','KILLED','WARNING')"; }
is_final() { [ -n "$(final_state "$1" "$2")" ]; }
TAGGED='{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"tagged {{ taskrun.id }}","workerSelector":{"tags":["g2"]}}'
printf 'id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: renamed\nworkerSelector:\n  tags: [g2]\n' >"$IT_TMP/tagged.yaml"

# --- the setting is checked, naming itself and the value
out=$("$KWGT_BIN" worker -n --database-url "$DB" --kestra-queue-table 'kestra_queue;drop' 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^[1-9][0-9]* .*--kestra-queue-table: 'kestra_queue;drop' has a character that is not allowed at byte 13" \
  "a table name that is not an identifier is refused, naming the setting"
out=$(KWG_KESTRA_QUEUE_TABLE=a.b.c "$KWGT_BIN" worker -n --database-url "$DB" 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^[1-9][0-9]* .*KWG_KESTRA_QUEUE_TABLE: 'a.b.c' has more than one '.'" "from the environment too"

# --- without the setting: queues is not there, and kwg says which table it looked for
it_worker plain --group g2 --default-runner process
wait "$WORKER_PID" && rc=0 || rc=$?
expect_match "$rc $(cat "$IT_TMP/plain.log")" "^1 .*table queues not found \(kestra_queue_table\)" \
  "a worker without the setting stops, naming the table it looked for and the setting"
out=$(K routing install 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*table queues not found \(kestra_queue_table\)" "so does routing install"

# --- with it: routing on the renamed table
K migrate >/dev/null
K group create g2 >/dev/null
out=$(K routing install --kestra-queue-table kestra_queue 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing installed \(Kestra 2.x\)" "routing install --kestra-queue-table kestra_queue"
expect_eq "$(sql "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'kestra_queue'::regclass AND tgname = 'kwg_route_worker_job_event'")" 1 \
  "the routing trigger is on kestra_queue"
out=$(K routing status --kestra-queue-table kestra_queue 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing: installed and active \(Kestra 2.x; version, kwg, queue: 1 [^ ]+ worker_job_event\)" \
  "routing status on kestra_queue: installed and active"

# --- a worker of g2 (the setting from the environment) and kwg submit (from the flag)
KWG_KESTRA_QUEUE_TABLE=kestra_queue it_worker g2a --group g2 --default-runner process
G2A=$WORKER_PID
wait_for "g2a claiming" 15 grep -q "claiming worker_job_event rows with routing key 'kwg:g2'" "$IT_TMP/g2a.log"
expect_match "$(cat "$IT_TMP/g2a.log")" "Kestra 2.x database \(kestra_queue with routing_key" "the worker names the renamed table"
submit "$IT_TMP/tagged.yaml" --kestra-queue-table kestra_queue
expect_match "$RC $OUT" "^0 .*routing key kwg:g2 \(routed by kwg routing\).*renamed.*state SUCCESS" \
  "kwg submit: a tagged task routed by the trigger on kestra_queue, run by g2's worker, followed to SUCCESS"
jobs2 kestra_queue t- 2 "$TAGGED"
wait_for "t-1 ended" 20 is_final kestra_queue t-1
wait_for "t-2 ended" 20 is_final kestra_queue t-2
expect_eq "$(final_state kestra_queue t-1)|$(final_state kestra_queue t-2)" "SUCCESS|SUCCESS" "tagged jobs Kestra queues on kestra_queue: SUCCESS"
expect_eq "$(sql "SELECT count(*) FROM kestra_queue WHERE type = 'log_entry' AND value->>'taskRunId' = 't-1'")" 1 "their logs are written to kestra_queue"
expect_eq "$(sql "SELECT count(*) FROM kestra_queue WHERE type = 'worker_job_event'")" 0 "claimed rows are deleted from kestra_queue"
expect_eq "$(grep -c "kwg routing is NOT installed" "$IT_TMP/g2a.log")" 0 "the worker sees the routing installed on kestra_queue"
it_stop "$G2A"
expect_eq "$STOP_RC" 0 "the worker stops cleanly"

# --- release and uninstall on the renamed table
jobs2 kestra_queue w- 1 "$TAGGED"
expect_eq "$(sql "SELECT routing_key FROM kestra_queue WHERE type = 'worker_job_event'")" "kwg:g2" "a tagged job waits on kwg:g2"
expect_match "$(K group list --kestra-queue-table kestra_queue 2>&1)" "g2 +[0-9]+ +0 +1 +[0-9]+s +active" "kwg group list counts it from kestra_queue"
out=$(K routing uninstall --kestra-queue-table kestra_queue 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*routed jobs are waiting on kwg:g2 \(1 job\(s\)\)" "uninstall refuses while it waits"
out=$(K routing release --group g2 --kestra-queue-table kestra_queue 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 released 1 job\(s\) of group g2" "routing release gives it back"
out=$(K routing uninstall --kestra-queue-table kestra_queue 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing uninstalled" "routing uninstall"
expect_eq "$(sql "SELECT count(*) FROM pg_trigger WHERE tgname = 'kwg_route_worker_job_event'")" 0 "the trigger is gone"
sql "DELETE FROM kestra_queue WHERE type = 'worker_job_event'" >/dev/null

# --- the table in a schema of its own: SCHEMA.TABLE
sql "CREATE SCHEMA kq; ALTER TABLE kestra_queue SET SCHEMA kq" >/dev/null
export KWG_KESTRA_QUEUE_TABLE=kq.kestra_queue
out=$(K routing install 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing installed \(Kestra 2.x\)" "routing install on kq.kestra_queue"
expect_match "$(K routing status 2>&1)" "installed and active" "routing status on kq.kestra_queue"
it_worker g2b --group g2 --default-runner process
wait_for "g2b claiming" 15 grep -q "claiming worker_job_event rows" "$IT_TMP/g2b.log"
submit "$IT_TMP/tagged.yaml"
expect_match "$RC $OUT" "^0 .*routing key kwg:g2 \(routed by kwg routing\).*renamed.*state SUCCESS" \
  "kwg submit on kq.kestra_queue: routed, run, SUCCESS"
expect_eq "$(grep -c "kwg routing is NOT installed" "$IT_TMP/g2b.log")" 0 "the worker sees the routing on kq.kestra_queue"
it_stop "$WORKER_PID"
unset KWG_KESTRA_QUEUE_TABLE
it_done
