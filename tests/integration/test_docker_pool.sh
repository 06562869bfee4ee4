#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The warm Docker pool (docker_pool_size): the same tasks on a worker without a pool and on one
# with it give the same outputs, logs, exit codes and files, byte for byte once container ids,
# host names, dates and working directory paths are set aside; a pooled container serves one
# task only; a stop removes the pool; a worker killed with -9 leaves held containers that end
# by themselves and that the next worker's sweep removes.
source "$(dirname "$0")/../lib/it.sh"
"$KWGT_SRC/tests/lib/docker_env.sh" >/dev/null || { fail "no Docker Engine"; it_done; }
it_db docker_pool
IMAGE=kwg-test/busybox
BEFORE=$(docker ps -aq --no-trunc --filter label=kwg.worker | sort)

# KWGT_EXEC_HELPER: a static kwg-exec for the workers with a pool (a sanitizer build's own is
# dynamic: run this test with the gcc build's to exercise the pool under the sanitizers).
HELPER=()
[ -n "${KWGT_EXEC_HELPER:-}" ] && HELPER=(--exec-helper "$KWGT_EXEC_HELPER")
it_worker cold --group cold --concurrency 4 --default-runner docker
COLD=$WORKER_PID
it_worker warm --group warm --concurrency 4 --default-runner docker --docker-pool-size 2 \
  --docker-pool-idle 60s "${HELPER[@]}"
WARM=$WORKER_PID
wait_for "the cold worker's Docker line" 10 grep -q "Docker runner: Engine" "$IT_TMP/cold.log"
wait_for "the warm worker's Docker line" 10 grep -q "Docker runner: Engine" "$IT_TMP/warm.log"
if grep -q "no warm pool" "$IT_TMP/warm.log"; then
  # A sanitizer build links kwg-exec dynamically: it cannot run in an arbitrary image.
  echo "skipped: $(grep -o "docker_pool_size: .*" "$IT_TMP/warm.log")"
  it_stop "$WARM" 30
  it_stop "$COLD" 30
  exit 77
fi

task() { # task NAME TYPE RUNNER_YAML BODY_YAML
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
# What differs between any two runs of one task: container ids and host names, dates and
# durations, working directory paths, ids; and where the line saying the container started falls
# among the first output lines (Docker's start answers while the command may already print: the
# order varies without the pool too).
normalise() {
  awk '/DEBUG Starting command with container id/ {skip = 1} !skip {print} skip && /\]$/ {skip = 0}' |
    grep -v "^kwg submit: task run" | sed -E 's/[0-9a-f]{64}/CID/g; s/[0-9a-f]{12}/CID/g; s/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z?/DATE/g;
    s#'"$IT_TMP"'/wd/[^ /"]*#WD#g; s/PT[0-9.]+S/PT/g; s/[0-9]+ ms/N ms/g'
}
count() { grep -c "$2" "$IT_TMP/$1.log" || true; }
# available LOG [SET]: containers made ready and not taken yet (none fail in this test), of one
# option set (the tag the log gives it) or of any
available() {
  [ $(($(count "$1" "warm pool: container .* ready (option set ${2:-}") - $(count "$1" "warm pool: task run .* takes container .*(option set ${2:-}"))) -ge 1 ]
}
# last_tag: the option set of the warm worker's last task
last_tag() { grep -o "task run .* (option set [0-9a-f]*" "$IT_TMP/warm.log" | tail -1 | grep -o '[0-9a-f]*$'; }
taken() { count warm "warm pool: task run .* takes container"; }

task out shell.Commands "" 'warningOnStdErr: false
commands:
  - echo "hello from the container"
  - echo "::{\"outputs\":{\"answer\":42}}::"
  - printf "no newline at the end"'
task fail shell.Commands "" 'commands:
  - echo "about to fail"
  - exit 3'
task warn shell.Commands "" 'commands:
  - echo "careful" >&2'
task env shell.Commands "" 'env:
  GREETING: bonjour
  PATH: /bin:/usr/bin
commands:
  - echo "$GREETING in $(pwd) = $WORKING_DIR"
  - env | grep -v ^HOSTNAME=
  - id; umask; echo "pid $$"; cat /proc/1/cmdline | tr "\0" " "; echo
  - ls -la . | sed 1d | awk "{print \$1, \$3, \$4, \$NF}"
  - ls -a / | tr "\n" " "; echo'
task script python.Script "" 'beforeCommands:
  - mkdir -p sub && echo data > sub/out.txt
outputFiles:
  - sub/out.txt
script: |
  print("the script file reached the container")'
task nocmd shell.Commands "" 'interpreter: ["/no/such/shell", "-c"]
commands:
  - id'
task mem shell.Commands 'memory:
  memory: 64MB' 'commands:
  - cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes'

# Cold first on both (the warm worker's first task of a kind starts cold and fills the pool),
# then again on the warm worker once its pool is ready: that run takes a held container.
NAMES="out fail warn env script nocmd mem"
for name in $NAMES; do
  submit "$IT_TMP/$name.yaml" --group cold
  echo "$RC" >"$IT_TMP/$name.cold"
  printf '%s\n' "$OUT" | normalise >>"$IT_TMP/$name.cold"
  [ "$name" == nocmd ] ||
    expect_match "$OUT" "DEBUG Starting command with container id" "'$name' says its container started (no pool)"
  submit "$IT_TMP/$name.yaml" --group warm # the first of its kind starts cold, and fills the pool
  wait_for "the pool ready for '$name'" 60 available warm "$(last_tag)"
  before=$(taken)
  submit "$IT_TMP/$name.yaml" --group warm
  echo "$RC" >"$IT_TMP/$name.warm"
  printf '%s\n' "$OUT" | normalise >>"$IT_TMP/$name.warm"
  expect_eq "$(taken)" "$((before + 1))" "'$name' took a held container"
  if [ "$name" == nocmd ]; then
    [[ "$OUT" != *"Starting command"* ]] && pass "a command that cannot start does not say it started (pool)" ||
      fail "'nocmd' said it started"
  else
    expect_match "$OUT" "DEBUG Starting command with container id" "'$name' says its container started (pool)"
  fi
  if [ "$name" == nocmd ]; then
    # Docker's own start error names its runtime's internals; the held container's says the
    # same cause in the same words, and the exit code is the same.
    expect_eq "$(head -1 "$IT_TMP/$name.warm")" "$(head -1 "$IT_TMP/$name.cold")" "'$name': the same exit code"
  elif diff -u "$IT_TMP/$name.cold" "$IT_TMP/$name.warm"; then
    pass "'$name': the same exit code, outputs and logs with and without the pool"
  else
    fail "'$name' differs with the pool"
  fi
done
expect_match "$(cat "$IT_TMP/nocmd.cold")" 'starting the container failed: .*exec: "/no/such/shell": stat /no/such/shell: no such file or directory: unknown' \
  "a command that cannot start fails the task (no pool)"
expect_match "$(cat "$IT_TMP/nocmd.warm")" 'ERROR starting the container failed: OCI runtime create failed: unable to start container process: exec: "/no/such/shell": stat /no/such/shell: no such file or directory: unknown' \
  "and with the pool, in Docker's words"
expect_match "$(cat "$IT_TMP/env.warm")" "INFO  PATH=/bin:/usr/bin" "the task's env replaces the image's"
expect_match "$(cat "$IT_TMP/mem.warm")" "INFO  67108864" "a memory limit is part of the held container's option set"

# A pooled container runs one task: two tasks of a kind run in two containers.
task host shell.Commands "" 'commands:
  - echo "host $HOSTNAME"'
# The tasks without options share one option set: the one 'out' took a container of.
set_tag=$(grep -m1 -o "takes container .* (option set [0-9a-f]*" "$IT_TMP/warm.log" | grep -o '[0-9a-f]*$')
wait_for "the pool ready for 'host'" 60 available warm "$set_tag"
submit "$IT_TMP/host.yaml" --group warm
wait_for "the pool ready for 'host' again" 60 available warm "$set_tag"
h1=$(printf '%s\n' "$OUT" | grep -o 'host [0-9a-f]*')
submit "$IT_TMP/host.yaml" --group warm
h2=$(printf '%s\n' "$OUT" | grep -o 'host [0-9a-f]*')
[ -n "$h1" ] && [ "$h1" != "$h2" ] && pass "each task gets a fresh container ($h1, $h2)" ||
  fail "two tasks shared a container: '$h1' '$h2'"

# A timeout stops a pooled task like any other.
task timeout shell.Commands "" 'timeout: PT1S
commands:
  - sleep 60'
wait_for "the pool ready for 'timeout'" 60 available warm "$set_tag"
before=$(taken)
submit "$IT_TMP/timeout.yaml" --group warm
expect_eq "$(taken)" "$((before + 1))" "'timeout' took a held container"
expect_match "$RC $OUT" "^1 .*Timeout after 0:00:01.000" "a pooled task past its timeout ends FAILED"

mine() { docker ps -aq --no-trunc --filter label=kwg.pool | sort | comm -23 - <(printf '%s\n' "$BEFORE") | grep -c . || true; }
[ "$(mine)" -gt 0 ] && pass "the pool holds containers ($(mine))" || fail "no held container"
it_stop "$WARM" 30
expect_eq "$STOP_RC" 0 "the worker with a pool stops cleanly"
it_stop "$COLD" 30
expect_eq "$STOP_RC" 0 "the worker without a pool stops cleanly"
expect_eq "$(mine)" 0 "a stop removes the pool's containers"
left() { docker ps -aq --no-trunc --filter label=kwg.worker | sort | comm -23 - <(printf '%s\n' "$BEFORE") | grep -c . || true; }
expect_eq "$(left)" 0 "no container is left behind"
[ -z "$(ls -A "$IT_TMP/wd" | grep docker-pool || true)" ] && pass "no gate directory is left behind" ||
  fail "gate directories left: $(ls "$IT_TMP/wd")"

# kill -9: the held containers' gates close with the worker, their holders end, and the next
# worker's sweep removes them once the dead worker is no longer live.
it_worker crash --group crash --default-runner docker --docker-pool-size 2 --liveness-timeout 2s "${HELPER[@]}"
CRASH=$WORKER_PID
wait_for "the crash worker's Docker line" 10 grep -q "Docker runner: Engine" "$IT_TMP/crash.log"
submit "$IT_TMP/out.yaml" --group crash
wait_for "the crash worker's pool ready" 60 available crash
crash_id=$(sed -n 's/.*kwg [^ ]* worker \([0-9a-f-]*\): group crash.*/\1/p' "$IT_TMP/crash.log" | head -1)
kill -KILL "$CRASH"
wait "$CRASH" 2>/dev/null || true
exited() { [ "$(docker ps -q --filter label=kwg.worker="$crash_id" | grep -c . || true)" == 0 ]; }
wait_for "the held containers ended with their worker" 20 exited &&
  pass "held containers end when their worker dies (their gates close)"
not_live() { [ "$(sql "SELECT count(*) FROM service_instance WHERE value->>'id' = '$crash_id' AND updated_at > now() - interval '2 seconds'")" == 0 ]; }
wait_for "the killed worker no longer live" 10 not_live
it_worker sweeper --group sweeper
gone() { [ "$(docker ps -aq --filter label=kwg.worker="$crash_id" | grep -c . || true)" == 0 ]; }
wait_for "the sweep of the next worker" 20 gone && pass "the next worker's sweep removes a dead worker's pool"
it_stop "$WORKER_PID" 30

# Resume (the default) across a worker killed with -9 under a task in a held container: the
# resubmitted task finds that container by the name it took and re-attaches to it.
WJ=io.kestra.core.runners.WorkerJob
restart_job() { # restart_job TASKRUN
  sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('$WJ', '$1', '{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"$1\",\"executionId\":\"e-$1\",\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\",\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"containerImage\":\"$IMAGE\",\"commands\":\"[\\\"echo begun \$HOSTNAME\\\",\\\"sleep 3\\\",\\\"echo finished\\\"]\",\"taskRunner\":{\"type\":\"io.kestra.plugin.scripts.runner.docker.Docker\",\"pullPolicy\":\"NEVER\"}},\"runContext\":{}}', 'rs')" >/dev/null
}
log_count() { sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = '$1' AND value->>'message' LIKE '$2'"; }
final_of() { sql "SELECT value->'taskRun'->'state'->>'current' FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key = '$1' ORDER BY \"offset\" DESC LIMIT 1"; }
it_worker rs1 --group rs --default-runner docker --docker-pool-size 1 "${HELPER[@]}"
submit "$IT_TMP/out.yaml" --group rs
wait_for "the rs1 worker's pool ready" 60 available rs1
restart_job rs-pool
begun() { [ "$(log_count rs-pool 'begun %')" == 1 ]; }
wait_for "the held container's task running" 20 begun
expect_match "$(cat "$IT_TMP/rs1.log")" "warm pool: task run rs-pool takes container" "the task took a held container"
kill -KILL "$WORKER_PID"
wait "$WORKER_PID" 2>/dev/null || true
restart_job rs-pool
it_worker rs2 --group rs --default-runner docker --docker-pool-size 1 "${HELPER[@]}"
ended() { [ "$(log_count rs-pool 'finished')" -ge 1 ] && [ -n "$(final_of rs-pool)" ] && [ "$(final_of rs-pool)" != RUNNING ]; }
wait_for "the resubmitted task's end" 30 ended
expect_eq "$(final_of rs-pool)" SUCCESS "the resubmitted task ends SUCCESS"
expect_eq "$(log_count rs-pool 'Resuming the existing container %')" 1 "resume finds the held container by its name"
expect_eq "$(sql "SELECT count(DISTINCT value->>'message') FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' = 'rs-pool' AND value->>'message' LIKE 'begun %'")" 1 \
  "one container ran the task (one host name)"
it_stop "$WORKER_PID" 30
# rs1's held containers ended with it; it is not past its liveness yet for a sweep to take them.
rs1_id=$(sed -n 's/.*kwg [^ ]* worker \([0-9a-f-]*\): group rs.*/\1/p' "$IT_TMP/rs1.log" | head -1)
docker ps -aq --filter label=kwg.worker="$rs1_id" | xargs -r docker rm -f >/dev/null
it_done
