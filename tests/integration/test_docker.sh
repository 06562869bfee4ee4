#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Docker task runner against the real Docker Engine (tests/lib/docker_env.sh starts one and
# builds kwg-test/busybox): outputs, exit codes, stderr, the Script file in by VOLUME and MOUNT,
# the memory limit, kill, timeout, eight containers at once, refusals, a missing image, and last
# the daemon stopped under a worker. No container is left behind.
source "$(dirname "$0")/../lib/it.sh"
"$KWGT_SRC/tests/lib/docker_env.sh" >/dev/null || { fail "no Docker Engine"; it_done; }
it_db docker
IMAGE=kwg-test/busybox
# Containers of earlier runs (another database's workers) are not this run's to count.
BEFORE=$(docker ps -aq --no-trunc --filter label=kwg.worker | sort)
WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult

it_worker w --group dk --concurrency 8 --default-runner docker
W=$WORKER_PID
wait_for "the worker's Docker line" 10 grep -q "Docker runner: Engine" "$IT_TMP/w.log"
pass "the worker found the Docker Engine and its API version"

# task NAME TYPE RUNNER_YAML BODY_YAML: a task file; the runner block goes under taskRunner.
task() {
  {
    echo "id: $1"
    echo "type: io.kestra.plugin.scripts.$2"
    echo "containerImage: $IMAGE"
    echo "taskRunner:"
    echo "  type: io.kestra.plugin.scripts.runner.docker.Docker"
    echo "  pullPolicy: NEVER"
    [ -n "$3" ] && printf '%s\n' "$3" | sed 's/^/  /'
    printf '%s\n' "$4"
  } >"$IT_TMP/$1.yaml"
}
run() { # run NAME [submit options]: submit the task file NAME
  local name=$1
  shift
  submit "$IT_TMP/$name.yaml" --group dk "$@"
}

task out shell.Commands "" 'warningOnStdErr: false
commands:
  - echo "hello from the container"
  - echo "::{\"outputs\":{\"answer\":42}}::"
  - printf "no newline at the end"'
run out
expect_eq "$RC" 0 "a container task ends SUCCESS"
expect_match "$OUT" 'outputs \{"vars":\{"answer":42\},"exitCode":0' "::{outputs}:: lines become the task's outputs"
expect_match "$OUT" "INFO  hello from the container" "stdout lines become INFO logs"
expect_match "$OUT" "INFO  no newline at the end" "a last line without a newline is not lost"
expect_match "$OUT" "Starting command with container id [0-9a-f]{12}" "the start names the container"

task fail shell.Commands "" 'commands:
  - echo "about to fail"
  - exit 3'
run fail
expect_eq "$RC" 1 "a non-zero exit ends FAILED"
expect_match "$OUT" "Command failed with exit code 3" "and says the exit code"
expect_match "$OUT" '"exitCode":3' "the outputs carry the exit code"

task warn shell.Commands "" 'commands:
  - echo "careful" >&2'
run warn
expect_eq "$RC" 2 "stderr with warningOnStdErr ends WARNING"
expect_match "$OUT" "ERROR careful" "stderr lines become ERROR logs"

task env shell.Commands "" 'env:
  GREETING: bonjour
commands:
  - echo "$GREETING in $(pwd) = $WORKING_DIR"
  - echo "PATH=$PATH"'
run env
expect_match "$OUT" "INFO  bonjour in (/[^ ]+) = \1" "env reaches the container, whose working directory is the task's"
expect_match "$OUT" "INFO  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  "the image's PATH, not the worker's"

for strategy in VOLUME MOUNT; do
  task "script-$strategy" python.Script "fileHandlingStrategy: $strategy" 'beforeCommands:
  - mkdir -p sub && echo data > sub/out.txt && ln -s /etc/shadow sub/leak
script: |
  print("the script file reached the container")'
  run "script-$strategy"
  expect_match "$RC $OUT" '^0 .*INFO  print\("the script file reached the container"\)' \
    "a Script task's file gets into the container ($strategy)"
  if [ "$strategy" == VOLUME ]; then
    # The working directory comes back: the script and sub/out.txt, not the link.
    expect_match "$OUT" "DEBUG 2 file\(s\) copied back from the container" \
      "the working directory comes back from the container, regular files only (VOLUME)"
  else
    [[ "$OUT" != *"copied back"* ]] && pass "nothing to copy back with a bind mount (MOUNT)" ||
      fail "MOUNT copied files back"
  fi
done


task oom shell.Commands 'memory:
  memory: 32MB
  memorySwap: 32MB' 'commands:
  - head -c 200m /dev/zero | tail'
run oom
expect_eq "$RC" 1 "a container past its memory limit ends FAILED"
expect_match "$OUT" "killed by its memory limit \(OOMKilled" "and says it was OOM-killed"

task timeout shell.Commands "" 'timeout: PT1S
commands:
  - sleep 60'
run timeout
expect_eq "$RC" 1 "a container past its timeout ends FAILED"
expect_match "$OUT" "Timeout after 0:00:01.000" "and says so"

# Kill: a running container task, then an EXECUTED ExecutionKilled for its execution.
sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('$WJ', 'dk-kill', '{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"dk-kill\",\"executionId\":\"e-kill\",\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\",\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"containerImage\":\"$IMAGE\",\"commands\":\"[\\\"echo started\\\",\\\"sleep 60\\\"]\",\"taskRunner\":{\"type\":\"io.kestra.plugin.scripts.runner.docker.Docker\",\"pullPolicy\":\"NEVER\"}},\"runContext\":{}}', 'dk')" >/dev/null
results() { sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = '$1'"; }
started() { [ "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = 'dk-kill' AND value->>'message' = 'started'")" == 1 ]; }
wait_for "the container task running" 20 started
sql "INSERT INTO queues (type, key, value) VALUES ('io.kestra.core.models.executions.ExecutionKilled', 'e-kill', '{\"type\":\"execution\",\"state\":\"EXECUTED\",\"tenantId\":\"main\",\"executionId\":\"e-kill\",\"isOnKillCascade\":false}')" >/dev/null
killed() { [ "$(results dk-kill)" == 2 ]; }
wait_for "the killed container task's result" 15 killed
expect_eq "$(sql "SELECT value->'taskRun'->'state'->>'current' FROM queues WHERE type = '$WTR' AND key = 'dk-kill' ORDER BY \"offset\" DESC LIMIT 1")" KILLED \
  "a killed container task ends KILLED"

# Eight at once.
for i in 1 2 3 4 5 6 7 8; do
  task "many$i" shell.Commands "" "commands:
  - sleep 1
  - echo 'container $i done'"
done
pids=()
for i in 1 2 3 4 5 6 7 8; do
  "$KWGT_BIN" submit --database-url "$DB" --timeout 60s --group dk "$IT_TMP/many$i.yaml" >"$IT_TMP/many$i.out" 2>&1 &
  pids+=($!)
done
ok=0
for i in 1 2 3 4 5 6 7 8; do
  wait "${pids[$((i - 1))]}" && grep -q "INFO  container $i done" "$IT_TMP/many$i.out" && ok=$((ok + 1))
done
expect_eq "$ok" 8 "eight containers at once all end SUCCESS with their output"

# Refusals and a missing image: FAILED with a message naming the cause.
task vol shell.Commands 'volumes:
  - /etc:/host-etc' 'commands:
  - cat /host-etc/hostname'
run vol
expect_match "$RC $OUT" "^1 .*'taskRunner.volumes' needs host volumes enabled by the operator" \
  "host volumes are refused unless the operator enables them"
task priv shell.Commands 'privileged: true' 'commands:
  - id'
run priv
expect_match "$RC $OUT" "^1 .*'taskRunner.privileged' needs privileged containers enabled" \
  "privileged containers are refused unless the operator enables them"
task ports shell.Commands 'portBindings:
  - "8080:80"' 'commands:
  - id'
run ports
expect_match "$RC $OUT" "^1 .*property 'taskRunner.portBindings' is not supported by kwg" \
  "an unsupported property fails the task, naming it"
task rejected shell.Commands 'memory:
  memory: 1MB' 'commands:
  - id'
run rejected
expect_match "$RC $OUT" "^1 .*creating the container failed: Minimum memory limit allowed is" \
  "a create the daemon rejects fails the task with the daemon's reason"
task nonet shell.Commands 'networkMode: kwg-no-such-network' 'commands:
  - id'
run nonet
expect_match "$RC $OUT" "^1 .*starting the container failed: network kwg-no-such-network not found" \
  "a start the daemon rejects fails the task with the daemon's reason"
task missing shell.Commands "" 'commands:
  - id'
sed -i "s|containerImage: $IMAGE|containerImage: kwg-test/no-such-image:1|" "$IT_TMP/missing.yaml"
run missing
expect_match "$RC $OUT" "^1 .*image 'kwg-test/no-such-image:1' is not on this Docker host and pullPolicy is NEVER" \
  "a missing image with pullPolicy NEVER fails, naming it"
task pull shell.Commands "" 'commands:
  - id'
sed -i "s|pullPolicy: NEVER|pullPolicy: ALWAYS|; s|containerImage: $IMAGE|containerImage: registry.invalid/kwg/none:1|" "$IT_TMP/pull.yaml"
run pull
expect_match "$RC $OUT" "^1 .*pulling image 'registry.invalid/kwg/none:1' failed" "a failed pull fails the task, naming the image"

# A timeout during a pull that hangs (a "registry" that accepts and never answers) ends the task
# at its timeout, not at the pull's end.
python3 -c 'import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 5999)); s.listen(16); held = []
while True: held.append(s.accept())' &
HANG=$!
IT_PIDS+=("$HANG")
listening() { (exec 3<>/dev/tcp/127.0.0.1/5999) 2>/dev/null; }
wait_for "the hanging registry listening" 10 listening
task hang shell.Commands "" 'timeout: PT1S
commands:
  - id'
sed -i "s|pullPolicy: NEVER|pullPolicy: ALWAYS|; s|containerImage: $IMAGE|containerImage: localhost:5999/kwg/hang:1|" "$IT_TMP/hang.yaml"
t0=$SECONDS
submit "$IT_TMP/hang.yaml" --group dk
expect_match "$RC $OUT" "^1 .*Timeout after 0:00:01.000" "a timeout during a hanging pull ends the task FAILED"
[ $((SECONDS - t0)) -lt 20 ] && pass "at its timeout ($((SECONDS - t0)) s), not at the pull's end" ||
  fail "the task ended $((SECONDS - t0)) s later"
kill "$HANG" 2>/dev/null || true

left() { docker ps -aq --no-trunc --filter label=kwg.worker | sort | comm -23 - <(printf '%s\n' "$BEFORE") | grep -c . || true; }
no_containers() { [ "$(left)" == 0 ]; }
wait_for "every container removed" 10 no_containers && pass "no container is left behind"
kill -0 "$W" && pass "the worker is still running" || fail "the worker died"

# Permission denied on the socket: a worker that is not in the docker group.
mkdir -p "$IT_TMP/wd-nobody" && chown nobody "$IT_TMP/wd-nobody"
runuser -u nobody -- "$KWGT_BIN" worker --database-url "$DB" --work-dir "$IT_TMP/wd-nobody" \
  --management-port 0 --group dkn --sandbox none >"$IT_TMP/nobody.log" 2>&1 &
N=$!
IT_PIDS+=("$N")
wait_for "the unprivileged worker's Docker line" 10 grep -q "Docker runner:" "$IT_TMP/nobody.log"
expect_match "$(cat "$IT_TMP/nobody.log")" "no Docker Engine answers at /var/run/docker.sock \(permission denied on the socket \(the worker's user needs the docker group\)\)" \
  "a worker outside the docker group says so at start"
task perm shell.Commands "" 'commands:
  - id'
submit "$IT_TMP/perm.yaml" --group dkn
expect_match "$RC $OUT" "^1 .*cannot reach the Docker daemon at /var/run/docker.sock: permission denied on the socket" \
  "and its Docker tasks fail saying so"
it_stop "$N" 30

# Worker restart. A worker dies (kill -9) under a running container; Kestra resubmits the task
# (the same WorkerJob again); the next worker re-attaches to the container (resume, the default),
# or, with resume false, removes it and runs the task afresh.
restart_job() { # restart_job TASKRUN RESUME
  sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('$WJ', '$1', '{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"$1\",\"executionId\":\"e-$1\",\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\",\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"containerImage\":\"$IMAGE\",\"commands\":\"[\\\"echo begun \$HOSTNAME\\\",\\\"sleep 3\\\",\\\"echo finished\\\"]\",\"taskRunner\":{\"type\":\"io.kestra.plugin.scripts.runner.docker.Docker\",\"pullPolicy\":\"NEVER\",\"resume\":\"$2\"}},\"runContext\":{}}', 'rs')" >/dev/null
}
log_count() { sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$1' AND value->>'message' LIKE '$2'"; }
final_of() { sql "SELECT value->'taskRun'->'state'->>'current' FROM queues WHERE type = '$WTR' AND key = '$1' ORDER BY \"offset\" DESC LIMIT 1"; }
containers_of() { docker ps -aq --filter "label=kestra.io/taskrun-id=$1" | wc -l; }
for resume in true false; do
  id=rs-$resume
  it_worker "rs1-$resume" --group rs --concurrency 2
  restart_job "$id" "$resume"
  begun() { [ "$(log_count "$id" 'begun %')" == 1 ]; }
  wait_for "the first container running ($resume)" 20 begun
  first=$(sql "SELECT value->>'message' FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$id' AND value->>'message' LIKE 'begun %'")
  kill -KILL "$WORKER_PID"
  wait "$WORKER_PID" 2>/dev/null || true
  expect_eq "$(containers_of "$id")" 1 "a worker killed with -9 leaves its container running (resume $resume)"
  restart_job "$id" "$resume"
  it_worker "rs2-$resume" --group rs --concurrency 2
  ended() { [ "$(log_count "$id" 'finished')" -ge 1 ] && [ -n "$(final_of "$id")" ] && [ "$(final_of "$id")" != RUNNING ]; }
  wait_for "the resubmitted task's end ($resume)" 30 ended
  expect_eq "$(final_of "$id")" SUCCESS "the resubmitted task ends SUCCESS (resume $resume)"
  if [ "$resume" == true ]; then
    expect_eq "$(log_count "$id" 'Resuming the existing container %')" 1 "resume: the next worker re-attaches to the container"
    expect_eq "$(log_count "$id" 'begun %')" 2 "resume: the same container's output, read again from its start"
    expect_eq "$(sql "SELECT count(DISTINCT value->>'message') FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$id' AND value->>'message' LIKE 'begun %'")" 1 \
      "resume: one container ran the task (one host name)"
  else
    expect_eq "$(log_count "$id" 'Resuming the existing container %')" 0 "no resume: no re-attach"
    expect_eq "$(sql "SELECT count(DISTINCT value->>'message') FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$id' AND value->>'message' LIKE 'begun %'")" 2 \
      "no resume: the earlier container was replaced by a new one"
  fi
  gone_all() { [ "$(containers_of "$id")" == 0 ]; }
  wait_for "the task's containers removed ($resume)" 10 gone_all && pass "no container of the task is left (resume $resume)"
  it_stop "$WORKER_PID" 30
done

# Orphans: a worker dies (kill -9) under two running containers and is not resubmitted; once it
# is no longer live, the next worker's sweep removes the container whose task did not ask for
# resume, and leaves the one that did (its resubmission would re-attach). The next worker runs
# Process tasks by default and keeps no warm pool: it sweeps at its first Docker task instead of
# at start (libcurl stays unloaded until then), and that task's container is created only after
# the orphan is removed.
orphan_job() { # orphan_job TASKRUN RESUME
  sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('$WJ', '$1', '{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"$1\",\"executionId\":\"e-$1\",\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\",\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"containerImage\":\"$IMAGE\",\"commands\":\"[\\\"echo begun\\\",\\\"sleep 120\\\"]\",\"taskRunner\":{\"type\":\"io.kestra.plugin.scripts.runner.docker.Docker\",\"pullPolicy\":\"NEVER\",\"resume\":\"$2\"}},\"runContext\":{}}', 'or')" >/dev/null
}
it_worker or1 --group or --concurrency 2 --liveness-timeout 2s
OR1=$WORKER_PID
orphan_job or-keep true
orphan_job or-drop false
both_begun() { [ "$(log_count or-keep begun)" == 1 ] && [ "$(log_count or-drop begun)" == 1 ]; }
wait_for "both orphan-to-be containers running" 20 both_begun
or1_id=$(sed -n 's/.*kwg [^ ]* worker \([0-9a-f-]*\): group or.*/\1/p' "$IT_TMP/or1.log" | head -1)
kill -KILL "$OR1"
wait "$OR1" 2>/dev/null || true
not_live() { [ "$(sql "SELECT count(*) FROM service_instance WHERE value->>'id' = '$or1_id' AND updated_at > now() - interval '2 seconds'")" == 0 ]; }
wait_for "the killed worker no longer live" 10 not_live
drop_id=$(docker ps -aq --no-trunc --filter label=kestra.io/taskrun-id=or-drop)
since=$(date +%s)
it_worker or2 --group or2 --default-runner process
OR2=$WORKER_PID
wait_for "the next worker claiming" 10 grep -q "claiming tasks" "$IT_TMP/or2.log"
expect_eq "$(containers_of or-drop)" 1 "a Process-runner worker does not sweep at start"
if grep -q libcurl "/proc/$OR2/maps"; then fail "libcurl mapped before any Docker task"; else
  pass "nor load libcurl"; fi
task swept shell.Commands "" 'commands:
  - echo swept'
submit "$IT_TMP/swept.yaml" --group or2
expect_eq "$RC $(echo "$OUT" | grep -c 'INFO  swept')" "0 1" "its first Docker task runs"
expect_eq "$(containers_of or-drop)" 0 "the next worker removes a dead worker's container (resume false)"
expect_match "$(cat "$IT_TMP/or2.log")" "removing container [0-9a-f]{12} \(running\) of worker $or1_id, which is gone" \
  "and says whose container it removed"
# The Engine's own record: the orphan destroyed, then the task's container created.
events=$(docker events --since "$since" --until "$(($(date +%s) + 1))" --filter type=container \
  --filter event=destroy --filter event=create --format '{{.Action}} {{.ID}}')
first_create=$(echo "$events" | grep -n '^create ' | head -1 | cut -d: -f1)
drop_destroy=$(echo "$events" | grep -n "^destroy $drop_id" | head -1 | cut -d: -f1)
if [ -n "$drop_destroy" ] && [ -n "$first_create" ] && [ "$drop_destroy" -lt "$first_create" ]; then
  pass "the orphan was removed before the first Docker task's container was created"
else
  fail "orphan removal and first create out of order: $(echo "$events" | tr '\n' ';')"
fi
expect_eq "$(containers_of or-keep)" 1 "a dead worker's running container whose task asked for resume stays"
docker rm -f $(docker ps -aq --filter label=kestra.io/taskrun-id=or-keep) >/dev/null
it_stop "$OR2" 30

# The daemon stopped: first under a running container task, then before one; each fails with a
# clear message, the worker stays up; then the daemon comes back.
task midway shell.Commands "" 'commands:
  - echo "running"
  - sleep 60'
"$KWGT_BIN" submit --database-url "$DB" --timeout 60s --group dk "$IT_TMP/midway.yaml" >"$IT_TMP/midway.out" 2>&1 &
MID=$!
wait_for "the midway task running" 20 grep -q "INFO  running" "$IT_TMP/midway.out"
pkill -x dockerd
gone() { ! pgrep -x dockerd; }
wait_for "dockerd stopped" 30 gone
RC=0
wait "$MID" || RC=$?
# dockerd stops its containers as it goes (SIGTERM, then SIGKILL after 10 s) unless live-restore.
expect_match "$RC $(cat "$IT_TMP/midway.out")" "^1 .*(the container was killed from outside kwg \(SIGKILL: docker kill or stop, or the Docker daemon stopping or restarting\)|waiting for the container failed \(is the Docker daemon restarting\?\)|the container's log stream broke)" \
  "a daemon stopping under a running task fails it, saying the daemon went away"
task down shell.Commands "" 'commands:
  - id'
run down
expect_match "$RC $OUT" "^1 .*cannot reach the Docker daemon at /var/run/docker.sock: (no socket there|connection refused)" \
  "with the daemon down, a task fails saying the daemon cannot be reached"
kill -0 "$W" && pass "the worker survives the daemon's absence" || fail "the worker died"
"$KWGT_SRC/tests/lib/docker_env.sh" >/dev/null
run out
expect_eq "$RC" 0 "once the daemon is back, container tasks run again"
it_stop "$W" 30
it_done
