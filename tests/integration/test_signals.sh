#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# SIGTERM (what Swarm and docker stop send): under load (50 tasks running) the worker claims
# nothing more, lets every task finish, loses and duplicates nothing, ends TERMINATED_GRACEFULLY,
# exits 0. Past the grace period the rest is stopped by the restart strategy (TERMINATED_FORCED);
# a second signal does not wait.
source "$(dirname "$0")/../lib/it.sh"
it_db signals

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
count() { sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key LIKE '$1%' AND value->'taskRun'->'state'->>'current' = '$2'"; }
have() { [ "$(count "$1" "$2")" -ge "$3" ]; }
exited() { ! kill -0 "$1" 2>/dev/null; }
final_state() { sql "SELECT state FROM service_instance WHERE value->'props'->>'worker.group' = 'sig' ORDER BY updated_at DESC LIMIT 1"; }

it_worker a --group sig --concurrency 50
A=$WORKER_PID
it_jobs a- 50 sig '["echo begin", "sleep 2", "echo end"]'
wait_for "50 tasks running" 20 have a- RUNNING 50
kill -TERM "$A"
it_jobs late- 10 sig '["echo begin", "true", "echo end"]'
wait_for "worker a to finish its tasks and exit" 30 exited "$A"
rc=0
wait "$A" || rc=$?
expect_eq "$rc" 0 "SIGTERM under load: exit 0"
expect_eq "$(count a- SUCCESS)" 50 "every running task finished SUCCESS"
expect_eq "$(sql "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' AND key LIKE 'a-%' GROUP BY key HAVING count(*) <> 2) s")" 0 \
  "each task has exactly one RUNNING and one final result"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE value->>'taskRunId' LIKE 'a-%' AND value->>'message' = 'end'")" 50 \
  "no log line lost"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WJ' AND key LIKE 'late-%' AND NOT consumer_worker")" 10 \
  "nothing was claimed after SIGTERM"
expect_eq "$(final_state)" TERMINATED_GRACEFULLY "the service ends TERMINATED_GRACEFULLY"

# Past the grace period, with the default restart strategy: stopped tasks emit nothing (Kestra
# resubmits them) and the worker ends TERMINATED_FORCED.
sql "DELETE FROM queues WHERE key LIKE 'late-%'"
it_worker b --group sig --termination-grace-period 1s
B=$WORKER_PID
it_jobs b- 1 sig '["echo begin", "sleep 60", "echo end"]'
wait_for "b-1 running" 20 have b- RUNNING 1
kill -TERM "$B"
wait_for "worker b to stop after its grace period" 15 exited "$B"
rc=0
wait "$B" || rc=$?
expect_eq "$rc" 0 "grace period over: exit 0"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = 'b-1'")" 1 \
  "restartable strategy: the stopped task emits no final result (Kestra resubmits it)"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running WHERE key = 'b-1'")" 1 "its worker_job_running record stays"
expect_eq "$(final_state)" TERMINATED_FORCED "the service ends TERMINATED_FORCED"

# Restart strategy NEVER, and a second signal that does not wait for the grace period.
it_worker c --group sig --restart-strategy NEVER
C=$WORKER_PID
it_jobs c- 1 sig '["echo begin", "sleep 60", "echo end"]'
wait_for "c-1 running" 20 have c- RUNNING 1
kill -TERM "$C"
wait_for "the first signal seen" 5 grep -q "claiming stopped" "$IT_TMP/c.log"
kill -TERM "$C"
wait_for "worker c to stop on the second signal" 15 exited "$C"
rc=0
wait "$C" || rc=$?
expect_eq "$rc" 0 "second signal: exit 0"
expect_eq "$(count c- FAILED)" 1 "restart strategy NEVER: the stopped task is reported FAILED"
expect_eq "$(final_state)" TERMINATED_FORCED "and the service ends TERMINATED_FORCED"
it_done
