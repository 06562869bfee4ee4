#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kwg routing`: worker groups on open-source Kestra 1.x, routed inside PostgreSQL. Jobs are
# inserted as Kestra OSS's executor writes them (consumer_group NULL). A claimer that behaves like
# an OSS Java worker (NULL-group WorkerJob rows, FOR UPDATE SKIP LOCKED, as fast as it can) runs
# beside kwg workers of group gpu and of the default group under 1,200 mixed jobs: no group job
# reaches it, no default job reaches the group worker, every job ends once. Then flow-level and
# expression keys, bad keys, fallback FAIL/CANCEL/WAIT, resubmission after a worker is killed,
# a missing flows table, status after the trigger is lost or disabled, and uninstall with jobs
# waiting.
source "$(dirname "$0")/../lib/it.sh"
it_db routing

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
LOG=io.kestra.core.models.executions.LogEntry
K() { "$KWGT_BIN" "$@" --database-url "$DB"; }

# ossjobs PREFIX FROM TO TASK_JSON [FLOW_ID [VARIABLES_JSON]]: WorkerTasks as Kestra OSS 1.x's
# executor writes them: consumer_group NULL whatever the task or flow says.
ossjobs() {
  sql "INSERT INTO queues (type, key, value)
       SELECT '$WJ', '$1' || i, jsonb_build_object(
         'type', 'task',
         'taskRun', jsonb_build_object('tenantId', 'main', 'id', '$1' || i, 'executionId', 'x$1' || i,
           'namespace', 'company.team', 'flowId', '${5:-plain}', 'taskId', 't',
           'state', jsonb_build_object('current', 'CREATED', 'histories', jsonb_build_array(
             jsonb_build_object('state', 'CREATED', 'date', '2025-09-02T10:15:30.101234Z')))),
         'task', '$4'::jsonb,
         'runContext', jsonb_build_object('variables', '${6:-{\}}'::jsonb, 'secretInputs', '[]'::jsonb))
       FROM generate_series($2, $3) i"
}
group_of() { sql "SELECT COALESCE(consumer_group, '<null>') FROM queues WHERE type = '$WJ' AND key = '$1' ORDER BY \"offset\" DESC LIMIT 1"; }
final_state() { sql "SELECT string_agg(value->'taskRun'->'state'->>'current', ',') FROM queues WHERE type = '$WTR' AND key = '$1' AND value->'taskRun'->'state'->>'current' IN ('SUCCESS','FAILED','CANCELLED','KILLED','WARNING')"; }
errors_of() { sql "SELECT string_agg(value->>'message', ' | ') FROM queues WHERE type = '$LOG' AND value->>'taskRunId' = '$1' AND value->>'level' = 'ERROR'"; }
is_final() { [ -n "$(final_state "$1")" ]; }
ran_in() { sql "SELECT COALESCE(value->'workerInstance'->>'workerGroup', '<default>') FROM worker_job_running WHERE key = '$1'"; }

LOG_TASK='{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"hello"}'
gpu_task() { echo "{\"id\":\"t\",\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"hello\",\"workerGroup\":$1}"; }

# --- a worker of a named group says so when nothing can reach it
it_worker early --group early
wait_for "the not-installed warning" 15 grep -q "kwg routing is not installed in this database" "$IT_TMP/early.log" &&
  pass "a worker of a named group warns when routing is not installed"
it_stop "$WORKER_PID" 30

# A group job Kestra wrote before the routing existed, not claimed yet.
ossjobs pre- 1 1 "$(gpu_task '{"key":"gpu"}')"
expect_eq "$(group_of pre-1)" "<null>" "without routing, open-source Kestra's row has no group"

# --- install --wait retries until Kestra has made its tables
sql "ALTER TABLE queues RENAME TO queues_later" >/dev/null
K routing install --wait --timeout 30s >"$IT_TMP/install.log" 2>&1 &
INSTALL_PID=$!
wait_for "install --wait to say it waits" 10 grep -q "table queues not found (kestra_queue_table): is this the database of Kestra 1.x" "$IT_TMP/install.log"
sql "ALTER TABLE queues_later RENAME TO queues" >/dev/null
wait "$INSTALL_PID" && pass "routing install --wait succeeds once queues exists" || fail "install --wait: $(cat "$IT_TMP/install.log")"
expect_eq "$(group_of pre-1)" gpu "install routes the group jobs already waiting"
K routing uninstall --requeue >/dev/null 2>&1

# --- install, twice; status
out=$(K routing status 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^2 routing: not installed" "status before install: not installed (exit 2)"
out=$(K routing install 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing installed" "routing install"
K routing install >/dev/null 2>&1 && pass "installing twice is harmless" || fail "a second install failed"
expect_eq "$(sql "SELECT count(*) FROM pg_trigger WHERE tgname = 'kwg_route_worker_job'")" 1 "one routing trigger on queues"
out=$(K routing status 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing: installed and active \(version 1 of kwg" "status: installed and active, its version"
expect_match "$(K status 2>&1)" "routing: installed and active" "kwg status shows the routing"

# Kestra usually connects as another role than the one that installed the routing.
app=kestra_app_$$
sql "CREATE ROLE $app; GRANT SELECT, INSERT, UPDATE ON queues, flows, service_instance TO $app;
     GRANT USAGE ON SEQUENCE queues_offset_seq TO $app" >/dev/null
sql "SET ROLE $app; INSERT INTO queues (type, key, value) VALUES ('$WJ', 'role-1',
     '{\"type\":\"task\",\"taskRun\":{\"id\":\"role-1\"},\"task\":{\"workerGroup\":{\"key\":\"gpu\",\"fallback\":\"WAIT\"}}}')" >/dev/null
expect_eq "$(group_of role-1)" gpu "a job inserted by another role (Kestra's) is routed too"
sql "DELETE FROM queues WHERE key = 'role-1'; DROP OWNED BY $app; DROP ROLE $app" >/dev/null

# A flow whose revision 1 says workerGroup gpu (Kestra 1.0's flow-level group), revision 2 not.
sql "INSERT INTO flows (key, value, source_code) VALUES
  ('main_company.team_fgpu_1', '{\"tenantId\":\"main\",\"namespace\":\"company.team\",\"id\":\"fgpu\",\"revision\":1,\"deleted\":false,\"workerGroup\":{\"key\":\"gpu\"}}', ''),
  ('main_company.team_fgpu_2', '{\"tenantId\":\"main\",\"namespace\":\"company.team\",\"id\":\"fgpu\",\"revision\":2,\"deleted\":false}', '')" >/dev/null

# --- the OSS-claimer scenario under load
sql "CREATE TABLE oss_got (key TEXT, consumer_group TEXT);
CREATE TABLE oss_stop (stop BOOLEAN);
CREATE PROCEDURE oss_claim() LANGUAGE plpgsql AS \$\$
DECLARE deadline timestamptz := clock_timestamp() + interval '120 seconds';
BEGIN
  LOOP
    WITH c AS (SELECT \"offset\" FROM queues WHERE type = '$WJ' AND NOT consumer_worker
               AND consumer_group IS NULL ORDER BY \"offset\" LIMIT 10 FOR UPDATE SKIP LOCKED),
         u AS (UPDATE queues q SET consumer_worker = true FROM c WHERE q.\"offset\" = c.\"offset\"
               RETURNING q.key, q.consumer_group)
    INSERT INTO oss_got SELECT key, consumer_group FROM u;
    COMMIT;
    EXIT WHEN EXISTS (SELECT 1 FROM oss_stop) OR clock_timestamp() > deadline;
  END LOOP;
END\$\$;" >/dev/null
psql "$DB" -qAtX -c "CALL oss_claim()" >"$IT_TMP/oss.log" 2>&1 &
OSS_PID=$!
IT_PIDS+=("$OSS_PID")
it_worker gpu1 --group gpu --concurrency 16
GPU1=$WORKER_PID
PORT=$((30000 + RANDOM % 20000))
it_worker def1 --concurrency 16 --management-port "$PORT"
DEF1=$WORKER_PID
wait_for "both workers claiming" 15 grep -q "claiming tasks" "$IT_TMP/def1.log"
wait_for "both workers claiming" 15 grep -q "claiming tasks" "$IT_TMP/gpu1.log"
for b in 0 1 2 3; do
  f=$((b * 100 + 1)) t=$((b * 100 + 100))
  ossjobs g- $f $t "$(gpu_task '{"key":"gpu"}')"
  ossjobs s- $f $t "$(gpu_task '"{\"key\":\"gpu\"}"')" # 1.x: a property as a JSON string
  ossjobs fg- $((b * 50 + 1)) $((b * 50 + 50)) "$LOG_TASK" fgpu '{"flow":{"revision":1}}'
  ossjobs d- $f $t "$LOG_TASK"
  ossjobs f2- $((b * 25 + 1)) $((b * 25 + 25)) "$LOG_TASK" fgpu '{"flow":{"revision":2}}'
done
sql "INSERT INTO queues (type, key, value) SELECT '$WJ', 'trg-' || i, jsonb_build_object('type', 'trigger',
  'trigger', jsonb_build_object('id', 'tr', 'type', 'io.kestra.plugin.core.trigger.Schedule', 'workerGroup', jsonb_build_object('key', 'gpu')),
  'triggerContext', '{}'::jsonb, 'conditionContext', '{}'::jsonb) FROM generate_series(1, 20) i" >/dev/null
TOTAL=1521 # and pre-1
group_done() { [ "$(sql "SELECT count(DISTINCT key) FROM queues WHERE type = '$WTR' AND (key LIKE 'g-%' OR key LIKE 's-%' OR key LIKE 'fg-%') AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == 1000 ]; }
wait_for "the 1,000 group jobs done" 120 group_done
no_waiting() { [ "$(sql "SELECT count(*) FROM queues WHERE type = '$WJ' AND NOT consumer_worker")" == 0 ]; }
wait_for "no job left waiting" 60 no_waiting
sql "INSERT INTO oss_stop VALUES (true)" >/dev/null
wait "$OSS_PID" || fail "the OSS claimer failed: $(cat "$IT_TMP/oss.log")"
expect_eq "$(sql "SELECT count(*) FROM oss_got WHERE key LIKE 'g-%' OR key LIKE 's-%' OR key LIKE 'fg-%'")" 0 \
  "no group job (task key, key as a JSON string, flow key) reached the OSS claimer"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running WHERE (key LIKE 'g-%' OR key LIKE 's-%' OR key LIKE 'fg-%') AND value->'workerInstance'->>'workerGroup' = 'gpu'")" 1000 \
  "all 1,000 group jobs ran on the gpu worker"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running WHERE (key LIKE 'd-%' OR key LIKE 'f2-%') AND value->'workerInstance'->>'workerGroup' IS NOT NULL")" 0 \
  "no default job (none set, or a flow revision without a group) ran on the group worker"
expect_eq "$(sql "SELECT count(*) FROM oss_got WHERE key LIKE 'trg-%' AND consumer_group IS NULL")" 20 \
  "trigger jobs stay in the default group, even with a workerGroup"
once=$(sql "WITH k AS (SELECT DISTINCT key FROM queues WHERE type = '$WJ'),
  ended AS (SELECT key, count(*) AS n FROM queues WHERE type = '$WTR' AND value->'taskRun'->'state'->>'current' IN ('SUCCESS','FAILED') GROUP BY key),
  got AS (SELECT key, count(*) AS n FROM oss_got GROUP BY key)
  SELECT count(*) FILTER (WHERE COALESCE(e.n, 0) + COALESCE(g.n, 0) = 1), count(*)
  FROM k LEFT JOIN ended e USING (key) LEFT JOIN got g USING (key)")
expect_eq "$once" "$TOTAL|$TOTAL" "every one of the $TOTAL jobs ended exactly once (a kwg result or the OSS claimer)"
echo "default jobs: $(sql "SELECT count(*) FROM oss_got WHERE key LIKE 'd-%' OR key LIKE 'f2-%'") to the OSS claimer, the rest to kwg"

# --- expression keys, through the holding group kwg:render
ossjobs e- 1 1 "$(gpu_task '{"key":"{{ inputs.pool }}"}')" plain '{"inputs":{"pool":"gpu"}}'
ossjobs e- 2 2 "$(gpu_task '{"key":"{{ inputs.nope }}"}')" plain '{"inputs":{}}'
ossjobs e- 3 3 "$(gpu_task '{"key":"{{ inputs.pool }}"}')" plain '{"inputs":{"pool":"a b"}}'
wait_for "the expression jobs ended" 20 is_final e-1
wait_for "the expression jobs ended" 20 is_final e-2
wait_for "the expression jobs ended" 20 is_final e-3
expect_eq "$(final_state e-1)|$(ran_in e-1)" "SUCCESS|gpu" "a key '{{ inputs.pool }}' rendered to gpu runs on the gpu worker"
expect_eq "$(final_state e-2)" "FAILED" "a key that cannot be rendered fails the task"
expect_match "$(errors_of e-2)" "workerGroup.key '\{\{ inputs.nope \}\}' cannot be rendered" "with an ERROR log naming the key"
expect_eq "$(final_state e-3)" "FAILED" "a key that renders to no valid key fails the task"
expect_match "$(errors_of e-3)" "renders to 'a b', which is not a worker group key" "with an ERROR log saying what it rendered to"

# --- bad literal keys: a clear error, nothing lost
long=$(printf 'k%.0s' $(seq 1 251))
ossjobs b- 1 1 "$(gpu_task '{"key":""}')"
ossjobs b- 2 2 "$(gpu_task "{\"key\":\"$long\"}")"
ossjobs b- 3 3 "$(gpu_task '{"key":"gpu/../x"}')"
ossjobs b- 4 4 "$(gpu_task '"not json"')"
for i in 1 2 3 4; do wait_for "bad key b-$i ended" 20 is_final b-$i; done
expect_eq "$(final_state b-1),$(final_state b-2),$(final_state b-3),$(final_state b-4)" "FAILED,FAILED,FAILED,FAILED" "empty, too long, bad characters, not an object: each task run FAILED"
expect_match "$(errors_of b-1)" "invalid workerGroup.key '': a worker group key is 1 to 250 characters" "the empty key is named"
expect_match "$(errors_of b-2)" "invalid workerGroup.key 'kkkk.*…'" "the long key is named (cut)"
expect_match "$(errors_of b-3)" "invalid workerGroup.key 'gpu/../x'" "the key with bad characters is named"
expect_match "$(errors_of b-4)" "invalid workerGroup \"not json\": expected an object with a key" "a workerGroup that is not an object is reported"

# --- fallback: FAIL and CANCEL end the task when no worker of the group is alive; WAIT keeps it
ossjobs fb- 1 1 "$(gpu_task '{"key":"nobody","fallback":"FAIL"}')"
ossjobs fb- 2 2 "$(gpu_task '{"key":"nobody","fallback":"CANCEL"}')"
ossjobs fb- 3 3 "$(gpu_task '{"key":"nobody","fallback":"WAIT"}')"
ossjobs fb- 4 4 "$(gpu_task '{"key":"gpu","fallback":"FAIL"}')"
ossjobs fb- 5 5 "$(gpu_task '{"key":"{{ inputs.pool }}","fallback":"CANCEL"}')" plain '{"inputs":{"pool":"nobody"}}'
for i in 1 2 4 5; do wait_for "fallback job fb-$i ended" 20 is_final fb-$i; done
expect_eq "$(final_state fb-1)" FAILED "fallback FAIL, no live worker of the group: FAILED"
expect_match "$(errors_of fb-1)" "no worker of worker group 'nobody' is alive, and workerGroup.fallback is FAIL" "with an ERROR log naming the group"
expect_eq "$(final_state fb-2)" CANCELLED "fallback CANCEL: CANCELLED"
expect_match "$(errors_of fb-2)" "worker group 'nobody'.*CANCEL" "with an ERROR log naming the group"
expect_eq "$(final_state fb-4)|$(ran_in fb-4)" "SUCCESS|gpu" "fallback FAIL with a live worker of the group: runs there"
expect_eq "$(final_state fb-5)" CANCELLED "a rendered key gets its fallback too"
expect_eq "$(group_of fb-3)|$(final_state fb-3)" "nobody|" "fallback WAIT: the job waits in its group"
out=$(K group list 2>&1)
expect_match "$out" "nobody +0 +0 +1 +[0-9]+s +active" "kwg group list shows the job waiting for group nobody, and how long"
expect_match "$(K status 2>&1)" "nobody +0 +1 +[0-9]+s" "kwg status shows it per group too"
waiting_metric() { curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^kwg_jobs_waiting{group="nobody"} 1$'; }
wait_for "the waiting job in /metrics" 15 waiting_metric && pass "/metrics exports the jobs waiting per group"
expect_match "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'kwg_jobs_oldest_wait_seconds\{group="nobody"\} [0-9]+' "and the oldest wait"
expect_match "$(curl -s "http://127.0.0.1:$PORT/metrics")" 'kwg_routing_resolved_total\{outcome="ended"\} [0-9]+' "and what it resolved"

# --- a worker killed mid-task; Kestra resubmits the job (NULL group before 1.0, its group since)
SLEEP='{"id":"t","type":"io.kestra.plugin.scripts.shell.Commands","commands":"[\"sleep 60\"]","taskRunner":{"type":"io.kestra.plugin.core.runner.Process"},"workerGroup":{"key":"gpu"}}'
ossjobs r- 1 1 "$SLEEP"
running() { [ "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = 'r-1' AND value->'taskRun'->'state'->>'current' = 'RUNNING'")" -ge 1 ]; }
wait_for "r-1 running on gpu1" 20 running
kill -KILL "$GPU1"
wait "$GPU1" 2>/dev/null || true
# As JdbcExecutor.reEmitWorkerJobsForWorkers: a new WorkerJob from the worker_job_running record.
resubmit() { # resubmit GROUP_SQL: the record's job, its command made short, emitted again
  sql "INSERT INTO queues (type, key, value, consumer_group)
       SELECT '$WJ', key, jsonb_build_object('type', 'task', 'taskRun', value->'taskRun',
         'task', jsonb_set(value->'task', '{commands}', '\"[\\\"echo again\\\"]\"'), 'runContext', value->'runContext'), $1
       FROM worker_job_running WHERE key = 'r-1'" >/dev/null
}
resubmit NULL
expect_eq "$(group_of r-1)" gpu "a job re-emitted with consumer_group NULL (Kestra <= 0.21) is routed again"
it_worker gpu2 --group gpu --concurrency 4
GPU2=$WORKER_PID
done_again() { [ "$(final_state r-1)" == SUCCESS ]; }
wait_for "r-1 run again by gpu2" 30 done_again && pass "and run by another worker of the group"
resubmit "'gpu'"
expect_eq "$(group_of r-1)" gpu "a job re-emitted with its group (Kestra 1.0) keeps it"
no_waiting_r() { [ "$(sql "SELECT count(*) FROM queues WHERE type = '$WJ' AND key = 'r-1' AND NOT consumer_worker")" == 0 ]; }
wait_for "the second resubmission claimed" 30 no_waiting_r

# --- without a flows table, task keys still route
sql "ALTER TABLE flows RENAME TO flows_gone" >/dev/null
ossjobs nf- 1 1 "$(gpu_task '{"key":"gpu"}')"
ossjobs nf- 2 2 "$LOG_TASK" fgpu '{"flow":{"revision":1}}'
expect_eq "$(group_of nf-1)" gpu "no flows table: a task key still routes"
expect_eq "$(group_of nf-2)" "<null>" "and a job without a task key stays in the default group"
sql "ALTER TABLE flows_gone RENAME TO flows" >/dev/null

# --- status sees a lost or disabled trigger
sql "ALTER TABLE queues DISABLE TRIGGER kwg_route_worker_job" >/dev/null
out=$(K routing status 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 routing: INACTIVE" "status: a disabled trigger is reported (exit 1)"
sql "DROP TRIGGER kwg_route_worker_job ON queues" >/dev/null
out=$(K routing status 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 routing: BROKEN: the trigger kwg_route_worker_job is missing on queues" "status: a lost trigger (queues recreated) is reported"
K routing install >/dev/null 2>&1
expect_match "$(K routing status 2>&1)" "installed and active" "install puts it back"
out=$(K status 2>&1)

# --- uninstall with jobs waiting: refused, naming them; --requeue gives them back
out=$(K routing uninstall 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*routed jobs are waiting in group\(s\) nobody \(1 job\(s\)\)" "uninstall refuses while routed jobs wait, naming their group"
expect_eq "$(sql "SELECT count(*) FROM pg_trigger WHERE tgname = 'kwg_route_worker_job'")" 1 "and leaves the routing in place"
out=$(K routing uninstall --requeue 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 routing uninstalled" "uninstall --requeue"
expect_eq "$(group_of fb-3)" "<null>" "the waiting job is back in the default group (nothing stranded)"
expect_eq "$(sql "SELECT count(*) FROM pg_trigger WHERE tgname = 'kwg_route_worker_job'")|$(sql "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'kwg' AND p.proname IN ('route_worker_job','route_group','job_worker_group','group_alive')")" "0|0" "the trigger and its functions are gone"
ossjobs u- 1 1 "$(gpu_task '{"key":"gpu"}')"
expect_eq "$(group_of u-1)" "<null>" "after uninstall Kestra's rows are written as before"
out=$(K routing status 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^2 routing: not installed" "status: not installed"

it_stop "$GPU2" 30
expect_eq "$STOP_RC" 0 "the gpu worker exits cleanly"
it_stop "$DEF1" 30
expect_eq "$STOP_RC" 0 "the default worker exits cleanly"
it_done
