/* SPDX-License-Identifier: Apache-2.0 */
/* Filters on numbers and Java types: abs, number, string, className, numberformat (Pebble's
 * NumberFormatFilter: java.text.DecimalFormat through template/jdecimal.h). */
#include "template/internal.h"

int kwg_tpl_f_abs(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	if (json_is_integer(in)) {
		json_int_t v = json_integer_value(in);
		*ret = json_integer(v < 0 ? (json_int_t)(0 - (uint64_t)v) : v);
	} else if (json_is_real(in)) {
		*ret = json_real(fabs(json_real_value(in)));
	} else {
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter 'abs' needs a number, not %s",
		                    kwg_tpl_type_name(in));
	}
	return *ret ? 0 : kwg_tpl_oom();
}

static int parse_number(const char *s, json_t **ret)
{
	char *end;
	if (!*s || kwg_tpl_is_ws(*s))
		return -EINVAL;
	errno = 0;
	long long i = strtoll(s, &end, 0);
	if (!errno && !*end) {
		*ret = json_integer(i);
		return *ret ? 0 : -ENOMEM;
	}
	double d = strtod(s, &end);
	if (*end == 'd' || *end == 'D' || *end == 'f' || *end == 'F')
		end++;
	if (*end || isnan(d))
		return -EINVAL;
	*ret = json_real(d);
	return *ret ? 0 : -ENOMEM;
}

int kwg_tpl_f_number(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const char *type, *s;
	char *end;
	int r;

	/* KESTRA: NumberFilter: a string only; INT, LONG, BIGINTEGER, FLOAT, DOUBLE, BIGDECIMAL
	 * (case-sensitive, Apache NumberUtils.create*), anything else createNumber. */
	if (!json_is_string(in))
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "'number' filter can only be applied to String. Actual type was: %s",
		    kwg_tpl_type_name(in));
	r = kwg_tpl_arg_str(c, a, "number", 0, "type", false, &type);
	if (r < 0)
		return r;
	s = json_string_value(in);
	if (type &&
	    (!strcmp(type, "INT") || !strcmp(type, "LONG") || !strcmp(type, "BIGINTEGER"))) {
		errno = 0;
		long long v = *s && !kwg_tpl_is_ws(*s) ? strtoll(s, &end, 0) : 0;
		if (!*s || kwg_tpl_is_ws(*s) || errno || *end ||
		    (!strcmp(type, "INT") && (v < INT32_MIN || v > INT32_MAX)))
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "filter 'number': '%.64s' is not a %s", s, type);
		*ret = json_integer(v);
	} else if (type && (!strcmp(type, "FLOAT") || !strcmp(type, "DOUBLE") ||
	                    !strcmp(type, "BIGDECIMAL"))) {
		double d = *s && !kwg_tpl_is_ws(*s) ? strtod(s, &end) : 0;
		if (!*s || kwg_tpl_is_ws(*s) ||
		    (*end && strchr("fFdD", *end) && !end[1] ? false : *end))
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "filter 'number': '%.64s' is not a %s", s, type);
		*ret = json_real(d);
	} else if (parse_number(s, ret) < 0) {
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter 'number': '%.64s' is not a number",
		                    s);
	}
	return *ret ? 0 : kwg_tpl_oom();
}

/* The Java class Kestra would see for v (NULL for null). */
const char *kwg_tpl_java_class(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "java.util.LinkedHashMap";
	case JSON_ARRAY:
		return "java.util.ArrayList";
	case JSON_STRING:
		return "java.lang.String";
	case JSON_INTEGER:
		return json_integer_value(v) >= INT32_MIN && json_integer_value(v) <= INT32_MAX
		           ? "java.lang.Integer"
		           : "java.lang.Long";
	case JSON_REAL:
		return "java.lang.Double";
	case JSON_TRUE:
	case JSON_FALSE:
		return "java.lang.Boolean";
	case JSON_NULL:
		break;
	}
	return NULL;
}

/* Java's new BigDecimal(s).toString() into b: 0, or -EINVAL when s is not a BigDecimal. */
static int big_decimal_text(const char *s, size_t n, struct kwg_buf *b)
{
	const char *p = s, *end = s + n;
	bool neg = false;
	char *digits;
	size_t nd = 0, frac = 0;
	long long exp = 0;
	int r = 0;

	if (p < end && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	digits = malloc(n + 1);
	if (!digits)
		return -ENOMEM;
	bool dot = false, any = false;
	for (; p < end; p++) {
		if (kwg_tpl_is_digit(*p)) {
			any = true;
			if (dot)
				frac++;
			if (nd || *p != '0')
				digits[nd++] = *p;
		} else if (*p == '.' && !dot) {
			dot = true;
		} else {
			break;
		}
	}
	if (any && p < end && (*p == 'e' || *p == 'E')) {
		bool eneg = false, edig = false;
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		for (; p < end && kwg_tpl_is_digit(*p); p++) {
			edig = true;
			exp = exp * 10 + (*p - '0');
			if (exp > INT32_MAX)
				break;
		}
		if (!edig)
			any = false;
		exp = eneg ? -exp : exp;
	}
	if (!any || p != end) {
		free(digits);
		return -EINVAL;
	}
	if (!nd)
		digits[nd++] = '0';
	long long scale = (long long)frac - exp;
	long long adjusted = -scale + (long long)(nd - 1);
	if (neg && !(nd == 1 && digits[0] == '0'))
		r = kwg_buf_putc(b, '-');
	if (scale == 0) {
		r = r < 0 ? r : kwg_buf_append(b, digits, nd);
	} else if (scale > 0 && adjusted >= -6) {
		if ((long long)nd <= scale) {
			r = r < 0 ? r : kwg_buf_puts(b, "0.");
			for (long long k = 0; r >= 0 && k < scale - (long long)nd; k++)
				r = kwg_buf_putc(b, '0');
			r = r < 0 ? r : kwg_buf_append(b, digits, nd);
		} else {
			size_t ip = nd - (size_t)scale;
			r = r < 0 ? r : kwg_buf_append(b, digits, ip);
			r = r < 0 ? r : kwg_buf_putc(b, '.');
			r = r < 0 ? r : kwg_buf_append(b, digits + ip, nd - ip);
		}
	} else {
		r = r < 0 ? r : kwg_buf_putc(b, digits[0]);
		if (nd > 1) {
			r = r < 0 ? r : kwg_buf_putc(b, '.');
			r = r < 0 ? r : kwg_buf_append(b, digits + 1, nd - 1);
		}
		if (adjusted != 0)
			r = r < 0 ? r
			          : kwg_buf_printf(b, "E%s%lld", adjusted > 0 ? "+" : "", adjusted);
	}
	free(digits);
	return r;
}

/* KESTRA: StringFilter: a number's toString(), a numeric string as BigDecimal writes it. */
int kwg_tpl_f_string(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	struct kwg_buf b;
	int r;

	if (kwg_tpl_is_number(in))
		return kwg_tpl_to_string_value(c, in, e->line, ret);
	if (!json_is_string(in))
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "'string' filter expects a Number (INT, FLOAT, DOUBLE, etc.) or numeric "
		    "String. Received: %s",
		    kwg_tpl_java_class(in));
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	r = big_decimal_text(json_string_value(in), json_string_length(in), &b);
	if (r == -EINVAL) {
		kwg_buf_done(&b);
		return kwg_tpl_fail(
		    c, r, e->line,
		    "'string' filter expects a valid number. Received an invalid numeric "
		    "string: %.200s",
		    json_string_value(in));
	}
	if (r < 0) {
		kwg_buf_done(&b);
		return kwg_tpl_size_err(c, r, e->line);
	}
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

int kwg_tpl_f_class_name(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret)
{
	const char *n = kwg_tpl_java_class(in);
	*ret = n ? json_string(n) : json_null();
	return *ret ? 0 : kwg_tpl_oom();
}

/* ==== numberformat (Pebble's NumberFormatFilter: java.text.DecimalFormat, template/jdecimal.h)
 * ==== */

int kwg_tpl_f_numberformat(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                           json_t **ret)
{
	struct kwg_err nerr = {{0}};
	const char *pattern;
	char *out = NULL;
	int r;

	/* KESTRA: Pebble casts the input to Number (a string fails) and builds
	 * DecimalFormat(format, DecimalFormatSymbols(locale)); without a format,
	 * NumberFormat.getInstance(locale). kwg's locale is en_US. */
	if (!json_is_number(in))
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s' needs a number, not %s", e->s,
		                    kwg_tpl_type_name(in));
	r = kwg_tpl_arg_str(c, a, e->s, 0, "format", false, &pattern);
	if (r < 0)
		return r;
	r = kwg_jdecimal_format(pattern, json_is_integer(in),
	                        json_is_integer(in) ? json_integer_value(in) : 0,
	                        json_is_real(in) ? json_real_value(in) : 0, &out, &nerr);
	if (r == -ENOMEM)
		return kwg_tpl_oom();
	if (r < 0)
		return kwg_tpl_fail(c, r, e->line, "filter '%s': %s", e->s, nerr.msg);
	*ret = json_string(out);
	free(out);
	return *ret ? 0 : kwg_tpl_oom();
}
