#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Kestra task fidelity end to end (issue 6): the example flows E1-E6 of kestra-script-tasks.md §9
# run task by task through `kwg submit` and a real worker, the outputs of earlier tasks fed in as
# Kestra's executor would; templates, secrets and their masking, input, output and namespace
# files through the local internal storage; Python and Node tasks. The cases that run a script
# run under the Process runner and again under the Docker runner (a real Engine, local images).
source "$(dirname "$0")/../lib/it.sh"
"$KWGT_SRC/tests/lib/docker_env.sh" start scripts >/dev/null
it_db fidelity
STORE=$IT_TMP/storage
mkdir -p "$STORE"
SHIM=$(cat "$KWGT_SRC/tests/integration/fixtures/kestra.py")
export SECRET_MY_PASS=$(printf 's3cr3t-value-42' | base64) SECRET_SHORT=$(printf 'pw' | base64)
# Debian's python and node for Process tasks (a user's pyenv shims would not run as the task user).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  it_worker w --group fidelity --default-runner process --concurrency 4 \
  --storage-type local --storage-base-path "$STORE"
unset SECRET_MY_PASS SECRET_SHORT

task() { # task NAME: writes the YAML on stdin to $IT_TMP/NAME.yaml
  cat >"$IT_TMP/$1.yaml"
}
outputs_of() { # the final result's outputs (JSON) in $OUT
  printf '%s\n' "$OUT" | sed -n 's/^state [A-Z]* outputs //p' | tail -n 1
}
# run NAME: submits $IT_TMP/NAME.yaml (OUT, RC), keeping what kwg submit printed for inspection.
run() {
  submit "$IT_TMP/$1.yaml" --group fidelity
  printf '%s\n' "$OUT" >"$IT_TMP/$1.${RUNNER:-}.out"
}
run_id() { printf '%s\n' "$OUT" | sed -n 's/^kwg submit: task run \([^ ]*\) queued.*/\1/p'; }
json() { jq -r "$1" <<<"$2"; }
# shim_input: the kestra.py stand-in as an inputFiles entry (YAML, indented for `inputFiles:`).
shim_input() { printf '    kestra.py: |\n%s\n' "$(sed 's/^/      /' <<<"$SHIM")"; }

# Each runner in turn: the Process runner, then the Docker runner on the local scripts image.
for RUNNER in process docker; do
  if [ "$RUNNER" == process ]; then
    RUNNER_YAML='taskRunner: {type: io.kestra.plugin.core.runner.Process}'
  else
    RUNNER_YAML='taskRunner: {type: io.kestra.plugin.scripts.runner.docker.Docker, image: "kwg-test/scripts:latest", pullPolicy: NEVER}'
  fi
  P="[$RUNNER]"

  # E1: input file in from internal storage, output file out.
  mkdir -p "$STORE/main/company/team/new-shell-with-file/executions/e1exec/inputs/file"
  printf 'line one\nline two\n' >"$STORE/main/company/team/new-shell-with-file/executions/e1exec/inputs/file/data.txt"
  task e1 <<YAML
namespace: company.team
flowId: new_shell_with_file
inputs:
  file: kestra:///company/team/new-shell-with-file/executions/e1exec/inputs/file/data.txt
task:
  id: shell
  type: io.kestra.plugin.scripts.shell.Commands
  inputFiles:
    data.txt: "{{inputs.file}}"
  outputFiles:
    - out.txt
  $RUNNER_YAML
  commands:
    - cp {{workingDir}}/data.txt {{workingDir}}/out.txt
YAML
  run e1
  expect_eq "$RC" 0 "$P E1: SUCCESS"
  out=$(outputs_of)
  uri=$(json '.outputFiles["out.txt"]' "$out")
  expect_match "$uri" "^kestra:///company/team/new-shell-with-file/executions/[^/]+/tasks/shell/$(run_id)/[A-Za-z0-9]+-out\.txt$" "$P E1: outputFiles.out.txt is a task output URI"
  expect_eq "$(json '.vars, .exitCode' "$out" | tr '\n' ' ')" "{} 0 " "$P E1: vars {} and exitCode 0"
  expect_eq "$(cat "$STORE/main${uri#kestra://}" 2>&1)" "$(printf 'line one\nline two')" "$P E1: the stored bytes are the input file's"
  expect_match "$OUT" "Starting command.*set -e.cp /[^ ]+/data.txt /[^ ]+/out.txt" "$P E1: the command is rendered with the working directory"

  # E2: Python Script with beforeCommands and Kestra.outputs (offline: a literal instead of the
  # HTTP request; the kestra library's stand-in as an input file).
  task e2 <<YAML
namespace: company.team
flowId: before_commands_example
inputs:
  url: https://jsonplaceholder.typicode.com/todos/1
task:
  id: transform
  type: io.kestra.plugin.scripts.python.Script
  $RUNNER_YAML
  inputFiles:
$(shim_input)
  beforeCommands:
    - echo preparing
  script: |
    from kestra import Kestra
    url = "{{ inputs.url }}"
    response = {"userId": 1, "id": 1, "title": "delectus aut autem", "completed": False, "url": url}
    print('Status Code:', 200)
    Kestra.outputs(response)
YAML
  run e2
  expect_eq "$RC" 0 "$P E2: SUCCESS"
  out=$(outputs_of)
  expect_eq "$(json '.vars | [.userId, .id, .title, .completed, .url] | map(tostring) | join(",")' "$out")" "1,1,delectus aut autem,false,https://jsonplaceholder.typicode.com/todos/1" "$P E2: vars from Kestra.outputs, the input rendered into the script"
  expect_match "$OUT" 'INFO  Status Code: 200' "$P E2: the script's print is an INFO log"
  expect_match "$OUT" 'INFO  preparing' "$P E2: beforeCommands ran first"
  expect_match "$OUT" 'Starting command .*set -e.echo preparing.python /[^ ]+/[0-9]+\.py' "$P E2: the script runs from <wd>/<digits>.py"

  # E4: output files handed between tasks, then kestra:// replacement.
  task e4a <<YAML
namespace: company.team
flowId: output_text_files
task:
  id: python_output
  type: io.kestra.plugin.scripts.python.Script
  $RUNNER_YAML
  outputFiles:
    - "*.txt"
  script: |
    f = open("myfile.txt", "a")
    f.write("Hi, this is output from a script 👋")
    f.close()
YAML
  run e4a
  expect_eq "$RC" 0 "$P E4: the Python task succeeds"
  e4out=$(outputs_of)
  expect_eq "$(json '.outputFiles | keys | join(",")' "$e4out")" "myfile.txt" "$P E4: exactly myfile.txt matches *.txt"
  task e4b <<YAML
namespace: company.team
flowId: output_text_files
outputs:
  python_output: $e4out
task:
  id: read_output
  type: io.kestra.plugin.scripts.shell.Commands
  $RUNNER_YAML
  commands:
    - cat {{ outputs.python_output.outputFiles['myfile.txt'] }}
YAML
  run e4b
  expect_eq "$RC" 0 "$P E4: the reading task succeeds"
  expect_match "$OUT" 'INFO  Hi, this is output from a script 👋' "$P E4: the file's UTF-8 text, emoji included"
  expect_match "$OUT" 'Starting command .*cat /[^ ]+/[0-9]+\.tmp' "$P E4: the URI became a local file of the working directory"

  # E5: shell outputs, metrics and logs through the protocol; then Return renders an output.
  task e5 <<YAML
namespace: company.team
flowId: outputs_metrics_logs
task:
  id: process
  type: io.kestra.plugin.scripts.shell.Commands
  $RUNNER_YAML
  commands:
    - echo '::{"outputs":{"test":"value","int":2,"bool":true,"float":3.65}}::'
    - echo '::{"metrics":[{"name":"count","type":"counter","value":1,"tags":{"tag1":"i","tag2":"win"}}]}::'
    - echo '::{"metrics":[{"name":"time","type":"timer","value":2.12,"tags":{"tag1":"i","tag2":"destroy"}}]}::'
    - echo '::{"logs":[{"level":"DEBUG","message":"Hello World from logs!"},{"level":"INFO","message":"Hello World!"}]}::'
    - 'echo ''{"outputs":{"ignored":"because no :: markers"}}'''
YAML
  run e5
  expect_eq "$RC" 0 "$P E5: SUCCESS"
  e5out=$(outputs_of)
  expect_eq "$(jq -cS .vars <<<"$e5out")" '{"bool":true,"float":3.65,"int":2,"test":"value"}' "$P E5: vars (keys sorted: the result went through JSONB)"
  expect_match "$OUT" 'metric counter count = 1.0 \{"tag1":"i","tag2":"win"\}' "$P E5: the counter"
  expect_match "$OUT" 'metric timer time = 2120.0' "$P E5: the timer in milliseconds"
  expect_match "$OUT" 'DEBUG Hello World from logs!.*INFO  Hello World!' "$P E5: protocol logs at their levels"
  expect_match "$OUT" 'INFO  \{"outputs":\{"ignored"' "$P E5: a line without :: markers is INFO text"
  task e5r <<YAML
namespace: company.team
flowId: outputs_metrics_logs
outputs:
  process: $e5out
task:
  id: return
  type: io.kestra.plugin.core.debug.Return
  format: "{{ outputs.process.vars.test }}"
YAML
  run e5r
  expect_match "$RC $OUT" '^0 .*state SUCCESS outputs \{"value":"value"\}' "$P E5: Return renders the earlier task's output"

  # E6: Python logger levels, stderr and warningOnStdErr.
  for warn in false true; do
    task e6 <<YAML
namespace: company.team
flowId: python_logs
task:
  id: python_logger
  type: io.kestra.plugin.scripts.python.Script
  $RUNNER_YAML
  allowFailure: true
  warningOnStdErr: $warn
  inputFiles:
$(shim_input)
  script: |
    from kestra import Kestra
    logger = Kestra.logger()
    logger.debug("DEBUG is used for diagnostic info.")
    logger.info("INFO confirms normal operation.")
    logger.warning("WARNING signals something unexpected.")
    logger.error("ERROR indicates a serious issue.")
    logger.critical("CRITICAL means a severe failure.")
YAML
    run e6
    if [ $warn == false ]; then
      expect_eq "$RC" 0 "$P E6: SUCCESS with warningOnStdErr false"
      ts='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z - '
      # In order within each stream; stdout and stderr are read apart (pipes, Docker frames).
      expect_match "$OUT" "DEBUG ${ts}DEBUG is used.*INFO  ${ts}INFO confirms" "$P E6: DEBUG and INFO from stdout, each '<time>Z - <text>'"
      expect_match "$OUT" "WARN  ${ts}WARNING signals.*ERROR ${ts}ERROR indicates.*ERROR ${ts}CRITICAL means" "$P E6: WARN, ERROR, ERROR (CRITICAL) from stderr"
    else
      expect_eq "$RC" 2 "$P E6: WARNING with warningOnStdErr true (stderr lines)"
    fi
  done

  # Node: Commands and Script.
  task node <<YAML
task:
  id: node
  type: io.kestra.plugin.scripts.node.Script
  $RUNNER_YAML
  script: |
    const greeting = "{{ 'hello' | upper }}";
    console.log('::' + JSON.stringify({outputs: {greeting, version: process.version.split('.')[0]}}) + '::');
YAML
  run node
  expect_eq "$(json '.vars.greeting' "$(outputs_of)")" "HELLO" "$P node Script: rendered, run, outputs"
  task nodecmd <<YAML
task:
  id: nodecmd
  type: io.kestra.plugin.scripts.node.Commands
  $RUNNER_YAML
  commands:
    - node -e 'console.log(6 * 7)'
YAML
  run nodecmd
  expect_match "$RC $OUT" '^0 .*INFO  42' "$P node Commands"
  task pycmd <<YAML
task:
  id: pycmd
  type: io.kestra.plugin.scripts.python.Commands
  $RUNNER_YAML
  commands:
    - python -c 'import os; print(os.environ["PYTHONUNBUFFERED"], os.environ["PIP_DISABLE_PIP_VERSION_CHECK"])'
YAML
  run pycmd
  expect_match "$RC $OUT" '^0 .*INFO  true 1' "$P python Commands with the language's variables"

  # Output globs: ** across directories, regex:, and a name no URI can hold.
  task globs <<YAML
task:
  id: globs
  type: io.kestra.plugin.scripts.shell.Commands
  $RUNNER_YAML
  outputFiles: ["**.csv", "regex:.*/top\\\\.log"]
  commands:
    - mkdir -p a/b && echo 1 > a/b/deep.csv && echo 2 > top.csv && echo 3 > top.log && echo 4 > other.txt
YAML
  run globs
  expect_eq "$(json '.outputFiles | keys | join(",")' "$(outputs_of)")" "a/b/deep.csv,top.csv,top.log" "$P outputFiles: ** at any depth and a regex: pattern"
  task badname <<YAML
task:
  id: badname
  type: io.kestra.plugin.scripts.shell.Commands
  $RUNNER_YAML
  outputFiles: ["*.txt"]
  commands: ["echo x > 'with space.txt'"]
YAML
  run badname
  expect_match "$RC $OUT" "^1 .*ERROR output file 'with space.txt': its name cannot be part of a kestra:// URI" "$P outputFiles: a name with a space fails the task, saying why"
done

# Namespace files: include/exclude with Kestra's "**/" rule; input files overwrite them.
mkdir -p "$STORE/main/company/team/_files/scripts" "$STORE/main/company/team/_files/data"
echo 'print("from a namespace file")' >"$STORE/main/company/team/_files/scripts/main.py"
echo 'skip me' >"$STORE/main/company/team/_files/data/skip.txt"
echo 'namespace version' >"$STORE/main/company/team/_files/scripts/over.txt"
task nsfiles <<'YAML'
namespace: company.team
task:
  id: nsfiles
  type: io.kestra.plugin.scripts.shell.Commands
  taskRunner: {type: io.kestra.plugin.core.runner.Process}
  namespaceFiles:
    enabled: true
    include: ["scripts/**", "main.py"]
    exclude: ["**.txt"]
  inputFiles:
    scripts/over.txt: input version
  commands:
    - python scripts/main.py
    - test ! -e data/skip.txt && echo skip-absent
    - cat scripts/over.txt
YAML
run nsfiles
expect_match "$RC $OUT" '^0 .*INFO  from a namespace file.*INFO  skip-absent.*INFO  input version' "namespaceFiles: included, excluded, overwritten by inputFiles"

task readfn <<'YAML'
namespace: company.team
task:
  id: readfn
  type: io.kestra.plugin.core.log.Log
  message:
    - "{{ read('scripts/main.py') | trim }}"
    - "{{ fileURI('scripts/main.py') }}"
YAML
run readfn
expect_match "$RC $OUT" '^0 .*INFO  print\("from a namespace file"\).*INFO  kestra:///company/team/_files/scripts/main.py' "read() and fileURI() on namespace files"
mkdir -p "$STORE/main/other/ns/_files"
echo 'not yours' >"$STORE/main/other/ns/_files/x.txt"
task readother <<'YAML'
namespace: company.team
task:
  id: readother
  type: io.kestra.plugin.core.log.Log
  message: "{{ read('kestra:///other/ns/_files/x.txt') }}"
YAML
run readother
expect_match "$RC $OUT" "^1 .*ERROR .*read\('kestra:///other/ns/_files/x.txt'\): not a file of this flow's namespace or execution" "read(): another namespace's file is refused (as Kestra)"

# jq runs in a child process: results as Kestra's JqFilter gives them, and a program that never
# ends fails its task at the deadline instead of stopping the worker.
task jq <<'YAML'
inputs:
  doc: {a: [1, 2, 3]}
task:
  id: jq
  type: io.kestra.plugin.core.log.Log
  message: "{{ inputs.doc | jq('.a[] | select(. > 1)') | join(',') }}"
YAML
run jq
expect_match "$RC $OUT" '^0 .*INFO  2,3' "jq: every result, as a list"
task jqloop <<'YAML'
id: jqloop
type: io.kestra.plugin.core.log.Log
message: "{{ 1 | jq('last(range(1e12))') }}"
YAML
run jqloop
expect_match "$RC $OUT" "^1 .*ERROR property 'message': filter 'jq': the program did not end within 10000 ms" "jq: an endless program fails its task at the deadline"
run jq
expect_match "$RC $OUT" '^0 .*INFO  2,3' "jq: the worker goes on after it"

# Secrets: secret() from SECRET_*, masked in every log line; missing secrets fail with Kestra's
# message; SECRET inputs are masked too; the worker's SECRET_* never reach the task.
task secret <<'YAML'
inputs:
  token: tok-123456789
secretInputs: [token]
task:
  id: secret
  type: io.kestra.plugin.scripts.shell.Commands
  taskRunner: {type: io.kestra.plugin.core.runner.Process}
  env:
    PASS: "{{ secret('my_pass') }}"
  commands:
    - echo "pass=$PASS short={{ secret('SHORT') }} token={{ inputs.token }}"
    - echo '::{"logs":[{"level":"WARN","message":"again s3cr3t-value-42"}]}::'
    - env | grep -c '^SECRET_' || true
YAML
run secret
expect_match "$OUT" 'INFO  pass=\*\*masked\*{7} short=\*\* token=\*{13}[^*]' "secrets: values masked in task output (only the first nine of a line become **masked*, as in Kestra)"
expect_match "$OUT" 'WARN  again \*\*masked\*{7}' "secrets: masked in protocol log entries too"
expect_match "$OUT" 'INFO  0' "secrets: SECRET_* variables do not reach the task"
[[ "$(sql "SELECT string_agg(value::text, '') FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry'")" == *s3cr3t-value-42* ]] &&
  fail "secrets: a LogEntry row holds the secret" || pass "secrets: no LogEntry row holds the secret"
task nosecret <<'YAML'
id: nosecret
type: io.kestra.plugin.core.log.Log
message: "{{ secret('NOPE') }}"
YAML
run nosecret
expect_match "$RC $OUT" "^1 .*ERROR .*Cannot find secret for key 'NOPE'\." "secrets: a missing secret fails the task with Kestra's message"

# Rendering errors and refusals name what failed; the task ends FAILED.
task undefined <<'YAML'
id: undefined
type: io.kestra.plugin.scripts.shell.Commands
taskRunner: {type: io.kestra.plugin.core.runner.Process}
commands: ["echo {{ nope.x }}"]
YAML
run undefined
expect_match "$RC $OUT" "^1 .*ERROR property 'commands': Unable to find \`nope\`" "templates: an undefined variable fails the task, strict as Kestra"
task escape <<'YAML'
id: escape
type: io.kestra.plugin.scripts.shell.Commands
taskRunner: {type: io.kestra.plugin.core.runner.Process}
inputFiles:
  ../../escape.txt: nope
commands: ["true"]
YAML
run escape
expect_match "$RC $OUT" "^1 .*ERROR property 'inputFiles': '../../escape.txt' leads out of the working directory" "inputFiles: a name leading out of the working directory fails the task"
[ ! -e "$IT_TMP/escape.txt" ] && pass "inputFiles: nothing was written outside" || fail "inputFiles: escape.txt written outside"
task wdenv <<'YAML'
id: wdenv
type: io.kestra.plugin.scripts.shell.Commands
taskRunner: {type: io.kestra.plugin.core.runner.Process}
env: {WD: "{{ workingDir }}"}
commands: ["true"]
YAML
run wdenv
expect_match "$RC $OUT" "^1 .*Unable to find \`workingDir\`" "templates: workingDir is not a variable of env (as Kestra)"

# The same files through an S3-compatible server (s3rver, SigV4 checked; MinIO's key layout): a
# second worker whose storage is the bucket.
trap '"$KWGT_SRC/tests/lib/s3_env.sh" stop "$IT_TMP/s3" || true; it_cleanup' EXIT
eval "$("$KWGT_SRC/tests/lib/s3_env.sh" start "$IT_TMP/s3" kwg-f)"
s3put() { # s3put KEY: stdin into the bucket, signed as kwg signs
  curl -sSf --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -T - "$S3_ENDPOINT/kwg-f/$1"
}
s3get() {
  curl -sSf --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    "$S3_ENDPOINT/kwg-f/$1"
}
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  it_worker s3 --group fidelity-s3 --default-runner process --storage-type minio \
  --storage-endpoint "$S3_ENDPOINT" --storage-bucket kwg-f --storage-access-key S3RVER \
  --storage-secret-key S3RVER
RUNNER=s3
echo 'echo "hello from the bucket"' | s3put main/company/team/_files/scripts/hello.sh
task s3out <<'YAML'
namespace: company.team
flowId: output_text_files
task:
  id: python_output
  type: io.kestra.plugin.scripts.python.Script
  taskRunner: {type: io.kestra.plugin.core.runner.Process}
  namespaceFiles: {enabled: true, include: ["scripts/**"]}
  outputFiles: ["*.txt"]
  script: |
    import subprocess
    print(subprocess.run(["sh", "scripts/hello.sh"], capture_output=True, text=True).stdout.strip())
    open("myfile.txt", "w").write("Hi from S3 👋")
YAML
submit "$IT_TMP/s3out.yaml" --group fidelity-s3
expect_match "$RC $OUT" '^0 .*INFO  hello from the bucket' "S3: namespace files come from the bucket"
s3out=$(outputs_of)
uri=$(json '.outputFiles["myfile.txt"]' "$s3out")
expect_eq "$(s3get "main${uri#kestra://}")" "Hi from S3 👋" "S3: the output file is stored under MinIO's key (tenant/path)"
task s3in <<YAML
namespace: company.team
flowId: output_text_files
outputs:
  python_output: $s3out
task:
  id: read_output
  type: io.kestra.plugin.scripts.shell.Commands
  taskRunner: {type: io.kestra.plugin.core.runner.Process}
  commands:
    - cat {{ outputs.python_output.outputFiles['myfile.txt'] }}
YAML
submit "$IT_TMP/s3in.yaml" --group fidelity-s3
expect_match "$RC $OUT" '^0 .*INFO  Hi from S3 👋' "S3: a kestra:// URI in a command is downloaded from the bucket"
task s3missing <<'YAML'
task:
  id: missing
  type: io.kestra.plugin.scripts.shell.Commands
  taskRunner: {type: io.kestra.plugin.core.runner.Process}
  commands: ["cat kestra:///company/team/nothing/here.txt"]
YAML
submit "$IT_TMP/s3missing.yaml" --group fidelity-s3
expect_match "$RC $OUT" "^1 .*ERROR .*kestra:///company/team/nothing/here.txt" "S3: a missing object fails the task, naming the URI"

# Transfers that never end: a storage endpoint that accepts connections and never answers. The
# task's timeout covers them, and a worker shutting down stops them once its grace is over.
python3 -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
held = []
while True: held.append(s.accept())
' >"$IT_TMP/blackhole.port" &
IT_PIDS+=($!)
wait_for "the silent server's port" 10 test -s "$IT_TMP/blackhole.port"
it_worker hang --group fidelity-hang --default-runner process --storage-type minio \
  --storage-endpoint "http://127.0.0.1:$(cat "$IT_TMP/blackhole.port")" --storage-bucket b \
  --storage-access-key k --storage-secret-key s --termination-grace-period 1s
HANG_PID=$WORKER_PID
task hangtimeout <<'YAML'
id: hangtimeout
type: io.kestra.plugin.scripts.shell.Commands
taskRunner: {type: io.kestra.plugin.core.runner.Process}
timeout: PT1S
commands: ["cat kestra:///company/team/never/answered.txt"]
YAML
start=$SECONDS
submit "$IT_TMP/hangtimeout.yaml" --group fidelity-hang
expect_match "$RC $OUT" "^1 .*ERROR Timeout after 0:00:01.000.*state FAILED outputs \{\}" "a download that never ends: the task's timeout ends it, FAILED"
[ $((SECONDS - start)) -lt 15 ] && pass "… within seconds" || fail "the timed-out download took $((SECONDS - start)) s"
task hangstop <<'YAML'
id: hangstop
type: io.kestra.plugin.scripts.shell.Commands
taskRunner: {type: io.kestra.plugin.core.runner.Process}
commands: ["cat kestra:///company/team/never/answered.txt"]
YAML
"$KWGT_BIN" submit --database-url "$DB" --timeout 60s --group fidelity-hang "$IT_TMP/hangstop.yaml" \
  >"$IT_TMP/hangstop.out" 2>&1 &
SUBMIT_PID=$!
hang_claimed() { grep -q "(io.kestra.plugin.scripts.shell.Commands) claimed" "$IT_TMP/hang.log" &&
  [ "$(grep -c "claimed" "$IT_TMP/hang.log")" -ge 2 ]; }
wait_for "the second task claimed" 10 hang_claimed
start=$SECONDS
it_stop "$HANG_PID" 20
kill "$SUBMIT_PID" 2>/dev/null || true
wait "$SUBMIT_PID" 2>/dev/null || true
expect_eq "$STOP_RC" 0 "a worker shutting down stops a transfer that never ends, after its grace (1 s)"
[ $((SECONDS - start)) -lt 10 ] && pass "… within seconds" || fail "the stop took $((SECONDS - start)) s"
hang_run=$(sed -n 's/^kwg submit: task run \([^ ]*\) queued.*/\1/p' "$IT_TMP/hangstop.out")
expect_eq "$(sql "SELECT string_agg(value->'taskRun'->'state'->>'current', ',') FROM queues
                  WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key = '$hang_run'")" RUNNING \
  "… leaving the task to Kestra's resubmission (restart strategy): no final result"
expect_match "$(cat "$IT_TMP/hang.log")" "stopping 1 running task\(s\): Kestra resubmits them" "… and says so"

it_done
