/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/task_render.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"

/* The variables of one render: the run context's, and the same plus the runner's; made at the
 * first string that needs them (most tasks have none). */
struct render {
	const struct kwg_job *job;
	const struct kwg_task_render_opts *opts;
	json_t *vars, *vars_wd;
	struct kwg_err *err;
	struct kwg_strv *masks;          /* the caller's: plaintexts of decrypted inputs go here */
	struct kwg_template_hooks hooks; /* the caller's, plus `encrypted` */
	/* The encrypted values under `inputs`, sorted by address, made at the first one a template
	 * reads (lookups then cost a binary search, however large the inputs). */
	struct secret_input *secrets;
	size_t n_secrets;
	bool secrets_indexed;
};

struct secret_input {
	const json_t *obj; /* borrowed from the job */
	char *path;        /* "pass", "db.password", "list[0]" */
};

/* ==== the decryption of SECRET inputs ==== */

#define MAX_INPUT_DEPTH 32

/* Adds every encrypted value under v to rd->secrets; path holds v's path. */
static int index_secrets(struct render *rd, const json_t *v, char *path, size_t size, int depth)
{
	size_t i, n = strlen(path);
	const json_t *e;
	const char *k;
	int r = 0;

	if (kwg_template_is_encrypted(v)) {
		struct secret_input *s =
		    realloc(rd->secrets, (rd->n_secrets + 1) * sizeof(*rd->secrets));
		if (!s)
			return -ENOMEM;
		rd->secrets = s;
		s[rd->n_secrets].obj = v;
		s[rd->n_secrets].path = strdup(path);
		return s[rd->n_secrets++].path ? 0 : -ENOMEM;
	}
	if (depth > MAX_INPUT_DEPTH)
		return 0;
	if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, k, e) {
			(void)snprintf(path + n, size - n, "%s%s", n ? "." : "", k);
			if ((r = index_secrets(rd, e, path, size, depth + 1)) < 0)
				break;
		}
	} else if (json_is_array(v)) {
		json_array_foreach (v, i, e) {
			(void)snprintf(path + n, size - n, "[%zu]", i);
			if ((r = index_secrets(rd, e, path, size, depth + 1)) < 0)
				break;
		}
	}
	path[n] = '\0';
	return r;
}

static int cmp_secret(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)((const struct secret_input *)a)->obj;
	uintptr_t y = (uintptr_t)((const struct secret_input *)b)->obj;
	return x < y ? -1 : x > y;
}

/* *ret: the entry of obj among the encrypted inputs (by identity, not equality: the renderer
 * hands out the job's own values), or NULL when obj is not under `inputs`. 0 or -ENOMEM. */
static int find_secret(struct render *rd, const json_t *obj, const struct secret_input **ret)
{
	const json_t *rc = kwg_job_run_context(rd->job);
	const json_t *inputs = json_object_get(json_object_get(rc, "variables"), "inputs");
	struct secret_input key = {.obj = obj};
	char path[128] = "";
	int r;

	if (!rd->secrets_indexed) {
		r = inputs ? index_secrets(rd, inputs, path, sizeof(path), 0) : 0;
		if (r < 0)
			return r;
		if (rd->n_secrets > 1)
			qsort(rd->secrets, rd->n_secrets, sizeof(*rd->secrets), cmp_secret);
		rd->secrets_indexed = true;
	}
	*ret = rd->n_secrets
	           ? bsearch(&key, rd->secrets, rd->n_secrets, sizeof(*rd->secrets), cmp_secret)
	           : NULL;
	return 0;
}

static bool has_mask(const struct kwg_strv *masks, const char *s)
{
	for (size_t i = 0; i < masks->n; i++)
		if (strcmp(masks->v[i], s) == 0)
			return true;
	return false;
}

/* KESTRA: io.kestra.core.runners.Secret: the run context replaces each EncryptedString by its
 * plaintext, decrypted with kestra.encryption.secret-key. kwg does it when a template reads one,
 * only under `inputs`, and fails where Kestra, without a key, warns and keeps the ciphertext.
 * The plaintext is masked in the task's logs. */
static int hook_encrypted(void *userdata, const json_t *obj, char **ret, struct kwg_err *err)
{
	struct render *rd = userdata;
	const json_t *text = json_object_get(obj, "value");
	const struct secret_input *in = NULL;
	struct kwg_err derr = {{0}};
	char *plain = NULL;
	size_t n = 0;
	int r = find_secret(rd, obj, &in);

	if (r < 0)
		return r;
	if (!in)
		return -ENOENT;
	if (!rd->opts->encryption_key || !*rd->opts->encryption_key)
		return kwg_err_set(err, -EINVAL,
		                   "input '%s' is encrypted (a SECRET input) and no key is set to "
		                   "decrypt it: set encryption_secret_key to Kestra's "
		                   "kestra.encryption.secret-key",
		                   in->path);
	r = kwg_template_decrypt(rd->opts->encryption_key, json_string_value(text),
	                         json_string_length(text), &plain, &n, &derr);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return kwg_err_set(
		    err, r,
		    "input '%s' cannot be decrypted with %s (%s): a different key than Kestra's, "
		    "or a changed value",
		    in->path,
		    rd->opts->encryption_key_name ? rd->opts->encryption_key_name
		                                  : "encryption_secret_key",
		    derr.msg);
	if (strlen(plain) != n) {
		free(plain);
		return kwg_err_set(err, -EINVAL, "input '%s': the decrypted value holds a NUL byte",
		                   in->path);
	}
	r = n > 0 && !has_mask(rd->masks, plain) ? kwg_strv_push(rd->masks, plain) : 0;
	if (r < 0) {
		free(plain);
		return r;
	}
	*ret = plain;
	return 0;
}

/* The caller's hooks as they are, plus the decryption of SECRET inputs. */
static void init_hooks(struct render *rd)
{
	if (rd->opts->hooks)
		rd->hooks = *rd->opts->hooks;
	rd->hooks.encrypted = hook_encrypted;
	rd->hooks.encrypted_userdata = rd;
}

/* KESTRA: RunContextInitializer.forWorker sets `task` and `taskrun` from the job itself. */
static int worker_vars(const struct kwg_job *job, json_t **ret)
{
	const json_t *root = kwg_job_root_json(job), *rc, *vars, *tr;
	json_t *v;
	const json_t *task = kwg_job_task_json(job);
	json_t *out, *taskrun;
	static const char *const copied[][2] = {{"id", "id"},
	                                        {"parentTaskRunId", "parentId"},
	                                        {"value", "value"},
	                                        {"iteration", "iteration"}};

	rc = kwg_job_run_context(job);
	vars = rc ? json_object_get(rc, "variables") : NULL;
	/* Shallow: the renderer never changes its variables; only task and taskrun are replaced. */
	out = json_is_object(vars) ? json_copy((json_t *)vars) : json_object();
	if (!out)
		return -ENOMEM;
	/* An internal callback of the executor's, not data (§8.1). */
	(void)json_object_del(out, "addSecretConsumer");
	(void)json_object_set_new(out, "task",
	                          json_pack("{s:O?,s:O?}", "id", json_object_get(task, "id"),
	                                    "type", json_object_get(task, "type")));
	taskrun = json_object_get(out, "taskrun");
	taskrun = json_is_object(taskrun) ? json_deep_copy(taskrun) : json_object();
	tr = json_object_get(root, "taskRun");
	for (size_t i = 0; taskrun && i < sizeof(copied) / sizeof(copied[0]); i++)
		if ((v = json_object_get(tr, copied[i][0])) && !json_is_null(v))
			(void)json_object_set(taskrun, copied[i][1], v);
	if (taskrun && (v = json_object_get(tr, "attempts")) && json_is_array(v))
		(void)json_object_set_new(taskrun, "attemptsCount",
		                          json_integer((json_int_t)json_array_size(v)));
	if (!taskrun || json_object_set_new(out, "taskrun", taskrun) < 0) {
		json_decref(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

static int ensure_vars(struct render *rd)
{
	int r;

	if (rd->vars)
		return 0;
	r = worker_vars(rd->job, &rd->vars);
	if (r < 0)
		return r;
	rd->vars_wd = json_copy(rd->vars);
	if (!rd->vars_wd ||
	    (rd->opts->working_dir && json_object_set_new(rd->vars_wd, "workingDir",
	                                                  json_string(rd->opts->working_dir)) < 0))
		return -ENOMEM;
	return 0;
}

static int render_text(struct render *rd, const char *key, const char *s, bool with_wd, char **ret)
{
	struct kwg_template_opts o = {
	    .hooks = &rd->hooks,
	    .now_us = rd->opts->now_us,
	    .seed = (uint64_t)rd->opts->now_us,
	};
	struct kwg_err terr = {{0}};
	int r;

	if (!kwg_template_needs_render(s))
		return (*ret = strdup(s)) ? 0 : -ENOMEM;
	r = ensure_vars(rd);
	if (r < 0)
		return r;
	o.vars = with_wd ? rd->vars_wd : rd->vars;
	r = kwg_template_render(s, &o, ret, &terr);
	if (r < 0 && r != -ENOMEM)
		return kwg_err_set(rd->err, r, "property '%s': %s", key, terr.msg);
	return r;
}

/* Renders every string in v (keys of objects too); a new value in *ret. */
static int render_deep(struct render *rd, const char *key, json_t *v, bool with_wd, json_t **ret)
{
	json_t *out = NULL, *e;
	const char *k;
	size_t i;
	int r = 0;

	if (json_is_string(v)) {
		cleanup_free char *s = NULL;
		r = render_text(rd, key, json_string_value(v), with_wd, &s);
		if (r < 0)
			return r;
		return (*ret = json_string(s)) ? 0 : -ENOMEM;
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach (v, i, e) {
			json_t *x;
			if (!out || (r = render_deep(rd, key, e, with_wd, &x)) < 0 ||
			    json_array_append_new(out, x) < 0)
				break;
		}
	} else if (json_is_object(v)) {
		out = json_object();
		json_object_foreach (v, k, e) {
			cleanup_free char *name = NULL;
			json_t *x;
			if (!out || (r = render_text(rd, key, k, with_wd, &name)) < 0 ||
			    (r = render_deep(rd, key, e, with_wd, &x)) < 0)
				break;
			if (json_object_set_new(out, name, x) < 0) {
				r = -ENOMEM;
				break;
			}
		}
	} else {
		return (*ret = json_incref(v)) ? 0 : -ENOMEM;
	}
	if (!out && r >= 0)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

/* KESTRA: Property.asMap — a string that is one whole expression is rendered, then parsed (by
 * the decoder); any other string is parsed first and rendered entry by entry. */
static int render_map(struct render *rd, const char *key, json_t *v, bool with_wd, json_t **ret)
{
	json_t *parsed;
	const char *s;
	size_t n;
	int r;

	if (!json_is_string(v))
		return render_deep(rd, key, v, with_wd, ret);
	s = json_string_value(v);
	while (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')
		s++;
	n = strlen(s);
	while (n && strchr(" \n\t\r", s[n - 1]))
		n--;
	if (n >= 4 && strncmp(s, "{{", 2) == 0 && strncmp(s + n - 2, "}}", 2) == 0)
		return render_deep(rd, key, v, with_wd, ret);
	parsed = json_loads(json_string_value(v), JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(parsed)) {
		/* Not a map: the decoder says so. */
		json_decref(parsed);
		return (*ret = json_incref(v)) ? 0 : -ENOMEM;
	}
	r = render_deep(rd, key, parsed, with_wd, ret);
	json_decref(parsed);
	return r;
}

/* How each property is rendered (kestra-script-tasks.md §1.2, §3.3, §W). */
enum how {
	NOT_RENDERED,
	PLAIN,    /* run-context variables */
	WITH_WD,  /* plus workingDir */
	MAP,      /* asMap, run-context variables */
	MAP_WD,   /* asMap, plus workingDir (inputFiles) */
	RUNNER,   /* the task runner's own fields */
	NS_FILES, /* namespaceFiles: include/exclude lists and enabled */
};

static enum how how_rendered(const char *key)
{
	static const struct {
		const char *key;
		enum how how;
	} table[] = {
	    {"timeout", PLAIN},           {"containerImage", PLAIN},
	    {"outputFiles", PLAIN},       {"level", PLAIN},
	    {"message", PLAIN},           {"format", PLAIN},
	    {"commands", WITH_WD},        {"script", WITH_WD},
	    {"beforeCommands", WITH_WD},  {"interpreter", WITH_WD},
	    {"warningOnStdErr", PLAIN},   {"failFast", PLAIN},
	    {"targetOS", PLAIN},          {"env", MAP},
	    {"inputFiles", MAP_WD},       {"taskRunner", RUNNER},
	    {"namespaceFiles", NS_FILES},
	};

	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(table[i].key, key) == 0)
			return table[i].how;
	return NOT_RENDERED;
}

/* KESTRA: Docker renders image, user, entryPoint, extraHosts and networkMode with the runner's
 * variables; its other fields with the run context's. */
static int render_runner(struct render *rd, json_t *runner, json_t **ret)
{
	static const char *const with_wd[] = {"image", "user", "entryPoint", "extraHosts",
	                                      "networkMode"};
	json_t *out, *v, *x;
	const char *k;
	int r = 0;

	if (!json_is_object(runner))
		return (*ret = json_incref(runner)) ? 0 : -ENOMEM;
	out = json_object();
	json_object_foreach (runner, k, v) {
		bool wd = false;
		char name[80];
		for (size_t i = 0; i < sizeof(with_wd) / sizeof(with_wd[0]); i++)
			wd = wd || strcmp(k, with_wd[i]) == 0;
		(void)snprintf(name, sizeof(name), "taskRunner.%.60s", k);
		if (!out || (r = strcmp(k, "type") == 0 ? ((x = json_incref(v)) ? 0 : -ENOMEM)
		                                        : render_deep(rd, name, v, wd, &x)) < 0)
			break;
		if (json_object_set_new(out, k, x) < 0) {
			r = -ENOMEM;
			break;
		}
	}
	if (!out || r < 0) {
		json_decref(out);
		return r < 0 ? r : -ENOMEM;
	}
	*ret = out;
	return 0;
}

static int render_prop(struct render *rd, const char *key, json_t *v, json_t **ret)
{
	switch (how_rendered(key)) {
	case PLAIN:
		return render_deep(rd, key, v, false, ret);
	case WITH_WD:
		return render_deep(rd, key, v, true, ret);
	case MAP:
		return render_map(rd, key, v, false, ret);
	case MAP_WD:
		return render_map(rd, key, v, true, ret);
	case RUNNER:
		return render_runner(rd, v, ret);
	case NS_FILES:
		/* KESTRA (late): include and exclude are rendered; enabled is a Property too. */
		return render_deep(rd, "namespaceFiles", v, false, ret);
	case NOT_RENDERED:
		break;
	}
	return (*ret = json_incref(v)) ? 0 : -ENOMEM;
}

static int secret_input_values(const struct kwg_job *job, struct kwg_strv *masks)
{
	const json_t *rc = kwg_job_run_context(job);
	const json_t *ids = rc ? json_object_get(rc, "secretInputs") : NULL;
	const json_t *vars = rc ? json_object_get(rc, "variables") : NULL;
	const json_t *inputs = json_object_get(vars, "inputs"), *id;
	size_t i;
	int r = 0;

	if (!json_is_array(ids))
		return 0;
	json_array_foreach (ids, i, id) {
		const json_t *v =
		    json_is_string(id) ? json_object_get(inputs, json_string_value(id)) : NULL;
		if (json_is_string(v) && json_string_length(v) > 0 &&
		    strlen(json_string_value(v)) == json_string_length(v))
			r = kwg_strv_push(masks, json_string_value(v));
		if (r < 0)
			return r;
	}
	return 0;
}

int kwg_task_render(const struct kwg_job *job, const struct kwg_task_render_opts *opts,
                    json_t **ret, struct kwg_strv *ret_masks, struct kwg_err *err)
{
	struct render rd = {.job = job, .opts = opts, .err = err, .masks = ret_masks};
	const json_t *task = kwg_job_task_json(job);
	json_t *out = NULL, *v, *x;
	const char *k;
	int r;

	err->msg[0] = '\0';
	init_hooks(&rd);
	r = secret_input_values(job, ret_masks);
	if (r < 0)
		goto out;
	out = json_object();
	if (!out) {
		r = -ENOMEM;
		goto out;
	}
	json_object_foreach ((json_t *)task, k, v) {
		r = render_prop(&rd, k, v, &x);
		if (r < 0)
			goto out;
		if (strcmp(k, "script") == 0 && opts->render_script_twice && json_is_string(x)) {
			json_t *again;
			r = render_deep(&rd, k, x, true, &again);
			json_decref(x);
			if (r < 0)
				goto out;
			x = again;
		}
		if (json_object_set_new(out, k, x) < 0) {
			r = -ENOMEM;
			goto out;
		}
	}
	*ret = steal_ptr(&out);
out:
	json_decref(out);
	json_decref(rd.vars);
	json_decref(rd.vars_wd);
	for (size_t i = 0; i < rd.n_secrets; i++)
		free(rd.secrets[i].path);
	free(rd.secrets);
	return r;
}

int kwg_task_render_string(const struct kwg_job *job, const char *tmpl, int64_t now_us, char **ret,
                           struct kwg_err *err)
{
	struct kwg_template_opts o = {.now_us = now_us, .seed = (uint64_t)now_us};
	json_t *vars = NULL;
	int r = worker_vars(job, &vars);

	if (r < 0)
		return r;
	o.vars = vars;
	r = kwg_template_render(tmpl, &o, ret, err);
	json_decref(vars);
	return r;
}
