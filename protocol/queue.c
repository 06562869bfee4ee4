/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/queue.h"

static const char *const labels[KWG_QUEUE_TYPE__COUNT] = {
    [KWG_QUEUE_WORKER_JOB] = "io.kestra.core.runners.WorkerJob",
    [KWG_QUEUE_WORKER_TASK_RESULT] = "io.kestra.core.runners.WorkerTaskResult",
    [KWG_QUEUE_WORKER_TRIGGER_RESULT] = "io.kestra.core.runners.WorkerTriggerResult",
    [KWG_QUEUE_LOG_ENTRY] = "io.kestra.core.models.executions.LogEntry",
    [KWG_QUEUE_METRIC_ENTRY] = "io.kestra.core.models.executions.MetricEntry",
    [KWG_QUEUE_EXECUTION_KILLED] = "io.kestra.core.models.executions.ExecutionKilled",
    [KWG_QUEUE_CLUSTER_EVENT] = "io.kestra.core.server.ClusterEvent",
};

const char *kwg_queue_type_label(enum kwg_queue_type t)
{
	return t < KWG_QUEUE_TYPE__COUNT ? labels[t] : "";
}
