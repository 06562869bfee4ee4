#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The spare kwg-exec (runner/spare.h): a sandboxed worker keeps one kwg-exec parked in the next
# task's fresh cgroups; a task runs in it (its cgroups are the spare's, with the task's limits),
# and another is parked at once. A spare killed from outside costs nothing: the next task starts
# its own kwg-exec and a new spare is parked. The worker's stop takes the spare with it.
source "$(dirname "$0")/../lib/it.sh"
it_db spare
[ "$(id -u)" -eq 0 ] || { echo "skipped: the sandbox tests run as root"; exit 0; }

LE=io.kestra.core.models.executions.LogEntry
WTR=io.kestra.core.runners.WorkerTaskResult
spare_pid() { pgrep -P "$WORKER_PID" -f -- 'kwg-exec --parked' | head -n 1; }
has_spare() { [ -n "$(spare_pid)" ]; }
lines() { sql "SELECT value->>'message' FROM queues WHERE type = '$LE' AND value->>'taskRunId' = '$1' ORDER BY \"offset\""; }
state() { sql "SELECT value->'taskRun'->'state'->>'current' FROM queues WHERE type = '$WTR' AND key = '$1' ORDER BY \"offset\" DESC LIMIT 1"; }
done_ok() { [ "$(state "$1")" == SUCCESS ]; }
started() { lines "$1" | grep -q "^started$"; }

# A dead worker's task cgroups (cgroup v1 here when writable: kwg/<pid>/<task> in each hierarchy)
# are swept by the next worker, off the way to its first claim.
dead=$(sh -c 'echo $$')
stale=()
for h in memory pids; do
  [ -w "/sys/fs/cgroup/$h" ] && [ ! -e /sys/fs/cgroup/cgroup.controllers ] || continue
  mkdir -p "/sys/fs/cgroup/$h/kwg/$dead/task-1" && stale+=("/sys/fs/cgroup/$h/kwg/$dead")
done
stale_gone() { for d in "${stale[@]}"; do [ ! -e "$d" ] || return 1; done; }
# A task queued before the worker starts (a backlog when a replica is added) finds the first
# spare: it is started at the loop's first turn, before the first claim can be answered.
it_jobs q 1 sp '["cat /proc/self/cgroup"]'
it_worker w --group sp --concurrency 2 --task-memory 300MiB
[ ${#stale[@]} -eq 0 ] || wait_for "a dead worker's task cgroups swept" 10 stale_gone
wait_for "the worker claims" 20 grep -q "claiming tasks" "$IT_TMP/w.log"
cgroups=true
grep -q "limits by cgroup" "$IT_TMP/w.log" || cgroups=false
wait_for "task q1 done" 15 done_ok q1
if $cgroups; then
  expect_match "$(lines q1 | grep -m1 ':memory:')" "/kwg/$WORKER_PID/spare-1$" \
    "a task queued before the worker started ran in the first spare"
fi
wait_for "a spare kwg-exec parked" 10 has_spare
first=$(spare_pid)
if $cgroups; then
  expect_match "$(cat "/proc/$first/cgroup")" "/kwg/$WORKER_PID/spare-2" "the spare waits in the next task's cgroups"
fi

# A task takes the spare: it runs in the spare's cgroups, with its own memory limit.
it_jobs a 1 sp '["cat /proc/self/cgroup", "echo started", "sleep 2"]'
wait_for "task a1 started" 15 started a1
if $cgroups; then
  memory=$(lines a1 | grep -m1 ':memory:' | cut -d: -f3)
  expect_match "$memory" "^/kwg/$WORKER_PID/spare-2$" "the task ran in the spare's memory cgroup"
  expect_eq "$(cat "/sys/fs/cgroup/memory$memory/memory.limit_in_bytes" 2>/dev/null)" 314572800 \
    "the task's memory limit is set on the spare's cgroup"
fi
wait_for "a new spare parked" 10 bash -c "p=\$(pgrep -P $WORKER_PID -f -- 'kwg-exec --parked' | head -n 1); [ -n \"\$p\" ] && [ \"\$p\" != $first ]"
wait_for "task a1 done" 15 done_ok a1
expect_eq "$(state a1)" SUCCESS "the task through the spare succeeds"
if $cgroups; then
  gone() { [ ! -d "/sys/fs/cgroup/memory$memory" ]; }
  wait_for "the task's cgroup removed" 10 gone && pass "the spare's cgroup is removed with its task"
fi

# A spare killed from outside: the next task starts its own kwg-exec; a new spare follows.
victim=$(spare_pid)
kill -KILL "$victim"
wait_for "the worker sees the spare die" 10 grep -q "spare kwg-exec exited" "$IT_TMP/w.log"
it_jobs b 1 sp '["cat /proc/self/cgroup", "echo started"]'
wait_for "task b1 done" 15 done_ok b1
expect_eq "$(state b1)" SUCCESS "a task after the spare was killed still runs"
if $cgroups; then
  expect_match "$(lines b1 | grep -m1 ':memory:')" "/kwg/$WORKER_PID/[A-Za-z0-9]+$" "it ran in cgroups of its own (not a spare's)"
fi
wait_for "a spare parked again" 10 has_spare
it_jobs c 1 sp '["echo started"]'
wait_for "task c1 done" 15 done_ok c1
expect_eq "$(state c1)" SUCCESS "the next task runs through the new spare"

last=$(spare_pid)
it_stop "$WORKER_PID" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
gone_pid() { ! kill -0 "$last" 2>/dev/null; }
wait_for "the spare gone with the worker" 5 gone_pid && pass "no spare kwg-exec outlives the worker"
it_done
