/* SPDX-License-Identifier: Apache-2.0 */
/* The queue_type labels kwg reads and writes (kestra-protocol.md §2.3), Kestra 2.x's queue names
 * (kestra-2x-queue.md §2.1) and the message keys. */
#pragma once
#include <stddef.h>

enum kwg_queue_type {
	KWG_QUEUE_WORKER_JOB,
	KWG_QUEUE_WORKER_TASK_RESULT,
	KWG_QUEUE_WORKER_TRIGGER_RESULT,
	KWG_QUEUE_LOG_ENTRY,
	KWG_QUEUE_METRIC_ENTRY,
	KWG_QUEUE_EXECUTION_KILLED,
	KWG_QUEUE_CLUSTER_EVENT,
	KWG_QUEUE_FOLLOW_LOG_EVENT, /* Kestra 2.x only: the live log view's copy of a LogEntry */
	KWG_QUEUE_TYPE__COUNT,
};

/* The exact Postgres enum label, e.g. "io.kestra.core.runners.WorkerJob" ("" for a queue Kestra
 * 1.x does not have). */
const char *kwg_queue_type_label(enum kwg_queue_type t);

/* Longest Kestra 2.x queue name kwg builds (queues.type is VARCHAR(250)). */
#define KWG_QUEUE_NAME_MAX 250
/* Kestra 2.x's queue name for t: the event class's simple name in lower snake case
 * ("worker_job_event", "worker_task_result", "log_entry", …), after prefix + "__" when a
 * kestra.queue.prefix is configured (prefix NULL or "": none). Writes it into out (size at least
 * KWG_QUEUE_NAME_MAX + 1); 0, or -ENAMETOOLONG. */
int kwg_queue_name2(enum kwg_queue_type t, const char *prefix, char *out, size_t size);
