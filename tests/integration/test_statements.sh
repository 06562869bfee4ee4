#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every SQL statement kwg sends is prepared against the Kestra 1.x test schema, and the 2.x ones
# against the 2.x schema; then again with the queue table renamed (kestra_queue_table), in the
# same schema and in another one.
source "$(dirname "$0")/../lib/it.sh"
it_db statements
out=$("$KWGT_PREPARE" "$DB" 2>&1) && rc=0 || rc=$?
echo "$out"
expect_eq "$rc" 0 "all statements of protocol/sql.c prepare against kestra_gen1.sql"
it_db2 statements2
out=$("$KWGT_PREPARE" "$DB" --gen2 2>&1) && rc=0 || rc=$?
echo "$out"
expect_eq "$rc" 0 "all statements of protocol/sql2.c (and those shared) prepare against kestra_gen2.sql"

# Kestra 1.x with kestra.jdbc.tables.queues.table, then the table in a schema of its own.
it_db statements_renamed
sql "ALTER TABLE queues RENAME TO kestra_queue" >/dev/null
out=$("$KWGT_PREPARE" "$DB" --table kestra_queue 2>&1) && rc=0 || rc=$?
echo "$out"
expect_eq "$rc" 0 "protocol/sql.c's statements prepare on a 1.x queue table named kestra_queue"
expect_match "$out" 'queue table "kestra_queue"' "the texts name the table quoted"
sql "CREATE SCHEMA \"Q\$s\"; ALTER TABLE kestra_queue SET SCHEMA \"Q\$s\"" >/dev/null
out=$("$KWGT_PREPARE" "$DB" --table 'Q$s.kestra_queue' 2>&1) && rc=0 || rc=$?
echo "$out"
expect_eq "$rc" 0 "protocol/sql.c's statements prepare on a 1.x queue table Q\$s.kestra_queue"
# Kestra 2.x with kestra.queue.jdbc.table.
it_db2 statements2_renamed
sql "ALTER TABLE queues RENAME TO kestra_queue" >/dev/null
out=$("$KWGT_PREPARE" "$DB" --gen2 --table kestra_queue 2>&1) && rc=0 || rc=$?
echo "$out"
expect_eq "$rc" 0 "protocol/sql2.c's statements prepare on a 2.x queue table named kestra_queue"
sql "CREATE SCHEMA kq; ALTER TABLE kestra_queue SET SCHEMA kq" >/dev/null
out=$("$KWGT_PREPARE" "$DB" --gen2 --table kq.kestra_queue 2>&1) && rc=0 || rc=$?
echo "$out"
expect_eq "$rc" 0 "protocol/sql2.c's statements prepare on a 2.x queue table kq.kestra_queue"
out=$("$KWGT_PREPARE" "$DB" --gen2 --table 'kq.kestra"queue' 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 2 "a table name that is not an identifier is refused"
expect_match "$out" "kestra\"queue" "the refusal names the table"
it_done
