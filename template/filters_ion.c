/* SPDX-License-Identifier: Apache-2.0 */
/* Ion: the toIon filter (Ion text as Kestra's JacksonMapper.ofIon() writes it: compact, structs
 * with symbol field names) and the fromIon function (template/ion.c reads it). */
#include "template/internal.h"
#include "template/ion.h"

/* ion-java's escapes in "strings" and 'symbols' (_Private_IonTextAppender): the C0 controls,
 * DEL and the C1 controls are escaped; other characters are written as they are (UTF-8). */
static int ion_quote(struct kwg_buf *b, const char *s, size_t n, char q)
{
	int r = kwg_buf_putc(b, q);

	for (size_t i = 0; i < n && r >= 0; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *esc = NULL;
		char hex[8];

		switch (ch) {
		case 0:
			esc = "\\0";
			break;
		case 0x07:
			esc = "\\a";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\n':
			esc = "\\n";
			break;
		case 0x0b:
			esc = "\\v";
			break;
		case '\f':
			esc = "\\f";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\\':
			esc = "\\\\";
			break;
		default:
			if (ch == (unsigned char)q) {
				esc = q == '"' ? "\\\"" : "\\'";
			} else if (ch < 0x20 || ch == 0x7f) {
				(void)snprintf(hex, sizeof(hex), "\\x%02x", ch);
				esc = hex;
			} else if (ch == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] <= 0x9f) {
				/* U+0080..U+009F, two bytes in UTF-8. */
				(void)snprintf(hex, sizeof(hex), "\\x%02x", (unsigned char)s[++i]);
				esc = hex;
			}
		}
		r = esc ? kwg_buf_puts(b, esc) : kwg_buf_putc(b, (char)ch);
	}
	return r < 0 ? r : kwg_buf_putc(b, q);
}

static bool ion_ident_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

/* ion-java's symbolNeedsQuoting(text, true): identifiers are bare unless they are a keyword
 * (null, true, false, nan) or a symbol id ($ and digits). */
static bool symbol_needs_quotes(const char *s, size_t n)
{
	static const char *const keywords[] = {"null", "true", "false", "nan"};
	size_t i = 1;

	if (n == 0 || !ion_ident_start((unsigned char)s[0]))
		return true;
	for (size_t k = 0; k < ARRAY_SIZE(keywords); k++)
		if (strlen(keywords[k]) == n && memcmp(s, keywords[k], n) == 0)
			return true;
	if (s[0] == '$' && n > 1) {
		while (i < n && kwg_tpl_is_digit(s[i]))
			i++;
		if (i == n)
			return true;
	}
	for (i = 1; i < n; i++)
		if (!ion_ident_start((unsigned char)s[i]) && !kwg_tpl_is_digit(s[i]))
			return true;
	return false;
}

/* ion-java's printFloat: Java's shortest digits, ".0" dropped, "e0" when there is no exponent. */
static int ion_float(struct kwg_buf *b, double d)
{
	char num[40];
	size_t n;

	if (d == 0)
		return kwg_buf_puts(b, signbit(d) ? "-0e0" : "0e0");
	if (isnan(d))
		return kwg_buf_puts(b, "nan");
	if (isinf(d))
		return kwg_buf_puts(b, d < 0 ? "-inf" : "+inf");
	kwg_tpl_java_double(d, num, sizeof(num));
	n = strlen(num);
	if (n > 2 && strcmp(num + n - 2, ".0") == 0) {
		num[n - 2] = 0;
		return kwg_buf_printf(b, "%se0", num);
	}
	return kwg_buf_printf(b, strchr(num, 'E') ? "%s" : "%se0", num);
}

static int ion_write(struct kwg_buf *b, const json_t *v, int depth)
{
	const char *k;
	json_t *x;
	size_t i;
	int r = 0;
	bool first = true;

	if (depth > KWG_ION_MAX_DEPTH * 64)
		return -ELOOP;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		r = kwg_buf_putc(b, '{');
		json_object_foreach ((json_t *)v, k, x) {
			size_t kn = strlen(k);
			if (r >= 0 && !first)
				r = kwg_buf_putc(b, ',');
			first = false;
			if (r >= 0)
				r = symbol_needs_quotes(k, kn) ? ion_quote(b, k, kn, '\'')
				                               : kwg_buf_append(b, k, kn);
			if (r >= 0)
				r = kwg_buf_putc(b, ':');
			if (r >= 0)
				r = ion_write(b, x, depth + 1);
		}
		return r < 0 ? r : kwg_buf_putc(b, '}');
	case JSON_ARRAY:
		r = kwg_buf_putc(b, '[');
		json_array_foreach (v, i, x) {
			if (r >= 0 && i > 0)
				r = kwg_buf_putc(b, ',');
			if (r >= 0)
				r = ion_write(b, x, depth + 1);
		}
		return r < 0 ? r : kwg_buf_putc(b, ']');
	case JSON_STRING:
		return ion_quote(b, json_string_value(v), json_string_length(v), '"');
	case JSON_INTEGER:
		return kwg_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		return ion_float(b, json_real_value(v));
	case JSON_TRUE:
		return kwg_buf_puts(b, "true");
	case JSON_FALSE:
		return kwg_buf_puts(b, "false");
	case JSON_NULL:
		return kwg_buf_puts(b, "null");
	}
	return 0;
}

/* KESTRA: ToIonFilter: null gives the text "null", anything else Ion text. */
int kwg_tpl_f_toion(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	struct kwg_buf b;
	int r;

	(void)a;
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	r = ion_write(&b, in, 0);
	if (r < 0) {
		kwg_buf_done(&b);
		return kwg_tpl_size_err(c, r, e->line);
	}
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

/* KESTRA: FromIonFunction: the argument is required, null gives null, anything but a string
 * fails; the first value, or with allRows=true the list of all the stream's values. */
int kwg_tpl_fn_from_ion(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = kwg_tpl_arg(a, 0, "ion"), *all = NULL, *v = NULL;
	bool rows = kwg_tpl_arg_bool(a, 1, "allRows", false);
	struct kwg_err err = {0};
	size_t pos = 0;
	int r;

	if (!s)
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The 'fromIon' function expects an argument 'ion'.");
	if (json_is_null(s)) {
		*ret = json_null();
		return 0;
	}
	if (!json_is_string(s))
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The 'fromIon' function expects an argument 'ion' with type string.");
	if (rows && !(all = json_array()))
		return kwg_tpl_oom();
	while ((r = kwg_ion_next(json_string_value(s), json_string_length(s), &pos, &v, &err)) >
	       0) {
		if (!rows) {
			*ret = v;
			return 0;
		}
		if (json_array_append_new(all, v) < 0 ||
		    (r = kwg_tpl_list_check(c, json_array_size(all), e->line)) < 0) {
			json_decref(all);
			return r < 0 ? r : kwg_tpl_oom();
		}
	}
	if (r < 0) {
		json_decref(all);
		return r == -ENOMEM ? kwg_tpl_oom()
		                    : kwg_tpl_fail(c, -EINVAL, e->line, "Invalid ion: %s", err.msg);
	}
	/* An empty stream: no first value (null), or no rows. */
	*ret = rows ? all : json_null();
	return 0;
}
