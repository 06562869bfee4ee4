#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kestra 1.x with its queue table renamed (kestra.jdbc.tables.queues.table; kwg's
# kestra_queue_table, docs/config.md), here moved to a schema of its own as well: kwg migrate,
# routing and notify install their triggers on it, a worker of the default group and one of a
# group claim from it and write their messages to it, kwg submit follows a task there, a job
# routed to a group (by the trigger, and by a worker rendering a Pebble key) runs; status and
# uninstall.
source "$(dirname "$0")/../lib/it.sh"
it_db table
K() { "$KWGT_BIN" "$@" --database-url "$DB"; }
WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
Q=kq.kestra_queue
sql "CREATE SCHEMA kq; ALTER TABLE queues RENAME TO kestra_queue; ALTER TABLE kestra_queue SET SCHEMA kq" >/dev/null
export KWG_KESTRA_QUEUE_TABLE=$Q

# ossjobs PREFIX N TASK_JSON VARIABLES_JSON: WorkerTasks as Kestra OSS 1.x's executor writes them.
ossjobs() {
  sql "INSERT INTO $Q (type, key, value)
       SELECT '$WJ', '$1' || i, jsonb_build_object('type', 'task',
         'taskRun', jsonb_build_object('tenantId', 'main', 'id', '$1' || i, 'executionId', 'x$1' || i,
           'namespace', 'company.team', 'flowId', 'f', 'taskId', 't',
           'state', jsonb_build_object('current', 'CREATED', 'histories', jsonb_build_array(
             jsonb_build_object('state', 'CREATED', 'date', '2025-09-02T10:15:30.101234Z')))),
         'task', '$3'::jsonb,
         'runContext', jsonb_build_object('variables', '$4'::jsonb, 'secretInputs', '[]'::jsonb))
       FROM generate_series(1, $2) i" >/dev/null
}
final_state() { sql "SELECT string_agg(value->'taskRun'->'state'->>'current', ',') FROM $Q WHERE type = '$WTR' AND key = '$1' AND value->'taskRun'->'state'->>'current' IN ('SUCCESS','FAILED','CANCELLED','KILLED','WARNING')"; }
is_final() { [ -n "$(final_state "$1")" ]; }
ran_in() { sql "SELECT COALESCE(value->'workerInstance'->>'workerGroup', '<default>') FROM worker_job_running WHERE key = '$1'"; }
triggers() { sql "SELECT string_agg(tgname, ',' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = '$Q'::regclass AND tgname LIKE 'kwg%'"; }

# --- installs on the configured table
K migrate >/dev/null
out=$(K routing install 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing installed" "routing install on $Q"
out=$(K notify install 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 0 "notify install on $Q"
expect_eq "$(triggers)" "kwg_notify_worker_job,kwg_route_worker_job" "both triggers are on $Q"
out=$(K routing status 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing: installed and active" "routing status reads $Q"

# --- workers, submit, routed jobs
it_worker def --default-runner process
DEF=$WORKER_PID
it_worker gpu --group gpu --default-runner process
GPU=$WORKER_PID
wait_for "the default worker claiming" 15 grep -q "claiming tasks" "$IT_TMP/def.log"
wait_for "the gpu worker claiming" 15 grep -q "claiming tasks" "$IT_TMP/gpu.log"
expect_match "$(cat "$IT_TMP/def.log")" "Kestra 1.x database" "the worker recognises the 1.x table $Q"
printf 'id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: renamed\n' >"$IT_TMP/log.yaml"
submit "$IT_TMP/log.yaml"
expect_match "$RC $OUT" "^0 .*renamed.*state SUCCESS" "kwg submit: a task on $Q, run by the default worker, followed to SUCCESS"
ossjobs g- 2 '{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"m","workerGroup":{"key":"gpu"}}' '{}'
ossjobs r- 1 '{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"m","workerGroup":{"key":"{{ inputs.pool }}"}}' '{"inputs":{"pool":"gpu"}}'
wait_for "g-1 ended" 20 is_final g-1
wait_for "g-2 ended" 20 is_final g-2
wait_for "r-1 ended" 20 is_final r-1
expect_eq "$(final_state g-1)|$(final_state g-2)|$(final_state r-1)" "SUCCESS|SUCCESS|SUCCESS" "jobs routed to gpu on $Q: SUCCESS"
expect_eq "$(ran_in g-1)|$(ran_in r-1)" "gpu|gpu" "run by the gpu worker (the trigger's group, and a Pebble key a worker rendered)"
expect_eq "$(sql "SELECT count(*) FROM $Q WHERE type = '$WJ' AND NOT consumer_worker")" 0 "every job on $Q was claimed"
it_stop "$GPU"
it_stop "$DEF"
expect_eq "$STOP_RC" 0 "the workers stop cleanly"

# --- uninstall
ossjobs w- 1 '{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"m","workerGroup":{"key":"gpu"}}' '{}'
out=$(K routing uninstall 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*routed jobs are waiting in group\(s\) gpu \(1 job\(s\)\)" "uninstall refuses while a routed job waits on $Q"
out=$(K routing uninstall --requeue 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 0 "routing uninstall --requeue"
expect_eq "$(sql "SELECT COALESCE(consumer_group, '<null>') FROM $Q WHERE key = 'w-1'")" "<null>" "the waiting job is back in the default group"
K notify uninstall >/dev/null
expect_eq "$(triggers)" "" "no kwg trigger is left on $Q"
unset KWG_KESTRA_QUEUE_TABLE
it_done
