/* SPDX-License-Identifier: Apache-2.0 */
/* Filters on numbers and Java types: abs, number, string, className, numberformat (Pebble's
 * NumberFormatFilter: java.text.DecimalFormat through template/jdecimal.h). */
#include <float.h>

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

static int big_decimal_text(const char *s, size_t n, struct kwg_buf *b);

/* The Java types of the number filter's results. */
enum jtype { J_INT, J_LONG, J_BIGINT, J_FLOAT, J_DOUBLE, J_BIGDEC };

/* Integer.decode / Long.decode / createBigInteger (decimal, 0x, #, leading-0 octal, a sign):
 * 0 and *v, -ERANGE past 64 bits (*digits then holds a decimal text's canonical digits),
 * -EINVAL when s is no integer. */
static int decode_integer(const char *s, long long *v, struct kwg_buf *digits)
{
	const char *p = s;
	char *end;
	bool neg = false;
	int base = 10;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if ((p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) || p[0] == '#') {
		base = 16;
		p += p[0] == '#' ? 1 : 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
		p++;
	}
	if (!*p || strspn(p, base == 16 ? "0123456789abcdefABCDEF" : "0123456789") != strlen(p) ||
	    (base == 8 && strspn(p, "01234567") != strlen(p)))
		return -EINVAL;
	errno = 0;
	unsigned long long u = strtoull(p, &end, base);
	if (!errno && (neg ? u <= (unsigned long long)LLONG_MAX + 1 : u <= LLONG_MAX)) {
		*v = neg ? (long long)(0 - u) : (long long)u;
		return 0;
	}
	if (base != 10 || !digits)
		return -ERANGE;
	while (*p == '0' && p[1])
		p++;
	return kwg_buf_printf(digits, "%s%s", neg ? "-" : "", p) < 0 ? -ENOMEM : -ERANGE;
}

/* Float.valueOf / Double.valueOf: a decimal or hex float, Java's NaN or Infinity, an optional
 * f/F/d/D; surrounding blanks allowed. */
static int parse_real(const char *s, bool is_float, double *ret)
{
	char buf[512], *end;
	size_t n;

	while (*s && (unsigned char)*s <= ' ')
		s++;
	n = strlen(s);
	while (n > 0 && (unsigned char)s[n - 1] <= ' ')
		n--;
	if (n == 0 || n >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, n);
	buf[n] = 0;
	if (strchr("fFdD", buf[n - 1]) && n > 1)
		buf[--n] = 0;
	const char *q = buf + (buf[0] == '-' || buf[0] == '+');
	if (!strcmp(q, "NaN") || !strcmp(q, "Infinity")) {
		*ret = q[0] == 'N' ? NAN : (buf[0] == '-' ? -INFINITY : INFINITY);
		return 0;
	}
	if (!(kwg_tpl_is_digit(*q) || *q == '.') || strpbrk(q, "iInN"))
		return -EINVAL;
	errno = 0;
	*ret = is_float ? (double)strtof(buf, &end) : strtod(buf, &end);
	return *end ? -EINVAL : 0;
}

/* A big number's nearest double (JSON has no infinity: past the range, the largest double). */
static double finite_value(const char *s)
{
	double d = strtod(s, NULL);
	return isinf(d) ? copysign(DBL_MAX, d) : d;
}

/* The value of a number of Java type t written s, tagged with its type where jansson's own
 * (Integer or Long for an integer, Double for a real) would not say it. */
static int make_number(struct ctx *c, enum jtype t, const char *s, json_t **ret)
{
	struct kwg_buf text;
	long long v = 0;
	double d = 0;
	char num[40];
	int r = 0;

	*ret = NULL;
	kwg_buf_init(&text, 4096);
	switch (t) {
	case J_INT:
	case J_LONG:
	case J_BIGINT:
		r = decode_integer(s, &v, t == J_BIGINT ? &text : NULL);
		if (r == 0 && t == J_INT && (v < INT32_MIN || v > INT32_MAX))
			r = -ERANGE;
		if (r == 0) {
			*ret = json_integer(v);
			if (t == J_BIGINT)
				r = kwg_buf_printf(&text, "%lld", v);
		} else if (r == -ERANGE && t == J_BIGINT && text.len > 0) {
			*ret = json_real(finite_value(kwg_buf_str(&text)));
			r = 0;
		}
		break;
	case J_FLOAT:
	case J_DOUBLE:
		r = parse_real(s, t == J_FLOAT, &d);
		if (r == 0)
			*ret = json_real(d);
		if (r == 0 && t == J_FLOAT) {
			kwg_tpl_java_float((float)d, num, sizeof(num));
			r = kwg_buf_puts(&text, num);
		}
		break;
	case J_BIGDEC:
		r = big_decimal_text(s, strlen(s), &text);
		if (r == 0)
			*ret = json_real(finite_value(s));
		break;
	}
	if (r == 0 && !*ret)
		r = -ENOMEM;
	/* A Long small enough for an int would otherwise pass for an Integer. */
	if (r == 0 && t == J_LONG && v >= INT32_MIN && v <= INT32_MAX)
		r = kwg_buf_printf(&text, "%lld", v);
	if (r == 0 && (t == J_FLOAT || t == J_BIGDEC || t == J_BIGINT || text.len > 0))
		r = kwg_tpl_jnum_new(c, *ret,
		                     t == J_FLOAT    ? "java.lang.Float"
		                     : t == J_BIGDEC ? "java.math.BigDecimal"
		                     : t == J_LONG   ? "java.lang.Long"
		                                     : "java.math.BigInteger",
		                     kwg_buf_str(&text));
	kwg_buf_done(&text);
	if (r < 0 && *ret) {
		json_decref(*ret);
		*ret = NULL;
	}
	return r;
}

static bool all_zeros(const char *s, size_t n)
{
	return n > 0 && strspn(s, "0") >= n;
}

/* The type of a text with a type letter (l, f, d), after commons-lang3's createNumber. */
static int suffixed_type(const char *s, size_t n, const char *dot, const char *exps, bool zeros,
                         enum jtype *ret)
{
	char body[512];
	double d;
	long long v;

	if (n - 1 >= sizeof(body))
		return -EINVAL;
	memcpy(body, s, n - 1);
	body[n - 1] = 0;
	const char *digits = body + (*body == '-');
	switch (s[n - 1]) {
	case 'l':
	case 'L':
		if (dot || exps || !*digits || strspn(digits, "0123456789") != strlen(digits))
			return -EINVAL;
		*ret = decode_integer(body, &v, NULL) == 0 ? J_LONG : J_BIGINT;
		return 0;
	case 'f':
	case 'F':
		if (parse_real(body, true, &d) == 0 && !isinf(d) && !(d == 0 && !zeros)) {
			*ret = J_FLOAT;
			return 0;
		}
		KWG_FALLTHROUGH;
	case 'd':
	case 'D':
		if (parse_real(body, false, &d) == 0 && !isinf(d) && !(d == 0 && !zeros))
			*ret = J_DOUBLE;
		else
			*ret = J_BIGDEC;
		return 0;
	default:
		return -EINVAL;
	}
}

/* KESTRA: commons-lang3 NumberUtils.createNumber: the type a text without a requested type
 * gets (hex and plain integers by size, reals by their count of decimals: Float up to 7,
 * Double up to 16, else BigDecimal). -EINVAL when it is no number. */
static int create_number_type(const char *s, enum jtype *ret, size_t *ret_len)
{
	size_t n = strlen(s);
	const char *dot = strchr(s, '.'), *e = strpbrk(s, "eE"), *h = s + (*s == '-');
	double d;
	long long v;
	int r;

	if (n == 0 || strspn(s, " \t\n\r\f\v") == n)
		return -EINVAL;
	*ret_len = n;
	if (!strncmp(h, "0x", 2) || !strncmp(h, "0X", 2) || *h == '#') {
		const char *p = h + (*h == '#' ? 1 : 2);
		while (*p == '0')
			p++;
		size_t digits = strlen(p);
		*ret = digits > 16 || (digits == 16 && *p > '7') ? J_BIGINT
		       : digits > 8 || (digits == 8 && *p > '7') ? J_LONG
		                                                 : J_INT;
		return 0;
	}
	const char *mant = s + (*s == '-' || *s == '+');
	size_t mn = (size_t)((dot ? dot : e ? e : s + n) - mant);
	const char *exps = e ? e + 1 : NULL;
	size_t decimals = dot ? (size_t)((e ? e : s + n) - dot - 1) : 0;
	if (!kwg_tpl_is_digit(s[n - 1]) && s[n - 1] != '.') {
		/* the type letter is not part of the number */
		*ret_len = n - 1;
		return suffixed_type(s, n, dot, exps && exps < s + n - 1 ? exps : NULL,
		                     all_zeros(mant, mn) &&
		                         (!exps || all_zeros(exps, (size_t)(s + n - 1 - exps))),
		                     ret);
	}
	if (!dot && !(exps && *exps)) {
		r = decode_integer(s, &v, NULL);
		if (r == -EINVAL)
			return r;
		*ret = r == 0 && v >= INT32_MIN && v <= INT32_MAX ? J_INT
		       : r == 0                                   ? J_LONG
		                                                  : J_BIGINT;
		return 0;
	}
	bool zeros = all_zeros(mant, mn) && (!exps || all_zeros(exps, strlen(exps)));
	if (decimals <= 7 && parse_real(s, true, &d) == 0 && !isinf(d) && !(d == 0 && !zeros))
		*ret = J_FLOAT;
	else if (decimals <= 16 && parse_real(s, false, &d) == 0 && !isinf(d) &&
	         !(d == 0 && !zeros))
		*ret = J_DOUBLE;
	else
		*ret = J_BIGDEC;
	return 0;
}

int kwg_tpl_f_number(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	static const struct {
		const char *name;
		enum jtype t;
	} types[] = {{"INT", J_INT},     {"LONG", J_LONG},     {"BIGINTEGER", J_BIGINT},
	             {"FLOAT", J_FLOAT}, {"DOUBLE", J_DOUBLE}, {"BIGDECIMAL", J_BIGDEC}};
	const char *type, *s;
	enum jtype t = J_DOUBLE;
	size_t i = ARRAY_SIZE(types), len;
	char *numeric = NULL;
	int r;

	/* KESTRA: NumberFilter: a string only; INT, LONG, BIGINTEGER, FLOAT, DOUBLE, BIGDECIMAL
	 * (case-sensitive, commons-lang3 NumberUtils.create*), anything else createNumber. */
	if (!json_is_string(in))
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "'number' filter can only be applied to String. Actual type was: %s",
		    kwg_tpl_type_name(in));
	r = kwg_tpl_arg_str(c, a, "number", 0, "type", false, &type);
	if (r < 0)
		return r;
	s = json_string_value(in);
	for (i = 0; type && i < ARRAY_SIZE(types) && strcmp(type, types[i].name); i++)
		;
	if (type && i < ARRAY_SIZE(types))
		t = types[i].t;
	else if (create_number_type(s, &t, &len) < 0)
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter 'number': '%.64s' is not a number",
		                    s);
	else if (!(numeric = strndup(s, len)))
		return kwg_tpl_oom();
	r = make_number(c, t, numeric ? numeric : s, ret);
	free(numeric);
	if (r == -ENOMEM)
		return kwg_tpl_oom();
	if (r == -ERANGE && t == J_BIGINT)
		return kwg_tpl_fail(
		    c, -EOPNOTSUPP, e->line,
		    "filter 'number': '%.64s': kwg reads hex and octal BigIntegers up "
		    "to 64 bits",
		    s);
	if (r < 0)
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter 'number': '%.64s' is not a %s", s,
		                    type && i < ARRAY_SIZE(types) ? type : "number");
	return 0;
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
	const struct jnum *j = kwg_tpl_jnum(c, in);
	const char *n = j ? j->cls : kwg_tpl_java_class(in);
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
