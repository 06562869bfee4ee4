/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/task_def.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "protocol/json.h"

int kwg_yaml_to_json(const char *text, size_t len, char **ret, struct kwg_err *err)
{
	json_t *j;
	int r = kwg_yaml_load(text, len, false, &j, err);

	if (r < 0)
		return r;
	*ret = kwg_json_dump(j);
	json_decref(j);
	return *ret ? 0 : -ENOMEM;
}

/* KESTRA: Property<T> fields of 1.x (kestra-script-tasks.md §W) travel as JSON strings. */
static int stringify_properties(json_t *task)
{
	static const char *const props[] = {
	    "timeout",     "beforeCommands", "env",         "warningOnStdErr",
	    "interpreter", "failFast",       "outputFiles", "outputDirectory",
	    "targetOS",    "containerImage", "commands",    "script",
	    "level",
	};
	const char *type = json_string_value(json_object_get(task, "type"));
	bool is_log = type && strcmp(type, "io.kestra.plugin.core.log.Log") == 0;

	for (size_t i = 0; i < sizeof(props) / sizeof(props[0]); i++) {
		json_t *v = json_object_get(task, props[i]);
		char *s;
		if (!v || json_is_string(v) || json_is_null(v))
			continue;
		if (is_log && strcmp(props[i], "level") != 0 && strcmp(props[i], "timeout") != 0)
			continue;
		s = kwg_json_dump(v);
		if (!s || json_object_set_new(task, props[i], json_string(s)) < 0) {
			free(s);
			return -ENOMEM;
		}
		free(s);
	}
	return 0;
}

static const char *str_or(json_t *obj, const char *key, const char *def)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s ? s : def;
}

static json_t *obj_or_empty(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_object(v) ? json_incref(v) : json_object();
}

static json_t *build(json_t *doc, json_t *task, const struct kwg_task_def_opts *opts,
                     struct kwg_task_def *def)
{
	char now[KWG_INSTANT_LEN];
	const char *tenant = str_or(doc, "tenantId", "main");
	const char *ns = str_or(doc, "namespace", "company.team");
	const char *flow = str_or(doc, "flowId", "kwg_submit");
	const char *task_id = json_string_value(json_object_get(task, "id"));
	const char *task_type = json_string_value(json_object_get(task, "type"));
	json_t *vars;

	kwg_clock_format_instant(opts->now_us, now);
	vars = json_pack("{s:{}, s:{}, s:{s:s, s:s, s:i, s:s}, s:{s:s, s:s}, s:{s:s, s:s, s:i},"
	                 " s:[], s:{s:s, s:s, s:s, s:s}, s:o, s:o, s:o, s:{s:s}}",
	                 "envs", "globals", "flow", "id", flow, "namespace", ns, "revision", 1,
	                 "tenantId", tenant, "task", "id", task_id, "type", task_type, "taskrun",
	                 "id", def->task_run_id, "startDate", now, "attemptsCount", 0, "parents",
	                 "execution", "id", def->execution_id, "state", "RUNNING", "startDate", now,
	                 "originalId", def->execution_id, "outputs", obj_or_empty(doc, "outputs"),
	                 "inputs", obj_or_empty(doc, "inputs"), "labels",
	                 obj_or_empty(doc, "labels"), "kestra", "url", "http://localhost:8080/");
	if (vars && json_object_get(doc, "vars"))
		json_object_set(vars, "vars", json_object_get(doc, "vars"));
	json_t *secret_inputs = json_object_get(doc, "secretInputs");
	secret_inputs = json_is_array(secret_inputs) ? json_incref(secret_inputs) : json_array();
	return json_pack("{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:n, s:{s:s, s:[{s:s, s:s}]}},"
	                 " s:O, s:{s:o, s:o, s:n}}",
	                 "type", "task", "taskRun", "tenantId", tenant, "id", def->task_run_id,
	                 "executionId", def->execution_id, "namespace", ns, "flowId", flow,
	                 "taskId", task_id, "outputs", "state", "current", "CREATED", "histories",
	                 "state", "CREATED", "date", now, "task", task, "runContext", "variables",
	                 vars, "secretInputs", secret_inputs, "traceParent");
}

int kwg_task_def_build(const char *text, size_t len, const struct kwg_task_def_opts *opts,
                       struct kwg_task_def *ret, struct kwg_err *err)
{
	json_t *doc = NULL, *task, *msg;
	bool bare;
	int r;

	*ret = (struct kwg_task_def){0};
	if (len > KWG_TASK_DEF_MAX_BYTES)
		return kwg_err_set(err, -EMSGSIZE, "definition larger than %u bytes",
		                   KWG_TASK_DEF_MAX_BYTES);
	r = kwg_yaml_load(text, len, false, &doc, err);
	if (r < 0)
		return r;
	task = json_object_get(doc, "task");
	if (!json_is_object(doc) || (!json_object_get(doc, "type") && !json_is_object(task))) {
		json_decref(doc);
		return kwg_err_set(err, -EBADMSG, "expected a task {id, type, …} or {task: {…}}");
	}
	bare = json_object_get(doc, "type") != NULL;
	task = bare ? doc : task;
	if (!json_is_string(json_object_get(task, "id")) ||
	    !json_is_string(json_object_get(task, "type"))) {
		json_decref(doc);
		return kwg_err_set(err, -EBADMSG, "the task needs a string 'id' and 'type'");
	}
	task = json_deep_copy(task);
	r = task ? 0 : -ENOMEM;
	if (r >= 0 && !opts->plain_properties)
		r = stringify_properties(task);
	kwg_id_friendly(ret->task_run_id);
	kwg_id_friendly(ret->execution_id);
	msg = r >= 0 ? build(bare ? NULL : doc, task, opts, ret) : NULL;
	json_decref(task);
	json_decref(doc);
	if (!msg)
		return r < 0 ? r : -ENOMEM;
	ret->worker_task = kwg_json_dump(msg);
	json_decref(msg);
	return ret->worker_task ? 0 : -ENOMEM;
}

void kwg_task_def_done(struct kwg_task_def *def)
{
	free(def->worker_task);
	def->worker_task = NULL;
}

int kwg_task_def_follow(const char *type_label, const char *value, const char *task_run_id,
                        struct kwg_followed *ret)
{
	json_t *j = json_loads(value, 0, NULL);
	struct kwg_buf text;
	int r = 0;

	*ret = (struct kwg_followed){.state = KWG_STATE_UNKNOWN};
	if (!json_is_object(j)) {
		json_decref(j);
		return -EBADMSG;
	}
	if (!json_object_get(j, "taskRun") &&
	    strcmp(str_or(j, "taskRunId", ""), task_run_id) != 0) {
		json_decref(j);
		return 1;
	}
	kwg_buf_init(&text, 1u << 24);
	if (strcmp(type_label, "io.kestra.core.models.executions.LogEntry") == 0) {
		r = kwg_buf_printf(&text, "%s %-5s %s", str_or(j, "timestamp", "?"),
		                   str_or(j, "level", "?"), str_or(j, "message", ""));
	} else if (strcmp(type_label, "io.kestra.core.models.executions.MetricEntry") == 0) {
		char *tags = kwg_json_dump(json_object_get(j, "tags"));
		char *v = kwg_json_dump(json_object_get(j, "value"));
		r = kwg_buf_printf(&text, "metric %s %s = %s %s", str_or(j, "type", "?"),
		                   str_or(j, "name", "?"), v ? v : "?", tags ? tags : "{}");
		free(tags);
		free(v);
	} else {
		json_t *tr = json_object_get(j, "taskRun");
		const char *cur =
		    json_string_value(json_object_get(json_object_get(tr, "state"), "current"));
		/* Kestra 2.x writes the outputs beside the task run. */
		json_t *o = json_object_get(j, "outputs") ? json_object_get(j, "outputs")
		                                          : json_object_get(tr, "outputs");
		char *outputs = kwg_json_dump(o);
		ret->is_result = true;
		ret->state = cur ? kwg_state_from_name(cur) : KWG_STATE_UNKNOWN;
		r = kwg_buf_printf(&text, "state %s", cur ? cur : "?");
		if (r >= 0 && kwg_state_is_terminated(ret->state))
			r = kwg_buf_printf(&text, " outputs %s", outputs ? outputs : "null");
		free(outputs);
	}
	json_decref(j);
	if (r < 0) {
		kwg_buf_done(&text);
		return r;
	}
	ret->text = kwg_buf_steal(&text);
	return ret->text ? 0 : -ENOMEM;
}

int kwg_task_def_to_gen2(const char *worker_task, char **ret)
{
	json_t *wt = json_loads(worker_task, 0, NULL);
	json_t *rc = json_object_get(wt, "runContext");
	json_t *vars = json_object_get(rc, "variables");
	json_t *secret = json_object_get(rc, "secretInputs");
	json_t *job, *event;
	static const char *const rebuilt[] = {"task", "taskrun", "envs", "globals", "kestra"};

	*ret = NULL;
	if (!json_is_object(wt)) {
		json_decref(wt);
		return -EBADMSG;
	}
	vars = json_is_object(vars) ? json_deep_copy(vars) : json_object();
	/* KESTRA 2.x: the executor leaves out what the worker rebuilds (kestra-2x-protocol.md
	 * §3.3). */
	for (size_t i = 0; vars && i < sizeof(rebuilt) / sizeof(rebuilt[0]); i++)
		(void)json_object_del(vars, rebuilt[i]);
	job = json_pack("{s:s, s:O, s:O, s:{s:o, s:O, s:n}}", "type", "task", "taskRun",
	                json_object_get(wt, "taskRun"), "task", json_object_get(wt, "task"), "data",
	                "variables", vars, "secretInputs",
	                json_is_array(secret) ? secret : json_null(), "traceParent");
	event = job ? json_pack("{s:o}", "job", job) : NULL;
	if (event)
		*ret = kwg_json_dump(event);
	json_decref(event);
	json_decref(wt);
	return *ret ? 0 : -ENOMEM;
}
