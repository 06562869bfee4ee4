#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kills (kestra-protocol.md §9.1): an EXECUTED ExecutionKilled ends the execution's running tasks
# KILLED within a second; REQUESTED is ignored; a later job of a killed execution ends KILLED
# without running, unless forceExecution; another tenant's kill does not apply.
source "$(dirname "$0")/../lib/it.sh"
it_db kill

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
KILL=io.kestra.core.models.executions.ExecutionKilled

job() { # job ID EXECUTION [EXTRA_TASKRUN_MEMBERS]
  sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('$WJ', '$1', '{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"$1\",\"executionId\":\"$2\",\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\"${3:-},\"state\":{\"current\":\"CREATED\",\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":\"[\\\"echo started\\\",\\\"sleep 30\\\"]\",\"taskRunner\":{\"type\":\"io.kestra.plugin.core.runner.Process\"}},\"runContext\":{}}', 'k')"
}
kill_row() { # kill_row EXECUTION STATE TENANT: prints the insert time (epoch ms)
  sql "INSERT INTO queues (type, key, value) VALUES ('$KILL', '$1', '{\"type\":\"execution\",\"state\":\"$2\",\"tenantId\":\"$3\",\"executionId\":\"$1\",\"isOnKillCascade\":false}') RETURNING (extract(epoch FROM now()) * 1000)::bigint"
}
results() { sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = '$1'"; }
final() { sql "SELECT value->'taskRun'->'state'->>'current' FROM queues WHERE type = '$WTR' AND key = '$1' ORDER BY \"offset\" DESC LIMIT 1"; }
is_running() { [ "$(results "$1")" == 1 ]; }
is_final() { [ "$(results "$1")" == 2 ]; }

it_worker w --group k --concurrency 4 --termination-grace-period 2s
job r1 e1
job r2 e2
job r3 e3
wait_for "three tasks running" 15 is_running r1
wait_for "three tasks running" 15 is_running r2
wait_for "three tasks running" 15 is_running r3

kill_row e1 REQUESTED main >/dev/null
kill_row e2 EXECUTED other-tenant >/dev/null
t0=$(kill_row e1 EXECUTED main)
wait_for "r1 killed" 5 is_final r1
expect_eq "$(final r1)" KILLED "an EXECUTED kill ends the task KILLED"
t1=$(sql "SELECT (extract(epoch FROM (h->>'date')::timestamptz) * 1000)::bigint FROM queues, jsonb_array_elements(value->'taskRun'->'state'->'histories') h WHERE type = '$WTR' AND key = 'r1' AND h->>'state' = 'KILLED'")
# The 5 s deadline above is what this test asserts; how fast a kill lands is reported only.
echo "# r1 ended KILLED $((t1 - t0)) ms after the kill was queued"
expect_eq "$(sql "SELECT value->'taskRun'->'attempts'->0->'state'->>'current' FROM queues WHERE type = '$WTR' AND key = 'r1' ORDER BY \"offset\" DESC LIMIT 1")" KILLED \
  "the attempt ends KILLED"
expect_eq "$(results r2)" 1 "a kill for another tenant leaves the task running"
expect_eq "$(results r3)" 1 "an unrelated execution goes on"

job r4 e1
r4_done() { [ "$(results r4)" == 1 ] && [ "$(final r4)" == KILLED ]; }
wait_for "r4 answered KILLED" 10 r4_done
expect_eq "$(sql "SELECT COALESCE(jsonb_array_length(value->'taskRun'->'attempts'), 0) FROM queues WHERE type = '$WTR' AND key = 'r4'")" 0 \
  "a later job of a killed execution ends KILLED without an attempt"
job r5 e1 ',"forceExecution":true'
wait_for "r5 (forceExecution) running" 10 is_running r5
expect_eq "$(final r5)" RUNNING "forceExecution runs a job of a killed execution"

kill_row e2 EXECUTED main >/dev/null
kill_row e3 EXECUTED "" >/dev/null
wait_for "r2 killed" 5 is_final r2
wait_for "r3 killed" 5 is_final r3
expect_eq "$(final r2)/$(final r3)" KILLED/KILLED "kills by the right tenant, and without tenant, apply"
it_stop "$WORKER_PID" 40
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
it_done
