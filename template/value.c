/* SPDX-License-Identifier: Apache-2.0 */
/* Values: Pebble's view of a json_t (to-string as Java prints, truthiness, emptiness, equality,
 * comparison) and the variable scopes. */
#include "template/internal.h"

/* ==== values ==== */

/* Java's Double.toString or, with is_float, Float.toString: the shortest digits that read back
 * (as JDK 19+), in Java's layout. */
static void java_decimal(double d, bool is_float, char *out, size_t n)
{
	char tmp[40], digits[24];
	int prec, exp10, nd = 0;

	if (isnan(d)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(out, n, d < 0 ? "-Infinity" : "Infinity");
		return;
	}
	if (d == 0) {
		snprintf(out, n, signbit(d) ? "-0.0" : "0.0");
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (is_float ? strtof(tmp, NULL) == (float)d : strtod(tmp, NULL) == d)
			break;
	}
	const char *p = tmp;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p && *p != 'e'; p++)
		if (kwg_tpl_is_digit(*p) && nd < (int)sizeof(digits) - 1)
			digits[nd++] = *p;
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = 0;
	exp10 = *p == 'e' ? (int)strtol(p + 1, NULL, 10) : 0;
	double a = fabs(d);
	struct kwg_buf b;
	kwg_buf_init(&b, 64);
	if (neg)
		(void)kwg_buf_putc(&b, '-');
	if (a >= 1e-3 && a < 1e7) {
		if (exp10 < 0) {
			(void)kwg_buf_puts(&b, "0.");
			for (int i = -1; i > exp10; i--)
				(void)kwg_buf_putc(&b, '0');
			(void)kwg_buf_puts(&b, digits);
		} else {
			for (int i = 0; i <= exp10; i++)
				(void)kwg_buf_putc(&b, i < nd ? digits[i] : '0');
			(void)kwg_buf_putc(&b, '.');
			if (nd > exp10 + 1)
				(void)kwg_buf_puts(&b, digits + exp10 + 1);
			else
				(void)kwg_buf_putc(&b, '0');
		}
	} else {
		(void)kwg_buf_putc(&b, digits[0]);
		(void)kwg_buf_putc(&b, '.');
		(void)kwg_buf_puts(&b, nd > 1 ? digits + 1 : "0");
		(void)kwg_buf_printf(&b, "E%d", exp10);
	}
	snprintf(out, n, "%s", kwg_buf_str(&b));
	kwg_buf_done(&b);
}

void kwg_tpl_java_double(double d, char *out, size_t n)
{
	java_decimal(d, false, out, n);
}

void kwg_tpl_java_float(float f, char *out, size_t n)
{
	java_decimal(f, true, out, n);
}

/* Most typed numbers one render keeps (past them, numbers print as jansson's): every value
 * printed is looked up among them, so the bound keeps printing linear. */
#define MAX_JNUMS 1024

int kwg_tpl_jnum_new(struct ctx *c, json_t *v, const char *cls, const char *text)
{
	struct jnum *j;

	if (c->njnums >= MAX_JNUMS)
		return 0;
	j = realloc(c->jnums, (c->njnums + 1) * sizeof(*j));
	if (!j)
		return kwg_tpl_oom();
	c->jnums = j;
	j[c->njnums] = (struct jnum){.v = json_incref(v), .cls = cls, .text = strdup(text)};
	if (!j[c->njnums].text) {
		json_decref(v);
		return kwg_tpl_oom();
	}
	c->njnums++;
	return 0;
}

const struct jnum *kwg_tpl_jnum(const struct ctx *c, const json_t *v)
{
	for (size_t i = c->njnums; i-- > 0;)
		if (c->jnums[i].v == v)
			return &c->jnums[i];
	return NULL;
}

void kwg_tpl_jnums_done(struct ctx *c)
{
	for (size_t i = 0; i < c->njnums; i++) {
		json_decref(c->jnums[i].v);
		free(c->jnums[i].text);
	}
	free(c->jnums);
	c->jnums = NULL;
	c->njnums = 0;
}

/* Java's toString of v (a typed number as its type prints). */
int kwg_tpl_value_text(const struct ctx *c, struct kwg_buf *b, const json_t *v)
{
	const struct jnum *j = kwg_tpl_jnum(c, v);
	return j ? kwg_buf_puts(b, j->text) : kwg_tpl_java_text(b, v, 0);
}

static int json_quote(struct kwg_buf *b, const char *s, size_t n)
{
	int r = kwg_buf_putc(b, '"');
	for (size_t i = 0; i < n && r >= 0; i++) {
		unsigned char ch = (unsigned char)s[i];
		switch (ch) {
		case '"':
			r = kwg_buf_puts(b, "\\\"");
			break;
		case '\\':
			r = kwg_buf_puts(b, "\\\\");
			break;
		case '\n':
			r = kwg_buf_puts(b, "\\n");
			break;
		case '\r':
			r = kwg_buf_puts(b, "\\r");
			break;
		case '\t':
			r = kwg_buf_puts(b, "\\t");
			break;
		case '\b':
			r = kwg_buf_puts(b, "\\b");
			break;
		case '\f':
			r = kwg_buf_puts(b, "\\f");
			break;
		default:
			if (ch < 0x20)
				r = kwg_buf_printf(b, "\\u%04X", ch);
			else
				r = kwg_buf_putc(b, (char)ch);
		}
	}
	return r < 0 ? r : kwg_buf_putc(b, '"');
}

/* Compact JSON as Jackson writes it (KESTRA: JsonWriter / JacksonMapper.ofJson()). */
int kwg_tpl_json_write(struct kwg_buf *b, const json_t *v, int depth)
{
	char num[40];
	int r = 0;

	if (depth > 2 * MAX_EXPR_DEPTH + 2100)
		return -ELOOP;
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		bool first = true;
		r = kwg_buf_putc(b, '{');
		json_object_foreach ((json_t *)v, k, x) {
			if (r >= 0 && !first)
				r = kwg_buf_putc(b, ',');
			first = false;
			if (r >= 0)
				r = json_quote(b, k, strlen(k));
			if (r >= 0)
				r = kwg_buf_putc(b, ':');
			if (r >= 0)
				r = kwg_tpl_json_write(b, x, depth + 1);
			if (r < 0)
				return r;
		}
		return r < 0 ? r : kwg_buf_putc(b, '}');
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;
		r = kwg_buf_putc(b, '[');
		json_array_foreach (v, i, x) {
			if (r >= 0 && i)
				r = kwg_buf_putc(b, ',');
			if (r >= 0)
				r = kwg_tpl_json_write(b, x, depth + 1);
			if (r < 0)
				return r;
		}
		return r < 0 ? r : kwg_buf_putc(b, ']');
	}
	case JSON_STRING:
		return json_quote(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		return kwg_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	case JSON_REAL:
		kwg_tpl_java_double(json_real_value(v), num, sizeof(num));
		return kwg_buf_puts(b, num);
	case JSON_TRUE:
		return kwg_buf_puts(b, "true");
	case JSON_FALSE:
		return kwg_buf_puts(b, "false");
	case JSON_NULL:
		return kwg_buf_puts(b, "null");
	}
	return 0;
}

/* Text of a value as Pebble prints it: null is "", lists and maps are JSON. */
int kwg_tpl_write_text(struct kwg_buf *b, const json_t *v)
{
	char num[40];

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return kwg_buf_append(b, json_string_value(v), json_string_length(v));
	if (json_is_real(v)) {
		kwg_tpl_java_double(json_real_value(v), num, sizeof(num));
		return kwg_buf_puts(b, num);
	}
	return kwg_tpl_json_write(b, v, 0);
}

/* Java's toString (String.valueOf) of a value: what ~, +, join, interpolation and the filters
 * that call toString() see. Lists print as [a, b], maps as {k=v, k2=v2}, null as "null". */
int kwg_tpl_java_text(struct kwg_buf *b, const json_t *v, int depth)
{
	char num[40];
	int r = 0;

	if (depth > 2 * MAX_EXPR_DEPTH + 2100)
		return -ELOOP;
	if (!v || json_is_null(v))
		return kwg_buf_puts(b, "null");
	if (json_is_string(v))
		return kwg_buf_append(b, json_string_value(v), json_string_length(v));
	if (json_is_real(v)) {
		kwg_tpl_java_double(json_real_value(v), num, sizeof(num));
		return kwg_buf_puts(b, num);
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *x;
		r = kwg_buf_putc(b, '[');
		json_array_foreach (v, i, x) {
			if (r >= 0 && i)
				r = kwg_buf_puts(b, ", ");
			if (r >= 0)
				r = kwg_tpl_java_text(b, x, depth + 1);
		}
		return r < 0 ? r : kwg_buf_putc(b, ']');
	}
	if (json_is_object(v)) {
		const char *k;
		json_t *x;
		bool first = true;
		r = kwg_buf_putc(b, '{');
		json_object_foreach ((json_t *)v, k, x) {
			if (r >= 0 && !first)
				r = kwg_buf_puts(b, ", ");
			first = false;
			if (r >= 0)
				r = kwg_buf_puts(b, k);
			if (r >= 0)
				r = kwg_buf_putc(b, '=');
			if (r >= 0)
				r = kwg_tpl_java_text(b, x, depth + 1);
		}
		return r < 0 ? r : kwg_buf_putc(b, '}');
	}
	return kwg_tpl_json_write(b, v, depth);
}

int kwg_tpl_size_err(struct ctx *c, int r, int line)
{
	if (r == -EMSGSIZE)
		return kwg_tpl_fail(c, r, line, "a value would pass %u bytes",
		                    KWG_TEMPLATE_MAX_OUTPUT);
	if (r == -ELOOP)
		return kwg_tpl_fail(c, -EINVAL, line, "value nested too deeply to print");
	return r;
}

/* A new string value from a buffer (which is emptied). */
int kwg_tpl_buf_value(struct ctx *c, struct kwg_buf *b, int line, json_t **ret)
{
	json_t *s = json_stringn_nocheck(kwg_buf_str(b), b->len);
	(void)c;
	(void)line;
	kwg_buf_done(b);
	if (!s)
		return kwg_tpl_oom();
	*ret = s;
	return 0;
}

int kwg_tpl_to_string_value(struct ctx *c, const json_t *v, int line, json_t **ret)
{
	struct kwg_buf b;
	int r;

	if (json_is_string(v)) {
		*ret = json_incref((json_t *)v);
		return 0;
	}
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	r = kwg_tpl_value_text(c, &b, v);
	if (r < 0) {
		kwg_buf_done(&b);
		return kwg_tpl_size_err(c, r, line);
	}
	return kwg_tpl_buf_value(c, &b, line, ret);
}

bool kwg_tpl_is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

double kwg_tpl_num_value(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

const char *kwg_tpl_type_name(const json_t *v)
{
	if (!v)
		return "undefined";
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "map";
	case JSON_ARRAY:
		return "list";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "integer";
	case JSON_REAL:
		return "decimal";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

bool kwg_tpl_truthy(const json_t *v)
{
	if (!v || json_is_null(v) || json_is_false(v))
		return false;
	if (json_is_true(v))
		return true;
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_real(v))
		return json_real_value(v) != 0;
	if (json_is_string(v))
		return json_string_length(v) != 0;
	if (json_is_array(v))
		return json_array_size(v) != 0;
	return json_object_size(v) != 0;
}

/* KESTRA: Pebble 3.2.2 IfNode, And/OrExpression, UnaryNotExpression (TypeUtils.compatibleCast to
 * Boolean): a boolean, a number (not 0) or a string (not empty) decides; null fails under strict
 * variables (the ternary takes it as false); a list or a map fails. */
int kwg_tpl_condition(struct ctx *c, const json_t *v, int line, const char *where, bool *ret)
{
	if (json_is_null(v)) {
		if (!where) {
			*ret = false;
			return 0;
		}
		return kwg_tpl_fail(c, -EINVAL, line,
		                    "null value given to %s and strict variables is set to true",
		                    where);
	}
	if (json_is_array(v) || json_is_object(v))
		return kwg_tpl_fail(
		    c, -EINVAL, line,
		    "Unsupported value type %s. Expected Boolean, String, Number in %s",
		    kwg_tpl_type_name(v), where ? where : "a ternary");
	*ret = kwg_tpl_truthy(v);
	return 0;
}

/* Pebble's EmptyTest: null, a blank string (after Java's trim), an empty list or map. */
bool kwg_tpl_is_empty(const json_t *v)
{
	if (!v || json_is_null(v))
		return true;
	if (json_is_string(v)) {
		for (size_t i = 0; i < json_string_length(v); i++)
			if ((unsigned char)json_string_value(v)[i] > ' ')
				return false;
		return true;
	}
	if (json_is_array(v))
		return json_array_size(v) == 0;
	if (json_is_object(v))
		return json_object_size(v) == 0;
	return false;
}

bool kwg_tpl_values_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	if (kwg_tpl_is_number(a) && kwg_tpl_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return kwg_tpl_num_value(a) == kwg_tpl_num_value(b);
	}
	if (json_is_array(a) && json_is_array(b)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!kwg_tpl_values_equal(json_array_get(a, i), json_array_get(b, i)))
				return false;
		return true;
	}
	return json_equal(a, b);
}

/* Natural order for sort and comparisons: numbers, then strings by bytes; -2 if incomparable. */
/* The code point at s[*i] (UTF-8, valid), *i moved past it. */
static uint32_t utf8_next(const char *s, size_t n, size_t *i)
{
	unsigned char c0 = (unsigned char)s[(*i)++];
	int more = c0 >= 0xF0 ? 3 : c0 >= 0xE0 ? 2 : c0 >= 0xC0 ? 1 : 0;
	uint32_t cp = more ? c0 & (0x3F >> more) : c0;
	while (more-- && *i < n)
		cp = (cp << 6) | ((unsigned char)s[(*i)++] & 0x3F);
	return cp;
}

/* Java's String.compareTo: UTF-16 code units in order (a character beyond U+FFFF sorts as its
 * surrogates, before U+E000-U+FFFF). -1, 0, 1. */
static int java_compare(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i = 0, j = 0;
	while (i < na && j < nb) {
		uint32_t x = utf8_next(a, na, &i), y = utf8_next(b, nb, &j);
		if (x == y)
			continue;
		uint32_t ux = x >= 0x10000 ? 0xD800 + ((x - 0x10000) >> 10) : x;
		uint32_t uy = y >= 0x10000 ? 0xD800 + ((y - 0x10000) >> 10) : y;
		if (ux == uy) { /* same high surrogate: the low ones */
			ux = 0xDC00 + (x & 0x3FF);
			uy = 0xDC00 + (y & 0x3FF);
		}
		return ux < uy ? -1 : 1;
	}
	return i < na ? 1 : j < nb ? -1 : 0;
}

int kwg_tpl_compare_values(const json_t *a, const json_t *b)
{
	if (kwg_tpl_is_number(a) && kwg_tpl_is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t x = json_integer_value(a), y = json_integer_value(b);
			return x < y ? -1 : x > y;
		}
		double x = kwg_tpl_num_value(a), y = kwg_tpl_num_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b))
		return java_compare(json_string_value(a), json_string_length(a),
		                    json_string_value(b), json_string_length(b));
	return -2;
}

/* ==== scopes ==== */

json_t *kwg_tpl_scope_get(struct ctx *c, const char *name)
{
	for (size_t i = c->nscope; i-- > c->scope_base;)
		if (strcmp(c->scope[i].name, name) == 0)
			return c->scope[i].value;
	return c->isolated ? NULL : json_object_get(c->opts->vars, name);
}

/* Steals value. */
static int scope_push(struct ctx *c, const char *name, json_t *value)
{
	if (c->nscope == c->cap_scope) {
		size_t cap = c->cap_scope ? c->cap_scope * 2 : 16;
		struct scope_var *s = realloc(c->scope, cap * sizeof(*s));
		if (!s) {
			json_decref(value);
			return kwg_tpl_oom();
		}
		c->scope = s;
		c->cap_scope = cap;
	}
	c->scope[c->nscope++] = (struct scope_var){name, value};
	return 0;
}

/* Sets name in the innermost scope (as Pebble's ScopeChain.put), stealing value. */
int kwg_tpl_scope_set(struct ctx *c, const char *name, json_t *value)
{
	for (size_t i = c->nscope; i-- > c->frame;) {
		if (strcmp(c->scope[i].name, name) == 0) {
			json_decref(c->scope[i].value);
			c->scope[i].value = value;
			return 0;
		}
	}
	return scope_push(c, name, value);
}

void kwg_tpl_scope_pop_to(struct ctx *c, size_t mark)
{
	while (c->nscope > mark)
		json_decref(c->scope[--c->nscope].value);
}
