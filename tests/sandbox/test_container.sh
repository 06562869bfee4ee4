#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The hostile battery where most users run kwg: the worker image (deploy/docker/Dockerfile, built
# unchanged on the locally made Debian base) in an ordinary container — Docker's default
# capabilities and seccomp profile, no --privileged — with everything at its defaults: the
# image's sandbox (container) and limits derived from the container's own cgroup (--memory 4g
# --cpus 1.5) and its work directory (a 256 MiB tmpfs). Each hostile task must end with an honest
# state and a log line naming what stopped it, while the worker and a well-behaved task running
# beside it are unharmed. Then the cases only namespaces contain are run and said as such: what
# the container profile lets through, checked, not guessed.
source "$(dirname "$0")/../lib/it.sh"
: "${KWGT_PROBE:?KWGT_PROBE must name try_syscall}"
"$KWGT_SRC/tests/lib/docker_env.sh" >/dev/null || { fail "no Docker Engine"; it_done; }
"$KWGT_SRC/tests/lib/debian_base.sh" >/dev/null || { fail "no Debian base image"; it_done; }
it_db container
NAME=kwg-container-test-$$
trap 'docker rm -f "$NAME" >/dev/null 2>&1 || true; it_cleanup' EXIT

if ! docker build -q -f "$KWGT_SRC/deploy/docker/Dockerfile" -t kwg:test "$KWGT_SRC" >"$IT_TMP/build.log" 2>&1; then
  fail "the image does not build: $(tail -20 "$IT_TMP/build.log")"
  it_done
fi
TOOLS=$IT_TMP/tools
mkdir -p "$TOOLS" && chmod 755 "$TOOLS" "$IT_TMP"
cp "$KWGT_PROBE" "$TOOLS/try_syscall" && chmod 755 "$TOOLS/try_syscall"
sock=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$DB")
docker run -d --name "$NAME" -v "$sock:$sock" -v "$TOOLS:/kwg-tools:ro" \
  --memory 4g --cpus 1.5 --tmpfs /var/lib/kwg/work:size=256m,mode=0711 \
  -e KWG_DATABASE_URL="$DB" -e KWG_GROUP=ctr -e KWG_DEFAULT_RUNNER=process -e KWG_CONCURRENCY=4 \
  kwg:test >/dev/null
logs() { docker logs "$NAME" 2>&1; }
claiming() { logs | grep -q "claiming tasks"; }
wait_for "the containerised worker claiming" 60 claiming || { fail "$(logs | tail -20)"; it_done; }
LOG=$(logs)
expect_match "$LOG" "W worker: sandbox container: tasks run without namespaces .*missing: a private /proc" \
  "the image runs tasks in the container profile by default, saying what it misses"
expect_match "$LOG" "sandbox container: tasks run as 65534:65534 without namespaces" "tasks run as nobody"
expect_match "$LOG" "no task cgroups \(cgroup v[12]: .*\): limits by rlimits" \
  "the container's cgroupfs is read-only: the rlimit fallback, said at start"
expect_match "$LOG" "limits: host: memory 4 GiB from cgroup v[12] /sys/fs/cgroup/" \
  "the memory it may use comes from the container's cgroup"
expect_match "$LOG" "limits: host: CPUs 1\.50 from cgroup v[12] /sys/fs/cgroup/" "so do the CPUs"
expect_match "$LOG" "limits: task_memory 896 MiB a task, from the host: \(4 GiB - 512 MiB kept for the worker\) / concurrency 4" \
  "per-task memory: concurrency x per-task stays under the container's memory, with room for the worker"
expect_match "$LOG" "limits: task_file_size 32 MiB a file, from the host: half of 256 MiB free in /var/lib/kwg/work / concurrency 4" \
  "the file size limit comes from the work directory's free space"
expect_match "$LOG" "limits: task_processes [0-9]+ a task, from the host" "so does the process limit"

task() { # task NAME TIMEOUT COMMAND: writes $IT_TMP/NAME.yaml
  {
    echo "id: $1"
    echo "type: io.kestra.plugin.scripts.shell.Commands"
    echo "timeout: $2"
    echo "warningOnStdErr: false"
    echo "commands:"
    echo "  - |"
    printf '%s\n' "$3" | sed 's/^/    /'
  } >"$IT_TMP/$1.yaml"
}
# A well-behaved task, run beside a hostile one: it forks a few processes, writes a file, reads it.
task good PT60S 'for i in 1 2 3; do sh -c "echo \$\$ > p$i"; done; sleep 2; cat p1 p2 p3 | wc -l'
good_start() {
  "$KWGT_BIN" submit --database-url "$DB" --group ctr --timeout 90s "$IT_TMP/good.yaml" \
    >"$IT_TMP/good.out" 2>&1 &
  GOOD=$!
}
good_result() { # the concurrent task's state, once it ended
  local rc=0
  wait "$GOOD" || rc=$?
  GOOD_OUT="$rc $(cat "$IT_TMP/good.out")"
}

# name, state (0 SUCCESS, 1 FAILED), what the log must match, task timeout, command (tab-separated).
BATTERY=$(cat <<'CASES'
fork-bomb	1	Timeout after 0:00:04.000|Resource temporarily unavailable|Cannot fork	PT4S	f() { f | f & }; f; sleep 10
memory-bomb	1	Out of memory!	PT30S	perl -e 'my $n = 4 * 1024**3; my $x = "x" x $n; print length($x)'
cpu-spin	1	Timeout after 0:00:03.000	PT3S	while :; do :; done
disk-fill-one-file	1	the task wrote past its file size limit \(task_file_size\).*exit code 153	PT30S	head -c 100M /dev/zero > big
disk-fill-many-files	1	No space left on device	PT60S	i=0; while head -c 30M /dev/zero > f$i; do i=$((i+1)); done; exit 1
big-output	0	state SUCCESS	PT120S	yes "$(printf %999s | tr " " x)" | head -n 20000
ignores-sigterm	1	Timeout after 0:00:02.000	PT2S	trap "" TERM INT HUP; sleep 60
daemon	0	INFO  spawned	PT20S	(setsid sh -c "exec sleep 300" > /dev/null 2>&1 &); echo spawned
daemon-then-timeout	1	Timeout after 0:00:02.000	PT2S	(setsid sh -c "exec sleep 301" > /dev/null 2>&1 &); sleep 60
worker-environ	1	/proc/1/environ: Permission denied	PT20S	cat /proc/1/environ
worker-kill	1	Operation not permitted	PT20S	kill -9 1
worker-ptrace	0	ptrace blocked: EPERM	PT20S	/kwg-tools/try_syscall ptrace 1
mount	0	mount blocked: EPERM	PT20S	/kwg-tools/try_syscall mount
unshare	0	unshare blocked: EPERM	PT20S	/kwg-tools/try_syscall unshare
setns	0	setns blocked: EPERM	PT20S	/kwg-tools/try_syscall setns
keyctl	0	keyctl blocked: EPERM	PT20S	/kwg-tools/try_syscall keyctl
bpf	0	bpf blocked: EPERM	PT20S	/kwg-tools/try_syscall bpf
io_uring_setup	0	io_uring_setup blocked: EPERM	PT20S	/kwg-tools/try_syscall io_uring_setup
userfaultfd	0	userfaultfd blocked: EPERM	PT20S	/kwg-tools/try_syscall userfaultfd
sethostname	0	sethostname blocked: EPERM	PT20S	/kwg-tools/try_syscall sethostname
write-system-dir	1	Permission denied	PT20S	touch /usr/kwg-escape
read-shadow	1	Permission denied	PT20S	cat /etc/shadow
env-scrubbed	0	INFO  0\n	PT20S	env | grep -c -E "KWG_|SECRET_|PGHOST|DATABASE" || true
fd-leak	0	INFO  0 1 2 3\n	PT20S	ls /proc/self/fd | sort -n | tr "\n" " " | sed "s/ $//"
CASES
)
# Run beside a well-behaved task: it must succeed (with the fork bomb: see below).
BESIDE="fork-bomb memory-bomb cpu-spin disk-fill-one-file big-output ignores-sigterm"

while IFS=$'\t' read -r name want pattern timeout cmd; do
  task "$name" "$timeout" "$cmd"
  beside=
  [[ " $BESIDE " == *" $name "* ]] && beside=1 && good_start
  submit "$IT_TMP/$name.yaml" --group ctr --timeout 180s
  if [ "$RC" == "$want" ] && [[ "$OUT" =~ $(printf '%b' "$pattern") ]]; then
    pass "container: $name"
  else
    fail "container: $name: exit $RC (want $want), pattern '$pattern' in: $(printf '%s' "$OUT" | tail -c 1500)"
  fi
  [ -n "$beside" ] || continue
  good_result
  if [[ "$GOOD_OUT" =~ ^0\ .*INFO\ \ 3.*state\ SUCCESS ]]; then
    pass "container: a well-behaved task beside $name succeeds"
  elif [ "$name" == fork-bomb ] && [[ "$GOOD_OUT" =~ Resource\ temporarily\ unavailable|Cannot\ fork ]]; then
    # Without task cgroups (an ordinary container's /sys/fs/cgroup is read-only) the process
    # limit is RLIMIT_NPROC, counted per user: tasks of one user share it (docs/sandbox.md).
    pass "container: a task beside the fork bomb ends honestly, refused a process by the shared limit of the task user"
  else
    fail "container: the task beside $name: $(tail -c 1500 <<<"$GOOD_OUT")"
  fi
done <<<"$BATTERY"

running() { [ "$(docker inspect "$NAME" --format '{{.State.Running}} {{.RestartCount}}')" == "true 0" ]; }
running && pass "container: the worker is still running" || fail "container: the worker died: $(logs | tail -20)"
# Nothing of a task outlives it: the reaper killed the daemons, at the task's end and at its timeout.
no_daemons() { ! docker exec "$NAME" sh -c 'grep -l "sleep 30[01]" /proc/[0-9]*/cmdline 2>/dev/null | grep -q .'; }
wait_for "the daemons gone" 10 no_daemons && pass "container: no daemon outlives its task (reaper)"
docker exec "$NAME" test ! -e /usr/kwg-escape && pass "container: no file escaped into /usr" || fail "container: /usr/kwg-escape exists"
# The worker still serves after the work directory was filled: the task's directory went with it.
submit "$IT_TMP/good.yaml" --group ctr
expect_match "$RC $OUT" "^0 .*INFO  3.*state SUCCESS" "container: the worker serves a task after the hostile ones"

# What only namespaces contain (the default profile's, docs/sandbox.md): checked, then said.
task ns-proc PT20S 'ls /proc | grep -c "^[0-9]"; tr "\0" " " < /proc/1/cmdline; echo'
submit "$IT_TMP/ns-proc.yaml" --group ctr
expect_match "$RC $OUT" "^0 .*INFO  kwg worker" \
  "namespaces only: a task sees the container's processes, the worker's command line included (not its environment)"
task ns-tmp PT20S 'echo left > /tmp/kwg-left-behind; touch /var/tmp/kwg-shared && echo wrote'
submit "$IT_TMP/ns-tmp.yaml" --group ctr
expect_match "$RC $OUT" "^0 .*INFO  wrote" \
  "namespaces only: a task writes where its user may outside its directory (/tmp, /var/tmp), seen by later tasks"
task ns-host PT20S 'hostname'
submit "$IT_TMP/ns-host.yaml" --group ctr
expect_match "$RC $OUT" "^0 .*INFO  [0-9a-f]{12}" "namespaces only: a task sees the container's host name, not its own"

# The default profile refuses to start here, and names the profile that works.
out=$(docker run --rm -v "$sock:$sock" -e KWG_DATABASE_URL="$DB" -e KWG_GROUP=ctr2 -e KWG_SANDBOX=default \
  -e KWG_MANAGEMENT_PORT=0 kwg:test 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*the default sandbox cannot be set up on this machine: .*--sandbox container keeps the sandbox without them" \
  "KWG_SANDBOX=default in an ordinary container refuses the start and names the container profile"
docker stop -t 30 "$NAME" >/dev/null
expect_eq "$(docker inspect "$NAME" --format '{{.State.ExitCode}}')" 0 "docker stop ends it cleanly"
it_done
