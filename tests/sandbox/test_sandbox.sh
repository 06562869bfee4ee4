#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The hostile battery: each case is a task run through a real worker (sandbox default, or strict);
# each must end with an honest state and a log line that explains it, while the worker keeps
# serving and nothing outside the task's working directory changes. Then the syscall probes run
# through `kwg sandbox` directly. Needs root (a task user) and namespaces; exits 77 (skip) without.
source "$(dirname "$0")/../lib/it.sh"
: "${KWGT_PROBE:?KWGT_PROBE must name try_syscall}"
if [ "$(id -u)" -ne 0 ] || ! unshare --pid --fork --mount true 2>/dev/null; then
  echo "sandbox battery needs root and pid/mount namespaces: skipped"
  exit 77
fi
it_db sandbox
# The probe and a setuid-root copy of id, where a task can reach them (not under /tmp, which is
# private in the sandbox).
TOOLS=$(dirname "$KWGT_BIN")/sandbox-tools
mkdir -p "$TOOLS" && chmod 755 "$TOOLS"
cp "$KWGT_PROBE" "$TOOLS/try_syscall"
cp /usr/bin/id "$TOOLS/suid-id" && chmod 4755 "$TOOLS/suid-id"
PROBE=$TOOLS/try_syscall
LIMITS=(--task-processes 300 --task-memory 1GiB --task-cpu-seconds 2 --task-file-size 10MiB)
HOST_BEFORE=$(hostname; date +%Y; ls /etc | md5sum)

it_worker d --group sbd --concurrency 4 --default-runner process "${LIMITS[@]}"
D=$WORKER_PID
it_worker s --group sbs --concurrency 4 --default-runner process --sandbox strict "${LIMITS[@]}"
S=$WORKER_PID
it_worker o --group sbo --default-runner process "${LIMITS[@]}" --task-cpu-seconds 0
O=$WORKER_PID
wait_for "the workers' start lines" 10 grep -q "group sbo" "$IT_TMP/o.log"

# The battery, one case a line, run twice: as a task through a worker, then through `kwg sandbox`
# directly with the same limits. Fields (tab-separated):
#   name, profile (d default, s strict, o default without the CPU limit: a gigabyte through a
#   slow, sanitized worker costs its writer more than 2 CPU seconds of pipe writes), worker verdict (0 SUCCESS, 1 FAILED, 2 WARNING), what the
#   worker's output must match, the task timeout, what `kwg sandbox`'s output and "exit N" must
#   match, the command. @PID@ is the worker's pid (direct: this script's).
BATTERY=$(cat <<'CASES'
fork-bomb	d	1	Timeout after|Resource temporarily unavailable|fork	PT4S	Resource temporarily unavailable|exit (124|137)	f() { f | f & }; f; sleep 10
memory-bomb	d	1	MemoryError|Cannot allocate|killed by its memory limit|CPU time limit	PT20S	MemoryError.*exit 1$	python3 -c "x = bytearray(4 << 30)"
cpu-spin	d	1	CPU time limit.*exit code 152	PT20S	^exit 152$	while :; do :; done
disk-fill	d	1	file size limit.*exit code 153	PT20S	exit 153$	head -c 50M /dev/zero > big
big-output	o	0	state SUCCESS.*log lines: 1000000$	PT300S	^1000000000 exit 0$	yes "$(printf %999s | tr " " x)" 2>/dev/null | head -n 1000000
ten-mb-line	d	0	state SUCCESS	PT60S	^10000001 exit 0$	head -c 10000000 /dev/zero | tr "\0" x; echo
binary-output	d	0	state SUCCESS	PT20S	^100000 exit 0$	head -c 100000 /dev/urandom
worker-environ	d	1	No such file	PT20S	No such file.*exit 1$	cat /proc/@PID@/environ
worker-ptrace	d	0	ptrace blocked: (ESRCH|EPERM)	PT20S	ptrace blocked: (ESRCH|EPERM) exit 0$	@PROBE@ ptrace @PID@
worker-kill	d	1	No such process	PT20S	No such process.*exit 1$	kill -9 @PID@
kill-everything	d	1	.	PT20S	exit (1|137)$	kill -9 -1; sleep 1; exit 1
mount	d	0	mount blocked: EPERM	PT20S	^mount blocked: EPERM exit 0$	@PROBE@ mount
unshare	d	0	unshare blocked: EPERM	PT20S	^unshare blocked: EPERM exit 0$	@PROBE@ unshare
setns	d	0	setns blocked: EPERM	PT20S	^setns blocked: EPERM exit 0$	@PROBE@ setns
keyctl	d	0	keyctl blocked: EPERM	PT20S	^keyctl blocked: EPERM exit 0$	@PROBE@ keyctl
bpf	d	0	bpf blocked: EPERM	PT20S	^bpf blocked: EPERM exit 0$	@PROBE@ bpf
perf_event_open	d	0	perf_event_open blocked: EPERM	PT20S	^perf_event_open blocked: EPERM exit 0$	@PROBE@ perf_event_open
io_uring_setup	d	0	io_uring_setup blocked: EPERM	PT20S	^io_uring_setup blocked: EPERM exit 0$	@PROBE@ io_uring_setup
userfaultfd	d	0	userfaultfd blocked: EPERM	PT20S	^userfaultfd blocked: EPERM exit 0$	@PROBE@ userfaultfd
kexec_load	d	0	kexec_load blocked: EPERM	PT20S	^kexec_load blocked: EPERM exit 0$	@PROBE@ kexec_load
init_module	d	0	init_module blocked: EPERM	PT20S	^init_module blocked: EPERM exit 0$	@PROBE@ init_module
reboot	d	0	reboot blocked: EPERM	PT20S	^reboot blocked: EPERM exit 0$	@PROBE@ reboot
settimeofday	d	0	settimeofday blocked: EPERM	PT20S	^settimeofday blocked: EPERM exit 0$	@PROBE@ settimeofday
sethostname	d	0	sethostname blocked: EPERM	PT20S	^sethostname blocked: EPERM exit 0$	@PROBE@ sethostname
write-system-dir	d	1	Read-only file system	PT20S	Read-only file system.*exit 1$	touch /usr/kwg-escape
write-outside-strict	s	1	Read-only file system	PT20S	Read-only file system.*exit 1$	touch /var/tmp/kwg-escape
network-strict	s	0	socket-inet blocked: EAFNOSUPPORT	PT20S	^socket-inet blocked: EAFNOSUPPORT exit 0$	@PROBE@ socket-inet
ptrace-strict	s	0	ptrace blocked: EPERM	PT20S	^ptrace blocked: EPERM exit 0$	@PROBE@ ptrace 1
setuid-binary	d	0	uid=65534\(nobody\) gid=65534\(nogroup\) groups	PT20S	^uid=65534\(nobody\) gid=65534\(nogroup\) groups.* exit 0$	@TOOLS@/suid-id
read-shadow	d	1	Permission denied	PT20S	Permission denied.*exit 1$	cat /etc/shadow
shadow-symlink	d	1	Permission denied	PT20S	Permission denied.*exit 1$	ln -sf /etc/shadow leak; cat leak
double-fork-daemon	d	0	state SUCCESS	PT20S	^spawned exit 0$	(setsid sh -c "exec sleep 300" > /dev/null 2>&1 &); echo spawned
sleep-past-timeout	d	1	Timeout after 0:00:01.000	PT1S	^exit 124$	sleep 60
close-stdout-run-on	d	0	state SUCCESS	PT20S	^exit 0$	exec > /dev/null 2>&1; sleep 1; touch done-marker
env-scrubbed	d	0	INFO  0\n	PT20S	^0 exit 0$	env | grep -c -E "KWG_|SECRET_|PGHOST|DATABASE" || true
fd-leak	d	0	INFO  0 1 2 3\n	PT20S	^0 1 2 3 exit 0$	ls /proc/self/fd | sort -n | tr "\n" " " | sed "s/ $//"
own-pid-namespace	d	0	INFO  [0-9]\n	PT20S	^[0-9] exit 0$	ls /proc | grep -c "^[0-9]"
CASES
)
# A sanitized worker moves a gigabyte of log lines several times slower than the product build:
# under the sanitizers (KWGT_BIG_OUTPUT_LINES, tests/CMakeLists.txt) the big-output case writes
# fewer 1,000-byte lines, still every one counted.
if [ -n "${KWGT_BIG_OUTPUT_LINES:-}" ]; then
  big=$(grep '^big-output' <<<"$BATTERY")
  BATTERY=${BATTERY/"$big"/"${big//1000000/$KWGT_BIG_OUTPUT_LINES}"}
fi
# Cases whose output is its size, not its text: `kwg sandbox` output is counted.
COUNTED="big-output ten-mb-line binary-output"

# worker_case NAME PROFILE WANT PATTERN TIMEOUT DIRECT COMMAND: through the worker of the profile.
worker_case() {
  local name=$1 profile=$2 want=$3 pattern=$4 timeout=$5 cmd=$7 group
  group=sb$profile
  cmd=${cmd//@PID@/$([ "$profile" == s ] && echo "$S" || echo "$D")}
  cmd=${cmd//@PROBE@/$PROBE}
  cmd=${cmd//@TOOLS@/$TOOLS}
  hostile "$name" "$group" "$want" "$(printf '%b' "$pattern")" "$timeout" "$cmd"
}

# hostile NAME GROUP EXPECTED_RC PATTERN TIMEOUT COMMAND: one task; RC 0 SUCCESS, 1 FAILED, 2 WARNING
hostile() {
  local name=$1 group=$2 want=$3 pattern=$4 timeout=$5 cmd=$6
  {
    echo "id: $name"
    echo "type: io.kestra.plugin.scripts.shell.Commands"
    echo "timeout: $timeout"
    echo "warningOnStdErr: false"
    echo "commands:"
    echo "  - |"
    printf '%s\n' "$cmd" | sed 's/^/    /'
  } >"$IT_TMP/$name.yaml"
  if [ "$name" == big-output ]; then # a gigabyte: counted in a file, not held in a variable
    RC=0
    "$KWGT_BIN" submit --database-url "$DB" --timeout 600s --group "$group" "$IT_TMP/$name.yaml" \
      >"$IT_TMP/big.out" 2>&1 || RC=$?
    OUT="$(tail -c 1500 "$IT_TMP/big.out")
log lines: $(grep -c "INFO  x\{999\}$" "$IT_TMP/big.out" || true)"
    rm -f "$IT_TMP/big.out"
  else
    submit "$IT_TMP/$name.yaml" --group "$group"
  fi
  if [ "$RC" == "$want" ] && [[ "$OUT" =~ $pattern ]]; then
    pass "$name"
  else
    fail "$name: exit $RC (want $want), pattern '$pattern' in: $(printf '%s' "$OUT" | tail -c 1500)"
  fi
}

# direct_case: the same case through `kwg sandbox`, with the workers' limits; the task timeout
# becomes timeout(1) around it (which kills kwg-exec: the whole tree must go with it).
direct_case() {
  local name=$1 profile=$2 timeout=$5 pattern=$6 cmd=$7 out rc secs
  secs=${timeout#PT}
  secs=${secs%S}
  cmd=${cmd//@PID@/$$}
  cmd=${cmd//@PROBE@/$PROBE}
  cmd=${cmd//@TOOLS@/$TOOLS}
  mkdir -p "$IT_TMP/direct/$name" && chmod 777 "$IT_TMP/direct/$name"
  set -- timeout -s KILL "$secs" "$KWGT_BIN" sandbox --profile \
    "$([ "$profile" == s ] && echo strict || echo default)" --workdir "$IT_TMP/direct/$name" \
    "${DIRECT_LIMITS[@]}" --cpu-seconds "$([ "$profile" == o ] && echo 0 || echo 2)" -- sh -c "$cmd"
  if [[ " $COUNTED " == *" $name "* ]]; then
    out=$("$@" 2>&1 | wc -c; exit "${PIPESTATUS[0]}") && rc=0 || rc=$?
  else
    out=$("$@" 2>&1 | tail -c 4000; exit "${PIPESTATUS[0]}") && rc=0 || rc=$?
  fi
  [ "$rc" == 137 ] && [ "$secs" -le 5 ] && rc=124 # timeout -s KILL answers 137
  out="$(printf '%s' "$out" | tr '\n' ' ' | sed 's/ *$//') exit $rc"
  out=${out# }
  if [[ "$out" =~ $pattern ]]; then
    pass "kwg sandbox: $name"
  else
    fail "kwg sandbox: $name: '$pattern' does not match: $(printf '%s' "$out" | tail -c 800)"
  fi
}

while IFS=$'\t' read -r name profile want pattern timeout direct cmd; do
  worker_case "$name" "$profile" "$want" "$pattern" "$timeout" "$direct" "$cmd"
done <<<"$BATTERY"

# The daemon of double-fork-daemon died with its task (its pid namespace ended).
no_daemon() { ! pgrep -u nobody -f "sleep 300" >/dev/null; }
wait_for "the double-forked daemon gone" 10 no_daemon
pass "a double-forked setsid daemon does not outlive its task"
kill -0 "$D" && kill -0 "$S" && kill -0 "$O" && pass "the workers are still running" || fail "a worker died"
expect_eq "$(hostname; date +%Y; ls /etc | md5sum)" "$HOST_BEFORE" "nothing outside the working directories changed"
[ ! -e /var/tmp/kwg-escape ] && [ ! -e /usr/kwg-escape ] && pass "no file escaped the sandbox" ||
  fail "/var/tmp/kwg-escape or /usr/kwg-escape exists"

# Under the defaults: a worker with no limit set (the default profile, limits from the host), its
# work directory on a 256 MiB tmpfs so that the disk cases stay small. Each hostile task runs
# beside a well-behaved one, which must succeed: with task cgroups each task has its own memory
# and pids limits; without them (rlimits) the process limit is the task user's, shared, and a
# task beside the fork bomb may be refused a process (docs/sandbox.md).
SMALL=$IT_TMP/small
mkdir -p "$SMALL" && mount -t tmpfs -o size=256m,mode=0755 tmpfs "$SMALL"
trap 'umount -l "$SMALL" 2>/dev/null || true; it_cleanup' EXIT
it_worker f --group sbf --default-runner process --work-dir "$SMALL"
F=$WORKER_PID
wait_for "the defaults worker's limits" 10 grep -q "limits: all tasks together" "$IT_TMP/f.log"
FLOG=$(cat "$IT_TMP/f.log")
expect_match "$FLOG" "limits: task_memory [0-9]+ (MiB|GiB) a task, from the host" "defaults: memory from the host"
expect_match "$FLOG" "limits: task_processes [0-9]+ a task, from the host" "defaults: processes from the host"
expect_match "$FLOG" "limits: task_file_size 1[56] MiB a file, from the host: half of 2[45][0-9] MiB free in $SMALL / concurrency 8" \
  "defaults: the file size limit from the work directory's free space"
CGROUPS=
[[ "$FLOG" =~ limits\ by\ cgroup ]] && CGROUPS=1
# The worker-wide cgroup holds every task together (v1 here: kwg/<pid> in each hierarchy).
all_mib=$(sed -n 's/.*limits: all tasks together: memory \([0-9]*\) MiB.*/\1/p' <<<"$FLOG")
if [ -n "$CGROUPS" ] && [ -d "/sys/fs/cgroup/memory/kwg/$F" ]; then
  expect_eq "$(($(cat "/sys/fs/cgroup/memory/kwg/$F/memory.limit_in_bytes") >> 20))" "$all_mib" \
    "defaults: the worker-wide memory cgroup caps every task together"
  expect_match "$(cat "/sys/fs/cgroup/pids/kwg/$F/pids.max")" "^[0-9]+$" "defaults: and the worker-wide pids cgroup"
fi
cat >"$IT_TMP/good.yaml" <<'YAML'
id: good
type: io.kestra.plugin.scripts.shell.Commands
timeout: PT60S
commands:
  - for i in 1 2 3; do sh -c "echo \$\$ > p$i"; done; sleep 2; cat p1 p2 p3 | wc -l
YAML
DEFAULTS=$(cat <<'CASES'
fork-bomb	1	Timeout after 0:00:04.000|Resource temporarily unavailable|Cannot fork	PT4S	f() { f | f & }; f; sleep 10
memory-bomb	1	killed by its memory limit|MemoryError|Cannot allocate	PT60S	python3 -c "x = bytearray(4 << 30)"
cpu-spin	1	Timeout after 0:00:03.000	PT3S	while :; do :; done
disk-fill-one-file	1	the task wrote past its file size limit \(task_file_size\).*exit code 153	PT30S	head -c 100M /dev/zero > big
disk-fill-many-files	1	No space left on device	PT60S	i=0; while head -c 10M /dev/zero > f$i; do i=$((i+1)); done; exit 1
big-output	0	state SUCCESS	PT120S	yes "$(printf %999s | tr " " x)" | head -n 20000
ignores-sigterm	1	Timeout after 0:00:02.000	PT2S	trap "" TERM INT HUP; sleep 60
daemon-then-timeout	1	Timeout after 0:00:02.000	PT2S	(setsid sh -c "exec sleep 303" > /dev/null 2>&1 &); sleep 60
CASES
)
while IFS=$'\t' read -r name want pattern timeout cmd; do
  "$KWGT_BIN" submit --database-url "$DB" --group sbf --timeout 90s "$IT_TMP/good.yaml" \
    >"$IT_TMP/good.out" 2>&1 &
  good=$!
  hostile "defaults-$name" sbf "$want" "$(printf '%b' "$pattern")" "$timeout" "$cmd"
  grc=0
  wait "$good" || grc=$?
  gout="$grc $(cat "$IT_TMP/good.out")"
  if [[ "$gout" =~ ^0\ .*INFO\ \ 3.*state\ SUCCESS ]]; then
    pass "defaults: a well-behaved task beside $name succeeds"
  elif [ -z "$CGROUPS" ] && [ "$name" == fork-bomb ] && [[ "$gout" =~ Resource\ temporarily\ unavailable|Cannot\ fork ]]; then
    pass "defaults (rlimits): a task beside the fork bomb ends honestly, refused a process by the task user's shared limit"
  else
    fail "defaults: the task beside $name: $(tail -c 1500 <<<"$gout")"
  fi
done <<<"$DEFAULTS"
no_daemon_303() { ! pgrep -f "sleep 303" >/dev/null; }
wait_for "the daemon of a timed-out task gone" 10 no_daemon_303 && pass "defaults: no daemon outlives its timed-out task"
kill -0 "$F" && pass "defaults: the worker is still running" || fail "defaults: the worker died"
submit "$IT_TMP/good.yaml" --group sbf
expect_match "$RC $OUT" "^0 .*INFO  3.*state SUCCESS" "defaults: the worker serves a task after the hostile ones"
it_stop "$F" 30
umount -l "$SMALL" 2>/dev/null || true

# The container profile on this host (what the worker image runs in an ordinary container, where
# tests/sandbox/test_container.sh runs it): no namespaces, a reaper that kills what a task leaves.
it_worker c --group sbc --default-runner process --sandbox container "${LIMITS[@]}"
C=$WORKER_PID
wait_for "the container-profile worker claiming" 10 grep -q "claiming tasks" "$IT_TMP/c.log"
expect_match "$(cat "$IT_TMP/c.log")" "W worker: sandbox container: tasks run without namespaces" \
  "container: the start log says what the profile misses"
hostile container-daemon sbc 0 "INFO  spawned" PT20S '(setsid sh -c "exec sleep 304" > /dev/null 2>&1 &); echo spawned'
hostile container-daemon-timeout sbc 1 "Timeout after 0:00:02.000" PT2S '(setsid sh -c "exec sleep 305" > /dev/null 2>&1 &); sleep 60'
hostile container-fork-bomb sbc 1 "Timeout after|Resource temporarily unavailable|Cannot fork" PT4S 'f() { f | f & }; f; sleep 10'
hostile container-worker-environ sbc 1 "Permission denied" PT20S "cat /proc/$C/environ"
hostile container-worker-kill sbc 1 "Operation not permitted" PT20S "kill -9 $C"
hostile container-mount sbc 0 "mount blocked: EPERM" PT20S "$PROBE mount"
hostile container-unshare sbc 0 "unshare blocked: EPERM" PT20S "$PROBE unshare"
hostile container-sees-processes sbc 0 "INFO  ([2-9]|[0-9]{2,})" PT20S 'ls /proc | grep -c "^[0-9]"'
no_container_daemons() { ! pgrep -f "sleep 30[45]" >/dev/null; }
wait_for "the container-profile daemons gone" 10 no_container_daemons &&
  pass "container: no daemon outlives its task, ended or timed out (reaper)"
no_bomb() { ! pgrep -u nobody -f "sleep 10" >/dev/null; }
wait_for "the container-profile fork bomb gone" 10 no_bomb && pass "container: the fork bomb is gone"
kill -0 "$C" && pass "container: the worker is still running" || fail "container: the worker died"
it_stop "$C" 30

# The operator's policy override: deny one more syscall, allow one of the profile's.
printf '# site policy\ndeny uname\nallow keyctl   # our tasks manage keyrings\n' >"$IT_TMP/policy"
it_worker p --group sbp --default-runner process --sandbox-policy "$IT_TMP/policy"
P=$WORKER_PID
wait_for "the policy worker's start line" 10 grep -q "group sbp" "$IT_TMP/p.log"
expect_match "$(cat "$IT_TMP/p.log")" "sandbox_policy .*: 1 syscall\(s\) denied on top of the profile, 1 allowed" \
  "the override is announced at start"
hostile policy-deny sbp 1 "Operation not permitted" PT20S 'uname'
hostile policy-allow sbp 1 "keyctl ALLOWED" PT20S "$PROBE keyctl"
it_stop "$P" 30
printf 'deny not_a_syscall\n' >"$IT_TMP/bad-policy"
out=$("$KWGT_BIN" worker --database-url "$DB" --sandbox-policy "$IT_TMP/bad-policy" --management-port 0 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 1 "an override naming an unknown syscall refuses the start"
expect_match "$out" "'not_a_syscall' is not a syscall of this architecture" "and names it"
printf 'forbid uname\n' >"$IT_TMP/bad-policy"
out=$("$KWGT_BIN" worker --database-url "$DB" --sandbox-policy "$IT_TMP/bad-policy" --management-port 0 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*line 1: expected \"deny NAME\" or \"allow NAME\"" "a malformed override names its line"

# The start-up probe: a working directory parent the task user cannot enter stops the worker at
# start, naming the step, instead of failing every task. The probe runs beside the first
# connections: the worker neither registers nor claims before it has passed.
mkdir -p "$IT_TMP/closed" && chmod 700 "$IT_TMP/closed"
instances=$(sql "SELECT count(*) FROM service_instance")
out=$("$KWGT_BIN" worker --database-url "$DB" --work-dir "$IT_TMP/closed" --management-port 0 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 1 "a sandbox that cannot be set up refuses the start"
expect_match "$out" "the default sandbox cannot be set up on this machine: entering the working directory failed: Permission denied; refusing to start" \
  "and names the step that failed"
expect_eq "$(sql "SELECT count(*) FROM service_instance")" "$instances" "and registers nothing"
expect_eq "$(grep -c "claiming tasks" <<<"$out")" 0 "nor claims"
# The probe asks whether the kernel lets kwg-exec make the sandbox, not whether the task user may
# fork: RLIMIT_NPROC counts that user's processes on the whole host (other workers' tasks, a fork
# bomb), and a worker starting beside them must not refuse to start.
NOBODY_PIDS=()
for _ in $(seq 20); do
  setpriv --reuid 65534 --regid 65534 --clear-groups sleep 60 &
  NOBODY_PIDS+=($!)
done
nobody_sleeps() { [ "$(pgrep -u 65534 -c -x sleep)" -ge 20 ]; }
wait_for "20 processes of the task user" 10 nobody_sleeps
it_worker busy --group sbbusy --task-processes 16
B=$WORKER_PID
wait_for "a worker starting while the task user has more processes than task_processes" 20 \
  grep -q "claiming tasks" "$IT_TMP/busy.log"
it_stop "$B" 30
kill "${NOBODY_PIDS[@]}" 2>/dev/null || true
wait "${NOBODY_PIDS[@]}" 2>/dev/null || true

# The whole battery again through `kwg sandbox`, without a worker.
DIRECT_LIMITS=(--processes 300 --memory 1GiB --file-size 10MiB)
mkdir -p "$IT_TMP/direct" && chmod 777 "$IT_TMP/direct"
while IFS=$'\t' read -r name profile want pattern timeout direct cmd; do
  direct_case "$name" "$profile" "$want" "$pattern" "$timeout" "$direct" "$cmd"
done <<<"$BATTERY"
wait_for "the double-forked daemon of the direct run gone" 10 no_daemon
[ ! -e /var/tmp/kwg-escape ] && [ ! -e /usr/kwg-escape ] && pass "no file escaped kwg sandbox" ||
  fail "a file escaped kwg sandbox"
out=$("$KWGT_BIN" sandbox --workdir "$IT_TMP/direct" -- /no/such/program 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 127 "kwg sandbox: a missing program exits 127"
expect_match "$out" "executing the command failed: No such file or directory" "and says which step failed"
it_stop "$D" 30
it_stop "$S" 30
it_stop "$O" 30
rm -rf "$TOOLS"
it_done
