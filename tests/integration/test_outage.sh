#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Database outages: a PostgreSQL restart in the middle of 500 tasks loses no result and no log
# line and duplicates none; a longer stop under heavy output spills messages to a file and delivers
# every line, in order, when the database returns. It runs its own PostgreSQL cluster (it stops
# and restarts it), so it can run beside other tests.
source "$(dirname "$0")/../lib/it.sh"
it_own_cluster
it_db outage

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
LOG=io.kestra.core.models.executions.LogEntry
finished() { sql "SELECT count(DISTINCT key) FROM queues WHERE type = '$WTR' AND key LIKE '$1%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'" 2>/dev/null || echo 0; }
at_least() { [ "$(finished "$1")" -ge "$2" ]; }

PORT=$((30000 + RANDOM % 20000))
it_worker w --group out --concurrency 8 --management-port "$PORT"
code() { curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health"; }
health_is() { [ "$(code)" == "$1" ]; }
it_jobs r- 500 out '["echo a", "echo b", "echo c"]'
wait_for "100 tasks finished" 60 at_least r- 100
pgctl restart
pass "PostgreSQL restarted with $(finished r-) of 500 tasks finished"
wait_for "all 500 tasks finished after the restart" 120 at_least r- 500
expect_eq "$(finished r-)" 500 "every task finished"
expect_eq "$(sql "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' AND key LIKE 'r-%' GROUP BY key HAVING count(*) <> 2) s")" 0 \
  "each task has exactly one RUNNING and one final result: none lost, none duplicated"
expect_eq "$(sql "SELECT count(*) FROM (SELECT value->>'taskRunId' AS t, string_agg(value->>'message', '' ORDER BY \"offset\") AS m FROM queues WHERE type = '$LOG' AND value->>'level' = 'INFO' AND value->>'taskRunId' LIKE 'r-%' GROUP BY 1) s WHERE m = 'abc'")" 500 \
  "every task's three lines arrived once each, in order"
expect_match "$(cat "$IT_TMP/w.log")" "reconnecting in" "the worker reconnected"
kill -0 "$WORKER_PID" && pass "the worker kept running through the restart" || fail "the worker died"

# A longer stop under heavy output: messages spill to a file and all arrive, in order.
it_jobs big- 1 out '["sleep 1", "seq 1 200000"]'
running() { [ "$(sql "SELECT count(*) FROM queues WHERE type = '$WTR' AND key = 'big-1'")" -ge 1 ]; }
wait_for "the big task running" 30 running
pgctl pause
wait_for "the worker spilling to a file" 60 grep -q "messages now spill to a file" "$IT_TMP/w.log"
pass "messages spill to a file while the database is away"
wait_for "/health 503 while the database is away" 10 health_is 503
pass "/health says not ready (503) while the database is away"
out=$("$KWGT_BIN" health --port "$PORT" 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 1 "kwg health exits 1 while the worker is not ready"
pgctl resume
wait_for "the big task finished" 120 at_least big- 1
expect_eq "$(sql "SELECT count(*) || ':' || count(*) FILTER (WHERE m::int = rn) FROM (SELECT value->>'message' AS m, row_number() OVER (ORDER BY \"offset\") AS rn FROM queues WHERE type = '$LOG' AND value->>'taskRunId' = 'big-1' AND value->>'level' = 'INFO') s")" \
  "200000:200000" "all 200,000 lines arrived, each once, in order"
wait_for "the spill file emptied" 30 grep -q "the spill file is empty again" "$IT_TMP/w.log"
wait_for "/health 200 again" 10 health_is 200
pass "/health is ready again once the database is back"
pass "the spill file is emptied once delivered"
it_stop "$WORKER_PID"
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
it_done
