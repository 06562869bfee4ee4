#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Every SQL statement kwg sends is prepared against the Kestra 1.x test schema, and the 2.x ones
# against the 2.x schema.
source "$(dirname "$0")/../lib/it.sh"
it_db statements
out=$("$KWGT_PREPARE" "$DB" 2>&1) && rc=0 || rc=$?
echo "$out"
expect_eq "$rc" 0 "all statements of protocol/sql.c prepare against kestra_gen1.sql"
it_db2 statements2
out=$("$KWGT_PREPARE" "$DB" --gen2 2>&1) && rc=0 || rc=$?
echo "$out"
expect_eq "$rc" 0 "all statements of protocol/sql2.c (and those shared) prepare against kestra_gen2.sql"
it_done
