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
wait_for "the workers' start lines" 10 grep -q "group sbs" "$IT_TMP/s.log"

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
  submit "$IT_TMP/$name.yaml" --group "$group"
  if [ "$RC" == "$want" ] && [[ "$OUT" =~ $pattern ]]; then
    pass "$name"
  else
    fail "$name: exit $RC (want $want), pattern '$pattern' in: $(printf '%s' "$OUT" | tail -c 1500)"
  fi
}

hostile fork-bomb sbd 1 "Timeout after|Resource temporarily unavailable|fork" PT4S 'f() { f | f & }; f; sleep 10'
# Which limit stops it first (memory, or the CPU spent reclaiming) depends on the machine's load;
# either way the task ends FAILED with a line that says which.
hostile memory-bomb sbd 1 "MemoryError|Cannot allocate|killed by its memory limit|CPU time limit" PT20S 'python3 -c "x = bytearray(4 << 30)"'
hostile cpu-spin sbd 1 "CPU time limit.*exit code 152" PT20S 'while :; do :; done'
hostile disk-fill sbd 1 "file size limit.*exit code 153" PT20S 'head -c 50M /dev/zero > big'
hostile big-output sbd 0 "state SUCCESS" PT60S 'head -c 50000000 /dev/zero | tr "\0" x | fold -w 1000'
hostile ten-mb-line sbd 0 "state SUCCESS" PT60S 'head -c 10000000 /dev/zero | tr "\0" x; echo'
hostile binary-output sbd 0 "state SUCCESS" PT20S 'head -c 100000 /dev/urandom'
hostile worker-environ sbd 1 "No such file" PT20S "cat /proc/$D/environ"
hostile worker-ptrace sbd 0 "ptrace blocked: (ESRCH|EPERM)" PT20S "$PROBE ptrace $D"
hostile worker-kill sbd 1 "No such process" PT20S "kill -9 $D"
hostile kill-everything sbd 1 "." PT20S 'kill -9 -1; sleep 1; exit 1'
for probe in mount unshare setns keyctl bpf perf_event_open io_uring_setup userfaultfd \
  kexec_load init_module reboot settimeofday sethostname; do
  hostile "$probe" sbd 0 "$probe blocked: EPERM" PT20S "$PROBE $probe"
done
hostile write-outside-strict sbs 1 "Read-only file system" PT20S 'touch /var/tmp/kwg-escape'
hostile network-strict sbs 0 "socket-inet blocked: EAFNOSUPPORT" PT20S "$PROBE socket-inet"
hostile ptrace-strict sbs 0 "ptrace blocked: EPERM" PT20S "$PROBE ptrace 1"
hostile setuid-binary sbd 0 "uid=65534\(nobody\) gid=65534\(nogroup\) groups" PT20S "$TOOLS/suid-id"
hostile read-shadow sbd 1 "Permission denied" PT20S 'cat /etc/shadow'
hostile shadow-symlink sbd 1 "Permission denied" PT20S 'ln -s /etc/shadow leak; cat leak'
hostile double-fork-daemon sbd 0 "state SUCCESS" PT20S '(setsid sh -c "exec sleep 300" > /dev/null 2>&1 &); echo spawned'
hostile sleep-past-timeout sbd 1 "Timeout after 0:00:01.000" PT1S 'sleep 60'
hostile close-stdout-run-on sbd 0 "state SUCCESS" PT20S 'exec > /dev/null 2>&1; sleep 1; touch done-marker'
hostile env-scrubbed sbd 0 "INFO  0"$'\n' PT20S 'env | grep -c -E "KWG_|SECRET_|PGHOST|DATABASE" || true'
hostile fd-leak sbd 0 "INFO  0 1 2 3"$'\n' PT20S 'ls /proc/self/fd | sort -n | tr "\n" " " | sed "s/ $//"'
hostile own-pid-namespace sbd 0 "INFO  [0-9]"$'\n' PT20S 'ls /proc | grep -c "^[0-9]"'

# The daemon of double-fork-daemon died with its task (its pid namespace ended).
no_daemon() { ! pgrep -u nobody -f "sleep 300" >/dev/null; }
wait_for "the double-forked daemon gone" 10 no_daemon
pass "a double-forked setsid daemon does not outlive its task"
kill -0 "$D" && kill -0 "$S" && pass "both workers still running" || fail "a worker died"
expect_eq "$(hostname; date +%Y; ls /etc | md5sum)" "$HOST_BEFORE" "nothing outside the working directories changed"
[ ! -e /var/tmp/kwg-escape ] && pass "no file escaped the strict sandbox" || fail "/var/tmp/kwg-escape exists"

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
# start, naming the step, instead of failing every task.
mkdir -p "$IT_TMP/closed" && chmod 700 "$IT_TMP/closed"
out=$("$KWGT_BIN" worker --database-url "$DB" --work-dir "$IT_TMP/closed" --management-port 0 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 1 "a sandbox that cannot be set up refuses the start"
expect_match "$out" "the default sandbox cannot be set up on this machine: entering the working directory failed: Permission denied; refusing to start" \
  "and names the step that failed"

# The same probes through `kwg sandbox`, without a worker.
mkdir -p "$IT_TMP/direct" && chmod 777 "$IT_TMP/direct"
for probe in mount unshare keyctl bpf io_uring_setup userfaultfd init_module reboot; do
  out=$("$KWGT_BIN" sandbox --workdir "$IT_TMP/direct" -- "$PROBE" "$probe" 2>&1) && rc=0 || rc=$?
  expect_eq "$rc:$out" "0:$probe blocked: EPERM" "kwg sandbox: $probe"
done
out=$("$KWGT_BIN" sandbox --profile strict --workdir "$IT_TMP/direct" -- "$PROBE" socket-inet 2>&1) && rc=0 || rc=$?
expect_eq "$rc:$out" "0:socket-inet blocked: EAFNOSUPPORT" "kwg sandbox --profile strict: no network"
out=$("$KWGT_BIN" sandbox --workdir "$IT_TMP/direct" -- /no/such/program 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 127 "kwg sandbox: a missing program exits 127"
expect_match "$out" "executing the command failed: No such file or directory" "and says which step failed"
it_stop "$D" 30
it_stop "$S" 30
rm -rf "$TOOLS"
it_done
