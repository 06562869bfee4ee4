#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Faults under load (docs/operations.md, "Faults under load"): KWGT_FAULT_TASKS (1,000) queued
# tasks, concurrency 8, and
#   (a) kill -9 of the worker mid-load; the test plays Kestra's liveness coordinator and executor
#       (kestra-protocol.md §7.5): DISCONNECTED after the liveness timeout written in the worker's
#       own record, its unfinished jobs re-emitted through onRunningResend; a second worker serves
#       the rest. Every task run ends once per attempt, none is lost;
#   (b) PostgreSQL restarted, then stopped until the worker notices and started again, mid-load:
#       no result and no log line lost or duplicated, every line of every task in order;
#   (c) the work directory's filesystem full (a small tmpfs), out of blocks mid-load and then out
#       of inodes: tasks fail with an error naming ENOSPC and the directory, the worker keeps
#       serving, and tasks succeed again once space is freed; then the database away while the
#       outbox's spill file (in the work directory) cannot grow: every line still arrives, in
#       order, also those a task left in its pipe when it exited. Skipped, saying so, where a
#       tmpfs cannot be mounted (not root).
# The test runs its own PostgreSQL cluster (it restarts it), so it can run beside other tests.
# Figures are printed as "figure: …" lines.
source "$(dirname "$0")/../lib/it.sh"

N=${KWGT_FAULT_TASKS:-1000}
WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
LOG=io.kestra.core.models.executions.LogEntry
TERMINAL="'SUCCESS','FAILED','KILLED','WARNING'"
MNT=$IT_TMP/full

faults_cleanup() {
  local pid
  for pid in "${IT_PIDS[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || true; fi
  it_cleanup
}
trap faults_cleanup EXIT

figure() { echo "figure: $*"; }
now_ms() { date +%s%3N; }

T_START=$(now_ms)
it_own_cluster

# How many task runs PREFIX* have a terminal last result (the executor's view).
terminal() { sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) value->'taskRun'->'state'->>'current' AS s FROM queues WHERE type = '$WTR' AND key LIKE '$1%' ORDER BY key, \"offset\" DESC) l WHERE s IN ($TERMINAL)" 2>/dev/null || echo 0; }
at_least() { [ "$(terminal "$1")" -ge "$2" ]; }
worker_id() { sed -n 's/.* worker \([0-9a-f-]\{36\}\): group.*/\1/p' "$IT_TMP/$1.log" | head -n 1; }

# ---------------------------------------------------------------------------------------------
# (a) kill -9 mid-load, resubmission as Kestra's executor does it, a second worker.
it_db faults_kill
# Worker a publishes a short liveness timeout, so the coordinator judges it gone soon after the
# kill (3 s: it must still heartbeat in time on a loaded machine, or it would stop itself).
LIVE=(--concurrency 8 --restart-strategy IMMEDIATELY --liveness-timeout 3s --liveness-interval 1s
  --liveness-initial-delay 0s)
it_jobs k- "$N" fk '["seq 1 5", "sleep 0.05", "seq 6 10"]'
t0=$(now_ms)
it_worker a --group fk "${LIVE[@]}"
A=$WORKER_PID
wait_for "worker a's start line" 60 grep -q "group fk" "$IT_TMP/a.log"
AID=$(worker_id a)
wait_for "a third of the tasks ended on worker a" 300 at_least k- $((N / 3))
kill -KILL "$A" || fail "worker a had already exited: $(tail -n 3 "$IT_TMP/a.log")"
wait "$A" 2>/dev/null || true
t_kill=$(now_ms)
done_by_a=$(terminal k-)
figure "kill -9: worker a killed after $((t_kill - t0)) ms with $done_by_a of $N tasks ended"
# Its task processes die with it (none of this group runs elsewhere yet): none runs on when its
# job is resubmitted.
a_tasks_gone() { ! pgrep -f "seq 6 10" >/dev/null; }
wait_for "worker a's task processes gone" 60 a_tasks_gone
pass "the killed worker's task processes are gone"

# The coordinator's round (§7.5 step 1): the worker's own liveness settings say when it is gone.
silent() {
  [ "$(sql "SELECT count(*) FROM service_instance WHERE key = '$AID' AND state IN ('CREATED','RUNNING')
    AND value->'config'->'liveness'->>'enabled' = 'true'
    AND (value->>'updatedAt')::timestamptz + make_interval(secs => (value->'config'->'liveness'->>'timeout')::float8) < now()
    AND (value->>'createdAt')::timestamptz + make_interval(secs => (value->'config'->'liveness'->>'initialDelay')::float8) < now()")" == 1 ]
}
wait_for "worker a's record older than its liveness timeout" 120 silent
# One transaction: the executor has applied every result written (a terminated one deletes the
# task run's worker_job_running row, §5.8); the coordinator disconnects worker a and, its restart
# strategy being IMMEDIATELY, re-emits each remaining job with its task run through
# onRunningResend: no attempt -> a KILLED attempt (whose history is the task run's plus KILLED,
# the same KILLED entry also appended to the task run's history), an unterminated last attempt ->
# KILLED, else a new KILLED attempt; consumer_group = workerInstance.workerGroup.
resubmit=$(sql "
BEGIN;
UPDATE service_instance SET value = jsonb_set(jsonb_set(value, '{state}', '\"DISCONNECTED\"'), '{events}',
    value->'events' || jsonb_build_array(jsonb_build_object('ts', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),
      'value', 'The service was detected as non-responsive after the session timeout. Service transitioned to the ''DISCONNECTED'' state.',
      'type', 'service.state.updated', 'state', 'DISCONNECTED')))
  WHERE key = '$AID';
DELETE FROM worker_job_running w WHERE worker_uuid = '$AID' AND EXISTS (
  SELECT 1 FROM queues q WHERE q.type = '$WTR' AND q.key = w.key AND q.value->'taskRun'->'state'->>'current' IN ($TERMINAL));
WITH rows AS (
  SELECT key, value, jsonb_build_object('state', 'KILLED', 'date', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')) AS h
  FROM worker_job_running WHERE worker_uuid = '$AID' FOR UPDATE),
resent AS (
  SELECT key, value, CASE
    WHEN jsonb_array_length(COALESCE(value->'taskRun'->'attempts', '[]')) = 0 THEN
      jsonb_set(jsonb_set(value->'taskRun', '{attempts}', jsonb_build_array(jsonb_build_object('state', jsonb_build_object(
        'current', 'KILLED', 'histories', value->'taskRun'->'state'->'histories' || h)))),
        '{state,histories}', value->'taskRun'->'state'->'histories' || h)
    WHEN value->'taskRun'->'attempts'-> -1->'state'->>'current' NOT IN ('SUCCESS','FAILED','KILLED','WARNING','CANCELLED','RETRIED','SKIPPED') THEN
      jsonb_set(value->'taskRun', '{attempts,-1,state}', jsonb_build_object('current', 'KILLED',
        'histories', value->'taskRun'->'attempts'-> -1->'state'->'histories' || h))
    ELSE jsonb_set(value->'taskRun', '{attempts}', value->'taskRun'->'attempts' || jsonb_build_array(jsonb_build_object('state',
        jsonb_build_object('current', 'KILLED', 'histories', jsonb_build_array(jsonb_set(h, '{state}', '\"CREATED\"'), h)))))
    END AS task_run
  FROM rows),
emitted AS (
  INSERT INTO queues (type, key, value, consumer_group)
  SELECT '$WJ', key, jsonb_build_object('type', 'task', 'taskRun', task_run, 'task', value->'task', 'runContext', value->'runContext'),
    value->'workerInstance'->>'workerGroup'
  FROM resent RETURNING key)
SELECT count(*) FROM emitted;
COMMIT;")
t_resubmit=$(now_ms)
figure "kill -9: $resubmit job(s) of worker a resubmitted $((t_resubmit - t_kill)) ms after the kill"
if [ "$resubmit" -ge 1 ]; then pass "the killed worker's unfinished jobs were resubmitted ($resubmit)"; else fail "no job was resubmitted"; fi

it_worker b --group fk --concurrency 8
B=$WORKER_PID
wait_for "all $N tasks ended" 300 at_least k- "$N"
t_done=$(now_ms)
wait_for "worker b's start line" 60 grep -q "group fk" "$IT_TMP/b.log"
BID=$(worker_id b)
figure "kill -9: all $N tasks ended $((t_done - t0)) ms after the start, $((t_done - t_kill)) ms after the kill"
expect_eq "$(sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) value->'taskRun'->'state'->>'current' AS s FROM queues WHERE type = '$WTR' AND key LIKE 'k-%' ORDER BY key, \"offset\" DESC) l WHERE s = 'SUCCESS'")" \
  "$N" "by the executor's view (the last result of each task run) all $N tasks succeeded"
expect_eq "$(sql "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' AND key LIKE 'k-%' AND value->'taskRun'->'state'->>'current' IN ($TERMINAL)
  GROUP BY key, jsonb_array_length(value->'taskRun'->'attempts') HAVING count(*) > 1) d")" 0 \
  "no attempt has two terminal results"
dups=$(sql "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' AND key LIKE 'k-%' AND value->'taskRun'->'state'->>'current' IN ($TERMINAL) GROUP BY key HAVING count(*) > 1) d")
expect_eq "$dups" 0 "no task run has two terminal results (the executor had applied every result before resubmitting)"
expect_eq "$(sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) value->'taskRun' AS t FROM queues WHERE type = '$WTR' AND key LIKE 'k-%' ORDER BY key, \"offset\" DESC) l
  WHERE jsonb_array_length(t->'attempts') = 2 AND t->'attempts'->0->'state'->>'current' = 'KILLED'
    AND t->'attempts'->1->'state'->>'current' = 'SUCCESS' AND t->'attempts'->1->>'workerId' = '$BID'")" \
  "$resubmit" "each resubmitted task ended as attempt 2 on worker b after its KILLED attempt 1"
expect_eq "$(sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) value->'taskRun' AS t FROM queues WHERE type = '$WTR' AND key LIKE 'k-%' ORDER BY key, \"offset\" DESC) l
  WHERE jsonb_array_length(t->'attempts') = 1")" "$((N - resubmit))" "every other task ran once, as attempt 1"
# Log lines: the attempt that ended a task printed its ten lines once each, in order.
expect_eq "$(sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) key, jsonb_array_length(value->'taskRun'->'attempts') - 1 AS a FROM queues
    WHERE type = '$WTR' AND key LIKE 'k-%' ORDER BY key, \"offset\" DESC) l
  WHERE (SELECT string_agg(value->>'message', ',' ORDER BY \"offset\") FROM queues
    WHERE type = '$LOG' AND value->>'taskRunId' = l.key AND value->>'level' = 'INFO' AND (value->>'attemptNumber')::int = l.a) = '1,2,3,4,5,6,7,8,9,10'")" \
  "$N" "the final attempt of every task logged its 10 lines once each, in order"
twice=$(sql "SELECT count(DISTINCT value->>'taskRunId') FROM queues WHERE type = '$LOG' AND value->>'taskRunId' LIKE 'k-%' AND value->>'level' = 'INFO' AND (value->>'attemptNumber')::int = 0
  AND value->>'taskRunId' IN (SELECT key FROM queues WHERE type = '$WJ' AND value->'taskRun'->'attempts'->0->'state'->>'current' = 'KILLED')")
figure "kill -9: $resubmit resubmitted, of which $twice had already started printing on worker a (their process ran twice); $dups task run(s) with two terminal results"
kill -0 "$B" && pass "worker b kept serving" || fail "worker b died"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running WHERE worker_uuid = '$BID' AND key IN (SELECT key FROM queues WHERE type = '$WJ' AND value->'taskRun'->'attempts'->0->'state'->>'current' = 'KILLED')")" \
  "$resubmit" "worker b overwrote the running records of the resubmitted jobs"
it_stop "$B"
expect_eq "$STOP_RC" 0 "worker b stops cleanly"

# ---------------------------------------------------------------------------------------------
# (b) PostgreSQL restarted mid-load, then stopped until the worker notices and started again.
it_db faults_pg
it_jobs p- "$N" fp '["seq 1 10"]'
t0=$(now_ms)
it_worker w --group fp --concurrency 8
W=$WORKER_PID
wait_for "a quarter of the tasks ended" 300 at_least p- $((N / 4))
pgctl restart
figure "PostgreSQL restart: restarted with $(terminal p-) of $N tasks ended"
wait_for "half of the tasks ended" 300 at_least p- $((N / 2))
reconnects() { grep -c "reconnecting in" "$IT_TMP/w.log" || true; }
pgctl pause
t_pause=$(now_ms)
# Until a connection of the worker has failed to come back three times (100, 200, 400 ms).
wait_for "the worker failing to reconnect" 120 grep -q "reconnecting in 800 ms" "$IT_TMP/w.log"
pgctl resume
t_resume=$(now_ms)
figure "PostgreSQL restart: stopped for $((t_resume - t_pause)) ms at $(terminal p-) of $N tasks ended"
wait_for "all $N tasks ended" 300 at_least p- "$N"
t_done=$(now_ms)
figure "PostgreSQL restart: all $N tasks ended $((t_done - t0)) ms after the start"
expect_eq "$(sql "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' AND key LIKE 'p-%' GROUP BY key
    HAVING count(*) FILTER (WHERE value->'taskRun'->'state'->>'current' = 'RUNNING') = 1
      AND count(*) FILTER (WHERE value->'taskRun'->'state'->>'current' = 'SUCCESS') = 1 AND count(*) = 2) s")" \
  "$N" "every task has exactly one RUNNING and one SUCCESS result: none lost, none duplicated"
expect_eq "$(sql "SELECT count(*) FROM (SELECT value->>'taskRunId' AS t, string_agg(value->>'message', ',' ORDER BY \"offset\") AS m FROM queues
    WHERE type = '$LOG' AND value->>'level' = 'INFO' AND value->>'taskRunId' LIKE 'p-%' GROUP BY 1) s WHERE m = '1,2,3,4,5,6,7,8,9,10'")" \
  "$N" "every task's 10 lines arrived once each, in order"
lines=$(sql "SELECT count(*) FROM queues WHERE type = '$LOG' AND value->>'level' = 'INFO' AND value->>'taskRunId' LIKE 'p-%'")
expect_eq "$lines" $((N * 10)) "no other task line arrived ($lines lines checked)"
figure "PostgreSQL restart: $lines lines checked, $(reconnects) reconnection(s) logged"
kill -0 "$W" && pass "the worker kept running through both outages" || fail "the worker died"
it_stop "$W"
expect_eq "$STOP_RC" 0 "the worker stops cleanly after the outages"

# ---------------------------------------------------------------------------------------------
# (c) The work directory's filesystem full: a 16 MiB tmpfs of 2,048 inodes as --work-dir.
mkdir -p "$MNT"
if ! mount_err=$(mount -t tmpfs -o size=16m,nr_inodes=2048,mode=0755 kwg-faults "$MNT" 2>&1); then
  echo "skip (c) full disk: cannot mount a tmpfs here ($mount_err); it needs root (CAP_SYS_ADMIN)"
  it_done
fi
it_db faults_disk
failed() { sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) value->'taskRun'->'state'->>'current' AS s FROM queues WHERE type = '$WTR' AND key LIKE '$1%' ORDER BY key, \"offset\" DESC) l WHERE s = 'FAILED'"; }
# Keeps the filesystem full (tasks ending free their directories' blocks) while counting failures.
filled_failures() {
  dd if=/dev/zero of="$MNT/fill" bs=64k oflag=append conv=notrunc status=none 2>/dev/null || true
  [ "$(failed d-)" -ge "$1" ]
}
it_jobs d- "$N" fd '["seq 1 3", "head -c 65536 /dev/zero > out.bin", "echo written"]'
t0=$(now_ms)
it_worker w --group fd --concurrency 8 --work-dir "$MNT"
W=$WORKER_PID
wait_for "a quarter of the tasks ended" 300 at_least d- $((N / 4))
t_full=$(now_ms)
WANT_FAILED=$((N / 50 > 0 ? N / 50 : 1))
wait_for "$WANT_FAILED tasks failed on the full filesystem" 120 filled_failures "$WANT_FAILED"
full_mark=$(sql "SELECT max(\"offset\") FROM queues")
rm -f "$MNT/fill"
freed_at=$(sql "SELECT clock_timestamp()")
t_free=$(now_ms)
wait_for "all $N tasks ended" 300 at_least d- "$N"
t_done=$(now_ms)
nfailed=$(failed d-)
figure "full disk: the filesystem full for $((t_free - t_full)) ms from $(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key LIKE 'd-%' AND \"offset\" < $full_mark AND value->'taskRun'->'state'->>'current' = 'SUCCESS'") tasks ended; $nfailed task(s) failed; all $N ended $((t_done - t0)) ms after the start"
expect_eq "$(sql "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' AND key LIKE 'd-%' AND value->'taskRun'->'state'->>'current' IN ($TERMINAL) GROUP BY key HAVING count(*) = 1) s")" \
  "$N" "every task ended exactly once"
expect_eq "$(sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) key, value->'taskRun'->'state'->>'current' AS s FROM queues WHERE type = '$WTR' AND key LIKE 'd-%' ORDER BY key, \"offset\" DESC) l
  WHERE s = 'FAILED' AND EXISTS (SELECT 1 FROM queues g WHERE g.type = '$LOG' AND g.value->>'taskRunId' = l.key AND g.value->>'message' LIKE '%No space left on device%')")" \
  "$nfailed" "every failed task's log says 'No space left on device'"
expect_eq "$(sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) key, \"offset\" AS o, value->'taskRun'->'state'->>'current' AS s FROM queues WHERE type = '$WTR' AND key LIKE 'd-%' ORDER BY key, \"offset\" DESC) l
  WHERE s = 'FAILED' AND o < $full_mark AND EXISTS (SELECT 1 FROM queues g WHERE g.type = '$LOG' AND g.value->>'taskRunId' = l.key AND g.value->>'level' = 'ERROR'
    AND g.value->>'message' LIKE '%work directory ''$MNT'' is full%')")" \
  "$(sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) \"offset\" AS o, value->'taskRun'->'state'->>'current' AS s FROM queues WHERE type = '$WTR' AND key LIKE 'd-%' ORDER BY key, \"offset\" DESC) l WHERE s = 'FAILED' AND o < $full_mark")" \
  "each task that failed while the filesystem was full has an ERROR line naming the full work directory"
# Claimed after the space was freed (the claim transaction began later): started later too.
later="SELECT key FROM queues WHERE type = '$WJ' AND key LIKE 'd-%' AND updated > '$freed_at'"
expect_eq "$(sql "SELECT count(*) FROM (SELECT DISTINCT ON (key) key, value->'taskRun'->'state'->>'current' AS s FROM queues WHERE type = '$WTR' AND key LIKE 'd-%' ORDER BY key, \"offset\" DESC) l
  WHERE s = 'SUCCESS' AND key IN ($later)")" "$(sql "SELECT count(*) FROM ($later) k")" \
  "every task claimed after the space was freed succeeded ($(sql "SELECT count(*) FROM ($later) k"))"
expect_match "$(cat "$IT_TMP/w.log")" "work directory '$MNT' is full" "the worker's log says the work directory is full"
kill -0 "$W" && pass "the worker kept serving" || fail "the worker died"

# Out of inodes: no working directory can be made; the task fails without an attempt running.
mkdir "$MNT/inodes"
for i in $(seq 1 2100); do : >"$MNT/inodes/$i" 2>/dev/null || break; done
it_jobs i- 20 fd '["echo never"]'
wait_for "the 20 jobs ended" 120 at_least i- 20
expect_eq "$(failed i-)" 20 "with no inode left, the tasks fail"
expect_eq "$(sql "SELECT count(DISTINCT value->>'taskRunId') FROM queues WHERE type = '$LOG' AND value->>'taskRunId' LIKE 'i-%' AND value->>'level' = 'ERROR'
  AND value->>'message' = 'cannot create a working directory in ''$MNT'': No space left on device'")" 20 "and say why, naming the directory"
rm -rf "$MNT/inodes"
it_jobs j- 20 fd '["echo again"]'
wait_for "20 more jobs ended" 120 at_least j- 20
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key LIKE 'j-%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" 20 \
  "once inodes are freed, tasks succeed again"

# The database away while the work directory is full: past 16 MiB in memory messages would spill
# to a file there, which cannot grow. Every line still arrives, once, in order, and the tasks'
# output waits meanwhile: also the last lines of a task that exits while its output waits.
dd if=/dev/zero of="$MNT/fill" bs=1M count=15 status=none 2>/dev/null || true
it_jobs s- 1 fd '["sleep 1", "seq 1 100000"]'
it_jobs y- 1 fd '["until [ -e go ]; do sleep 0.05; done", "echo y1", "sleep 0.2", "echo y2", "echo y3", "touch exited"]'
running() { [ "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = '$1'")" -ge 1 ]; }
wait_for "the big task running" 120 running s-1
wait_for "the waiting task running" 120 running y-1
pgctl pause
t_pause=$(now_ms)
wait_for "the spill file full" 120 grep -q "the spill file in '$MNT' cannot grow" "$IT_TMP/w.log"
pass "the spill file stops growing: $(grep -o "the spill file in '$MNT' cannot grow[^;]*" "$IT_TMP/w.log" | head -n 1)"
t_spill=$(now_ms)
# Task y prints its first line now (its output is then paused), the others into its pipe, and
# exits. The outage lasts 3 s more: longer than the 2 s a task's pipes get after its exit.
for d in "$MNT"/*/; do touch "$d/go"; done
y_exited() { compgen -G "$MNT/*/exited" >/dev/null; }
wait_for "task y to exit" 120 y_exited
sleep 3
pgctl resume
t_resume=$(now_ms)
wait_for "the big task finished" 300 at_least s- 1
figure "full spill file: it stopped growing $((t_spill - t_pause)) ms into the outage; the task ended $(($(now_ms) - t_resume)) ms after PostgreSQL returned"
expect_eq "$(sql "SELECT count(*) || ':' || count(*) FILTER (WHERE m::int = rn) FROM (SELECT value->>'message' AS m, row_number() OVER (ORDER BY \"offset\") AS rn FROM queues WHERE type = '$LOG' AND value->>'taskRunId' = 's-1' AND value->>'level' = 'INFO') s")" \
  "100000:100000" "all 100,000 lines arrived, each once, in order"
expect_eq "$(sql "SELECT value->'taskRun'->'state'->>'current' FROM queues WHERE type = '$WTR' AND key = 's-1' ORDER BY \"offset\" DESC LIMIT 1")" SUCCESS \
  "the task succeeded"
wait_for "task y finished" 120 at_least y- 1
expect_eq "$(sql "SELECT string_agg(value->>'message', ',' ORDER BY \"offset\") FROM queues WHERE type = '$LOG' AND value->>'taskRunId' = 'y-1' AND value->>'level' = 'INFO'")" \
  "y1,y2,y3" "a task that exited while its output waited lost none of its lines"
rm -f "$MNT/fill"
it_stop "$W"
expect_eq "$STOP_RC" 0 "the worker stops cleanly after the full disk"
umount "$MNT"
figure "total: $(($(now_ms) - T_START)) ms"

it_done
