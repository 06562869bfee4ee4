#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Which Kestra made the database (docs/kestra-integration.md): a Kestra 1.x database (Flyway 1.x)
# is named and served; one without Flyway history but with the 1.x queue is served with a notice;
# a database migrated past 1.x by Flyway, or whose queue has neither the 1.x nor the 2.x shape, is
# refused at start with the reason, before anything is claimed.
source "$(dirname "$0")/../lib/it.sh"
it_db kestra_version
WJ=io.kestra.core.runners.WorkerJob

# start_worker NAME: a worker of group kv; waits until it claims or exits; sets RC (or "running").
start_worker() {
  it_worker "$1" --group kv
  local deadline=$((SECONDS + 20))
  RC=running
  until grep -q "claiming tasks" "$IT_TMP/$1.log"; do
    if ! kill -0 "$WORKER_PID" 2>/dev/null; then
      RC=0
      wait "$WORKER_PID" || RC=$?
      return
    fi
    [ $SECONDS -lt $deadline ] || { fail "$1: neither claiming nor stopped after 20 s"; return; }
    sleep 0.05
  done
}

start_worker ok
expect_eq "$RC" running "a Kestra 1.x database is served"
expect_match "$(cat "$IT_TMP/ok.log")" "Kestra 1.x database \(Flyway version 1.41\)" "the worker names its Flyway version"
it_stop "$WORKER_PID"

sql "INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, installed_by, execution_time, success)
     VALUES (4, '3.1', 'kestra v2', 'SQL', 'V3_1__kestra_v2.sql', 'kestra', 50, true)"
it_jobs j 1 kv '["echo never"]'
start_worker v3
expect_eq "$RC" 1 "a database migrated past 1.x stops the worker (exit 1)"
expect_match "$(cat "$IT_TMP/v3.log")" "migrated by Flyway to version 3.1: kwg speaks Kestra 1.x .*refusing to work with it" \
  "saying which version it found"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE type = '$WJ' AND consumer_worker")" 0 "nothing was claimed"

sql "DELETE FROM flyway_schema_history WHERE installed_rank = 4"
sql "UPDATE flyway_schema_history SET success = false WHERE installed_rank = 3"
start_worker failed
expect_match "$RC $(cat "$IT_TMP/failed.log")" "^running .*Flyway version 1.4\)" "a failed migration does not count"
it_stop "$WORKER_PID"

sql "DROP TABLE flyway_schema_history"
start_worker none
expect_match "$RC $(cat "$IT_TMP/none.log")" "^running .*no Flyway history .* has the Kestra 1.x shape" \
  "without Flyway history, the 1.x queue is served with a notice"
it_stop "$WORKER_PID"

sql "ALTER TABLE queues DROP COLUMN consumer_worker"
start_worker v2
expect_match "$RC $(cat "$IT_TMP/v2.log")" "^1 .*neither Kestra 1.x.s consumer_worker and consumer_group columns nor Kestra 2.x.s routing_key" \
  "a queue of neither the 1.x nor the 2.x shape is refused"
it_done
