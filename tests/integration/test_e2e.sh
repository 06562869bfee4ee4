#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# End to end through `kwg submit` and a real worker: outputs, exit codes, stderr warnings,
# allowFailure/allowWarning, Log tasks, timeouts, metrics, refusals; and the rows themselves.
source "$(dirname "$0")/../lib/it.sh"
it_db e2e
it_worker w --group e2e --default-runner process --concurrency 4 --docker-host "unix://$IT_TMP/no-docker.sock"
W=$WORKER_PID
# A Process-runner worker without a warm pool defers its Docker client to the first Docker task:
# libcurl (and the OpenSSL it initialises) is not even mapped before (docs/performance.md, round 4).
wait_for "the worker claiming" 10 grep -q "claiming tasks" "$IT_TMP/w.log"
if grep -q libcurl "/proc/$W/maps"; then
  fail "libcurl mapped at idle: $(grep -m1 libcurl "/proc/$W/maps")"
else
  pass "a Process-runner worker at idle has no libcurl mapped"
fi

task() { # task NAME: writes the YAML on stdin to $IT_TMP/NAME.yaml
  cat >"$IT_TMP/$1.yaml"
}

task outputs <<'YAML'
id: outputs
type: io.kestra.plugin.scripts.shell.Commands
commands:
  - echo hello
  - echo '::{"outputs":{"test":"value","int":2,"bool":true,"float":3.65}}::'
  - echo '::{"metrics":[{"name":"count","type":"counter","value":1,"tags":{"tag1":"i"}}]}::'
  - echo '::{"metrics":[{"name":"time","type":"timer","value":2.12}]}::'
  - echo '::{"logs":[{"level":"DEBUG","message":"from logs"}]}::'
  - echo '{"outputs":{"ignored":"no markers"}}'
YAML
submit "$IT_TMP/outputs.yaml" --group e2e
expect_eq "$RC" 0 "outputs: kwg submit exits 0 on SUCCESS"
expect_match "$OUT" 'INFO  hello' "outputs: stdout line logged at INFO"
expect_match "$OUT" 'DEBUG from logs' "outputs: protocol logs logged at their level"
expect_match "$OUT" 'INFO  \{"outputs":\{"ignored"' "outputs: a line without :: markers is text"
expect_match "$OUT" 'metric counter count = 1.0 \{"tag1":"i"\}' "outputs: counter metric"
expect_match "$OUT" 'metric timer time = 2120.0' "outputs: timer seconds become milliseconds"
outputs_run=$(printf '%s\n' "$OUT" | sed -n 's/^kwg submit: task run \([^ ]*\) queued.*/\1/p')
expect_eq "$(sql "SELECT value->'taskRun'->'outputs' = '{\"vars\":{\"test\":\"value\",\"int\":2,\"bool\":true,\"float\":3.65},\"exitCode\":0,\"outputFiles\":{}}'::jsonb
                  FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key = '$outputs_run'
                  ORDER BY \"offset\" DESC LIMIT 1")" t "outputs: vars and exitCode in the final result"

task fail <<'YAML'
id: fail
type: io.kestra.plugin.scripts.shell.Commands
taskRunner:
  type: io.kestra.plugin.core.runner.Process
commands:
  - echo '::{"outputs":{"before":"exit"}}::'
  - echo 1 1>&2
  - exit 66
  - echo 2
YAML
submit "$IT_TMP/fail.yaml" --group e2e
expect_eq "$RC" 1 "fail: kwg submit exits 1 on FAILED"
expect_match "$OUT" 'ERROR 1' "fail: stderr line logged at ERROR"
expect_match "$OUT" 'Command failed with exit code 66' "fail: the exit code is logged"
expect_match "$OUT" 'state FAILED outputs \{"vars":\{"before":"exit"\},"exitCode":66' "fail: outputs kept on failure"
[[ "$OUT" == *"INFO  2"* ]] && fail "fail: set -e stops at the failing command" || pass "fail: set -e stops at the failing command"

task warn <<'YAML'
id: warn
type: io.kestra.plugin.scripts.shell.Commands
commands: ["echo careful >&2"]
YAML
submit "$IT_TMP/warn.yaml" --group e2e
expect_eq "$RC" 2 "warn: a stderr line makes WARNING (exit 2)"
submit "$IT_TMP/warn.yaml" --group e2e --plain-properties
expect_eq "$RC" 2 "warn: the same with plain (Kestra 0.20) property forms"

task nowarn <<'YAML'
id: nowarn
type: io.kestra.plugin.scripts.shell.Commands
warningOnStdErr: false
commands: ["echo careful >&2"]
YAML
submit "$IT_TMP/nowarn.yaml" --group e2e
expect_eq "$RC" 0 "nowarn: warningOnStdErr false keeps SUCCESS"

task allowfail <<'YAML'
id: allowfail
type: io.kestra.plugin.scripts.shell.Commands
allowFailure: true
commands: ["exit 3"]
YAML
submit "$IT_TMP/allowfail.yaml" --group e2e
expect_eq "$RC" 2 "allowFailure: FAILED becomes WARNING"
final_states() { # final_states TASK_ID: "attempt state,task run state" of that task's final result
  sql "SELECT (value->'taskRun'->'attempts'->-1->'state'->>'current') || ',' || (value->'taskRun'->'state'->>'current')
       FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND value->'taskRun'->>'taskId' = '$1'
       ORDER BY \"offset\" DESC LIMIT 1"
}
expect_eq "$(final_states allowfail)" "FAILED,WARNING" "allowFailure: the attempt stays FAILED, the task run is WARNING"

task allowboth <<'YAML'
id: allowboth
type: io.kestra.plugin.scripts.shell.Commands
allowFailure: true
allowWarning: true
commands: ["exit 3"]
YAML
submit "$IT_TMP/allowboth.yaml" --group e2e
expect_eq "$RC" 0 "allowFailure + allowWarning: FAILED becomes SUCCESS"
expect_eq "$(final_states allowboth)" "FAILED,SUCCESS" "allowFailure + allowWarning: the attempt stays FAILED"

task allowwarn <<'YAML'
id: allowwarn
type: io.kestra.plugin.scripts.shell.Commands
allowWarning: true
commands: ["echo to stderr >&2"]
YAML
submit "$IT_TMP/allowwarn.yaml" --group e2e
expect_eq "$RC" 0 "allowWarning: WARNING becomes SUCCESS"
expect_eq "$(final_states allowwarn)" "WARNING,SUCCESS" "allowWarning: the attempt stays WARNING, the task run is SUCCESS"

task log <<'YAML'
id: log
type: io.kestra.plugin.core.log.Log
level: WARN
message:
  - first message
  - second message
YAML
submit "$IT_TMP/log.yaml" --group e2e
expect_eq "$RC" 0 "log: Log task succeeds"
expect_match "$OUT" 'WARN  first message.*WARN  second message' "log: messages at the task's level, in order"

task timeout <<'YAML'
id: timeout
type: io.kestra.plugin.scripts.shell.Commands
timeout: PT0.5S
commands:
  - echo started
  - sleep 30
YAML
start=$SECONDS
submit "$IT_TMP/timeout.yaml" --group e2e
expect_eq "$RC" 1 "timeout: FAILED"
expect_match "$OUT" 'ERROR Timeout after 0:00:00.500' "timeout: Kestra's message"
expect_match "$OUT" 'state FAILED outputs \{\}' "timeout: no outputs (as Kestra's Process runner)"
[ $((SECONDS - start)) -lt 20 ] && pass "timeout: ends long before the sleep" || fail "timeout: took $((SECONDS - start))s"

task template <<'YAML'
id: template
type: io.kestra.plugin.scripts.shell.Commands
commands: ["echo {{ inputs.user }}"]
YAML
submit "$IT_TMP/template.yaml" --group e2e
expect_eq "$RC" 1 "template: an undefined variable fails the task"
expect_match "$OUT" "ERROR property 'commands': Unable to find \`inputs.user\`|ERROR property 'commands': Unable to find \`user\`" "template: the log names the property and the variable"

task unknown <<'YAML'
id: unknown
type: io.kestra.plugin.scripts.r.Script
script: print(1)
YAML
submit "$IT_TMP/unknown.yaml" --group e2e
expect_eq "$RC" 1 "unknown type in a named group: FAILED"
expect_match "$OUT" "ERROR task type 'io.kestra.plugin.scripts.r.Script' is not supported by kwg" "unknown type: the log names it"

task docker <<'YAML'
id: docker
type: io.kestra.plugin.scripts.shell.Commands
taskRunner:
  type: io.kestra.plugin.scripts.runner.docker.Docker
commands: ["echo hi"]
YAML
submit "$IT_TMP/docker.yaml" --group e2e
expect_eq "$RC" 1 "docker runner without a daemon: FAILED"
expect_match "$OUT" "ERROR cannot reach the Docker daemon at $IT_TMP/no-docker.sock" "docker runner: says which daemon it could not reach"
expect_match "$(cat "$IT_TMP/w.log")" "Docker runner: no Docker Engine answers at $IT_TMP/no-docker.sock" \
  "the worker says at its first Docker task that no Docker Engine answers"
grep -q libcurl "/proc/$W/maps" && pass "libcurl is loaded at the first Docker task" ||
  fail "libcurl not mapped after a Docker task"

task python <<'YAML'
id: python
type: io.kestra.plugin.scripts.python.Script
taskRunner:
  type: io.kestra.plugin.core.runner.Process
script: |
  import os
  print("py", os.environ["PYTHONUNBUFFERED"], os.path.basename(os.getcwd()) == os.path.basename(os.environ["WORKING_DIR"]))
YAML
submit "$IT_TMP/python.yaml" --group e2e
expect_eq "$RC" 0 "python Script: runs the script file"
expect_match "$OUT" 'INFO  py true True' "python Script: env and working directory"

task lines <<'YAML'
id: lines
type: io.kestra.plugin.scripts.shell.Commands
commands: ["seq 1 3000"]
YAML
submit "$IT_TMP/lines.yaml" --group e2e
expect_eq "$RC" 0 "lines: 3000 lines"
got=$(printf '%s\n' "$OUT" | sed -n 's/^[^ ]* INFO  \([0-9]*\)$/\1/p' | tr '\n' ' ')
expect_eq "$got" "$(seq 1 3000 | tr '\n' ' ')" "lines: every line arrives, in order"

# The rows themselves, as Kestra's executor and indexer read them.
run_id=$(sql "SELECT key FROM queues WHERE type = 'io.kestra.core.runners.WorkerJob' ORDER BY \"offset\" DESC LIMIT 1")
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key = '$run_id'")" 2 \
  "rows: a RUNNING and a final WorkerTaskResult keyed by taskRun.id"
expect_eq "$(sql "SELECT string_agg(value->'taskRun'->'state'->>'current', ',' ORDER BY \"offset\") FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key = '$run_id'")" \
  "RUNNING,SUCCESS" "rows: results in order"
expect_eq "$(sql "SELECT string_agg(h->>'state', ',') FROM queues q, jsonb_array_elements(q.value->'taskRun'->'state'->'histories') h WHERE q.type = 'io.kestra.core.runners.WorkerTaskResult' AND q.key = '$run_id' AND q.value->'taskRun'->'state'->>'current' = 'SUCCESS'")" \
  "CREATED,RUNNING,SUCCESS" "rows: task run histories appended"
expect_eq "$(sql "SELECT string_agg(h->>'state', ',') FROM queues q, jsonb_array_elements(q.value->'taskRun'->'attempts'->0->'state'->'histories') h WHERE q.type = 'io.kestra.core.runners.WorkerTaskResult' AND q.key = '$run_id' AND q.value->'taskRun'->'state'->>'current' = 'SUCCESS'")" \
  "CREATED,RUNNING,SUCCESS" "rows: attempt histories CREATED, RUNNING, SUCCESS"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$run_id' AND value ? 'attemptNumber' AND value->>'deleted' = 'false' AND value->>'tenantId' = 'main' AND value->>'timestamp' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$'")" \
  "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$run_id'")" \
  "rows: every LogEntry has attemptNumber, deleted, tenantId and a microsecond UTC timestamp"
expect_eq "$(sql "SELECT value->'workerInstance'->>'workerGroup' FROM worker_job_running WHERE key = '$run_id'")" "e2e" \
  "rows: worker_job_running records the claim with the group"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerJob' AND NOT consumer_worker")" 0 \
  "rows: every WorkerJob is marked consumed"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerJob' AND updated IS NULL")" 0 \
  "rows: claimed rows carry an updated time"

it_stop "$WORKER_PID"
expect_eq "$STOP_RC" 0 "the worker stops cleanly on SIGTERM"
expect_match "$(cat "$IT_TMP/w.log")" "TERMINATED_GRACEFULLY; exiting" "the worker says how it stopped"

# libcurl missing at run time (an empty file over it, in a mount namespace of the worker's own):
# the worker starts and runs Process tasks; a Docker task fails with an error naming libcurl.
curl_so=$(readlink -f "$(ldconfig -p | awk '/libcurl\.so\.4 / {print $NF; exit}')")
if [ "$(id -u)" == 0 ] && [ -f "$curl_so" ] && command -v unshare >/dev/null; then
  mkdir -p "$IT_TMP/wd-nocurl"
  unshare -m sh -c 'mount --bind /dev/null "$1" && shift && exec "$@"' sh "$curl_so" \
    "$KWGT_BIN" worker --database-url "$DB" --work-dir "$IT_TMP/wd-nocurl" --management-port 0 \
    --log-level debug --group nocurl --default-runner process >"$IT_TMP/nocurl.log" 2>&1 &
  NC=$!
  IT_PIDS+=("$NC")
  submit "$IT_TMP/outputs.yaml" --group nocurl
  expect_eq "$RC" 0 "without libcurl: the worker starts and runs Process tasks"
  submit "$IT_TMP/docker.yaml" --group nocurl
  expect_match "$RC $OUT" "^1 .*the Docker task runner is not available on this worker \(cannot load libcurl\.so\.4, which kwg's HTTP client \(the Docker task runner, S3 storage\) needs: " \
    "without libcurl: a Docker task fails naming libcurl"
  kill -0 "$NC" && pass "without libcurl: the worker is still running" || fail "the worker died"
  it_stop "$NC" 30
  expect_eq "$STOP_RC" 0 "without libcurl: the worker stops cleanly"
else
  echo "skipped: libcurl missing at run time (needs root and unshare)"
fi
it_done
