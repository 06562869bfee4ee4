/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's service liveness (kestra-protocol.md §7): the service states and their transitions, and
 * the ServiceInstance record a worker keeps in service_instance. Pure. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

enum kwg_service_state {
	KWG_SERVICE_CREATED,
	KWG_SERVICE_RUNNING,
	KWG_SERVICE_ERROR,
	KWG_SERVICE_DISCONNECTED,
	KWG_SERVICE_TERMINATING,
	KWG_SERVICE_TERMINATED_GRACEFULLY,
	KWG_SERVICE_TERMINATED_FORCED,
	KWG_SERVICE_NOT_RUNNING,
	KWG_SERVICE_EMPTY,
	KWG_SERVICE_MAINTENANCE,
	KWG_SERVICE_INVALID, /* unknown name */
	KWG_SERVICE__COUNT,
};

const char *kwg_service_state_name(enum kwg_service_state s);
enum kwg_service_state kwg_service_state_from_name(const char *name);
/* KESTRA: Service.ServiceState (1.0). Staying in the same state is always valid. */
bool kwg_service_transition_valid(enum kwg_service_state from, enum kwg_service_state to);

/* What the worker says about itself. Strings borrowed. Durations in milliseconds. */
struct kwg_instance_info {
	const char *id;        /* the worker's UUID */
	const char *server_id; /* a friendly id per process */
	const char *hostname;
	const char *version;
	const char *group; /* NULL: the default group (written as null) */
	int64_t heartbeat_interval_ms, liveness_interval_ms, liveness_timeout_ms,
	    liveness_initial_delay_ms, termination_grace_period_ms;
	const char *restart_strategy; /* NEVER, IMMEDIATELY, AFTER_TERMINATION_GRACE_PERIOD */
	unsigned management_port;
	unsigned slots, running, pending; /* the worker.job.* gauges */
};

/* The record to write for `state` at now_us (kestra-protocol.md §7.2, §7.4): from the stored
 * record when there is one (its state, createdAt, events and seqId carried on: updatedAt = now,
 * seqId + 1, an event appended when the state changes, server and metrics replaced), else a new
 * record with the first event "Service connected.". stored may be NULL or unreadable (then a new
 * record). New string; NULL on OOM. */
char *kwg_instance_record(const struct kwg_instance_info *info, enum kwg_service_state state,
                          const char *stored, int64_t now_us);
/* The state of a stored record; KWG_SERVICE_INVALID when unreadable. */
enum kwg_service_state kwg_instance_stored_state(const char *stored);
