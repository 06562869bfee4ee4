/* SPDX-License-Identifier: Apache-2.0 */
/* The SQL kwg sends to a Kestra 2.x database (kestra-2x-queue.md): the same parts as protocol/sql.h
 * on the 2.x tables. Queue names (queues.type) are parameters, so that a kestra.queue.prefix
 * applies (protocol/queue.h, kwg_queue_name2). The queue table is "$Q" in each text: send the
 * text protocol/sql_table.h built for the configured table (kwg_sql_table_text).
 * tests/integration/test_statements.sh prepares each against the 2.x test schema. */
#pragma once
#include <stddef.h>

#include "protocol/sql.h"

struct kwg_sql_table;

/* Claim (§2.4, §4.2): $1 worker_job_event name, $2 routing key, $3 limit. Rows of one routing key
 * in offset order, FOR UPDATE SKIP LOCKED; value, offset. */
extern const char KWG_SQL2_CLAIM[];
/* Delete the claimed rows in the claim's transaction (the acknowledgement): $1 bigint[] offsets. */
extern const char KWG_SQL2_DELETE_CLAIMED[];
/* After a COMMIT whose outcome is unknown: which of these keys ($2 text[]) this worker ($1, the
 * generated worker_uid) holds. */
extern const char KWG_SQL2_CLAIM_RESOLVE[];
/* Emit a batch in order, in one statement (one transaction): $1 text[] queue names, $2 text[]
 * keys, $3 text[] JSON, $4 text[] worker_job_running keys to delete (the task runs whose terminal
 * result is in the batch). Notifies kestra_queue_<name> once per queue name, as Kestra's
 * publisher does. */
extern const char KWG_SQL2_EMIT[];
/* The same, skipping rows already written (after a lost connection). */
extern const char KWG_SQL2_EMIT_DEDUPE[];
/* Broadcast queues (§2.1): high-water mark ($1 name); poll after an offset ($1 name, $2 offset). */
extern const char KWG_SQL2_BROADCAST_MAX[];
extern const char KWG_SQL2_BROADCAST_POLL[];
/* kwg's control flags as KWG_SQL_CONTROL_READ, with the jobs waiting on the group's routing key:
 * $1 group key, $2 worker_job_event name, $3 routing key. */
extern const char KWG_SQL2_CONTROL_READ[];
/* kwg submit: $1 worker_job_event name, $2 routing key or NULL, $3 key, $4 JSON; returns offset and
 * the routing key the row got (kwg routing may set it). */
extern const char KWG_SQL2_SUBMIT[];
/* kwg submit: rows about one task run after an offset: $1 offset, $2 taskRun.id, $3 the
 * worker_task_result name, $4 log_entry, $5 metric_entry; offset, queue name, value. */
extern const char KWG_SQL2_FOLLOW[];
/* kwg routing on 2.x ($1: the quoted queue table, kwg_sql_table_quoted). status: installed version
 * and queue name (NULL: never), trigger count, enabled trigger count, function present, queues has
 * routing_key. */
extern const char KWG_SQL2_ROUTING_STATUS[];
/* Count of active 2.x routing triggers on the queue table ($1, quoted) (0 or 1). */
extern const char KWG_SQL2_ROUTING_INSTALLED[];
/* Jobs waiting on kwg routing keys: routing key, count. $1 worker_job_event name. */
extern const char KWG_SQL2_ROUTING_WAITING[];
/* Give the waiting jobs of one kwg routing key ($2) back to the default queue: $1
 * worker_job_event name; returns the count. */
extern const char KWG_SQL2_ROUTING_RELEASE[];

/* kwg group list / status: as KWG_SQL_GROUP_LIST, the jobs waiting per kwg routing key: $1
 * worker_job_event name. */
extern const char KWG_SQL2_GROUP_LIST[];

/* `kwg routing install` on 2.x: the statements for the queue name given (its
 * worker_job_event name, validated: [A-Za-z0-9_.-]) on the queue table given (borrowed), in a new
 * NULL-terminated array of new strings (free with kwg_sql2_free). NULL on OOM or a name that is not
 * valid. */
char **kwg_sql2_routing_install(const char *job_queue, const struct kwg_sql_table *table);
/* `kwg routing uninstall` on 2.x; requeue: give waiting jobs back to the default queue first,
 * else refuse while they wait. Same conventions. */
char **kwg_sql2_routing_uninstall(const char *job_queue, int requeue,
                                  const struct kwg_sql_table *table);
void kwg_sql2_free(char **statements);

/* All of the constant statements above, for the statement test. NULL-terminated. */
extern const struct kwg_sql_statement kwg_sql2_statements[];
