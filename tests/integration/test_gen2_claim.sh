#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kwg routing on Kestra 2.x under load (docs/kestra-integration.md, "Kestra 2.x open source"): a
# claimer that behaves as the open-source worker controller (routing_key IS NULL worker_job_event
# rows, FOR UPDATE SKIP LOCKED, deleted on claim, as fast as it can; it writes a SUCCESS result for
# each) runs beside kwg workers of groups g1 and g2 while 1,200 mixed jobs are queued as Kestra's
# executor queues them (routing key NULL): no job tagged for a kwg group reaches the claimer, no
# other job reaches kwg, every job ends exactly once, every worker_job_running record is gone.
source "$(dirname "$0")/../lib/it.sh"
it_db2 gen2_claim
K() { "$KWGT_BIN" "$@" --database-url "$DB"; }

K migrate >/dev/null
K group create g1 >/dev/null
K group create g2 >/dev/null
K routing install >/dev/null

# jobs2 PREFIX FROM TO WORKER_SELECTOR_JSON_OR_NULL
jobs2() {
  sql "INSERT INTO queues (type, routing_key, key, value, created)
       SELECT 'worker_job_event', NULL, '', jsonb_build_object('job', jsonb_build_object(
         'type', 'task',
         'taskRun', jsonb_build_object('tenantId', 'main', 'id', '$1' || i, 'executionId', 'x$1' || i,
           'namespace', 'company.team', 'flowId', 'f', 'taskId', 't',
           'state', jsonb_build_object('current', 'SUBMITTED', 'histories', jsonb_build_array(
             jsonb_build_object('state', 'CREATED', 'date', '2026-09-02T10:15:30.101234Z')))),
         'task', jsonb_strip_nulls(jsonb_build_object('id', 't', 'type', 'io.kestra.plugin.core.log.Log',
           'message', 'hello {{ taskrun.id }}', 'workerSelector', $4::jsonb)),
         'data', jsonb_build_object('variables', '{}'::jsonb, 'secretInputs', '[]'::jsonb, 'traceParent', NULL))), now()
       FROM generate_series($2, $3) i" >/dev/null
}

sql "CREATE TABLE oss_got (key TEXT, routing_key TEXT);
CREATE TABLE oss_stop (stop BOOLEAN);
CREATE PROCEDURE oss_claim() LANGUAGE plpgsql AS \$\$
DECLARE deadline timestamptz := clock_timestamp() + interval '120 seconds';
BEGIN
  LOOP
    WITH c AS (SELECT \"offset\" FROM queues WHERE type = 'worker_job_event' AND routing_key IS NULL
               ORDER BY \"offset\" LIMIT 10 FOR UPDATE SKIP LOCKED),
         d AS (DELETE FROM queues q USING c WHERE q.\"offset\" = c.\"offset\"
               RETURNING q.value->'job'->'taskRun'->>'id' AS key, q.routing_key),
         g AS (INSERT INTO oss_got SELECT key, routing_key FROM d RETURNING key)
    INSERT INTO queues (type, key, value, created)
      SELECT 'worker_task_result', key, jsonb_build_object('taskRun', jsonb_build_object('id', key,
        'state', jsonb_build_object('current', 'SUCCESS')), 'dynamicTaskRuns', '[]'::jsonb, 'outputs', '{}'::jsonb), now()
      FROM g;
    COMMIT;
    EXIT WHEN EXISTS (SELECT 1 FROM oss_stop) OR clock_timestamp() > deadline;
  END LOOP;
END\$\$;" >/dev/null
psql "$DB" -qAtX -c "CALL oss_claim()" >"$IT_TMP/oss.log" 2>&1 &
OSS_PID=$!
IT_PIDS+=("$OSS_PID")
it_worker g1 --group g1 --concurrency 16
G1=$WORKER_PID
it_worker g2 --group g2 --concurrency 16
G2=$WORKER_PID
wait_for "g1 claiming" 15 grep -q "claiming tasks" "$IT_TMP/g1.log"
wait_for "g2 claiming" 15 grep -q "claiming tasks" "$IT_TMP/g2.log"

for b in 0 1 2 3; do
  jobs2 a- $((b * 100 + 1)) $((b * 100 + 100)) "'{\"tags\":[\"g1\"]}'"                       # g1
  jobs2 b- $((b * 75 + 1)) $((b * 75 + 75)) "'{\"tags\":[\"other\",\"g2\"],\"match\":\"ANY\"}'" # g2
  jobs2 c- $((b * 75 + 1)) $((b * 75 + 75)) "NULL"                                        # Kestra
  jobs2 d- $((b * 25 + 1)) $((b * 25 + 25)) "'{\"tags\":[\"gpu\"]}'"                       # Kestra: no such kwg group
  jobs2 e- $((b * 25 + 1)) $((b * 25 + 25)) "'{\"tags\":[\"g1\",\"g2\"]}'"                 # Kestra: ALL of two groups
done
TOTAL=1200
kwg_done() { [ "$(sql "SELECT count(DISTINCT key) FROM queues WHERE type = 'worker_task_result' AND (key LIKE 'a-%' OR key LIKE 'b-%') AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == 700 ]; }
wait_for "the 700 tagged jobs done by kwg" 90 kwg_done
none_waiting() { [ "$(sql "SELECT count(*) FROM queues WHERE type = 'worker_job_event'")" == 0 ]; }
wait_for "no job left waiting" 60 none_waiting
sql "INSERT INTO oss_stop VALUES (true)" >/dev/null
wait "$OSS_PID" || fail "the OSS claimer failed: $(cat "$IT_TMP/oss.log")"

expect_eq "$(sql "SELECT count(*) FROM oss_got WHERE key LIKE 'a-%' OR key LIKE 'b-%'")" 0 "no job tagged for a kwg group reached the OSS claimer"
expect_eq "$(sql "SELECT count(*) FROM oss_got WHERE key LIKE 'c-%' OR key LIKE 'd-%' OR key LIKE 'e-%'")" 500 \
  "the 500 others (no tags, a tag no kwg group serves, ALL of two groups) all went to the OSS claimer"
G1_ID=$(sql "SELECT value->>'id' FROM service_instance WHERE value->'props'->>'worker.group' = 'g1'")
G2_ID=$(sql "SELECT value->>'id' FROM service_instance WHERE value->'props'->>'worker.group' = 'g2'")
ran_on() { sql "SELECT count(*) FROM queues WHERE type = 'worker_task_result' AND key LIKE '$1%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS' AND value->'taskRun'->'attempts'->-1->>'workerId' = '$2'"; }
expect_eq "$(ran_on a- "$G1_ID")|$(ran_on b- "$G2_ID")" "400|300" "the g1 jobs ran on the g1 worker, the g2 jobs on the g2 worker"
once=$(sql "WITH keys AS (SELECT 'a-' || i AS key FROM generate_series(1, 400) i UNION ALL SELECT 'b-' || i FROM generate_series(1, 300) i
  UNION ALL SELECT 'c-' || i FROM generate_series(1, 300) i UNION ALL SELECT 'd-' || i FROM generate_series(1, 100) i
  UNION ALL SELECT 'e-' || i FROM generate_series(1, 100) i),
  ended AS (SELECT key, count(*) AS n FROM queues WHERE type = 'worker_task_result'
    AND value->'taskRun'->'state'->>'current' IN ('SUCCESS', 'FAILED', 'KILLED') GROUP BY key)
  SELECT count(*) FILTER (WHERE e.n = 1), count(*) FROM keys k LEFT JOIN ended e USING (key)")
expect_eq "$once" "$TOTAL|$TOTAL" "every one of the $TOTAL jobs ended exactly once (a kwg result or the OSS claimer's)"
expect_eq "$(sql "SELECT count(*) FROM worker_job_running")" 0 "no worker_job_running record is left"
it_stop "$G1"
it_stop "$G2"
expect_match "$(cat "$IT_TMP/g1.log" "$IT_TMP/g2.log")" "exiting" "both workers stop cleanly"
it_done
