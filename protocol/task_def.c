/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/task_def.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "common/clock.h"
#include "protocol/json.h"

/* YAML nodes deeper than this are refused (the definition is user input). */
#define YAML_MAX_DEPTH 64

struct yaml_reader {
	yaml_parser_t parser;
	struct kwg_err *err;
	int depth;
	bool last_key_wins; /* a repeated key replaces (Jackson's default) instead of failing */
};

static json_t *yaml_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	char *end;

	/* Quoted scalars are strings; plain ones follow the YAML core schema. */
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, len);
	if (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0)
		return json_null();
	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
		return json_true();
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
		return json_false();
	if (strspn(v, "+-0123456789") == len && len < 19) {
		long long n = strtoll(v, &end, 10);
		if (*end == '\0')
			return json_integer(n);
	}
	if (strspn(v, "+-0123456789.eE") == len && strpbrk(v, "0123456789")) {
		double d = strtod(v, &end);
		if (*end == '\0')
			return json_real(d);
	}
	return json_stringn(v, len);
}

static int yaml_next(struct yaml_reader *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->parser, ev))
		return kwg_err_set(y->err, -EBADMSG, "YAML line %zu column %zu: %s",
		                   y->parser.problem_mark.line + 1,
		                   y->parser.problem_mark.column + 1,
		                   y->parser.problem ? y->parser.problem : "syntax error");
	return 0;
}

static int yaml_node(struct yaml_reader *y, yaml_event_t *ev, json_t **ret);

static int yaml_collection(struct yaml_reader *y, bool is_map, json_t **ret)
{
	json_t *c = is_map ? json_object() : json_array();
	yaml_event_t ev;
	int r = 0;

	if (++y->depth > YAML_MAX_DEPTH)
		r = kwg_err_set(y->err, -EBADMSG, "YAML nested deeper than %d levels",
		                YAML_MAX_DEPTH);
	while (r >= 0 && c) {
		json_t *key = NULL, *value = NULL;
		r = yaml_next(y, &ev);
		if (r < 0)
			break;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (is_map) {
			r = yaml_node(y, &ev, &key);
			if (r >= 0 && !json_is_string(key) && !json_is_integer(key))
				r = kwg_err_set(y->err, -EBADMSG,
				                "YAML mapping keys must be scalars");
			if (r >= 0)
				r = yaml_next(y, &ev);
		}
		if (r >= 0)
			r = yaml_node(y, &ev, &value);
		if (r >= 0 && is_map) {
			char num[32];
			const char *k = json_is_string(key) ? json_string_value(key) : num;
			if (json_is_integer(key))
				(void)snprintf(num, sizeof(num), "%lld",
				               (long long)json_integer_value(key));
			if (json_object_get(c, k) && !y->last_key_wins)
				r = kwg_err_set(y->err, -EBADMSG, "duplicate key '%.64s'", k);
			else
				r = json_object_set(c, k, value) < 0 ? -ENOMEM : 0;
		} else if (r >= 0) {
			r = json_array_append(c, value) < 0 ? -ENOMEM : 0;
		}
		json_decref(key);
		json_decref(value);
	}
	y->depth--;
	if (!c)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* Consumes the node that starts with ev (which it deletes). Anchors and aliases are refused. */
static int yaml_node(struct yaml_reader *y, yaml_event_t *ev, json_t **ret)
{
	yaml_event_type_t type = ev->type;
	int r = 0;

	*ret = NULL;
	if (type == YAML_SCALAR_EVENT) {
		*ret = yaml_scalar(ev);
		r = *ret ? 0 : kwg_err_set(y->err, -EBADMSG, "YAML scalar is not valid UTF-8");
	} else if (type == YAML_ALIAS_EVENT ||
	           (type == YAML_MAPPING_START_EVENT && ev->data.mapping_start.anchor) ||
	           (type == YAML_SEQUENCE_START_EVENT && ev->data.sequence_start.anchor)) {
		r = kwg_err_set(y->err, -EBADMSG, "YAML anchors and aliases are not supported");
	} else if (type != YAML_MAPPING_START_EVENT && type != YAML_SEQUENCE_START_EVENT) {
		r = kwg_err_set(y->err, -EBADMSG, "unexpected YAML event");
	}
	yaml_event_delete(ev);
	if (r < 0 || *ret)
		return r;
	return yaml_collection(y, type == YAML_MAPPING_START_EVENT, ret);
}

int kwg_yaml_load(const char *text, size_t len, bool last_key_wins, json_t **ret,
                  struct kwg_err *err)
{
	struct yaml_reader y = {.err = err, .last_key_wins = last_key_wins};
	yaml_event_t ev;
	int r;

	if (!yaml_parser_initialize(&y.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
	*ret = NULL;
	/* stream start, document start, the root node, document end */
	r = yaml_next(&y, &ev);
	if (r >= 0) {
		yaml_event_delete(&ev);
		r = yaml_next(&y, &ev);
	}
	if (r >= 0 && ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		r = kwg_err_set(err, -EBADMSG, "empty document");
	} else if (r >= 0) {
		yaml_event_delete(&ev);
		r = yaml_next(&y, &ev);
		if (r >= 0)
			r = yaml_node(&y, &ev, ret);
	}
	yaml_parser_delete(&y.parser);
	return r;
}

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
