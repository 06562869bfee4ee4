/* SPDX-License-Identifier: Apache-2.0 */
/* Every SQL statement kwg sends, as named constants with $n parameters only. Each comment names
 * the Kestra table and columns (checked against Kestra 1.0's schema, kestra-protocol.md §2, §5.8,
 * §7.1); tests/integration/test_statements.sh prepares every one of them against the test schema.
 * Kestra's queue table (queues unless renamed: kestra_queue_table) is "$Q" in the texts: kwg sends
 * the texts protocol/sql_table.h built for the configured table (kwg_sql_table_text, _script). */
#pragma once
#include <stddef.h>

struct kwg_sql_statement {
	const char *name;
	const char *text;
};

/* Claim, named group: $1 group key, $2 limit. Kestra's claim SELECT (§3.1) for WorkerJob rows. */
extern const char KWG_SQL_CLAIM_GROUP[];
/* Claim, default (NULL) group: $1 limit, $2 text[] task types runnable anywhere, $3 text[] script
 * types that kwg runs only with the Process runner, $4 boolean: script types without taskRunner
 * too (the default runner is Process). Only task jobs of those types are claimed, so that kwg can
 * live beside Kestra's own workers. */
extern const char KWG_SQL_CLAIM_DEFAULT[];
/* The claim in one statement, one round trip (§3.1: lock, worker_job_running, mark): the group's
 * $1 $2 then $3 the worker id; the default group's $1 … $4 then $5 the worker id. Rows: value,
 * offset, and the transaction's id (bigint, as txid_current; NULL when nothing was claimed). */
extern const char KWG_SQL_CLAIM_ONE_GROUP[];
extern const char KWG_SQL_CLAIM_ONE_DEFAULT[];
/* A row while the session of backend pid $1 (int) still runs a statement; $2 (boolean) cancels
 * it. */
extern const char KWG_SQL_CLAIM_BUSY[];
/* The worker_job_running values held by worker id $1 written after transaction $2 (an xid as
 * text, NULL: all of them): value, -1, the writing transaction's id. */
extern const char KWG_SQL_CLAIM_ADOPT[];
/* worker_job_running upsert for a batch: $1 text[] keys (taskRun.id, distinct), $2 text[] JSON. */
extern const char KWG_SQL_RUNNING_UPSERT[];
/* Mark claimed rows consumed: $1 bigint[] offsets, $2 group key (NULL for the default group). */
extern const char KWG_SQL_MARK_CONSUMED[];
/* Emit a batch of messages in order: $1 text[] queue_type labels, $2 text[] keys, $3 text[] JSON.
 */
extern const char KWG_SQL_EMIT[];
/* The same through COPY … FROM STDIN: rows "type	key	value
", fields by kwg_sql_copy_field. */
extern const char KWG_SQL_EMIT_COPY[];
/* kwg submit: insert one WorkerJob: $1 key, $2 JSON, $3 consumer group or NULL; returns offset
 * and the consumer group it got (kwg routing may set it). */
extern const char KWG_SQL_SUBMIT[];
/* kwg submit: rows about one task run after an offset: $1 offset, $2 taskRun.id. */
extern const char KWG_SQL_FOLLOW[];

/* Liveness (§7.4): lock this worker's row ($1 service id); upsert it ($1 key = id, $2 JSON). */
extern const char KWG_SQL_INSTANCE_LOCK[];
extern const char KWG_SQL_INSTANCE_UPSERT[];
/* The first record, inserted unless one is there (the heartbeat's first write, and the first
 * claim's registration: kwg_dispatch). */
extern const char KWG_SQL_INSTANCE_REGISTER[];
/* Broadcast queues (§3.2): high-water mark of a type ($1 label); poll after an offset ($1 label,
 * $2 offset). */
extern const char KWG_SQL_BROADCAST_MAX[];
extern const char KWG_SQL_BROADCAST_POLL[];
/* After a COMMIT whose outcome is unknown: which of these keys ($2 text[]) this worker ($1) holds.
 */
extern const char KWG_SQL_CLAIM_RESOLVE[];
/* Emit variant for a batch retried after an ambiguous failure: skips rows already written. */
extern const char KWG_SQL_EMIT_DEDUPE[];
/* Which Kestra made the database: (the queue table's columns as name:type, last Flyway version).
 * $1 the table's schema (NULL: the search_path's), $2 its name, unquoted (kwg_sql_table_schema,
 * kwg_sql_table_relname). */
extern const char KWG_SQL_KESTRA_SCHEMA[];
/* kwg's control plane (schema kwg): maintenance flag and this group's pause/drain ($1 group key,
 * '' for the default group). */
extern const char KWG_SQL_CONTROL_READ[];
extern const char KWG_SQL_LISTEN_CONTROL[];
/* Operator CLI. */
extern const char KWG_SQL_GROUP_UPSERT[];    /* $1 key, $2 description */
extern const char KWG_SQL_GROUP_DELETE[];    /* $1 key */
extern const char KWG_SQL_GROUP_SET_FLAGS[]; /* $1 key, $2 paused, $3 draining */
extern const char KWG_SQL_MAINTENANCE_SET[]; /* $1 active, $2 message */
extern const char KWG_SQL_GROUP_LIST[];      /* no parameters */
extern const char KWG_SQL_WORKERS[];         /* $1 group key or NULL for all */

/* `kwg migrate`: the statements that create or update schema kwg, in order. NULL-terminated. */
extern const char *const kwg_sql_migration[];
/* `kwg notify install|uninstall` (NULL-terminated), whether it is installed (count), and the
 * channel workers listen on. */
extern const char *const kwg_sql_notify_install[];
extern const char *const kwg_sql_notify_uninstall[];
extern const char KWG_SQL_NOTIFY_INSTALLED[];
extern const char KWG_SQL_LISTEN_JOBS[];

/* `kwg routing install|uninstall` (NULL-terminated; uninstall refuses while routed jobs wait,
 * uninstall_requeue gives them back to the default group), and `kwg routing status`: installed
 * "version kwg_version" or NULL, this kwg's, trigger count, enabled trigger count, functions
 * present, routed columns of queues found (4), flows present. $1: the quoted queue table
 * (kwg_sql_table_quoted). */
extern const char *const kwg_sql_routing_install[];
extern const char *const kwg_sql_routing_uninstall[];
extern const char *const kwg_sql_routing_uninstall_requeue[];
extern const char KWG_SQL_ROUTING_STATUS[];
/* Count of active routing triggers on the queue table ($1, quoted) (0 or 1). */
extern const char KWG_SQL_ROUTING_INSTALLED[];
/* transport/pg/route.c: held rows ($1 limit; needs routing installed, since it calls
 * kwg.job_worker_group), re-route rendered keys ($1 offsets, $2 keys, $3 strict fallbacks), mark
 * held rows ended ($1 offsets). The statement test installs the routing first. */
extern const char KWG_SQL_ROUTE_HELD[];
extern const char KWG_SQL_ROUTE_SET[];
extern const char KWG_SQL_ROUTE_CONSUME[];
/* WorkerJob rows waiting per group: group ('' default), count, oldest wait s (-1 unknown). */
extern const char KWG_SQL_ROUTE_WAITING[];

/* Kestra 1.1+ kv_metadata and 1.2+ namespace_file_metadata (storage/meta.h): the current row of
 * ($1 tenant or NULL, $2 namespace, $3 key or "/path"): version, deleted, and expired (KV) or a
 * directory (namespace files). Not in kwg_sql_statements: older Kestras have no such tables. */
extern const char KWG_SQL_KV_META[];
extern const char KWG_SQL_NSFILE_META[];
/* namespace_file_metadata: a namespace's current files ($1 tenant or NULL, $2 namespace): path,
 * version. */
extern const char KWG_SQL_NSFILE_LIST[];

/* All of the above, for the statement test. NULL-terminated. */
extern const struct kwg_sql_statement kwg_sql_statements[];

/* Appends the text-array literal of n strings ({"a","b"}) to a growable string. 0 or -ENOMEM,
 * -EMSGSIZE past max bytes. */
struct kwg_buf;
int kwg_sql_text_array(struct kwg_buf *b, const char *const *items, size_t n);
/* Appends s as one field of COPY's text format (backslash, tab, newline and CR escaped). 0 or
 * -ENOMEM, -EMSGSIZE past max bytes. */
int kwg_sql_copy_field(struct kwg_buf *b, const char *s);
