/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/queue.h"

#include <errno.h>
#include <stdio.h>

static const char *const labels[KWG_QUEUE_TYPE__COUNT] = {
    [KWG_QUEUE_WORKER_JOB] = "io.kestra.core.runners.WorkerJob",
    [KWG_QUEUE_WORKER_TASK_RESULT] = "io.kestra.core.runners.WorkerTaskResult",
    [KWG_QUEUE_WORKER_TRIGGER_RESULT] = "io.kestra.core.runners.WorkerTriggerResult",
    [KWG_QUEUE_LOG_ENTRY] = "io.kestra.core.models.executions.LogEntry",
    [KWG_QUEUE_METRIC_ENTRY] = "io.kestra.core.models.executions.MetricEntry",
    [KWG_QUEUE_EXECUTION_KILLED] = "io.kestra.core.models.executions.ExecutionKilled",
    [KWG_QUEUE_CLUSTER_EVENT] = "io.kestra.core.server.ClusterEvent",
    [KWG_QUEUE_FOLLOW_LOG_EVENT] = "",
};

/* KESTRA 2.x: AbstractQueue / JdbcQueueFactory name a queue after its event class. */
static const char *const names2[KWG_QUEUE_TYPE__COUNT] = {
    [KWG_QUEUE_WORKER_JOB] = "worker_job_event",
    [KWG_QUEUE_WORKER_TASK_RESULT] = "worker_task_result",
    [KWG_QUEUE_WORKER_TRIGGER_RESULT] = "worker_trigger_result",
    [KWG_QUEUE_LOG_ENTRY] = "log_entry",
    [KWG_QUEUE_METRIC_ENTRY] = "metric_entry",
    [KWG_QUEUE_EXECUTION_KILLED] = "execution_killed",
    [KWG_QUEUE_CLUSTER_EVENT] = "cluster_event",
    [KWG_QUEUE_FOLLOW_LOG_EVENT] = "follow_log_event",
};

const char *kwg_queue_type_label(enum kwg_queue_type t)
{
	return t < KWG_QUEUE_TYPE__COUNT ? labels[t] : "";
}

int kwg_queue_name2(enum kwg_queue_type t, const char *prefix, char *out, size_t size)
{
	const char *name = t < KWG_QUEUE_TYPE__COUNT ? names2[t] : "";
	int n = prefix && *prefix ? snprintf(out, size, "%s__%s", prefix, name)
	                          : snprintf(out, size, "%s", name);

	return n < 0 || (size_t)n >= size || n > KWG_QUEUE_NAME_MAX ? -ENAMETOOLONG : 0;
}
