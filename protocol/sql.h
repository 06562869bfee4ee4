/* SPDX-License-Identifier: Apache-2.0 */
/* Every SQL statement kwg sends, as named constants with $n parameters only. Each comment names
 * the Kestra table and columns (checked against Kestra 1.0's schema, kestra-protocol.md §2, §5.8,
 * §7.1); tests/integration/test_statements.sh prepares every one of them against the test schema.
 */
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
/* worker_job_running upsert for a batch: $1 text[] keys (taskRun.id, distinct), $2 text[] JSON. */
extern const char KWG_SQL_RUNNING_UPSERT[];
/* Mark claimed rows consumed: $1 bigint[] offsets, $2 group key (NULL for the default group). */
extern const char KWG_SQL_MARK_CONSUMED[];
/* Emit a batch of messages in order: $1 text[] queue_type labels, $2 text[] keys, $3 text[] JSON.
 */
extern const char KWG_SQL_EMIT[];
/* kwg submit: insert one WorkerJob: $1 key, $2 JSON, $3 consumer group or NULL; returns offset. */
extern const char KWG_SQL_SUBMIT[];
/* kwg submit: rows about one task run after an offset: $1 offset, $2 taskRun.id. */
extern const char KWG_SQL_FOLLOW[];

/* All of the above, for the statement test. NULL-terminated. */
extern const struct kwg_sql_statement kwg_sql_statements[];

/* Appends the text-array literal of n strings ({"a","b"}) to a growable string. 0 or -ENOMEM,
 * -EMSGSIZE past max bytes. */
struct kwg_buf;
int kwg_sql_text_array(struct kwg_buf *b, const char *const *items, size_t n);
