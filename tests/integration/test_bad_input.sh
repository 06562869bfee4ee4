#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input through raw queue rows: each bad row ends with an honest state (or, when not even the
# task run can be read, a worker log line), is marked consumed, and the worker keeps serving.
source "$(dirname "$0")/../lib/it.sh"
it_db bad_input

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
LOG=io.kestra.core.models.executions.LogEntry

taskrun() { # taskrun ID: a valid taskRun object
  echo "{\"tenantId\":\"main\",\"id\":\"$1\",\"executionId\":\"x$1\",\"namespace\":\"company.team\",\"flowId\":\"bad\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\",\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}}"
}
insert() { # insert KEY JSON
  sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('$WJ', '$1', \$j\$$2\$j\$, 'g')"
}
final_state() {
  sql "SELECT value->'taskRun'->'state'->>'current' FROM queues WHERE type = '$WTR' AND key = '$1'
       ORDER BY \"offset\" DESC LIMIT 1"
}
has_final() { [ -n "$(final_state "$1")" ] && [ "$(final_state "$1")" != RUNNING ]; }
error_log() {
  sql "SELECT string_agg(value->>'message', ' | ') FROM queues WHERE type = '$LOG' AND value->>'taskRunId' = '$1' AND value->>'level' = 'ERROR'"
}

it_worker w --group g --default-runner process

insert wrong-task "{\"type\":\"task\",\"taskRun\":$(taskrun wrong-task),\"task\":5,\"runContext\":{}}"
insert no-context "{\"type\":\"task\",\"taskRun\":$(taskrun no-context),\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"x\"}}"
insert unknown-type "{\"type\":\"task\",\"taskRun\":$(taskrun unknown-type),\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.core.http.Request\"},\"runContext\":{}}"
insert bad-prop "{\"type\":\"task\",\"taskRun\":$(taskrun bad-prop),\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":\"[\\\"echo\\\"\",\"allowFailure\":true},\"runContext\":{}}"
insert unreadable '{"hello":"world"}'
insert wrong-id-type '{"type":"task","taskRun":{"id":42}}'
insert trigger '{"type":"trigger","triggerContext":{"tenantId":"main","namespace":"n","flowId":"f","triggerId":"sched"},"trigger":{"id":"sched"}}'
huge=$(head -c 1000000 /dev/zero | tr '\0' 'x')
insert huge-line "{\"type\":\"task\",\"taskRun\":$(taskrun huge-line),\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"$huge\"},\"runContext\":{}}"
insert good "{\"type\":\"task\",\"taskRun\":$(taskrun good),\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":\"[\\\"echo still serving\\\"]\"},\"runContext\":{}}"

wait_for "the good task after the bad ones finished" 60 has_final good
expect_eq "$(final_state good)" SUCCESS "the worker keeps serving after bad rows"

expect_eq "$(final_state wrong-task)" FAILED "task of the wrong type: FAILED"
expect_match "$(error_log wrong-task)" 'invalid WorkerTask: \$\.task: expected an object' "task of the wrong type: the ERROR log names \$.task"
expect_eq "$(sql "SELECT jsonb_array_length(value->'taskRun'->'attempts') || ':' || (value->'taskRun'->'attempts'->0->'state'->>'current') FROM queues WHERE type = '$WTR' AND key = 'wrong-task'")" \
  "1:FAILED" "task of the wrong type: one FAILED attempt (Kestra's fail())"
expect_eq "$(final_state no-context)" FAILED "missing runContext: FAILED"
expect_match "$(error_log no-context)" 'runContext: missing' "missing runContext: named"
expect_eq "$(final_state unknown-type)" FAILED "unknown type in a named group: FAILED"
expect_match "$(error_log unknown-type)" "task type 'io.kestra.plugin.core.http.Request' is not supported by kwg" "unknown type: named"
expect_eq "$(final_state bad-prop)" WARNING "malformed property with allowFailure: WARNING"
expect_match "$(error_log bad-prop)" "property 'commands' is not a JSON list" "malformed property: named"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key IN ('unreadable', 'wrong-id-type')")" 0 \
  "rows without a readable task run get no result (nothing to address it to)"
expect_match "$(cat "$IT_TMP/w.log")" "WorkerJob at offset [0-9]+ cannot be read and is skipped: \\\$\\.taskRun: missing" \
  "unreadable row: the worker log says which offset and why"
expect_match "$(cat "$IT_TMP/w.log")" 'taskRun\.id: expected a string' "wrong id type: the worker log says why"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTriggerResult' AND key = 'main_n_f_sched'")" 1 \
  "trigger job in a named group: answered with a WorkerTriggerResult keyed by the trigger uid"
expect_eq "$(final_state huge-line)" SUCCESS "a 1,000,000-character log message: SUCCESS"
expect_eq "$(sql "SELECT count(*) || ':' || sum(length(value->>'message')) || ':' || max(length(value->>'message')) FROM queues WHERE type = '$LOG' AND value->>'taskRunId' = 'huge-line'")" \
  "66:1000000:15360" "a long message is split into 15,360-character LogEntries, nothing lost"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WJ' AND NOT consumer_worker")" 0 \
  "every bad row is marked consumed"
kill -0 "$WORKER_PID" && pass "the worker is still running" || fail "the worker died"
it_stop "$WORKER_PID"
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
it_done
