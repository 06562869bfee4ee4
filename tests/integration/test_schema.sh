#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test schema behaves as Kestra 1.0's: enum labels, the offset sequence, the updated trigger,
# and the generated NOT NULL columns that reject malformed records.
source "$(dirname "$0")/../lib/it.sh"
it_db schema

expect_eq "$(sql "SELECT count(*) FROM pg_enum e JOIN pg_type t ON t.oid = e.enumtypid WHERE t.typname = 'queue_type'")" 18 \
  "queue_type has the 16 labels of 1.0 and 2 later ones"
sql "INSERT INTO queues (type, key, value) VALUES ('io.kestra.core.runners.WorkerJob', 'a', '{}'), ('io.kestra.core.runners.WorkerJob', 'b', '{}')"
expect_eq "$(sql "SELECT max(\"offset\") - min(\"offset\") FROM queues")" 1 "offsets come from the sequence"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE updated IS NULL")" 2 "updated is NULL until a consumer marks the row"
sql "UPDATE queues SET consumer_worker = true WHERE key = 'a'"
expect_eq "$(sql "SELECT count(*) FROM queues WHERE key = 'a' AND updated IS NOT NULL")" 1 "the queues_updated trigger sets updated"
if sql "INSERT INTO worker_job_running (key, value) VALUES ('r', '{\"workerInstance\":{}}')" 2>/dev/null; then
  fail "worker_job_running accepted a record without workerInstance.workerUuid"
else
  pass "worker_job_running refuses a record without workerInstance.workerUuid"
fi
sql "INSERT INTO worker_job_running (key, value) VALUES ('r', '{\"workerInstance\":{\"workerUuid\":\"w1\"}}')"
expect_eq "$(sql "SELECT worker_uuid FROM worker_job_running WHERE key = 'r'")" w1 "worker_uuid is generated from the record"
sql "INSERT INTO service_instance (key, value) VALUES ('s', '{\"id\":\"s\",\"type\":\"WORKER\",\"state\":\"RUNNING\",\"createdAt\":\"2025-09-02T10:00:00.120001Z\",\"updatedAt\":\"2025-09-02T10:15:33.004512Z\"}')"
expect_eq "$(sql "SELECT service_type || ' ' || state || ' ' || to_char(updated_at AT TIME ZONE 'UTC', 'HH24:MI:SS.US') FROM service_instance")" \
  "WORKER RUNNING 10:15:33.004512" "service_instance generated columns parse the record"
if sql "INSERT INTO service_instance (key, value) VALUES ('t', '{\"id\":\"t\",\"type\":\"WORKER\",\"createdAt\":\"2025-09-02T10:00:00Z\",\"updatedAt\":\"2025-09-02T10:00:00Z\"}')" 2>/dev/null; then
  fail "service_instance accepted a record without state"
else
  pass "service_instance refuses a record without state"
fi
it_done
