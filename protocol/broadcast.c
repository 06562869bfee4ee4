/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/broadcast.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "protocol/json.h"

/* Broadcast messages are small; anything larger is not one. */
#define BROADCAST_MAX_BYTES (1u << 20)

int kwg_kill_decode(const char *json, size_t len, struct kwg_kill *ret, struct kwg_err *err)
{
	const char *type, *state, *execution_id, *tenant_id;
	json_t *j;
	int r;

	*ret = (struct kwg_kill){0};
	r = kwg_json_parse(json, len, BROADCAST_MAX_BYTES, &j, err);
	if (r < 0)
		return r;
	if (!json_is_object(j)) {
		json_decref(j);
		return kwg_err_set(err, -EBADMSG, "$: expected an object");
	}
	r = kwg_json_get_str(j, "type", "$", false, &type, err);
	if (r >= 0)
		r = kwg_json_get_str(j, "state", "$", false, &state, err);
	if (r >= 0)
		r = kwg_json_get_str(j, "executionId", "$", false, &execution_id, err);
	if (r >= 0)
		r = kwg_json_get_str(j, "tenantId", "$", false, &tenant_id, err);
	/* KESTRA: workers act on EXECUTED, or no state at all (legacy); REQUESTED is the
	 * executor's. */
	if (r >= 0 && (!type || strcmp(type, "execution") == 0) &&
	    (!state || strcmp(state, "EXECUTED") == 0)) {
		if (!execution_id || strlen(execution_id) >= sizeof(ret->execution_id) ||
		    (tenant_id && strlen(tenant_id) >= sizeof(ret->tenant_id))) {
			r = kwg_err_set(err, -EBADMSG, "$.executionId: missing or too long");
		} else {
			ret->act = true;
			(void)snprintf(ret->execution_id, sizeof(ret->execution_id), "%s",
			               execution_id);
			(void)snprintf(ret->tenant_id, sizeof(ret->tenant_id), "%s",
			               tenant_id ? tenant_id : "");
		}
	}
	json_decref(j);
	return r;
}

int kwg_cluster_event_decode(const char *json, size_t len, enum kwg_cluster_event *ret,
                             struct kwg_err *err)
{
	const char *type;
	json_t *j;
	int r;

	*ret = KWG_CLUSTER_EVENT_OTHER;
	r = kwg_json_parse(json, len, BROADCAST_MAX_BYTES, &j, err);
	if (r < 0)
		return r;
	r = json_is_object(j) ? kwg_json_get_str(j, "eventType", "$", true, &type, err)
	                      : kwg_err_set(err, -EBADMSG, "$: expected an object");
	if (r >= 0 && strcmp(type, "MAINTENANCE_ENTER") == 0)
		*ret = KWG_CLUSTER_EVENT_MAINTENANCE_ENTER;
	else if (r >= 0 && strcmp(type, "MAINTENANCE_EXIT") == 0)
		*ret = KWG_CLUSTER_EVENT_MAINTENANCE_EXIT;
	json_decref(j);
	return r;
}
