/* SPDX-License-Identifier: Apache-2.0 */
/* The queue_type labels kwg reads and writes (kestra-protocol.md §2.3) and the message keys. */
#pragma once

enum kwg_queue_type {
	KWG_QUEUE_WORKER_JOB,
	KWG_QUEUE_WORKER_TASK_RESULT,
	KWG_QUEUE_WORKER_TRIGGER_RESULT,
	KWG_QUEUE_LOG_ENTRY,
	KWG_QUEUE_METRIC_ENTRY,
	KWG_QUEUE_EXECUTION_KILLED,
	KWG_QUEUE_CLUSTER_EVENT,
	KWG_QUEUE_TYPE__COUNT,
};

/* The exact Postgres enum label, e.g. "io.kestra.core.runners.WorkerJob". */
const char *kwg_queue_type_label(enum kwg_queue_type t);
