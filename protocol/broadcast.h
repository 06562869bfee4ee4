/* SPDX-License-Identifier: Apache-2.0 */
/* The broadcast messages a worker reads (kestra-protocol.md §5.11, §5.12): ExecutionKilled and
 * ClusterEvent. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* What a worker does with an ExecutionKilled message. */
struct kwg_kill {
	bool act;               /* an EXECUTED (or legacy state-less) kill of an execution */
	char execution_id[256]; /* when act */
	char tenant_id[256];    /* "" when absent */
};

/* 0 and *ret; -EBADMSG (err says why) for a message that is not an ExecutionKilled. A REQUESTED
 * kill or a trigger kill decodes with act = false. */
int kwg_kill_decode(const char *json, size_t len, struct kwg_kill *ret, struct kwg_err *err);

enum kwg_cluster_event {
	KWG_CLUSTER_EVENT_OTHER,
	KWG_CLUSTER_EVENT_MAINTENANCE_ENTER,
	KWG_CLUSTER_EVENT_MAINTENANCE_EXIT,
};
/* 0 and *ret; -EBADMSG for a message that is not a ClusterEvent. */
int kwg_cluster_event_decode(const char *json, size_t len, enum kwg_cluster_event *ret,
                             struct kwg_err *err);
