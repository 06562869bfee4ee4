/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's queue table under the name the operator gave Kestra (kestra_queue_table: Kestra 1.x's
 * kestra.jdbc.tables.queues.table, 2.x's kestra.queue.jdbc.table). Checks the name, quotes it as
 * an SQL identifier, and builds once, at start, the statements of protocol/sql.c and
 * protocol/sql2.c that name the table (where their text says "$Q"); the table object owns them. */
#pragma once
#include <stddef.h>

#include "common/err.h"

#define KWG_SQL_TABLE_DEFAULT "queues"
/* In a statement template: the queue table, quoted ("queues", "kestra"."queues"). */
#define KWG_SQL_TABLE_MARK "$Q"
/* PostgreSQL's NAMEDATALEN - 1: the longest identifier it keeps whole. */
#define KWG_SQL_IDENT_MAX 63

struct kwg_buf;
struct kwg_sql_table;

/* 0 when name is TABLE or SCHEMA.TABLE, each part an identifier [A-Za-z_][A-Za-z0-9_$]* of at
 * most 63 bytes without "$$" (it would end the dollar-quoted bodies the name goes into); else
 * -EINVAL, and err says what is wrong (the caller names the setting). Borrows name (NULL is
 * refused). */
int kwg_sql_table_check(const char *name, struct kwg_err *err);

/* Appends name quoted as an SQL identifier, each part between dots quoted on its own ("a"."b"),
 * a '"' doubled. 0, -ENOMEM, or -EMSGSIZE past the buffer's maximum. */
int kwg_sql_quote_ident(struct kwg_buf *b, const char *name);

/* A new string: tpl with every KWG_SQL_TABLE_MARK replaced by quoted. NULL on OOM. */
char *kwg_sql_table_subst(const char *tpl, const char *quoted);

/* Checks name (as kwg_sql_table_check) and builds every statement for it. 0 and *ret (new);
 * -EINVAL (err says why), -ENOMEM. */
int kwg_sql_table_new(const char *name, struct kwg_sql_table **ret, struct kwg_err *err);
/* Accepts NULL. Returns NULL. */
struct kwg_sql_table *kwg_sql_table_free(struct kwg_sql_table *t);

/* Borrowed for the table's life: the name as configured (for messages), its schema (NULL when
 * not qualified: the search_path finds it), the table's own name, and the quoted whole
 * ("kestra"."queues"), which is also what to_regclass() takes. */
const char *kwg_sql_table_name(const struct kwg_sql_table *t);
const char *kwg_sql_table_schema(const struct kwg_sql_table *t);
const char *kwg_sql_table_relname(const struct kwg_sql_table *t);
const char *kwg_sql_table_quoted(const struct kwg_sql_table *t);

/* The text of statement tpl (one of protocol/sql.h's and sql2.h's constants, by address) for this
 * table: borrowed for the table's life. A statement that does not name the queue table comes back
 * as it is. */
const char *kwg_sql_table_text(const struct kwg_sql_table *t, const char *tpl);
/* The same for a NULL-terminated script of protocol/sql.h (kwg_sql_routing_install, …). */
const char *const *kwg_sql_table_script(const struct kwg_sql_table *t, const char *const *script);
