/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/instance.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/compat.h"
#include "protocol/json.h"

static const char *const names[KWG_SERVICE__COUNT] = {
    [KWG_SERVICE_CREATED] = "CREATED",
    [KWG_SERVICE_RUNNING] = "RUNNING",
    [KWG_SERVICE_ERROR] = "ERROR",
    [KWG_SERVICE_DISCONNECTED] = "DISCONNECTED",
    [KWG_SERVICE_TERMINATING] = "TERMINATING",
    [KWG_SERVICE_TERMINATED_GRACEFULLY] = "TERMINATED_GRACEFULLY",
    [KWG_SERVICE_TERMINATED_FORCED] = "TERMINATED_FORCED",
    [KWG_SERVICE_NOT_RUNNING] = "NOT_RUNNING",
    [KWG_SERVICE_EMPTY] = "EMPTY",
    [KWG_SERVICE_MAINTENANCE] = "MAINTENANCE",
    [KWG_SERVICE_INVALID] = "INVALID",
};

const char *kwg_service_state_name(enum kwg_service_state s)
{
	return s < KWG_SERVICE__COUNT ? names[s] : "INVALID";
}

enum kwg_service_state kwg_service_state_from_name(const char *name)
{
	for (size_t i = 0; name && i < KWG_SERVICE_INVALID; i++)
		if (strcmp(name, names[i]) == 0)
			return (enum kwg_service_state)i;
	return KWG_SERVICE_INVALID;
}

bool kwg_service_transition_valid(enum kwg_service_state from, enum kwg_service_state to)
{
#define BIT(s) (1u << (s))
	static const unsigned allowed[KWG_SERVICE__COUNT] = {
	    [KWG_SERVICE_CREATED] = BIT(KWG_SERVICE_RUNNING) | BIT(KWG_SERVICE_ERROR) |
	                            BIT(KWG_SERVICE_DISCONNECTED) | BIT(KWG_SERVICE_TERMINATING) |
	                            BIT(KWG_SERVICE_MAINTENANCE),
	    [KWG_SERVICE_RUNNING] = BIT(KWG_SERVICE_ERROR) | BIT(KWG_SERVICE_DISCONNECTED) |
	                            BIT(KWG_SERVICE_TERMINATING) | BIT(KWG_SERVICE_MAINTENANCE),
	    [KWG_SERVICE_ERROR] = BIT(KWG_SERVICE_TERMINATING),
	    [KWG_SERVICE_DISCONNECTED] =
	        BIT(KWG_SERVICE_TERMINATING) | BIT(KWG_SERVICE_NOT_RUNNING),
	    [KWG_SERVICE_TERMINATING] = BIT(KWG_SERVICE_TERMINATED_GRACEFULLY) |
	                                BIT(KWG_SERVICE_TERMINATED_FORCED) |
	                                BIT(KWG_SERVICE_NOT_RUNNING),
	    [KWG_SERVICE_TERMINATED_GRACEFULLY] = BIT(KWG_SERVICE_NOT_RUNNING),
	    [KWG_SERVICE_TERMINATED_FORCED] = BIT(KWG_SERVICE_NOT_RUNNING),
	    [KWG_SERVICE_NOT_RUNNING] = BIT(KWG_SERVICE_EMPTY),
	    [KWG_SERVICE_EMPTY] = 0,
	    [KWG_SERVICE_MAINTENANCE] = BIT(KWG_SERVICE_RUNNING) | BIT(KWG_SERVICE_ERROR) |
	                                BIT(KWG_SERVICE_DISCONNECTED) |
	                                BIT(KWG_SERVICE_TERMINATING),
	};
#undef BIT
	if (from >= KWG_SERVICE_INVALID || to >= KWG_SERVICE_INVALID)
		return false;
	return from == to || (allowed[from] & (1u << to)) != 0;
}

static json_t *seconds(int64_t ms)
{
	return json_real((double)ms / 1000.0);
}

static json_t *gauge(const char *name, unsigned value)
{
	return json_pack("{s:s, s:s, s:n, s:n, s:[], s:f}", "name", name, "type", "GAUGE",
	                 "description", "baseUnit", "tags", "value", (double)value);
}

static json_t *server_json(const struct kwg_instance_info *info)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:{s:i, s:i}, s:[]}", "id", info->server_id, "type",
	                 "SERVER", "version", info->version, "hostname", info->hostname, "props",
	                 "server.port", (json_int_t)info->management_port, "server.management.port",
	                 (json_int_t)info->management_port, "metrics");
}

static json_t *event_json(enum kwg_service_state state, const char *ts, bool first)
{
	char text[96];

	if (first)
		(void)snprintf(text, sizeof(text), "Service connected.");
	else
		(void)snprintf(text, sizeof(text), "Service transitioned to the '%s' state.",
		               kwg_service_state_name(state));
	return json_pack("{s:s, s:s, s:s, s:s}", "ts", ts, "value", text, "type",
	                 "service.state.updated", "state", kwg_service_state_name(state));
}

static json_t *new_record(const struct kwg_instance_info *info, enum kwg_service_state state,
                          const char *ts)
{
	json_t *rec = json_pack(
	    "{s:s, s:s, s:s, s:s, s:[o], s:{s:o, s:s, s:{s:b, s:o, s:o, s:o, s:o}}, s:{s:s?}, "
	    "s:i}",
	    "id", info->id, "type", "WORKER", "createdAt", ts, "updatedAt", ts, "events",
	    event_json(state, ts, true), "config", "terminationGracePeriod",
	    seconds(info->termination_grace_period_ms), "workerTaskRestartStrategy",
	    info->restart_strategy, "liveness", "enabled", 1, "interval",
	    seconds(info->liveness_interval_ms), "timeout", seconds(info->liveness_timeout_ms),
	    "initialDelay", seconds(info->liveness_initial_delay_ms), "heartbeatInterval",
	    seconds(info->heartbeat_interval_ms), "props", "worker.group", info->group, "seqId",
	    (json_int_t)0);

	if (rec)
		json_object_set_new(rec, "state", json_string(kwg_service_state_name(state)));
	return rec;
}

char *kwg_instance_record(const struct kwg_instance_info *info, enum kwg_service_state state,
                          const char *stored, int64_t now_us)
{
	char ts[KWG_INSTANT_LEN];
	json_t *rec = stored ? json_loads(stored, 0, NULL) : NULL;
	json_t *metrics;
	char *s;

	kwg_clock_format_instant(now_us, ts);
	if (rec && (!json_is_object(rec) || !json_is_string(json_object_get(rec, "state")))) {
		json_decref(rec);
		rec = NULL;
	}
	if (!rec) {
		rec = new_record(info, state, ts);
	} else {
		enum kwg_service_state old =
		    kwg_service_state_from_name(json_string_value(json_object_get(rec, "state")));
		json_t *events = json_object_get(rec, "events");
		json_int_t seq = json_integer_value(json_object_get(rec, "seqId"));
		if (old != state) {
			if (!json_is_array(events)) {
				events = json_array();
				json_object_set_new(rec, "events", events);
			}
			json_array_append_new(events, event_json(state, ts, false));
		}
		json_object_set_new(rec, "state", json_string(kwg_service_state_name(state)));
		json_object_set_new(rec, "updatedAt", json_string(ts));
		json_object_set_new(rec, "seqId", json_integer(seq + 1));
	}
	if (!rec)
		return NULL;
	metrics = json_pack("[o, o, o]", gauge("kestra.worker.job.thread", info->slots),
	                    gauge("kestra.worker.job.running", info->running),
	                    gauge("kestra.worker.job.pending", info->pending));
	json_object_set_new(rec, "server", server_json(info));
	json_object_set_new(rec, "metrics", metrics ? metrics : json_array());
	s = kwg_json_dump(rec);
	json_decref(rec);
	return s;
}

enum kwg_service_state kwg_instance_stored_state(const char *stored)
{
	json_t *rec = json_loads(stored, 0, NULL);
	enum kwg_service_state s =
	    kwg_service_state_from_name(json_string_value(json_object_get(rec, "state")));

	json_decref(rec);
	return s;
}
