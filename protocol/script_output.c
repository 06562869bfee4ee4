/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/script_output.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "protocol/duration.h"
#include "protocol/json.h"

/* Distinct metrics one task may accumulate. */
#define MAX_METRICS 10000

struct metric {
	char *name;
	bool is_timer;
	json_t *tags;     /* object; owned */
	double counter;   /* counters: the sum */
	int64_t timer_ns; /* timers: the summed duration */
};

struct kwg_script_output {
	json_t *vars; /* merged outputs, in merge order */
	struct metric *metrics;
	size_t n_metrics, cap_metrics;
};

int kwg_script_output_new(struct kwg_script_output **ret)
{
	struct kwg_script_output *so = calloc(1, sizeof(*so));

	if (!so)
		return -ENOMEM;
	so->vars = json_object();
	if (!so->vars) {
		free(so);
		return -ENOMEM;
	}
	*ret = so;
	return 0;
}

static void metric_done(struct metric *m)
{
	free(m->name);
	json_decref(m->tags);
}

struct kwg_script_output *kwg_script_output_free(struct kwg_script_output *so)
{
	if (!so)
		return NULL;
	for (size_t i = 0; i < so->n_metrics; i++)
		metric_done(&so->metrics[i]);
	free(so->metrics);
	json_decref(so->vars);
	free(so);
	return NULL;
}

/* Tags as Jackson reads a Map<String, String>: strings kept, other scalars as their text. */
static int read_tags(const json_t *in, size_t idx, json_t **ret, struct kwg_err *err)
{
	json_t *tags = json_object(), *v;
	const char *key;

	if (!tags)
		return -ENOMEM;
	json_object_foreach ((json_t *)in, key, v) {
		json_t *s;
		if (json_is_string(v) || json_is_null(v)) {
			s = json_incref(v);
		} else if (json_is_number(v) || json_is_boolean(v)) {
			char *text = kwg_json_dump(v);
			s = text ? json_string(text) : NULL;
			free(text);
		} else {
			json_decref(tags);
			return kwg_err_set(err, -EBADMSG, "metrics[%zu].tags.%s: expected a string",
			                   idx, key);
		}
		if (!s || json_object_set_new(tags, key, s) < 0) {
			json_decref(tags);
			return -ENOMEM;
		}
	}
	*ret = tags;
	return 0;
}

static int read_metric(const json_t *m, size_t idx, struct metric *ret, struct kwg_err *err)
{
	const char *name = json_string_value(json_object_get(m, "name"));
	const char *type = json_string_value(json_object_get(m, "type"));
	json_t *value = json_object_get(m, "value"), *tags = json_object_get(m, "tags");
	int r;

	*ret = (struct metric){0};
	if (!json_is_object(m))
		return kwg_err_set(err, -EBADMSG, "metrics[%zu]: expected an object", idx);
	if (!type || (strcmp(type, "counter") != 0 && strcmp(type, "timer") != 0))
		return kwg_err_set(err, -EBADMSG,
		                   "metrics[%zu].type: expected \"counter\" or \"timer\"", idx);
	if (!name)
		return kwg_err_set(err, -EBADMSG, "metrics[%zu].name: expected a string", idx);
	ret->is_timer = strcmp(type, "timer") == 0;
	if (json_is_number(value) && isfinite(json_number_value(value))) {
		double v = json_number_value(value);
		/* KESTRA: a timer number is a number of seconds (DurationDeserializer). */
		if (ret->is_timer && fabs(v) * 1e9 > (double)(INT64_MAX / MAX_METRICS))
			return kwg_err_set(err, -EBADMSG,
			                   "metrics[%zu].value: duration out of range", idx);
		/* Bounded so that summing MAX_METRICS of them stays finite and in range. */
		if (!ret->is_timer && fabs(v) > 1e300)
			return kwg_err_set(err, -EBADMSG, "metrics[%zu].value: out of range", idx);
		if (ret->is_timer)
			ret->timer_ns = llround(v * 1e9);
		else
			ret->counter = v;
	} else if (ret->is_timer && json_is_string(value)) {
		int64_t ms;
		if (kwg_duration_parse(json_string_value(value), &ms) < 0)
			return kwg_err_set(err, -EBADMSG,
			                   "metrics[%zu].value: '%.64s' is not a duration", idx,
			                   json_string_value(value));
		if (ms > INT64_MAX / 1000000 / MAX_METRICS ||
		    ms < -(INT64_MAX / 1000000 / MAX_METRICS))
			return kwg_err_set(err, -EBADMSG,
			                   "metrics[%zu].value: duration out of range", idx);
		ret->timer_ns = ms * 1000000;
	} else {
		return kwg_err_set(err, -EBADMSG, "metrics[%zu].value: expected a number", idx);
	}
	if (tags && !json_is_null(tags) && !json_is_object(tags))
		return kwg_err_set(err, -EBADMSG, "metrics[%zu].tags: expected an object", idx);
	r = json_is_object(tags) ? read_tags(tags, idx, &ret->tags, err)
	                         : ((ret->tags = json_object()) ? 0 : -ENOMEM);
	if (r < 0)
		return r;
	ret->name = strdup(name);
	if (!ret->name) {
		metric_done(ret);
		return -ENOMEM;
	}
	return 0;
}

static int check_logs(const json_t *logs, struct kwg_err *err)
{
	json_t *e;
	size_t i;

	if (!logs || json_is_null(logs))
		return 0;
	if (!json_is_array(logs))
		return kwg_err_set(err, -EBADMSG, "logs: expected an array");
	json_array_foreach (logs, i, e) {
		const char *level = json_string_value(json_object_get(e, "level"));
		enum kwg_level l;
		if (!json_is_object(e))
			return kwg_err_set(err, -EBADMSG, "logs[%zu]: expected an object", i);
		/* KESTRA: Jackson reads the SLF4J level case-sensitively; one bad level rejects the
		 * whole line. */
		if (!level || kwg_level_from_name(level, &l) < 0)
			return kwg_err_set(err, -EBADMSG, "logs[%zu].level: unknown level '%.32s'",
			                   i, level ? level : "null");
		if (!json_is_string(json_object_get(e, "message")) &&
		    !json_is_null(json_object_get(e, "message")))
			return kwg_err_set(err, -EBADMSG, "logs[%zu].message: expected a string",
			                   i);
	}
	return 0;
}

static bool same_metric(const struct metric *a, const struct metric *b)
{
	return a->is_timer == b->is_timer && strcmp(a->name, b->name) == 0 &&
	       json_equal(a->tags, b->tags);
}

/* Sums m into the accumulated metrics; takes m's contents. */
static int add_metric(struct kwg_script_output *so, struct metric *m)
{
	for (size_t i = 0; i < so->n_metrics; i++) {
		struct metric *have = &so->metrics[i];
		if (!same_metric(have, m))
			continue;
		have->counter += m->counter;
		have->timer_ns += m->timer_ns;
		metric_done(m);
		return 0;
	}
	if (so->n_metrics == so->cap_metrics) {
		size_t cap = so->cap_metrics ? so->cap_metrics * 2 : 8;
		struct metric *p = realloc(so->metrics, cap * sizeof(*p));
		if (!p) {
			metric_done(m);
			return -ENOMEM;
		}
		so->metrics = p;
		so->cap_metrics = cap;
	}
	so->metrics[so->n_metrics++] = *m;
	return 0;
}

/* Validates every part of the line before applying any (an invalid line applies nothing). */
static int apply(struct kwg_script_output *so, const json_t *doc, kwg_script_log_fn *on_log,
                 void *userdata, struct kwg_err *err)
{
	json_t *outputs = json_object_get(doc, "outputs");
	json_t *metrics = json_object_get(doc, "metrics"), *logs = json_object_get(doc, "logs"), *e;
	struct metric *parsed = NULL;
	size_t n = 0, i;
	int r = 0;

	if (outputs && !json_is_null(outputs) && !json_is_object(outputs))
		return kwg_err_set(err, -EBADMSG, "outputs: expected an object");
	if (metrics && !json_is_null(metrics) && !json_is_array(metrics))
		return kwg_err_set(err, -EBADMSG, "metrics: expected an array");
	r = check_logs(logs, err);
	if (r < 0)
		return r;
	if (json_array_size(metrics) > 0) {
		if (so->n_metrics + json_array_size(metrics) > MAX_METRICS)
			return kwg_err_set(err, -EBADMSG, "more than %d distinct metrics",
			                   MAX_METRICS);
		parsed = calloc(json_array_size(metrics), sizeof(*parsed));
		if (!parsed)
			return -ENOMEM;
		json_array_foreach (metrics, i, e) {
			r = read_metric(e, i, &parsed[n], err);
			if (r < 0)
				break;
			n++;
		}
	}
	if (r >= 0 && json_is_object(outputs) && json_object_update(so->vars, outputs) < 0)
		r = -ENOMEM;
	for (i = 0; i < n; i++) {
		if (r >= 0)
			r = add_metric(so, &parsed[i]);
		else
			metric_done(&parsed[i]);
	}
	free(parsed);
	if (r < 0)
		return r;
	json_array_foreach (logs, i, e) {
		const char *msg = json_string_value(json_object_get(e, "message"));
		enum kwg_level level = KWG_LEVEL_INFO;
		(void)kwg_level_from_name(json_string_value(json_object_get(e, "level")), &level);
		on_log(userdata, level, msg ? msg : "",
		       msg ? json_string_length(json_object_get(e, "message")) : 0);
	}
	return 0;
}

int kwg_script_output_feed(struct kwg_script_output *so, const char *line, size_t len,
                           kwg_script_log_fn *on_log, void *userdata, struct kwg_err *err)
{
	json_error_t jerr;
	json_t *doc;
	int r;

	/* KESTRA: PluginUtilsService.parseOut, regex ^::(\{.*})::$ ('.' stops at line breaks). */
	if (len < 6 || memcmp(line, "::{", 3) != 0 || memcmp(line + len - 3, "}::", 3) != 0 ||
	    memchr(line, '\n', len) || memchr(line, '\r', len))
		return KWG_SCRIPT_LINE_TEXT;
	doc = json_loadb(line + 2, len - 4, 0, &jerr);
	if (!doc) {
		kwg_err_set(err, -EBADMSG, "%s at column %d", jerr.text, jerr.column + 2);
		return KWG_SCRIPT_LINE_INVALID;
	}
	if (kwg_json_depth(doc) > KWG_JSON_MAX_DEPTH) {
		json_decref(doc);
		kwg_err_set(err, -EBADMSG, "JSON nested deeper than %d levels", KWG_JSON_MAX_DEPTH);
		return KWG_SCRIPT_LINE_INVALID;
	}
	r = apply(so, doc, on_log, userdata, err);
	json_decref(doc);
	if (r == -ENOMEM)
		return r;
	return r < 0 ? KWG_SCRIPT_LINE_INVALID : KWG_SCRIPT_LINE_APPLIED;
}

char *kwg_script_output_outputs_json(const struct kwg_script_output *so, int exit_code,
                                     const struct kwg_strv *output_files)
{
	json_t *out =
	    json_pack("{s:O, s:i, s:{}}", "vars", so->vars, "exitCode", exit_code, "outputFiles");
	json_t *files = out ? json_object_get(out, "outputFiles") : NULL;
	char *s;

	for (size_t i = 0; files && output_files && i + 1 < output_files->n; i += 2)
		if (json_object_set_new(files, output_files->v[i],
		                        json_string(output_files->v[i + 1])) < 0)
			files = NULL;
	if (!files) {
		json_decref(out);
		return NULL;
	}
	s = kwg_json_dump(out);
	json_decref(out);
	return s;
}

size_t kwg_script_output_metric_count(const struct kwg_script_output *so)
{
	return so->n_metrics;
}

/* A double as Java's Double.toString writes the usual cases: 1.0, 2120.0, 3.65. */
static void format_double(double v, char buf[64])
{
	if (v == floor(v) && fabs(v) < 1e7) {
		(void)snprintf(buf, 64, "%.1f", v);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		(void)snprintf(buf, 64, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			return;
	}
}

char *kwg_script_output_metric_json(const struct kwg_script_output *so, size_t i,
                                    const struct kwg_taskrun_ref *ref, int64_t ts_us)
{
	const struct metric *m = &so->metrics[i];
	char value[64], ts[KWG_INSTANT_LEN];
	char *tags = kwg_json_dump(m->tags);
	struct kwg_buf b;
	int r;

	if (!tags)
		return NULL;
	/* KESTRA: a timer's MetricEntry value is Duration.toMillis(). */
	format_double(m->is_timer ? (double)(m->timer_ns / 1000000) : m->counter, value);
	kwg_clock_format_instant(ts_us, ts);
	kwg_buf_init(&b, SIZE_MAX / 4);
	r = kwg_buf_putc(&b, '{');
	if (r >= 0)
		r = kwg_taskrun_ref_append(&b, ref);
	if (r >= 0)
		r = kwg_buf_printf(&b,
		                   "\"type\":\"%s\",\"name\":", m->is_timer ? "timer" : "counter");
	if (r >= 0)
		r = kwg_json_escape(&b, m->name, strlen(m->name));
	if (r >= 0)
		r = kwg_buf_printf(
		    &b, ",\"value\":%s,\"timestamp\":\"%s\",\"tags\":%s,\"deleted\":false}", value,
		    ts, tags);
	free(tags);
	if (r < 0) {
		kwg_buf_done(&b);
		return NULL;
	}
	return kwg_buf_steal(&b);
}
