/* SPDX-License-Identifier: Apache-2.0 */
/* Messages on their way to the queues table: WorkerTaskResult, LogEntry, MetricEntry rows,
 * written in the order they were queued, in batches (one INSERT … unnest per round trip, without
 * delaying the first: a batch leaves as soon as the connection is free). A message leaves the
 * outbox only once its batch committed; a lost connection retries it. Owns its connection and the
 * queued messages. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "protocol/queue.h"

struct kwg_outbox;
struct kwg_sql_table;

/* Called when the outbox drops below its low-water mark after having been congested, and when it
 * becomes empty. */
typedef void kwg_outbox_event_fn(void *userdata);

/* sql: the statements for the queue table, borrowed for the outbox's life; spill_dir: where the
 * spill file goes when memory fills (an unlinked O_TMPFILE file). */
int kwg_outbox_new(uv_loop_t *loop, const char *conninfo, const struct kwg_sql_table *sql,
                   const char *spill_dir, kwg_outbox_event_fn *on_drained, void *userdata,
                   struct kwg_outbox **ret);
/* Opens the connection (the first push does it too): the transport waits until its first claim
 * is on its way, so that the server starts the sessions that claim first. */
void kwg_outbox_connect(struct kwg_outbox *ob);
/* Queues a message; steals value; key borrowed. Never fails: on OOM the message is logged as
 * lost (an error, never silent). */
void kwg_outbox_push(struct kwg_outbox *ob, enum kwg_queue_type type, const char *key, char *value);
/* Kestra 2.x (before the first push): the rows take the 2.x queue names (prefix as
 * kwg_queue_name2), created and routing_key NULL; a LogEntry is written twice, as log_entry and
 * follow_log_event; one statement per batch. 0 or -ENAMETOOLONG. */
int kwg_outbox_set_gen2(struct kwg_outbox *ob, const char *prefix);
/* kwg_outbox_push; end_running (Kestra 2.x): the message is a terminal WorkerTaskResult whose key
 * is the task run id: its worker_job_running record is deleted in the transaction that writes
 * it (kestra-2x-queue.md §4.4). */
void kwg_outbox_push_ex(struct kwg_outbox *ob, enum kwg_queue_type type, const char *key,
                        char *value, bool end_running);
/* Memory full and nothing more can spill: producers should pause. */
bool kwg_outbox_congested(const struct kwg_outbox *ob);
bool kwg_outbox_empty(const struct kwg_outbox *ob);
size_t kwg_outbox_bytes(const struct kwg_outbox *ob);
/* Frees it; messages still queued are reported as lost. */
void kwg_outbox_close(struct kwg_outbox *ob);
