/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/script_task.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/id.h"
#include "protocol/duration.h"
#include "protocol/json.h"
#include "protocol/task_render.h"

enum lang {
	LANG_SHELL,
	LANG_PYTHON,
	LANG_NODE,
};

/* KESTRA: plugin-scripts shell/python/node Commands and Script (S.1 of kestra-script-tasks.md). */
#define KESTRAPY "ghcr.io/kestra-io/kestrapy:latest"

static const struct script_type {
	const char *type;
	enum lang lang;
	bool is_script;    /* `script` instead of `commands` */
	const char *image; /* the default containerImage */
} script_types[] = {
    {"io.kestra.plugin.scripts.shell.Commands", LANG_SHELL, false, "ubuntu"},
    {"io.kestra.plugin.scripts.shell.Script", LANG_SHELL, true, "ubuntu"},
    {"io.kestra.plugin.scripts.python.Commands", LANG_PYTHON, false, KESTRAPY},
    {"io.kestra.plugin.scripts.python.Script", LANG_PYTHON, true, KESTRAPY},
    {"io.kestra.plugin.scripts.node.Commands", LANG_NODE, false, "node"},
    {"io.kestra.plugin.scripts.node.Script", LANG_NODE, true, "node"},
};

const char *const kwg_task_types_runnerless[] = {KWG_TASK_TYPE_LOG, KWG_TASK_TYPE_RETURN, NULL};
const char *const kwg_task_types_script[] = {
    "io.kestra.plugin.scripts.shell.Commands",
    "io.kestra.plugin.scripts.shell.Script",
    "io.kestra.plugin.scripts.python.Commands",
    "io.kestra.plugin.scripts.python.Script",
    "io.kestra.plugin.scripts.node.Commands",
    "io.kestra.plugin.scripts.node.Script",
    NULL,
};

/* Properties every task may carry (core Task, 1.0; workerSelector: 2.x, which routes in the
 * executor or kwg routing); the worker itself acts on timeout, logLevel, allowFailure,
 * allowWarning and retry; the others are the executor's. */
static const char *const core_props[] = {
    "id",           "type",        "version",  "description",    "retry",     "timeout",
    "disabled",     "workerGroup", "logLevel", "allowFailure",   "logToFile", "runIf",
    "allowWarning", "taskCache",   "assets",   "workerSelector", NULL,
};
static const char *const script_props[] = {
    "taskRunner",      "containerImage", "beforeCommands", "env",        "warningOnStdErr",
    "interpreter",     "failFast",       "namespaceFiles", "inputFiles", "outputFiles",
    "outputDirectory", "targetOS",       "runner",         "docker",     NULL,
};
static const char *const log_props[] = {"message", "level", NULL};
static const char *const return_props[] = {"format", NULL};

static bool in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* A scalar property as text: a string, a number or a boolean. */
static int prop_text(const json_t *task, const char *key, char **ret, struct kwg_err *err)
{
	json_t *v = json_object_get(task, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		if (strlen(json_string_value(v)) != json_string_length(v))
			return kwg_err_set(err, -EBADMSG, "property '%s' contains a NUL character",
			                   key);
		*ret = strdup(json_string_value(v));
	} else if (json_is_number(v) || json_is_boolean(v)) {
		*ret = kwg_json_dump(v);
	} else {
		return kwg_err_set(err, -EBADMSG, "property '%s': expected a string", key);
	}
	return *ret ? 0 : -ENOMEM;
}

static int prop_bool(const json_t *task, const char *key, bool def, bool *ret, struct kwg_err *err)
{
	json_t *v = json_object_get(task, key);
	const char *s;

	*ret = def;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*ret = json_is_true(v);
		return 0;
	}
	if (!json_is_string(v))
		return kwg_err_set(err, -EBADMSG, "property '%s': expected a boolean", key);
	s = json_string_value(v);
	if (strcasecmp(s, "true") == 0)
		*ret = true;
	else if (strcasecmp(s, "false") == 0)
		*ret = false;
	else
		return kwg_err_set(err, -EBADMSG, "property '%s': '%.64s' is not a boolean", key,
		                   s);
	return 0;
}

/* A Property<List<String>>: a JSON array, or a string holding one (§W). *ret_present tells
 * whether the property was set at all. */
static int prop_list(const json_t *task, const char *key, struct kwg_strv *ret, bool *ret_present,
                     struct kwg_err *err)
{
	json_t *v = json_object_get(task, key), *parsed = NULL, *e;
	size_t i;
	int r = 0;

	*ret_present = v && !json_is_null(v);
	if (!*ret_present)
		return 0;
	if (json_is_string(v)) {
		json_error_t jerr;
		/* KESTRA: Property.asList renders the whole string, then parses a JSON list. */
		parsed = json_loads(json_string_value(v), JSON_REJECT_DUPLICATES, &jerr);
		if (!parsed)
			return kwg_err_set(err, -EBADMSG, "property '%s' is not a JSON list: %s",
			                   key, jerr.text);
		v = parsed;
	}
	if (!json_is_array(v)) {
		json_decref(parsed);
		return kwg_err_set(err, -EBADMSG, "property '%s': expected a list of strings", key);
	}
	json_array_foreach (v, i, e) {
		char *s = NULL;
		if (json_is_string(e)) {
			if (strlen(json_string_value(e)) != json_string_length(e))
				r = kwg_err_set(err, -EBADMSG, "%s[%zu] contains a NUL character",
				                key, i);
			if (r < 0)
				break;
			s = strdup(json_string_value(e));
		} else if (json_is_number(e) || json_is_boolean(e)) {
			s = kwg_json_dump(e);
		} else {
			r = kwg_err_set(err, -EBADMSG, "property '%s'[%zu]: expected a string", key,
			                i);
			break;
		}
		r = kwg_strv_push_take(ret, s);
		if (r < 0)
			break;
	}
	json_decref(parsed);
	return r;
}

/* A Property<Map<String, String>> into NAME=value entries: an object, or a string holding one. */
static int prop_env(const json_t *task, const char *key, struct kwg_strv *env, struct kwg_err *err)
{
	json_t *v = json_object_get(task, key), *parsed = NULL, *e;
	const char *name;
	int r = 0;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		parsed = json_loads(json_string_value(v), JSON_REJECT_DUPLICATES, NULL);
		v = parsed;
	}
	if (!json_is_object(v)) {
		json_decref(parsed);
		return kwg_err_set(err, -EBADMSG, "property '%s': expected a map of strings", key);
	}
	json_object_foreach (v, name, e) {
		cleanup_free char *text = NULL;
		if (!*name || strchr(name, '=')) {
			r = kwg_err_set(err, -EBADMSG,
			                "property '%s': invalid variable name '%.64s'", key, name);
			break;
		}
		if (json_is_string(e)) {
			text = strdup(json_string_value(e));
			if (text && strlen(text) != json_string_length(e)) {
				r = kwg_err_set(err, -EBADMSG, "%s.%s contains a NUL character",
				                key, name);
				break;
			}
		} else if (json_is_null(e)) {
			continue;
		} else if (json_is_number(e) || json_is_boolean(e)) {
			text = kwg_json_dump(e);
		} else {
			r = kwg_err_set(err, -EBADMSG, "property '%s.%s': expected a string", key,
			                name);
			break;
		}
		if (!text) {
			r = -ENOMEM;
			break;
		}
		r = kwg_strv_setenv(env, name, text);
		if (r < 0)
			break;
	}
	json_decref(parsed);
	return r;
}

/* Whether a property is effectively not set: null, false, empty, or a disabled block. */
static bool prop_is_unset(const char *key, const json_t *v)
{
	const char *s;

	if (!v || json_is_null(v) || json_is_false(v))
		return true;
	if (json_is_array(v))
		return json_array_size(v) == 0;
	if (strcmp(key, "namespaceFiles") == 0 && json_is_object(v))
		return prop_is_unset("enabled", json_object_get(v, "enabled")) &&
		       json_object_get(v, "enabled");
	if (json_is_object(v))
		return json_object_size(v) == 0;
	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	return !*s || strcasecmp(s, "false") == 0 || strcmp(s, "[]") == 0 || strcmp(s, "{}") == 0;
}

/* Properties kwg knows but cannot honour yet fail the task rather than run it differently; so
 * does a property kwg does not know at all (a newer plugin's). */
static int check_props(const json_t *task, const char *type, const char *const *own,
                       struct kwg_err *err)
{
	static const char *const later[] = {"outputDirectory", "logToFile", "runner", "docker",
	                                    NULL};
	bool is_script = own == script_props;
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)task, key, v) {
		if (!in_list(core_props, key) && !in_list(own, key) &&
		    !(is_script && (strcmp(key, "commands") == 0 || strcmp(key, "script") == 0)))
			return kwg_err_set(err, -EOPNOTSUPP,
			                   "property '%.64s' is not supported by kwg for '%s'", key,
			                   type);
		if (in_list(later, key) && !prop_is_unset(key, v))
			return kwg_err_set(err, -EOPNOTSUPP,
			                   "property '%s' is not supported by kwg yet", key);
	}
	return 0;
}

static int decode_level(const json_t *task, const char *key, enum kwg_level def,
                        enum kwg_level *ret, struct kwg_err *err)
{
	cleanup_free char *s = NULL;
	int r = prop_text(task, key, &s, err);

	*ret = def;
	if (r < 0 || !s)
		return r;
	if (kwg_level_from_name(s, ret) < 0)
		return kwg_err_set(err, -EBADMSG, "property '%s': unknown level '%.32s'", key, s);
	return 0;
}

static int decode_common(const json_t *task, struct kwg_script_task *t, struct kwg_err *err)
{
	cleanup_free char *timeout = NULL;
	int r;

	t->timeout_ms = -1;
	r = prop_text(task, "timeout", &timeout, err);
	if (r < 0)
		return r;
	if (timeout && (kwg_duration_parse(timeout, &t->timeout_ms) < 0 || t->timeout_ms <= 0))
		return kwg_err_set(err, -EBADMSG, "property 'timeout': '%.64s' is not a duration",
		                   timeout);
	return decode_level(task, "logLevel", KWG_LEVEL_TRACE, &t->log_level, err);
}

static int decode_log(const json_t *task, struct kwg_script_task *t, struct kwg_err *err)
{
	json_t *msg = json_object_get(task, "message"), *e;
	size_t i;
	int r;

	t->kind = KWG_TASK_LOG;
	r = decode_level(task, "level", KWG_LEVEL_INFO, &t->message_level, err);
	if (r < 0)
		return r;
	if (json_is_string(msg)) {
		return kwg_strv_push(&t->messages, json_string_value(msg));
	}
	if (!json_is_array(msg))
		return kwg_err_set(err, -EBADMSG,
		                   "property 'message': expected a string or a list");
	json_array_foreach (msg, i, e) {
		if (!json_is_string(e))
			return kwg_err_set(err, -EBADMSG,
			                   "property 'message'[%zu]: expected a string", i);
		r = kwg_strv_push(&t->messages, json_string_value(e));
		if (r < 0)
			return r;
	}
	return 0;
}

/* KESTRA: core Return renders `format` (a Property<String>) into the output `value`. */
static int decode_return(const json_t *task, struct kwg_script_task *t, struct kwg_err *err)
{
	cleanup_free char *value = NULL;
	json_t *out;
	int r;

	t->kind = KWG_TASK_RETURN;
	r = prop_text(task, "format", &value, err);
	if (r < 0)
		return r;
	out = json_pack("{s:s?}", "value", value);
	t->return_outputs = out ? kwg_json_dump(out) : NULL;
	json_decref(out);
	return t->return_outputs ? 0 : -ENOMEM;
}

/* Micronaut's ReadableBytes, as Kestra's Docker memory settings: a number with an optional KB, MB
 * or GB (any case, base 1024); a bare number is bytes. */
static int parse_readable_bytes(const char *s, int64_t *ret)
{
	static const char *const units[] = {"KB", "MB", "GB"};
	char *end;
	long long n;

	while (*s == ' ')
		s++;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end) {
		size_t i;
		for (i = 0; i < 3 && strcasecmp(end, units[i]) != 0; i++)
			;
		if (i == 3 || n > (INT64_MAX >> (10 * (i + 1))))
			return -EINVAL;
		n <<= 10 * (i + 1);
	}
	*ret = n;
	return 0;
}

static int prop_bytes(const json_t *obj, const char *key, const char *path, int64_t *ret,
                      struct kwg_err *err)
{
	cleanup_free char *s = NULL;
	int r = prop_text(obj, key, &s, err);

	*ret = KWG_DOCKER_UNSET;
	if (r < 0 || !s)
		return r;
	if (parse_readable_bytes(s, ret) < 0)
		return kwg_err_set(err, -EBADMSG,
		                   "property '%s': '%.64s' is not a size such as 512MB", path, s);
	return 0;
}

/* A property of the runner that must be an object (or a string holding one, §W). */
static int runner_object(const json_t *runner, const char *key, json_t **ret, struct kwg_err *err)
{
	json_t *v = json_object_get(runner, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		v = json_loads(json_string_value(v), JSON_REJECT_DUPLICATES, NULL);
	} else {
		json_incref(v);
	}
	if (!json_is_object(v) && !json_is_array(v)) {
		json_decref(v);
		return kwg_err_set(err, -EBADMSG, "property 'taskRunner.%s': expected an object",
		                   key);
	}
	*ret = v;
	return 0;
}

static int decode_docker_memory(const json_t *runner, struct kwg_docker_opts *o,
                                struct kwg_err *err)
{
	static const char *const keys[] = {
	    "memory",         "memorySwap", "memorySwappiness", "memoryReservation", "kernelMemory",
	    "oomKillDisable", NULL};
	json_t *m, *v;
	const char *key;
	int64_t kernel;
	bool oom;
	int r = runner_object(runner, "memory", &m, err);

	o->memory = o->memory_swap = o->memory_reservation = o->memory_swappiness =
	    KWG_DOCKER_UNSET;
	o->oom_kill_disable = -1;
	if (r < 0 || !m)
		return r;
	json_object_foreach (m, key, v)
		if (!in_list(keys, key)) {
			json_decref(m);
			return kwg_err_set(
			    err, -EOPNOTSUPP,
			    "property 'taskRunner.memory.%.64s' is not supported by kwg", key);
		}
	r = prop_bytes(m, "memory", "taskRunner.memory.memory", &o->memory, err);
	if (r >= 0)
		r = prop_bytes(m, "memorySwap", "taskRunner.memory.memorySwap", &o->memory_swap,
		               err);
	if (r >= 0)
		r = prop_bytes(m, "memoryReservation", "taskRunner.memory.memoryReservation",
		               &o->memory_reservation, err);
	if (r >= 0)
		r = prop_bytes(m, "memorySwappiness", "taskRunner.memory.memorySwappiness",
		               &o->memory_swappiness, err);
	if (r >= 0)
		r = prop_bytes(m, "kernelMemory", "taskRunner.memory.kernelMemory", &kernel, err);
	if (r >= 0 && kernel != KWG_DOCKER_UNSET)
		r = kwg_err_set(err, -EOPNOTSUPP,
		                "property 'taskRunner.memory.kernelMemory' is not supported by kwg "
		                "(the Engine API dropped it)");
	if (r >= 0 && json_object_get(m, "oomKillDisable")) {
		r = prop_bool(m, "oomKillDisable", false, &oom, err);
		o->oom_kill_disable = oom;
	}
	json_decref(m);
	return r;
}

/* deviceRequests: Kestra's {driver, count, deviceIds, capabilities, options} to Docker's. */
static int decode_device_requests(const json_t *runner, struct kwg_docker_opts *o,
                                  struct kwg_err *err)
{
	static const char *const names[][2] = {{"driver", "Driver"},
	                                       {"count", "Count"},
	                                       {"deviceIds", "DeviceIDs"},
	                                       {"capabilities", "Capabilities"},
	                                       {"options", "Options"}};
	json_t *list, *item, *out;
	size_t i;
	int r = runner_object(runner, "deviceRequests", &list, err);

	if (r < 0 || !list)
		return r;
	if (!json_is_array(list)) {
		json_decref(list);
		return kwg_err_set(err, -EBADMSG,
		                   "property 'taskRunner.deviceRequests': expected a "
		                   "list");
	}
	out = json_array();
	json_array_foreach (list, i, item) {
		json_t *req = json_object(), *v;
		const char *key;
		if (!json_is_object(item)) {
			r = kwg_err_set(
			    err, -EBADMSG,
			    "property 'taskRunner.deviceRequests'[%zu]: expected an object", i);
			json_decref(req);
			break;
		}
		json_object_foreach (item, key, v) {
			size_t k;
			for (k = 0; k < 5 && strcmp(key, names[k][0]) != 0; k++)
				;
			if (k == 5) {
				r = kwg_err_set(
				    err, -EOPNOTSUPP,
				    "property 'taskRunner.deviceRequests'[%zu].%.64s is not "
				    "supported by kwg",
				    i, key);
				break;
			}
			if (json_is_string(v) && k == 1)
				v = json_integer(strtoll(json_string_value(v), NULL, 10));
			else if (json_is_string(v) && k != 0)
				v = json_loads(json_string_value(v), 0, NULL);
			else
				json_incref(v);
			if (!v) {
				r = kwg_err_set(
				    err, -EBADMSG,
				    "property 'taskRunner.deviceRequests'[%zu].%s is not JSON", i,
				    key);
				break;
			}
			json_object_set_new(req, names[k][1], v);
		}
		json_array_append_new(out, req);
		if (r < 0)
			break;
	}
	if (r >= 0 && !(o->device_requests = kwg_json_dump(out)))
		r = -ENOMEM;
	json_decref(out);
	json_decref(list);
	return r;
}

/* credentials: Docker's AuthConfig, sent as X-Registry-Auth with the pull. */
static int decode_credentials(const json_t *runner, const char *image, struct kwg_docker_opts *o,
                              struct kwg_err *err)
{
	static const char *const names[][2] = {
	    {"registry", "serveraddress"},      {"username", "username"},
	    {"password", "password"},           {"registryToken", "registrytoken"},
	    {"identityToken", "identitytoken"}, {"auth", "auth"}};
	json_t *c, *out;
	int r = runner_object(runner, "credentials", &c, err);
	const char *key;
	json_t *v;

	if (r < 0 || !c)
		return r;
	out = json_object();
	json_object_foreach (c, key, v) {
		size_t k;
		char *text = NULL;
		for (k = 0; k < 6 && strcmp(key, names[k][0]) != 0; k++)
			;
		if (k == 6) {
			r = kwg_err_set(
			    err, -EOPNOTSUPP,
			    "property 'taskRunner.credentials.%.64s' is not supported by kwg", key);
			break;
		}
		r = prop_text(c, key, &text, err);
		if (r < 0)
			break;
		if (text)
			json_object_set_new(out, names[k][1], json_string(text));
		free(text);
	}
	/* KESTRA: the registry is the image's host part when there is one, else Docker Hub. */
	if (r >= 0 && !json_object_get(out, "serveraddress")) {
		const char *slash = strchr(image, '/');
		size_t n = slash ? (size_t)(slash - image) : 0;
		if (n && memchr(image, '.', n))
			json_object_set_new(out, "serveraddress", json_stringn(image, n));
		else
			json_object_set_new(out, "serveraddress",
			                    json_string("https://index.docker.io/v1/"));
	}
	if (r >= 0 && !(o->registry_auth = kwg_json_dump(out)))
		r = -ENOMEM;
	json_decref(out);
	json_decref(c);
	return r;
}

static int decode_docker(const json_t *runner, struct kwg_script_task *t, struct kwg_err *err)
{
	static const char *const props[] = {"type",
	                                    "host",
	                                    "config",
	                                    "credentials",
	                                    "image",
	                                    "user",
	                                    "entryPoint",
	                                    "extraHosts",
	                                    "networkMode",
	                                    "volumes",
	                                    "pullPolicy",
	                                    "deviceRequests",
	                                    "cpu",
	                                    "memory",
	                                    "shmSize",
	                                    "fileHandlingStrategy",
	                                    "delete",
	                                    "privileged",
	                                    "wait",
	                                    "portBindings",
	                                    "killGracePeriod",
	                                    "resume",
	                                    "version",
	                                    NULL};
	struct kwg_docker_opts *o = &t->docker;
	cleanup_free char *pull = NULL, *files = NULL, *shm = NULL, *grace = NULL;
	json_t *v, *cpu = NULL;
	const char *key;
	bool present;
	int r = 0;

	json_object_foreach ((json_t *)runner, key, v) {
		if (!in_list(props, key))
			return kwg_err_set(err, -EOPNOTSUPP,
			                   "property 'taskRunner.%.64s' is not supported by kwg",
			                   key);
		if ((strcmp(key, "config") == 0 || strcmp(key, "portBindings") == 0) &&
		    !prop_is_unset(key, v))
			return kwg_err_set(err, -EOPNOTSUPP,
			                   "property 'taskRunner.%s' is not supported by kwg yet",
			                   key);
	}
	r = prop_text(runner, "image", &o->image, err);
	if (r >= 0 && !o->image && t->container_image)
		o->image = strdup(t->container_image);
	if (r >= 0 && (!o->image || !*o->image))
		return kwg_err_set(err, -EBADMSG,
		                   "the Docker task runner needs an image: set containerImage");
	if (r >= 0)
		r = prop_text(runner, "pullPolicy", &pull, err);
	o->pull_policy = KWG_PULL_IF_NOT_PRESENT;
	if (r >= 0 && pull) {
		if (strcmp(pull, "ALWAYS") == 0)
			o->pull_policy = KWG_PULL_ALWAYS;
		else if (strcmp(pull, "NEVER") == 0)
			o->pull_policy = KWG_PULL_NEVER;
		else if (strcmp(pull, "IF_NOT_PRESENT") != 0)
			r = kwg_err_set(err, -EBADMSG,
			                "property 'taskRunner.pullPolicy': '%.32s' is not one of "
			                "IF_NOT_PRESENT, ALWAYS, NEVER",
			                pull);
	}
	if (r >= 0)
		r = prop_list(runner, "entryPoint", &o->entrypoint, &o->entrypoint_set, err);
	if (r >= 0)
		r = prop_text(runner, "host", &o->host, err);
	if (r >= 0)
		r = prop_text(runner, "user", &o->user, err);
	if (r >= 0)
		r = prop_text(runner, "networkMode", &o->network_mode, err);
	if (r >= 0)
		r = prop_list(runner, "extraHosts", &o->extra_hosts, &present, err);
	if (r >= 0)
		r = prop_list(runner, "volumes", &o->volumes, &present, err);
	if (r >= 0)
		r = runner_object(runner, "cpu", &cpu, err);
	if (r >= 0 && cpu) {
		cleanup_free char *cpus = NULL;
		char *end;
		double n;
		r = prop_text(cpu, "cpus", &cpus, err);
		if (r >= 0 && json_object_size(cpu) > (json_object_get(cpu, "cpus") ? 1u : 0u))
			r = kwg_err_set(err, -EOPNOTSUPP,
			                "property 'taskRunner.cpu' has only 'cpus' in kwg");
		if (r >= 0 && cpus) {
			n = strtod(cpus, &end);
			if (*end || !(n > 0) || n > 4096)
				r = kwg_err_set(
				    err, -EBADMSG,
				    "property 'taskRunner.cpu.cpus': '%.32s' is not a number "
				    "of CPUs",
				    cpus);
			else
				o->nano_cpus = (int64_t)(n * 1e9);
		}
		json_decref(cpu);
	}
	if (r >= 0)
		r = decode_docker_memory(runner, o, err);
	if (r >= 0)
		r = prop_text(runner, "shmSize", &shm, err);
	o->shm_size = KWG_DOCKER_UNSET;
	if (r >= 0 && shm && parse_readable_bytes(shm, &o->shm_size) < 0)
		r = kwg_err_set(err, -EBADMSG,
		                "property 'taskRunner.shmSize': '%.64s' is not a size such as 64MB",
		                shm);
	if (r >= 0)
		r = decode_device_requests(runner, o, err);
	if (r >= 0)
		r = decode_credentials(runner, o->image, o, err);
	if (r >= 0)
		r = prop_bool(runner, "privileged", false, &o->privileged, err);
	if (r >= 0)
		r = prop_bool(runner, "delete", true, &o->delete_container, err);
	if (r >= 0)
		r = prop_bool(runner, "wait", true, &o->wait, err);
	if (r >= 0)
		r = prop_bool(runner, "resume", true, &o->resume, err);
	if (r >= 0)
		r = prop_text(runner, "fileHandlingStrategy", &files, err);
	if (r >= 0 && files) {
		if (strcmp(files, "MOUNT") == 0)
			o->mount_files = true;
		else if (strcmp(files, "VOLUME") != 0)
			r = kwg_err_set(
			    err, -EBADMSG,
			    "property 'taskRunner.fileHandlingStrategy': '%.32s' is not "
			    "VOLUME or MOUNT",
			    files);
	}
	if (r >= 0)
		r = prop_text(runner, "killGracePeriod", &grace, err);
	if (r >= 0 && grace) {
		/* A Duration: seconds as a number on the wire, or an ISO-8601 text. */
		char *end;
		double secs = strtod(grace, &end);
		if (!*end && secs >= 0)
			o->kill_grace_ms = (int64_t)(secs * 1000);
		else if (kwg_duration_parse(grace, &o->kill_grace_ms) < 0)
			r = kwg_err_set(err, -EBADMSG,
			                "property 'taskRunner.killGracePeriod': '%.64s' is not a "
			                "duration",
			                grace);
	}
	return r;
}

static int decode_runner(const json_t *task, const struct kwg_script_task_opts *opts,
                         const char *default_image, struct kwg_script_task *t, struct kwg_err *err)
{
	json_t *runner = json_object_get(task, "taskRunner");
	const char *type;
	int r;

	t->runner = opts->default_runner;
	if (runner && !json_is_null(runner)) {
		if (!json_is_object(runner) ||
		    kwg_json_get_str(runner, "type", "taskRunner", true, &type, err) < 0)
			return kwg_err_set(err, -EBADMSG,
			                   "property 'taskRunner': expected {type: …}");
		if (strcmp(type, KWG_RUNNER_TYPE_PROCESS) == 0)
			t->runner = KWG_RUNNER_PROCESS;
		else if (strcmp(type, KWG_RUNNER_TYPE_DOCKER) == 0)
			t->runner = KWG_RUNNER_DOCKER;
		else
			return kwg_err_set(err, -EOPNOTSUPP,
			                   "task runner '%.128s' is not supported by kwg", type);
		if (t->runner == KWG_RUNNER_PROCESS && json_object_size(runner) > 1)
			return kwg_err_set(err, -EBADMSG,
			                   "the Process task runner has no properties but 'type'");
	}
	r = prop_text(task, "containerImage", &t->container_image, err);
	if (r >= 0 && !t->container_image && !(t->container_image = strdup(default_image)))
		r = -ENOMEM;
	if (r >= 0 && t->runner == KWG_RUNNER_DOCKER) {
		json_t *none = json_object();
		r = decode_docker(runner && json_is_object(runner) ? runner : none, t, err);
		json_decref(none);
	}
	return r;
}

/* KESTRA: ScriptService.scriptCommands and AbstractExecScript.mayAddExitOnErrorCommands. */
static int build_argv(const json_t *task, const struct script_type *st,
                      const struct kwg_script_task_opts *opts, struct kwg_script_task *t,
                      struct kwg_err *err)
{
	struct kwg_strv before = {0}, commands = {0};
	cleanup_free char *target_os = NULL;
	struct kwg_buf joined;
	const char *sep = "\n";
	bool fail_fast, present;
	int r;

	kwg_buf_init(&joined, SIZE_MAX / 2);
	r = prop_list(task, "interpreter", &t->argv, &present, err);
	if (r >= 0 && !present && (r = kwg_strv_push(&t->argv, "/bin/sh")) >= 0)
		r = kwg_strv_push(&t->argv, "-c");
	if (r >= 0 && present && t->argv.n == 0)
		r = kwg_err_set(err, -EBADMSG, "property 'interpreter' is empty");
	if (r >= 0)
		r = prop_bool(task, "failFast", true, &fail_fast, err);
	if (r >= 0)
		r = prop_text(task, "targetOS", &target_os, err);
	if (r >= 0 && target_os && strcmp(target_os, "WINDOWS") == 0)
		sep = "\r\n";
	else if (r >= 0 && target_os && strcmp(target_os, "LINUX") != 0 &&
	         strcmp(target_os, "AUTO") != 0)
		r = kwg_err_set(err, -EBADMSG, "property 'targetOS': unknown value '%.32s'",
		                target_os);
	/* The set -e line is an empty line for Windows targets (AUTO on kwg means Linux). */
	if (r >= 0 && fail_fast)
		r = kwg_strv_push(&before, strcmp(sep, "\n") == 0 ? "set -e" : "");
	if (r >= 0)
		r = prop_list(task, "beforeCommands", &before, &present, err);
	if (r < 0)
		goto out;
	if (st->is_script) {
		cleanup_free char *script = NULL;
		r = prop_text(task, "script", &script, err);
		if (r >= 0 && !script)
			r = kwg_err_set(err, -EBADMSG, "property 'script' is required");
		if (r < 0)
			goto out;
		if (st->lang == LANG_SHELL) {
			r = kwg_strv_push_take(&commands, steal_ptr(&script));
		} else {
			char name[32], cmd[4096];
			uint64_t n;
			kwg_random_bytes(&n, sizeof(n));
			(void)snprintf(name, sizeof(name), "%llu.%s",
			               (unsigned long long)(n % 10000000000000000000ull),
			               st->lang == LANG_PYTHON ? "py" : "js");
			(void)snprintf(cmd, sizeof(cmd), "%s %s/%s",
			               st->lang == LANG_PYTHON ? "python" : "node",
			               opts->working_dir, name);
			t->script_file = strdup(name);
			t->script_body = steal_ptr(&script);
			r = t->script_file ? kwg_strv_push(&commands, cmd) : -ENOMEM;
		}
	} else {
		r = prop_list(task, "commands", &commands, &present, err);
		if (r >= 0 && !present)
			r = kwg_err_set(err, -EBADMSG, "property 'commands' is required");
	}
	for (size_t i = 0; r >= 0 && i < before.n; i++)
		r = kwg_buf_printf(&joined, "%s%s", i ? sep : "", before.v[i]);
	for (size_t i = 0; r >= 0 && i < commands.n; i++)
		r = kwg_buf_printf(&joined, "%s%s", before.n + i ? sep : "", commands.v[i]);
	if (r >= 0)
		r = kwg_strv_push_take(&t->argv, kwg_buf_steal(&joined));
out:
	kwg_buf_done(&joined);
	kwg_strv_done(&before);
	kwg_strv_done(&commands);
	return r;
}

static int add_language_env(enum lang lang, bool is_script, struct kwg_strv *env)
{
	int r = 0;

	/* KESTRA: the language tasks add these after the user's env (and override it); the Node
	 * Script copies two Python variables, a leftover kept as is. */
	if (lang == LANG_PYTHON || (lang == LANG_NODE && is_script)) {
		r = kwg_strv_setenv(env, "PYTHONUNBUFFERED", "true");
		if (r >= 0)
			r = kwg_strv_setenv(env, "PIP_ROOT_USER_ACTION", "ignore");
	}
	if (r >= 0 && lang == LANG_PYTHON)
		r = kwg_strv_setenv(env, "PIP_DISABLE_PIP_VERSION_CHECK", "1");
	return r;
}

/* A file name from inputFiles: relative, and never above the working directory. */
static int check_file_name(const char *name, struct kwg_err *err)
{
	int depth = 0;

	if (!*name || name[0] == '/')
		return kwg_err_set(err, -EBADMSG,
		                   "property 'inputFiles': '%.200s' is not a relative file name",
		                   name);
	for (const char *p = name; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && strncmp(p, "..", 2) == 0)
			depth--;
		else if (n && !(n == 1 && *p == '.'))
			depth++;
		if (depth < 0)
			return kwg_err_set(
			    err, -EBADMSG,
			    "property 'inputFiles': '%.200s' leads out of the working "
			    "directory",
			    name);
		p += n + (p[n] == '/');
	}
	return depth > 0 ? 0
	                 : kwg_err_set(err, -EBADMSG,
	                               "property 'inputFiles': '%.200s' names no file", name);
}

/* KESTRA: FilesService.inputFiles — a map, or a string holding a JSON object; null values are
 * dropped. */
static int decode_input_files(const json_t *task, struct kwg_strv *files, struct kwg_err *err)
{
	json_t *v = json_object_get(task, "inputFiles"), *parsed = NULL, *e;
	const char *name;
	int r = 0;

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v)) {
		json_error_t jerr;
		v = parsed = json_loads(json_string_value(v), JSON_REJECT_DUPLICATES, &jerr);
		if (!parsed)
			return kwg_err_set(err, -EBADMSG,
			                   "property 'inputFiles' is not a JSON object: %s",
			                   jerr.text);
	}
	if (!json_is_object(v)) {
		json_decref(parsed);
		return kwg_err_set(err, -EBADMSG,
		                   "property 'inputFiles': expected a map of file name to content");
	}
	json_object_foreach (v, name, e) {
		if (json_is_null(e))
			continue;
		if (!json_is_string(e) || strlen(json_string_value(e)) != json_string_length(e)) {
			r = kwg_err_set(
			    err, -EBADMSG,
			    "property 'inputFiles.%.200s': expected text or a kestra:// URI", name);
			break;
		}
		r = check_file_name(name, err);
		if (r >= 0)
			r = kwg_strv_push(files, name);
		if (r >= 0)
			r = kwg_strv_push(files, json_string_value(e));
		if (r < 0)
			break;
	}
	json_decref(parsed);
	return r;
}

/* namespaceFiles {enabled, include, exclude}: the flow's own namespace only (Kestra 0.21). */
static int decode_namespace_files(const json_t *task, struct kwg_script_task *t,
                                  struct kwg_err *err)
{
	static const char *const known[] = {"enabled", "include", "exclude", NULL};
	json_t *v = json_object_get(task, "namespaceFiles"), *e;
	const char *key;
	bool present;
	int r;

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return kwg_err_set(
		    err, -EBADMSG,
		    "property 'namespaceFiles': expected {enabled, include, exclude}");
	json_object_foreach (v, key, e)
		if (!in_list(known, key) && !json_is_null(e))
			return kwg_err_set(
			    err, -EOPNOTSUPP,
			    "property 'namespaceFiles.%.64s' is not supported by kwg", key);
	r = prop_bool(v, "enabled", true, &t->namespace_files, err);
	if (r >= 0)
		r = prop_list(v, "include", &t->ns_include, &present, err);
	if (r >= 0)
		r = prop_list(v, "exclude", &t->ns_exclude, &present, err);
	return r;
}

static int decode_files(const json_t *task, struct kwg_script_task *t, struct kwg_err *err)
{
	bool present;
	int r = decode_input_files(task, &t->input_files, err);

	if (r >= 0)
		r = prop_list(task, "outputFiles", &t->output_files, &present, err);
	if (r >= 0)
		r = decode_namespace_files(task, t, err);
	return r;
}

int kwg_script_task_decode(const struct kwg_job *job, const struct kwg_script_task_opts *opts,
                           struct kwg_script_task *ret, struct kwg_err *err)
{
	const char *type = kwg_job_task_type(job);
	const struct script_type *st = NULL;
	json_t *task = NULL;
	int r;

	*ret = (struct kwg_script_task){.warning_on_stderr = true};
	if (!kwg_job_task_json(job) || !type)
		return kwg_err_set(err, -EBADMSG, "the WorkerTask has no task");
	for (size_t i = 0; i < sizeof(script_types) / sizeof(script_types[0]); i++)
		if (strcmp(type, script_types[i].type) == 0)
			st = &script_types[i];
	bool is_return = strcmp(type, KWG_TASK_TYPE_RETURN) == 0;
	if (!st && !is_return && strcmp(type, KWG_TASK_TYPE_LOG) != 0)
		return kwg_err_set(err, -EOPNOTSUPP, "task type '%.200s' is not supported by kwg",
		                   type);
	struct kwg_task_render_opts ro = {
	    .working_dir = opts->working_dir,
	    .hooks = opts->hooks,
	    .encryption_key = opts->encryption_key,
	    .encryption_key_name = opts->encryption_key_name,
	    .now_us = opts->now_us,
	    .render_script_twice = st && st->is_script && st->lang != LANG_SHELL,
	};
	r = kwg_task_render(job, &ro, &task, &ret->masks, err);
	if (r < 0)
		return r;
	if (!st) {
		r = check_props(task, type, is_return ? return_props : log_props, err);
		if (r >= 0)
			r = decode_common(task, ret, err);
		if (r >= 0)
			r = is_return ? decode_return(task, ret, err) : decode_log(task, ret, err);
		json_decref(task);
		return r;
	}
	ret->kind = KWG_TASK_SCRIPT;
	r = check_props(task, type, script_props, err);
	if (r >= 0)
		r = decode_common(task, ret, err);
	if (r >= 0)
		r = decode_runner(task, opts, st->image, ret, err);
	if (r >= 0)
		r = prop_bool(task, "warningOnStdErr", true, &ret->warning_on_stderr, err);
	if (r >= 0)
		r = prop_env(task, "env", &ret->env, err);
	if (r >= 0)
		r = add_language_env(st->lang, st->is_script, &ret->env);
	if (r >= 0)
		r = build_argv(task, st, opts, ret, err);
	if (r >= 0)
		r = decode_files(task, ret, err);
	json_decref(task);
	return r;
}

void kwg_script_task_done(struct kwg_script_task *t)
{
	kwg_strv_done(&t->argv);
	kwg_strv_done(&t->env);
	kwg_strv_done(&t->messages);
	free(t->script_file);
	free(t->script_body);
	free(t->docker.image);
	free(t->docker.host);
	free(t->docker.user);
	free(t->docker.network_mode);
	free(t->docker.device_requests);
	free(t->docker.registry_auth);
	kwg_strv_done(&t->docker.entrypoint);
	kwg_strv_done(&t->docker.extra_hosts);
	kwg_strv_done(&t->docker.volumes);
	free(t->container_image);
	free(t->return_outputs);
	t->return_outputs = NULL;
	kwg_strv_done(&t->input_files);
	kwg_strv_done(&t->output_files);
	kwg_strv_done(&t->ns_include);
	kwg_strv_done(&t->ns_exclude);
	kwg_strv_done(&t->masks);
	t->script_file = t->script_body = t->container_image = NULL;
}
