/* SPDX-License-Identifier: Apache-2.0 */
/* Functions: now, secret, read, kv, fileURI, fileSize, fileExists, isFileEmpty (through the
 * caller's hooks), fromJson, render/renderOnce, uuid, id, range, yaml, max/min, randomInt,
 * fetchContext/printContext, currentEachOutput. */
#include "template/internal.h"

/* ==== functions ==== */

static uint64_t next_random(struct ctx *c)
{
	/* splitmix64: repeatable from opts->seed, no global state */
	uint64_t z = (*c->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int hook_missing(struct ctx *c, const struct expr *e)
{
	return kwg_tpl_fail(c, -EOPNOTSUPP, e->line, "function '%s' is not available here", e->s);
}

static int hook_err(struct ctx *c, const struct expr *e, int r, const struct kwg_err *herr)
{
	if (r == -ENOMEM)
		return r;
	return kwg_tpl_fail(c, r, e->line, "%s: %s", e->s, herr->msg[0] ? herr->msg : "failed");
}

int kwg_tpl_fn_now(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const char *format, *zone;
	struct kwg_datetime d;
	int64_t us = c->opts->now_us;
	int r = kwg_tpl_arg_str(c, a, "now", 0, "format", false, &format);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, "now", 1, "timeZone", false, &zone);
	if (r < 0)
		return r;
	int64_t s = us / 1000000, rem = us % 1000000;
	if (rem < 0) {
		s--;
		rem += 1000000;
	}
	kwg_datetime_from_epoch(s, (int32_t)(rem * 1000), &d);
	return kwg_tpl_format_date(c, e, &d, format, zone, ret);
}

int kwg_tpl_fn_secret(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	const char *name;
	char *v = NULL;
	int r = kwg_tpl_arg_str(c, a, "secret", 0, "key", true, &name);
	if (r < 0)
		return r;
	if (!h || !h->secret)
		return hook_missing(c, e);
	r = h->secret(h->userdata, name, &v, &herr);
	if (r == -ENOENT)
		return kwg_tpl_fail(c, -EINVAL, e->line, "Cannot find secret for key '%s'.", name);
	if (r < 0)
		return hook_err(c, e, r, &herr);
	*ret = json_string_nocheck(v);
	free(v);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_fn_read(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	const char *path;
	char *v = NULL;
	size_t n = 0;
	int r = kwg_tpl_arg_str(c, a, "read", 0, "path", true, &path);
	if (r < 0)
		return r;
	if (!h || !h->read)
		return hook_missing(c, e);
	r = h->read(h->userdata, path, &v, &n, &herr);
	if (r < 0)
		return hook_err(c, e, r, &herr);
	if (n > KWG_TEMPLATE_MAX_OUTPUT) {
		free(v);
		return kwg_tpl_fail(c, -EMSGSIZE, e->line, "read: '%.64s' is larger than %u bytes",
		                    path, KWG_TEMPLATE_MAX_OUTPUT);
	}
	*ret = json_stringn_nocheck(v, n);
	free(v);
	return *ret ? 0 : kwg_tpl_oom();
}

/* KESTRA: FileSizeFunction, FileExistsFunction, IsFileEmptyFunction (AbstractFileFunction): a
 * namespace file or a kestra:// URI of this execution, as read() reaches them; fileExists is
 * false for a missing file, the others fail. */
int kwg_tpl_fn_file_stat(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	json_t *path = kwg_tpl_arg(a, 0, "path");
	int64_t size = 0;
	int r;

	if (!path || json_is_null(path))
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The '%s' function expects an argument 'path' that is a path to %s.", e->s,
		    strcmp(e->s, "isFileEmpty") == 0 ? "a namespace file or an internal storage URI"
		                                     : "the internal storage URI");
	if (!json_is_string(path))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "Unable to read the file %s (not a string)",
		                    kwg_tpl_type_name(path));
	if (!h || !h->stat)
		return hook_missing(c, e);
	r = h->stat(h->userdata, e->s, json_string_value(path), &size, &herr);
	if (r == -ENOENT && strcmp(e->s, "fileExists") == 0) {
		*ret = json_false();
		return 0;
	}
	if (r < 0)
		return hook_err(c, e, r, &herr);
	if (strcmp(e->s, "fileSize") == 0)
		*ret = json_integer(size);
	else
		*ret = json_boolean(strcmp(e->s, "fileExists") == 0 || size == 0);
	return *ret ? 0 : kwg_tpl_oom();
}

/* KESTRA: FetchContextFunction and PrintContextFunction: every variable the render was given
 * (its global scope), each as the template sees it now. */
int kwg_tpl_fn_context(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const char *k;
	json_t *v, *m = json_object();

	(void)e;
	(void)a;
	if (!m)
		return kwg_tpl_oom();
	json_object_foreach ((json_t *)c->opts->vars, k, v) {
		if (json_object_set(m, k, kwg_tpl_scope_get(c, k)) < 0) {
			json_decref(m);
			return kwg_tpl_oom();
		}
	}
	*ret = m;
	return 0;
}

/* The value of a map under the task run value of taskrun (a map); NULL when either is missing. */
static json_t *by_value(json_t *outputs, const json_t *taskrun)
{
	const json_t *value = json_object_get(taskrun, "value");
	return json_is_string(value) ? json_object_get(outputs, json_string_value(value)) : NULL;
}

/* KESTRA: CurrentEachOutputFunction: outputs of a task inside ForEach loops, taken down the
 * values of the enclosing task runs (parents, outermost first) to the current one. */
int kwg_tpl_fn_current_each_output(struct ctx *c, const struct expr *e, struct args *a,
                                   json_t **ret)
{
	json_t *outputs = kwg_tpl_arg(a, 0, "outputs");
	const json_t *parents = kwg_tpl_scope_get(c, "parents"), *x;

	if (!outputs)
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The 'currentEachOutput' function expects an argument 'outputs'.");
	if (!json_is_object(outputs))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The 'currentEachOutput' function expects an argument "
		                    "'outputs' with type map.");
	for (size_t i = json_array_size(parents); i-- > 0;) {
		const json_t *taskrun = json_object_get(json_array_get(parents, i), "taskrun");
		if (!json_is_object(taskrun))
			continue;
		x = by_value(outputs, taskrun);
		if (!x || json_is_null(x))
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "No execution outputs for the current task runs path");
		/* Java casts it to a map; anything else fails there too. */
		if (!json_is_object(x))
			return kwg_tpl_fail(
			    c, -EINVAL, e->line,
			    "currentEachOutput: the outputs under a parent's value are %s, "
			    "not a map",
			    kwg_tpl_type_name(x));
		outputs = (json_t *)x;
	}
	x = by_value(outputs, kwg_tpl_scope_get(c, "taskrun"));
	*ret = x ? json_incref((json_t *)x) : json_null();
	return 0;
}

int kwg_tpl_fn_kv(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	const char *key, *ns;
	json_t *v = NULL;
	int r = kwg_tpl_arg_str(c, a, "kv", 0, "key", true, &key);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, "kv", 1, "namespace", false, &ns);
	if (r < 0)
		return r;
	bool error_on_missing = kwg_tpl_arg_bool(a, 2, "errorOnMissing", true);
	if (!h || !h->kv)
		return hook_missing(c, e);
	r = h->kv(h->userdata, key, ns, &v, &herr);
	if (r == -ENOENT) {
		if (!error_on_missing) {
			*ret = json_null();
			return 0;
		}
		/* KESTRA: KvFunction's message. */
		if (!ns) {
			json_t *flow = json_object_get(c->opts->vars, "flow");
			ns = json_string_value(json_object_get(flow, "namespace"));
		}
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The key '%s' does not exist in the namespace '%s'.", key,
		                    ns ? ns : "");
	}
	/* KESTRA: KvFunction: an expired value is an error, or null without errorOnMissing. */
	if (r == -ESTALE) {
		if (!error_on_missing) {
			*ret = json_null();
			return 0;
		}
		return kwg_tpl_fail(c, -EINVAL, e->line, "The requested value has expired");
	}
	if (r < 0)
		return hook_err(c, e, r, &herr);
	*ret = v ? v : json_null();
	return 0;
}

int kwg_tpl_fn_file_uri(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	const char *path;
	char *v = NULL;
	int r = kwg_tpl_arg_str(c, a, "fileURI", 0, "path", true, &path);
	if (r < 0)
		return r;
	/* KESTRA: FileURIFunction refuses a path holding "../" at once. */
	if (strstr(path[0] == '/' ? path + 1 : path, "../"))
		return kwg_tpl_fail(c, -EINVAL, e->line, "Path must not contain '../'");
	if (!h || !h->file_uri)
		return hook_missing(c, e);
	r = h->file_uri(h->userdata, path, &v, &herr);
	if (r < 0)
		return hook_err(c, e, r, &herr);
	*ret = json_string_nocheck(v);
	free(v);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_fn_from_json(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = kwg_tpl_arg(a, 0, "json");
	json_error_t jerr;

	/* KESTRA: FromJsonFunction (json() is the same class): the argument is required, null
	 * gives null, anything but a string fails. */
	if (!s)
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The 'fromJson' function expects an argument 'json'.");
	if (json_is_null(s)) {
		*ret = json_null();
		return 0;
	}
	if (!json_is_string(s))
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The 'fromJson' function expects an argument 'json' with type string.");
	*ret = json_loadb(json_string_value(s), json_string_length(s), JSON_DECODE_ANY, &jerr);
	if (!*ret)
		return kwg_tpl_fail(c, -EINVAL, e->line, "Invalid json: %s", jerr.text);
	return 0;
}

static int render_string(struct ctx *c, const char *s, bool recursive, int line, char **ret)
{
	char *cur;
	int r;

	if (!kwg_template_needs_render(s)) {
		*ret = strdup(s);
		return *ret ? 0 : kwg_tpl_oom();
	}
	cur = strdup(s);
	if (!cur)
		return kwg_tpl_oom();
	/* KESTRA: VariableRenderer.renderRecursively: again until the text no longer changes,
	 * at most MAX_RENDERING_AMOUNT (100) times; raw blocks are dropped at the end. */
	for (int pass = 0;; pass++) {
		char *next = NULL;
		if (pass > 100) {
			free(cur);
			return kwg_tpl_fail(c, -EINVAL, line, "Too many rendering attempts");
		}
		r = kwg_tpl_render_nested(c, cur, line, &next);
		if (r < 0) {
			free(cur);
			return r;
		}
		bool same = strcmp(next, cur) == 0;
		free(cur);
		cur = next;
		if (!recursive || same)
			break;
	}
	kwg_tpl_strip_raw(cur);
	*ret = cur;
	return 0;
}

/* KESTRA: VariableRenderer.renderObject: strings are rendered, lists item by item, maps key
 * (once) and value; anything else is returned as is. */
static int render_value(struct ctx *c, json_t *v, bool recursive, int line, int depth, json_t **ret)
{
	char *o = NULL;
	int r = 0;

	if (depth > 2 * MAX_EXPR_DEPTH + 2100)
		return kwg_tpl_fail(c, -EINVAL, line, "render: value nested too deeply");
	if (json_is_string(v)) {
		r = render_string(c, json_string_value(v), recursive, line, &o);
		if (r < 0)
			return r;
		*ret = json_string_nocheck(o);
		free(o);
		return *ret ? 0 : kwg_tpl_oom();
	}
	if (json_is_array(v)) {
		json_t *l = json_array(), *x, *y;
		size_t i;
		if (!l)
			return kwg_tpl_oom();
		json_array_foreach (v, i, x) {
			r = render_value(c, x, recursive, line, depth + 1, &y);
			if (r >= 0)
				r = json_array_append_new(l, y) < 0 ? kwg_tpl_oom() : 0;
			if (r < 0) {
				json_decref(l);
				return r;
			}
		}
		*ret = l;
		return 0;
	}
	if (json_is_object(v)) {
		json_t *m = json_object(), *x, *y;
		const char *k;
		if (!m)
			return kwg_tpl_oom();
		json_object_foreach (v, k, x) {
			r = render_string(c, k, false, line, &o);
			if (r >= 0)
				r = render_value(c, x, recursive, line, depth + 1, &y);
			if (r >= 0) {
				/* putIfAbsent: the first key that renders the same wins */
				if (json_object_get(m, o))
					json_decref(y);
				else
					r = json_object_set_new_nocheck(m, o, y) < 0 ? kwg_tpl_oom()
					                                             : 0;
			}
			free(o);
			o = NULL;
			if (r < 0) {
				json_decref(m);
				return r;
			}
		}
		*ret = m;
		return 0;
	}
	*ret = json_incref(v);
	return 0;
}

int kwg_tpl_fn_render(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = kwg_tpl_arg(a, 0, "toRender"), *rec = kwg_tpl_arg(a, 1, "recursive");
	bool recursive = true;

	/* KESTRA: RenderFunction / RenderOnceFunction (renderOnce = recursive=false) */
	if (!s)
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The 'render' function expects an argument 'toRender'.");
	if (strcmp(e->s, "renderOnce") == 0) {
		recursive = false;
	} else if (rec && !json_is_null(rec)) {
		if (!json_is_boolean(rec))
			return kwg_tpl_fail(
			    c, -EINVAL, e->line,
			    "The 'render' function expects an optional argument 'recursive' with "
			    "type boolean.");
		recursive = json_is_true(rec);
	}
	return render_value(c, s, recursive, e->line, 0, ret);
}

int kwg_tpl_fn_uuid(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	uint64_t hi = next_random(c), lo = next_random(c);
	char s[40];

	hi = (hi & ~0xF000ull) | 0x4000ull;                 /* version 4 */
	lo = (lo & ~(0xC000ull << 48)) | (0x8000ull << 48); /* IETF variant */
	snprintf(s, sizeof(s),
	         "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64, hi >> 32,
	         (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48, lo & (uint64_t)0xFFFFFFFFFFFF);
	*ret = json_string(s);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_fn_id(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	/* KESTRA: IdUtils.create(): 22 characters of base62, as execution ids look. */
	static const char alphabet[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char s[23];
	for (int i = 0; i < 22; i++)
		s[i] = alphabet[next_random(c) % 62];
	s[22] = 0;
	*ret = json_string(s);
	return *ret ? 0 : kwg_tpl_oom();
}

/* KESTRA: Pebble RangeFunction (also behind "a..b"): inclusive; numbers, or one-character
 * strings (a range of characters). */
int kwg_tpl_range_values(struct ctx *c, json_t *s, json_t *t, int64_t inc, int line, json_t **ret)
{
	if (json_is_string(s) && json_is_string(t)) {
		if (json_string_length(s) != 1 || json_string_length(t) != 1)
			return kwg_tpl_fail(
			    c, -EINVAL, line,
			    "Arguments of range function must be of type Number or String with "
			    "a length of 1");
		json_t *codes = NULL, *l, *v;
		size_t i;
		int r =
		    kwg_tpl_make_range(c, (unsigned char)json_string_value(s)[0],
		                       (unsigned char)json_string_value(t)[0], inc, line, &codes);
		if (r < 0)
			return r;
		l = json_array();
		json_array_foreach (codes, i, v) {
			char ch = (char)json_integer_value(v);
			if (!l || json_array_append_new(l, json_stringn_nocheck(&ch, 1)) < 0) {
				json_decref(l);
				l = NULL;
				break;
			}
		}
		json_decref(codes);
		if (!l)
			return kwg_tpl_oom();
		*ret = l;
		return 0;
	}
	if (!kwg_tpl_is_number(s) || !kwg_tpl_is_number(t))
		return kwg_tpl_fail(c, -EINVAL, line,
		                    "a range needs numbers or characters, not %s and %s",
		                    kwg_tpl_type_name(s), kwg_tpl_type_name(t));
	double a = kwg_tpl_num_value(s), b = kwg_tpl_num_value(t);
	if (!(fabs(a) < 9.2e18) || !(fabs(b) < 9.2e18))
		return kwg_tpl_fail(c, -EINVAL, line, "range bounds out of range");
	return kwg_tpl_make_range(c, json_is_integer(s) ? json_integer_value(s) : (int64_t)a,
	                          json_is_integer(t) ? json_integer_value(t) : (int64_t)b, inc,
	                          line, ret);
}

int kwg_tpl_fn_range(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = kwg_tpl_arg(a, 0, "start"), *t = kwg_tpl_arg(a, 1, "end");
	int64_t inc;
	int r = kwg_tpl_arg_int(c, a, "range", 2, "increment", false, 1, &inc);
	if (r < 0)
		return r;
	return kwg_tpl_range_values(c, s, t, inc, e->line, ret);
}

/* KESTRA: YamlFunction: yaml(text) parsed as Jackson's YAML mapper reads it (the first
 * document, a repeated key replacing the earlier one). */
int kwg_tpl_fn_yaml(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = kwg_tpl_arg(a, 0, "yaml");
	struct kwg_err yerr;
	int r;

	if (!s)
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The 'yaml' function expects an argument 'yaml'.");
	if (!json_is_string(s))
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The 'yaml' function expects an argument 'yaml' with type string.");
	r = kwg_yaml_load(json_string_value(s), json_string_length(s), true, ret, &yerr);
	if (r == -ENOMEM)
		return kwg_tpl_oom();
	if (r < 0)
		return kwg_tpl_fail(c, -EINVAL, e->line, "Invalid yaml: %s", yerr.msg);
	return 0;
}

/* What cannot work in a worker: a named failure. */
int kwg_tpl_fn_unsupported(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	if (!strcmp(e->s, "isPublicHoliday"))
		return kwg_tpl_fail(
		    c, -EOPNOTSUPP, e->line,
		    "function 'isPublicHoliday' is not supported: it needs Kestra's public "
		    "holiday calendars (Jollyday), which kwg does not carry");
	if (!strcmp(e->s, "errorLogs"))
		return kwg_tpl_fail(
		    c, -EOPNOTSUPP, e->line,
		    "function 'errorLogs' is not supported: the execution's logs are in "
		    "Kestra's log repository, which a worker does not read");
	return kwg_tpl_fail(c, -EOPNOTSUPP, e->line, "function '%s' is not supported", e->s);
}

int kwg_tpl_fn_max_min(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	bool max = e->s[1] == 'a';
	json_t *best = NULL;

	if (!a->n)
		return kwg_tpl_fail(c, -EINVAL, e->line, "'%s' needs arguments", e->s);
	for (size_t i = 0; i < a->n; i++) {
		if (!kwg_tpl_is_number(a->v[i]))
			return kwg_tpl_fail(c, -EINVAL, e->line, "'%s' needs numbers, not %s", e->s,
			                    kwg_tpl_type_name(a->v[i]));
		if (!best || (kwg_tpl_compare_values(a->v[i], best) > 0) == max)
			best = a->v[i];
	}
	*ret = json_incref(best);
	return 0;
}

int kwg_tpl_fn_random_int(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	int64_t lim[2];
	static const char *const names[] = {"lower", "upper"};

	/* KESTRA: RandomIntFunction: both arguments must be Integers (an integer literal or
	 * value in int range; not a string, a decimal or a long). */
	for (size_t i = 0; i < 2; i++) {
		json_t *v = kwg_tpl_arg(a, i, names[i]);
		if (!v)
			return kwg_tpl_fail(
			    c, -EINVAL, e->line,
			    "The 'GenerateRandomNumber' function expects an argument %s", names[i]);
		if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
		    json_integer_value(v) > INT32_MAX)
			return kwg_tpl_fail(
			    c, -EINVAL, e->line,
			    "The 'GenerateRandomNumber' function expects an argument %swith "
			    "type Integer.",
			    names[i]);
		lim[i] = json_integer_value(v);
	}
	int64_t lo = lim[0], hi = lim[1];
	/* KESTRA: RandomIntFunction: floor(random * (upper - lower)) + lower, so upper is
	 * excluded and upper == lower gives lower. */
	if (hi < lo)
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "In 'GenerateRandomNumber' upper is less than lower");
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	*ret = json_integer((json_int_t)((uint64_t)lo + (span ? next_random(c) % span : 0)));
	return *ret ? 0 : kwg_tpl_oom();
}
