#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `kwg notify install|uninstall`: the opt-in trigger on queues that wakes workers when WorkerJob
# rows are inserted. Installing is idempotent and reversible, `kwg status` says whether it is in
# place, a worker is woken by an insert (not only by its poll), and other rows wake nobody.
source "$(dirname "$0")/../lib/it.sh"
it_db notify
trigger_count() { sql "SELECT count(*) FROM pg_trigger WHERE tgname = 'kwg_notify_worker_job'"; }

out=$("$KWGT_BIN" status --database-url "$DB" 2>&1)
expect_match "$out" "notify: not installed \(polling alone; kwg notify install\)" "status: not installed at first"
out=$("$KWGT_BIN" notify install --database-url "$DB" 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 0 "notify install succeeds"
expect_match "$out" "notify installed: a trigger on queues wakes workers" "and says what it did"
"$KWGT_BIN" notify install --database-url "$DB" >/dev/null 2>&1 && pass "installing twice is harmless" || fail "a second install failed"
expect_eq "$(trigger_count)" 1 "one trigger on queues"
expect_match "$("$KWGT_BIN" status --database-url "$DB" 2>&1)" "notify: installed \(workers wake on WorkerJob inserts\)" "status: installed"

it_worker w --group nt
wait_for "the worker claiming" 10 grep -q "claiming tasks" "$IT_TMP/w.log"
woken() { [ "$(grep -c "woken by a WorkerJob insert" "$IT_TMP/w.log")" -ge "$1" ]; }
sql "INSERT INTO queues (type, key, value) VALUES ('io.kestra.core.models.executions.LogEntry', 'l', '{}')" >/dev/null
it_jobs n 3 nt '["echo woken"]'
wait_for "the worker woken by the insert" 10 woken 1
expect_eq "$(grep -c "woken by a WorkerJob insert" "$IT_TMP/w.log")" 1 \
  "one wake for one inserting statement of three jobs; none for a LogEntry"
done3() { [ "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == 3 ]; }
wait_for "the three jobs done" 20 done3 && pass "the woken worker runs the jobs"

out=$("$KWGT_BIN" notify uninstall --database-url "$DB" 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 notify uninstalled: workers find new jobs by polling alone" "notify uninstall"
expect_eq "$(trigger_count)" 0 "the trigger is gone"
expect_eq "$(sql "SELECT count(*) FROM pg_proc WHERE proname = 'notify_worker_job'")" 0 "and its function"
it_jobs m 1 nt '["echo polled"]'
done4() { [ "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == 4 ]; }
wait_for "the job found by polling" 20 done4 && pass "without the trigger, polling still finds jobs"
expect_eq "$(grep -c "woken by a WorkerJob insert" "$IT_TMP/w.log")" 1 "and no wake came"
it_stop "$WORKER_PID" 30
it_done
