/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/controller.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/json.h"

char *kwg_controller_heartbeat(const struct kwg_instance_info *info, const char *group_id,
                               bool registration, enum kwg_service_state state, const char *stored,
                               int64_t now_us)
{
	char *text = kwg_instance_record(info, registration ? KWG_SERVICE_CREATED : state,
	                                 registration ? NULL : stored, now_us);
	json_t *inst = text ? json_loads(text, 0, NULL) : NULL;
	json_t *msg = NULL;
	char *s = NULL;

	free(text);
	if (!inst)
		return NULL;
	/* KESTRA 2.x: the controller keys the worker's group by props["worker.group.id"]. */
	(void)json_object_set_new(
	    inst, "props", json_pack("{s:s}", "worker.group.id", group_id ? group_id : "default"));
	msg = json_pack("{s:o, s:o, s:n}", "instance", inst, "newState",
	                registration ? json_null() : json_string(kwg_service_state_name(state)),
	                "reason");
	if (msg)
		s = kwg_json_dump(msg);
	json_decref(msg);
	return s;
}

static const char *const results[] = {"SUCCEEDED", "FAILED", "ABORTED"};

int kwg_controller_reply_decode(const char *json, size_t len, struct kwg_controller_reply *ret,
                                struct kwg_err *err)
{
	json_t *j = NULL, *inst;
	const char *result = NULL;
	int r;

	*ret = (struct kwg_controller_reply){.state = KWG_SERVICE_INVALID};
	r = kwg_json_parse(json, len, KWG_CONTROLLER_MAX_BYTES, &j, err);
	if (r >= 0 && !json_is_object(j))
		r = kwg_err_set(err, -EBADMSG, "$: expected an object");
	if (r >= 0)
		r = kwg_json_get_str(j, "result", "$", true, &result, err);
	if (r >= 0) {
		size_t i = 0;
		while (i < sizeof(results) / sizeof(results[0]) && strcmp(results[i], result) != 0)
			i++;
		if (i == sizeof(results) / sizeof(results[0]))
			r = kwg_err_set(err, -EBADMSG, "$.result: unknown result '%.64s'", result);
		else
			ret->result = (enum kwg_controller_result)i;
	}
	if (r >= 0)
		r = kwg_json_get_bool(j, "maintenance", "$", false, &ret->maintenance, err);
	inst = r >= 0 ? json_object_get(j, "instance") : NULL;
	if (inst && !json_is_null(inst)) {
		if (!json_is_object(inst)) {
			r = kwg_err_set(err, -EBADMSG, "$.instance: expected an object");
		} else {
			ret->state = kwg_service_state_from_name(
			    json_string_value(json_object_get(inst, "state")));
			ret->instance = kwg_json_dump(inst);
			if (!ret->instance)
				r = -ENOMEM;
		}
	}
	json_decref(j);
	if (r < 0)
		kwg_controller_reply_done(ret);
	return r;
}

void kwg_controller_reply_done(struct kwg_controller_reply *r)
{
	free(r->instance);
	r->instance = NULL;
}

int kwg_controller_configs_decode(const char *json, size_t len, char **ret_secret_key,
                                  struct kwg_err *err)
{
	const char *key = NULL;
	json_t *j = NULL;
	int r;

	*ret_secret_key = NULL;
	if (len == 0)
		return 0;
	r = kwg_json_parse(json, len, KWG_CONTROLLER_MAX_BYTES, &j, err);
	if (r >= 0 && !json_is_object(j))
		r = kwg_err_set(err, -EBADMSG, "worker_configs: expected a JSON object");
	if (r >= 0)
		r = kwg_json_get_str(j, "encryption.secret-key", "$", false, &key, err);
	if (r >= 0 && key && *key) {
		*ret_secret_key = strdup(key);
		if (!*ret_secret_key)
			r = -ENOMEM;
	}
	json_decref(j);
	return r;
}

int kwg_controller_event_decode(const char *json, size_t len, struct kwg_kill *ret,
                                struct kwg_err *err)
{
	const char *type = NULL;
	json_t *j = NULL, *payload;
	char *text;
	int r;

	*ret = (struct kwg_kill){0};
	r = kwg_json_parse(json, len, KWG_CONTROLLER_MAX_BYTES, &j, err);
	if (r >= 0 && !json_is_object(j))
		r = kwg_err_set(err, -EBADMSG, "$: expected an object");
	if (r >= 0)
		r = kwg_json_get_str(j, "type", "$", true, &type, err);
	if (r < 0 || strcmp(type, "executionKilled") != 0) {
		json_decref(j);
		return r < 0 ? r : 0;
	}
	payload = json_object_get(j, "payload");
	if (!json_is_object(payload)) {
		json_decref(j);
		return kwg_err_set(err, -EBADMSG, "$.payload: expected an object");
	}
	text = kwg_json_dump(payload);
	json_decref(j);
	if (!text)
		return -ENOMEM;
	r = kwg_kill_decode(text, strlen(text), ret, err);
	free(text);
	return r < 0 ? r : 1;
}
