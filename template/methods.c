/* SPDX-License-Identifier: Apache-2.0 */
/* Method calls on strings (Pebble's reflective method access: "abc".toUpperCase()). */
#include "template/internal.h"

/* ==== method calls (Pebble's reflective method access, on strings) ==== */

static int method_str_arg(struct ctx *c, const struct expr *e, const struct args *a, size_t i,
                          const char **ret, size_t *len)
{
	json_t *v = i < a->n ? a->v[i] : NULL;
	if (!v || !json_is_string(v))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "method '%s': argument %zu must be a string, not %s", e->s,
		                    i + 1, v ? kwg_tpl_type_name(v) : "missing");
	*ret = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

/* Pebble 3.2 calls a public method of the value's class by name and argument count (numbers
 * converted to the parameter's type). kwg does the common java.lang.String methods; on another
 * value, or another method, the call fails naming it. */
int kwg_tpl_call_method(struct ctx *c, const struct expr *e, json_t **ret)
{
	static const struct {
		const char *name;
		size_t nargs;
	} known[] = {{"toUpperCase", 0},     {"toLowerCase", 0}, {"trim", 0},      {"length", 0},
	             {"isEmpty", 0},         {"toString", 0},    {"substring", 1}, {"substring", 2},
	             {"startsWith", 1},      {"endsWith", 1},    {"contains", 1},  {"indexOf", 1},
	             {"lastIndexOf", 1},     {"replace", 2},     {"concat", 1},    {"equals", 1},
	             {"equalsIgnoreCase", 1}};
	struct args a = {0};
	const char *s, *x = NULL, *y = NULL;
	size_t n, xn = 0, yn = 0, i;
	json_t *obj;
	int r;

	r = kwg_tpl_eval(c, e->a, false, &obj);
	if (r < 0)
		return r;
	if (!json_is_string(obj)) {
		r = kwg_tpl_fail(c, -EOPNOTSUPP, e->line,
		                 "method call '%s()' on %s is not supported", e->s,
		                 kwg_tpl_type_name(obj));
		json_decref(obj);
		return r;
	}
	r = kwg_tpl_args_eval(c, e, &a);
	if (r < 0) {
		json_decref(obj);
		return r;
	}
	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(known[i].name, e->s) && known[i].nargs == a.n)
			break;
	s = json_string_value(obj);
	n = json_string_length(obj);
	*ret = NULL;
	if (i == ARRAY_SIZE(known)) {
		r = kwg_tpl_fail(
		    c, -EOPNOTSUPP, e->line,
		    "method call '%s()' with %zu argument(s) on a String is not supported", e->s,
		    a.n);
	} else if (!strcmp(e->s, "toUpperCase") || !strcmp(e->s, "toLowerCase")) {
		char *o = NULL;
		size_t on = 0;
		r = kwg_java_case(s, n, e->s[2] == 'U', &o, &on);
		if (r >= 0)
			*ret = json_stringn_nocheck(o, on);
		free(o);
	} else if (!strcmp(e->s, "trim")) {
		size_t b = 0, end = n;
		while (b < end && (unsigned char)s[b] <= ' ')
			b++;
		while (end > b && (unsigned char)s[end - 1] <= ' ')
			end--;
		*ret = json_stringn_nocheck(s + b, end - b);
	} else if (!strcmp(e->s, "length")) {
		*ret = json_integer((json_int_t)kwg_utf16_units(s, n));
	} else if (!strcmp(e->s, "isEmpty")) {
		*ret = json_boolean(n == 0);
	} else if (!strcmp(e->s, "toString")) {
		*ret = json_incref(obj);
	} else if (!strcmp(e->s, "substring")) {
		int64_t b = 0, end = (int64_t)kwg_utf16_units(s, n), len = end;
		r = kwg_tpl_arg_int(c, &a, "substring", 0, "beginIndex", true, 0, &b);
		if (r >= 0 && a.n == 2)
			r = kwg_tpl_arg_int(c, &a, "substring", 1, "endIndex", true, 0, &end);
		if (r >= 0 && (b < 0 || end > len || b > end))
			r = kwg_tpl_fail(c, -EINVAL, e->line, "begin %lld, end %lld, length %lld",
			                 (long long)b, (long long)end, (long long)len);
		if (r >= 0) {
			size_t ob = kwg_utf16_offset(s, n, (size_t)b);
			size_t oe = kwg_utf16_offset(s, n, (size_t)end);
			*ret = json_stringn_nocheck(s + ob, oe - ob);
		}
	} else if (!strcmp(e->s, "equals")) {
		json_t *v = a.v[0];
		*ret = json_boolean(json_is_string(v) && json_string_length(v) == n &&
		                    !memcmp(json_string_value(v), s, n));
	} else {
		r = method_str_arg(c, e, &a, 0, &x, &xn);
		if (r >= 0 && !strcmp(e->s, "replace"))
			r = method_str_arg(c, e, &a, 1, &y, &yn);
		if (r < 0) {
			/* the message is set */
		} else if (!strcmp(e->s, "startsWith")) {
			*ret = json_boolean(xn <= n && !memcmp(s, x, xn));
		} else if (!strcmp(e->s, "endsWith")) {
			*ret = json_boolean(xn <= n && !memcmp(s + n - xn, x, xn));
		} else if (!strcmp(e->s, "contains")) {
			*ret = json_boolean(xn == 0 || memmem(s, n, x, xn) != NULL);
		} else if (!strcmp(e->s, "indexOf") || !strcmp(e->s, "lastIndexOf")) {
			bool last = e->s[0] == 'l';
			const char *hit = NULL;
			for (size_t k = 0; k + xn <= n; k++)
				if (!memcmp(s + k, x, xn) && (hit = s + k, !last))
					break;
			*ret = json_integer(hit ? (json_int_t)kwg_utf16_units(s, (size_t)(hit - s))
			                        : -1);
		} else if (!strcmp(e->s, "concat")) {
			struct kwg_buf b;
			kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
			r = kwg_buf_append(&b, s, n);
			if (r >= 0)
				r = kwg_buf_append(&b, x, xn);
			if (r < 0) {
				kwg_buf_done(&b);
				r = kwg_tpl_size_err(c, r, e->line);
			} else {
				r = kwg_tpl_buf_value(c, &b, e->line, ret);
			}
		} else if (!strcmp(e->s, "equalsIgnoreCase")) {
			char *p = NULL, *q = NULL;
			size_t pn = 0, qn = 0;
			r = kwg_java_case(s, n, true, &p, &pn);
			if (r >= 0)
				r = kwg_java_case(x, xn, true, &q, &qn);
			if (r >= 0)
				*ret = json_boolean(pn == qn && !memcmp(p, q, pn));
			free(p);
			free(q);
		} else { /* replace: CharSequence, literal, every occurrence */
			struct kwg_buf b;
			size_t k = 0;
			kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
			while (r >= 0 && k <= n) {
				if (k + xn <= n && !memcmp(s + k, x, xn)) {
					r = kwg_buf_append(&b, y, yn);
					if (xn == 0 && r >= 0 && k < n)
						r = kwg_buf_append(&b, s + k, 1);
					k += xn ? xn : 1;
				} else {
					if (k < n)
						r = kwg_buf_append(&b, s + k, 1);
					k++;
				}
			}
			if (r < 0) {
				kwg_buf_done(&b);
				r = kwg_tpl_size_err(c, r, e->line);
			} else {
				r = kwg_tpl_buf_value(c, &b, e->line, ret);
			}
		}
	}
	if (r == -ENOMEM)
		r = kwg_tpl_oom();
	if (r >= 0 && !*ret)
		r = kwg_tpl_oom();
	kwg_tpl_args_done(&a);
	json_decref(obj);
	return r;
}
