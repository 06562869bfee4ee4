/* SPDX-License-Identifier: Apache-2.0 */
/* The jq filter: libjq glue (kwg_template_jq) and the filter that calls it or the jq hook. */
#include "template/internal.h"

#include <jq.h>

#include "common/lazylib.h"

/* ---- jq (libjq 1.6) ---- */

/* word appears in s as a jq keyword would (not inside a longer name). */
static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
		bool before = p == s || !(kwg_tpl_is_name_start(p[-1]) || kwg_tpl_is_digit(p[-1]) ||
		                          p[-1] == '$');
		bool after = !(kwg_tpl_is_name_start(p[n]) || kwg_tpl_is_digit(p[n]));
		if (before && after)
			return true;
	}
	return false;
}

struct jq_errs {
	char msg[200];
};

static void on_jq_error(void *data, jv msg)
{
	struct jq_errs *e = data;
	if (!e->msg[0]) {
		if (jv_get_kind(msg) == JV_KIND_STRING)
			snprintf(e->msg, sizeof(e->msg), "%s", jv_string_value(msg));
		else
			snprintf(e->msg, sizeof(e->msg), "jq error");
	}
	jv_free(msg);
}

int kwg_template_jq(const char *program, const char *input, char **ret, struct kwg_err *err)
{
	struct jq_errs errs = {{0}};
	struct kwg_buf full, out;
	size_t n = 0;
	jq_state *jq = NULL;
	int r;

	kwg_buf_init(&full, 65536);
	kwg_buf_init(&out, KWG_TEMPLATE_MAX_OUTPUT);
	r = kwg_buf_printf(&full,
	                   "def env: {}; def debug: .; def stderr: .; def input_filename: null; %s",
	                   program);
	if (r >= 0)
		r = kwg_buf_putc(&out, '[');
	if (r < 0) {
		r = kwg_err_set(err, -EINVAL, "the jq program is too long");
		goto out;
	}
	/* libjq is loaded at the first jq filter (common/lazylib.h); a missing one is named. */
	if (kwg_lazylib_load(&kwg_lazy_jq) < 0) {
		r = kwg_err_set(err, -ENOENT, "%s", kwg_lazy_jq.error);
		goto out;
	}
	jq = jq_init();
	if (!jq) {
		r = -ENOMEM;
		goto out;
	}
	jq_set_error_cb(jq, on_jq_error, &errs);
	jq_set_attr(jq, jv_string("JQ_LIBRARY_PATH"), jv_array());
	if (!jq_compile(jq, kwg_buf_str(&full))) {
		r = kwg_err_set(err, -EINVAL, "cannot compile '%.64s': %s", program, errs.msg);
		goto out;
	}
	jv in = jv_parse(input);
	if (!jv_is_valid(in)) {
		jv_free(in);
		r = kwg_err_set(err, -EINVAL, "input is not JSON");
		goto out;
	}
	jq_start(jq, in, 0);
	for (;;) {
		jv res = jq_next(jq);
		if (!jv_is_valid(res)) {
			if (jv_invalid_has_msg(jv_copy(res))) {
				jv m = jv_invalid_get_msg(res);
				jv t = jv_get_kind(m) == JV_KIND_STRING ? m : jv_dump_string(m, 0);
				r = kwg_err_set(err, -EINVAL, "%.200s", jv_string_value(t));
				jv_free(t);
			} else {
				jv_free(res);
			}
			break;
		}
		jv dump = jv_dump_string(res, 0);
		if (++n > MAX_LIST)
			r = kwg_err_set(err, -EMSGSIZE, "more than %d results", MAX_LIST);
		if (r >= 0 && n > 1)
			r = kwg_buf_putc(&out, ',');
		if (r >= 0)
			r = kwg_buf_puts(&out, jv_string_value(dump));
		jv_free(dump);
		if (r == -EMSGSIZE && !err->msg[0])
			r = kwg_err_set(err, -EMSGSIZE, "results past %u bytes",
			                KWG_TEMPLATE_MAX_OUTPUT);
		if (r < 0)
			break;
	}
	if (r >= 0)
		r = kwg_buf_putc(&out, ']');
	if (r >= 0)
		*ret = kwg_buf_steal(&out);
	if (r >= 0 && !*ret)
		r = -ENOMEM;
out:
	if (jq)
		jq_teardown(&jq);
	kwg_buf_done(&full);
	kwg_buf_done(&out);
	return r;
}

int kwg_tpl_f_jq(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err jerr = {{0}};
	cleanup_free char *results = NULL;
	const char *prog;
	struct kwg_buf txt;
	json_t *l;
	int r;

	r = kwg_tpl_arg_str(c, a, "jq", 0, "expression", true, &prog);
	if (r < 0)
		return r;
	/* SECURITY: no environment ($ENV, env), no modules, no stderr side channel. */
	if (strstr(prog, "$ENV") || has_word(prog, "import") || has_word(prog, "include") ||
	    strstr(prog, "$__"))
		return kwg_tpl_fail(
		    c, -EOPNOTSUPP, e->line,
		    "filter 'jq': $ENV, modules and $__ variables are not available");
	kwg_buf_init(&txt, KWG_TEMPLATE_MAX_OUTPUT);
	/* KESTRA: JqFilter (kestra-io/kestra develop, 2025) reads a string input as JSON text (an
	 * error when it is not), other values as their JSON; a null input gives null. */
	if (json_is_string(in)) {
		json_t *p = json_loadb(json_string_value(in), json_string_length(in),
		                       JSON_DECODE_ANY, NULL);
		if (!p) {
			kwg_buf_done(&txt);
			return kwg_tpl_fail(c, -EINVAL, e->line, "Unable to parse jq value '%.64s'",
			                    json_string_value(in));
		}
		r = kwg_tpl_json_write(&txt, p, 0);
		json_decref(p);
	} else {
		r = kwg_tpl_json_write(&txt, in, 0);
	}
	if (r < 0) {
		kwg_buf_done(&txt);
		return kwg_tpl_size_err(c, r, e->line);
	}
	/* The worker runs jq away from its loop, with a deadline (an endless program is the flow
	 * author's to write); without the hook it runs here. */
	r = h && h->jq ? h->jq(h->userdata, prog, kwg_buf_str(&txt), &results, &jerr)
	               : kwg_template_jq(prog, kwg_buf_str(&txt), &results, &jerr);
	kwg_buf_done(&txt);
	if (r == -ENOMEM)
		return kwg_tpl_oom();
	if (r < 0)
		return kwg_tpl_fail(c, r == -EMSGSIZE ? -EMSGSIZE : -EINVAL, e->line,
		                    "filter 'jq': %s", jerr.msg);
	l = json_loads(results, JSON_DECODE_ANY, NULL);
	if (!json_is_array(l)) {
		json_decref(l);
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter 'jq': cannot read its results");
	}
	r = kwg_tpl_list_check(c, json_array_size(l), e->line);
	if (r < 0) {
		json_decref(l);
		return r;
	}
	*ret = l;
	return 0;
}
