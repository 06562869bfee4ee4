#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The cgroup v2 path: a worker in a delegated cgroup of its own (systemd-run --scope -p
# Delegate=yes, as the systemd unit's Delegate=yes) moves into kwg/<pid>/worker, caps every task
# together in kwg/<pid>/tasks (memory.max, pids.max) and gives each task its own cgroup there;
# a task killed by its memory.max is said to be (memory.events oom_kill). Runs wherever the host
# offers the unified hierarchy with the memory and pids controllers, as root with systemd-run;
# elsewhere it says plainly why it cannot and exits 77 (skip). The CI hosts are cgroup v1: there
# the rlimit fallback is what runs (sandbox.container: an ordinary container's read-only cgroupfs).
source "$(dirname "$0")/../lib/it.sh"
skip() {
  echo "cgroup v2 test skipped: $*"
  exit 77
}
[ -f /sys/fs/cgroup/cgroup.controllers ] ||
  skip "this host mounts cgroup v1 at /sys/fs/cgroup ($(stat -fc %T /sys/fs/cgroup)), not the unified hierarchy: the v2 path cannot run here"
for c in memory pids; do
  grep -qw "$c" /sys/fs/cgroup/cgroup.controllers ||
    skip "the unified hierarchy has no $c controller ($(cat /sys/fs/cgroup/cgroup.controllers))"
done
[ "$(id -u)" -eq 0 ] || skip "needs root (a task user, and a delegated cgroup)"
command -v systemd-run >/dev/null || skip "no systemd-run to delegate a cgroup to the worker"
state=$(systemctl is-system-running 2>/dev/null || true)
case $state in
running | degraded) ;;
*) skip "no running systemd to delegate a cgroup (systemctl is-system-running: '$state')" ;;
esac
it_db cgroupv2
UNIT=kwg-v2-test-$$
mkdir -p "$IT_TMP/wd"
systemd-run --quiet --scope --unit "$UNIT" -p Delegate=yes \
  "$KWGT_BIN" worker --database-url "$DB" --work-dir "$IT_TMP/wd" --management-port 0 \
  --group v2 --default-runner process --concurrency 2 --task-memory 256MiB --task-processes 100 \
  >"$IT_TMP/v2.log" 2>&1 &
W=$!
IT_PIDS+=("$W")
wait_for "the worker claiming" 20 grep -q "claiming tasks" "$IT_TMP/v2.log" || { fail "$(cat "$IT_TMP/v2.log")"; it_done; }
LOG=$(cat "$IT_TMP/v2.log")
expect_match "$LOG" "limits by cgroup v2 \(memory, pids; one cgroup per task, all of them in a worker-wide one\)" \
  "the worker uses cgroup v2 in its delegated cgroup"
wpid=$(pgrep -f "worker --database-url $DB" | head -1 || true)
wpid=${wpid:-$W}
own=$(sed -n 's/^0:://p' "/proc/$wpid/cgroup")
expect_match "$own" "/kwg/$wpid/worker$" "the worker moved into a leaf of its own"
tasks=/sys/fs/cgroup${own%/worker}/tasks
all_mib=$(sed -n 's/.*limits: all tasks together: memory \([0-9]*\) MiB.*/\1/p' <<<"$LOG")
[ -n "$all_mib" ] && expect_eq "$(($(cat "$tasks/memory.max") >> 20))" "$all_mib" \
  "the worker-wide memory.max holds every task together"
expect_match "$(cat "$tasks/pids.max")" "^[0-9]+$" "the worker-wide pids.max is set"

task() { printf 'id: %s\ntype: io.kestra.plugin.scripts.shell.Commands\ntimeout: %s\ncommands:\n  - |\n    %s\n' \
  "$1" "$2" "$3" >"$IT_TMP/$1.yaml"; }
task where PT20S 'cat /proc/self/cgroup; cat /sys/fs/cgroup$(sed -n "s/^0:://p" /proc/self/cgroup)/memory.max'
submit "$IT_TMP/where.yaml" --group v2
expect_match "$RC $OUT" "^0 .*INFO  0::${own%/worker}/tasks/[^/]+.*INFO  268435456" \
  "a task runs in its own cgroup under the worker-wide one, with memory.max = task_memory"
task membomb PT60S 'python3 -c "x = bytearray(1 << 30)"'
submit "$IT_TMP/membomb.yaml" --group v2
expect_match "$RC $OUT" "^1 .*the task was killed by its memory limit \(task_memory, a cgroup\)" \
  "a task over its memory.max is killed, and the log says so (memory.events)"
task forkbomb PT5S 'f() { f | f & }; f; sleep 10'
submit "$IT_TMP/forkbomb.yaml" --group v2
expect_match "$RC $OUT" "^1 .*(Resource temporarily unavailable|Cannot fork|Timeout after)" \
  "a fork bomb stops at its pids.max"
it_stop "$W" 30
left=$(find "$tasks" -mindepth 1 -type d 2>/dev/null | wc -l)
expect_eq "$left" 0 "the task cgroups are gone after the worker stopped"
it_done
