#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Liveness as a Kestra 1.x worker (kestra-protocol.md §7): the service_instance row and its
# transitions; a coordinator-style disconnect stops the worker; kill -9 leaves worker_job_running
# for resubmission and the resubmitted task completes once on another worker; a worker that cannot
# heartbeat stops itself.
source "$(dirname "$0")/../lib/it.sh"
it_db liveness

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
si() { sql "SELECT $1 FROM service_instance WHERE key = '$2'"; }
worker_id() { sed -n 's/.* worker \([0-9a-f-]\{36\}\): group.*/\1/p' "$IT_TMP/$1.log" | head -n 1; }
state_is() { [ "$(si state "$1")" == "$2" ]; }
exited() { ! kill -0 "$1" 2>/dev/null; }

it_worker a --group live --restart-strategy IMMEDIATELY --liveness-timeout 45s
A=$WORKER_PID
wait_for "worker a's start line" 10 grep -q "group live" "$IT_TMP/a.log"
AID=$(worker_id a)
wait_for "worker a RUNNING in service_instance" 10 state_is "$AID" RUNNING
expect_eq "$(si "value->>'type'" "$AID")" WORKER "the row is a WORKER"
expect_eq "$(si "value->'props'->>'worker.group'" "$AID")" live "props carry worker.group"
expect_eq "$(si "value->'config'->'liveness'->>'timeout' || ' ' || (value->'config'->'liveness'->>'heartbeatInterval') || ' ' || (value->'config'->>'workerTaskRestartStrategy')" "$AID")" \
  "45.0 0.5 IMMEDIATELY" "config carries the timeouts and restart strategy the executor judges it by"
seq_before=$(si "(value->>'seqId')::int" "$AID")
seq_grew() { [ "$(si "(value->>'seqId')::int" "$AID")" -ge $((seq_before + 3)) ]; }
wait_for "three more heartbeats" 10 seq_grew
pass "seqId grows with each heartbeat"
expect_eq "$(si "(SELECT string_agg(e->>'state', ',') FROM jsonb_array_elements(value->'events') e)" "$AID")" \
  "CREATED,RUNNING" "events are appended on state changes only"

# A task in flight when the worker dies (kill -9): its record stays for Kestra's resubmission.
sql "INSERT INTO queues (type, key, value, consumer_group) VALUES ('$WJ', 'r1', '{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"r1\",\"executionId\":\"x1\",\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\",\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.scripts.shell.Commands\",\"commands\":\"[\\\"echo once\\\",\\\"sleep 1000\\\"]\",\"taskRunner\":{\"type\":\"io.kestra.plugin.core.runner.Process\"}},\"runContext\":{}}', 'live')"
running_r1() { [ "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = 'r1'")" == 1 ]; }
wait_for "task r1 running on worker a" 10 running_r1
kill -KILL "$A"
wait "$A" 2>/dev/null || true
expect_eq "$(sql "SELECT worker_uuid FROM worker_job_running WHERE key = 'r1'")" "$AID" \
  "after kill -9 the worker_job_running record of the task stays, naming the dead worker"
task_gone() { ! pgrep -f "sleep 1000" >/dev/null; }
wait_for "the dead worker's task gone" 5 task_gone
pass "the task of a killed worker dies with it (it cannot run twice once resubmitted)"
# The executor's resubmission (kestra-protocol.md §7.5), played here: the stored job again, its
# unfinished attempt marked KILLED.
sql "INSERT INTO queues (type, key, value, consumer_group)
     SELECT '$WJ', key, jsonb_build_object('type', 'task', 'task', value->'task', 'runContext', value->'runContext',
       'taskRun', jsonb_set(value->'taskRun', '{attempts}', '[{\"state\":{\"current\":\"KILLED\",\"histories\":[{\"state\":\"KILLED\",\"date\":\"2025-09-02T10:16:00.000000Z\"}]}}]'::jsonb)),
       value->'workerInstance'->>'workerGroup'
     FROM worker_job_running WHERE worker_uuid = '$AID'"
sql "UPDATE queues SET value = jsonb_set(value, '{task,commands}', '\"[\\\"echo once\\\"]\"') WHERE key = 'r1' AND NOT consumer_worker"
it_worker b --group live
B=$WORKER_PID
final_r1() { [ "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = 'r1' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == 1 ]; }
wait_for "the resubmitted task completed on worker b" 20 final_r1
BID=$(worker_id b)
expect_eq "$(sql "SELECT jsonb_array_length(value->'taskRun'->'attempts') || ' ' || (value->'taskRun'->'attempts'->1->>'workerId') FROM queues WHERE type = '$WTR' AND key = 'r1' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" \
  "2 $BID" "the resubmitted task ran as attempt 2 on worker b"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = 'r1' AND value->'taskRun'->'state'->>'current' IN ('SUCCESS','FAILED','KILLED','WARNING')")" 1 \
  "exactly one final result for the task"

# The coordinator disconnects worker b (its stored state becomes DISCONNECTED): b stops at once.
wait_for "worker b RUNNING" 10 state_is "$BID" RUNNING
sql "UPDATE service_instance SET value = jsonb_set(value, '{state}', '\"DISCONNECTED\"') WHERE key = '$BID'"
wait_for "worker b to exit after being disconnected" 10 exited "$B"
rc=0
wait "$B" || rc=$?
expect_eq "$rc" 1 "a disconnected worker exits 1"
expect_match "$(cat "$IT_TMP/b.log")" "liveness lost: the stored state is DISCONNECTED" "and says why"

# A worker that cannot write its heartbeat stops itself after its liveness timeout.
it_worker c --group live --liveness-timeout 2s
C=$WORKER_PID
CID=""
wait_for "worker c's start line" 10 grep -q "group live" "$IT_TMP/c.log"
CID=$(worker_id c)
wait_for "worker c RUNNING" 10 state_is "$CID" RUNNING
sql "ALTER TABLE service_instance RENAME TO service_instance_away"
wait_for "worker c to stop itself" 15 exited "$C"
sql "ALTER TABLE service_instance_away RENAME TO service_instance"
rc=0
wait "$C" || rc=$?
expect_eq "$rc" 1 "a worker without heartbeat for its liveness timeout exits 1"
expect_match "$(cat "$IT_TMP/c.log")" "liveness lost: no heartbeat could be written for [0-9]+ ms" "and says why"

# A worker is registered before it holds a job: Kestra resubmits only the jobs of workers it knows
# (§7.5). With service_instance locked against writes, the worker's first claim waits behind its
# registration and claims nothing; once the lock goes, the job runs and the worker is known.
it_jobs reg 1 reg '["echo registered"]'
psql "$DB" -qAtX -c "BEGIN" -c "LOCK TABLE service_instance IN EXCLUSIVE MODE" -c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
LOCKER=$!
locked() { [ "$(sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'service_instance' AND l.mode = 'ExclusiveLock' AND l.granted")" == 1 ]; }
wait_for "service_instance locked" 10 locked
it_worker d --group reg --liveness-timeout 45s
D=$WORKER_PID
waiting_claim() { [ "$(sql "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO service_instance%DO NOTHING'")" -ge 1 ]; }
wait_for "worker d's first claim waiting for its registration" 15 waiting_claim &&
  pass "the first claim registers the worker first"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running WHERE key = 'reg1'")" 0 "no job held by an unregistered worker"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WJ' AND key = 'reg1' AND consumer_worker")" 0 "the job is still queued"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()" >/dev/null
wait "$LOCKER" 2>/dev/null || true
done_reg() { [ "$(sql "SELECT value->'taskRun'->'state'->>'current' FROM queues WHERE type = '$WTR' AND key = 'reg1' ORDER BY \"offset\" DESC LIMIT 1")" == SUCCESS ]; }
wait_for "the job done once the lock went" 15 done_reg && pass "the job runs once the worker is registered"
DID=$(worker_id d)
wait_for "worker d RUNNING" 10 state_is "$DID" RUNNING
expect_eq "$(sql "SELECT value->'workerInstance'->>'workerUuid' FROM worker_job_running WHERE key = 'reg1'")" "$DID" \
  "the job's worker_job_running record names the registered worker"
expect_eq "$(grep -c "heartbeat failed" "$IT_TMP/d.log")" 0 "the heartbeat's first write beside the claim's registration fails nowhere"
it_stop "$D" 30
it_done
