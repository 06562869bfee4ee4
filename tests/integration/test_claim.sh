#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Claim correctness with real workers competing on one queue: 2 workers x 200 tasks, every task
# claimed and finished exactly once, concurrency never exceeded, groups kept apart, and the default
# group claiming only what kwg can run.
source "$(dirname "$0")/../lib/it.sh"
it_db claim

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult

# mkjobs PREFIX FROM TO GROUP TASK_JSON: inserts WorkerTasks the way Kestra 1.x's executor does.
mkjobs() {
  local group=$4
  [ "$group" == "NULL" ] || group="'$group'"
  sql "INSERT INTO queues (type, key, value, consumer_group)
       SELECT '$WJ', '$1' || i, jsonb_build_object(
         'type', 'task',
         'taskRun', jsonb_build_object('tenantId', 'main', 'id', '$1' || i, 'executionId', 'x$1' || i,
           'namespace', 'company.team', 'flowId', 'claim', 'taskId', 't', 'outputs', NULL,
           'state', jsonb_build_object('current', 'CREATED', 'histories', jsonb_build_array(
             jsonb_build_object('state', 'CREATED', 'date', '2025-09-02T10:15:30.101234Z')))),
         'task', '$5'::jsonb,
         'runContext', jsonb_build_object('variables', '{}'::jsonb, 'secretInputs', '[]'::jsonb)),
         $group
       FROM generate_series($2, $3) i"
}

SLEEP_TASK='{"id":"t","type":"io.kestra.plugin.scripts.shell.Commands","commands":"[\"sleep 0.03\"]","taskRunner":{"type":"io.kestra.plugin.core.runner.Process"}}'
LOG_TASK='{"id":"t","type":"io.kestra.plugin.core.log.Log","message":"hello"}'

finished() { # finished PREFIX: number of task runs with a terminal result
  sql "SELECT count(DISTINCT key) FROM queues WHERE type = '$WTR' AND key LIKE '$1%'
       AND value->'taskRun'->'state'->>'current' IN ('SUCCESS','WARNING','FAILED','KILLED')"
}
all_finished() { [ "$(finished "$1")" == "$2" ]; }

it_worker a1 --group a --concurrency 4
A1=$WORKER_PID
it_worker a2 --group a --concurrency 4
A2=$WORKER_PID
wait_for "both workers polling" 10 grep -q "concurrency 4" "$IT_TMP/a2.log"
mkjobs b- 1 20 b "$SLEEP_TASK"
mkjobs n- 1 20 NULL "$LOG_TASK"
mkjobs a- 1 200 a "$SLEEP_TASK"

wait_for "200 tasks of group a finished" 120 all_finished a- 200
expect_eq "$(finished a-)" 200 "every task of group a finished"
expect_eq "$(sql "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' AND key LIKE 'a-%' GROUP BY key HAVING count(*) <> 2) s")" 0 \
  "each task run has exactly one RUNNING and one final result (claimed and run once)"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key LIKE 'a-%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" 200 \
  "all 200 succeeded"
expect_eq "$(sql "SELECT count(DISTINCT value->'taskRun'->'attempts'->0->>'workerId') FROM queues WHERE type = '$WTR' AND key LIKE 'a-%'")" 2 \
  "both workers took tasks"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running WHERE key LIKE 'a-%' AND value->'workerInstance'->>'workerGroup' = 'a'")" 200 \
  "worker_job_running holds every claim, with the group"
max_running=$(sql "
  WITH iv AS (
    SELECT value->'taskRun'->'attempts'->0->>'workerId' AS w,
           (value->'taskRun'->'attempts'->0->'state'->'histories'->1->>'date')::timestamptz AS s,
           (value->'taskRun'->'attempts'->0->'state'->'histories'->2->>'date')::timestamptz AS e
    FROM queues WHERE type = '$WTR' AND key LIKE 'a-%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'),
  ev AS (SELECT w, s AS t, 1 AS d FROM iv UNION ALL SELECT w, e, -1 FROM iv)
  SELECT max(c) FROM (SELECT sum(d) OVER (PARTITION BY w ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS c FROM ev) x")
if [ "$max_running" -le 4 ] && [ "$max_running" -ge 2 ]; then
  pass "no worker ran more than its 4 slots at once (max $max_running)"
else
  fail "concurrency: a worker ran $max_running tasks at once (limit 4)"
fi
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WJ' AND NOT consumer_worker AND (consumer_group = 'b' OR consumer_group IS NULL)")" 40 \
  "workers of group a took no row of group b nor of the default group"

# A worker of group b takes its own rows only.
it_worker b --group b --concurrency 2
wait_for "20 tasks of group b finished" 60 all_finished b- 20
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WJ' AND NOT consumer_worker AND consumer_group IS NULL")" 20 \
  "the group b worker left the default group's rows"

# The default group: kwg claims only what it can run (here: Log, and script tasks on Process).
it_worker d --concurrency 2 --default-runner docker
wait_for "20 Log tasks of the default group finished" 60 all_finished n- 20
mkjobs nd- 1 1 NULL '{"id":"t","type":"io.kestra.plugin.scripts.shell.Commands","commands":"[\"true\"]"}'
mkjobs nu- 1 1 NULL '{"id":"t","type":"io.kestra.plugin.core.http.Request","uri":"http://x"}'
sql "INSERT INTO queues (type, key, value) VALUES ('$WJ', 'trig', '{\"type\":\"trigger\",\"triggerContext\":{\"namespace\":\"n\",\"flowId\":\"f\",\"triggerId\":\"t\"}}')"
mkjobs np- 1 1 NULL "$SLEEP_TASK"
# Claims go in offset order: once np-1 (inserted last) finished, the rows before it were passed over.
wait_for "the Process script task of the default group finished" 60 all_finished np- 1
expect_eq "$(sql "SELECT string_agg(key, ',' ORDER BY key) FROM queues WHERE type = '$WJ' AND NOT consumer_worker")" \
  "nd-1,nu-1,trig" "the default group leaves Docker-bound scripts, unknown types and triggers to Kestra's workers"

for pid in "$A1" "$A2"; do
  it_stop "$pid"
  expect_eq "$STOP_RC" 0 "worker $pid stops cleanly"
done
it_done
