/* SPDX-License-Identifier: Apache-2.0 */
/* Ion text to JSON (see ion.h): a recursive-descent reader over a bounded buffer. */
#include "template/ion.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

struct rd {
	const char *s;
	size_t len, pos;
	struct kwg_err *err;
};

static int bad(struct rd *r, const char *what)
{
	return kwg_err_set(r->err, -EBADMSG, "invalid Ion at offset %zu: %s", r->pos, what);
}

static int peek(const struct rd *r, size_t ahead)
{
	return r->pos + ahead < r->len ? (unsigned char)r->s[r->pos + ahead] : -1;
}

static bool is_ident_start(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}

static bool is_ident(int c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9');
}

static bool is_operator(int c)
{
	return c >= 0 && strchr("!#%&*+-./;<=>?@^`|~", c) != NULL;
}

/* Skips whitespace and comments; -EBADMSG on an unterminated block comment. */
static int skip_ws(struct rd *r)
{
	for (;;) {
		int c = peek(r, 0);
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
			r->pos++;
		} else if (c == '/' && peek(r, 1) == '/') {
			while (r->pos < r->len && r->s[r->pos] != '\n')
				r->pos++;
		} else if (c == '/' && peek(r, 1) == '*') {
			const char *end;
			r->pos += 2;
			end = r->pos < r->len ? memmem(r->s + r->pos, r->len - r->pos, "*/", 2)
			                      : NULL;
			if (!end)
				return bad(r, "unterminated comment");
			r->pos = (size_t)(end - r->s) + 2;
		} else {
			return 0;
		}
	}
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int put_utf8(struct kwg_buf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp, n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6)), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12)), u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18)), u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
	}
	return kwg_buf_append(b, u, n);
}

/* Reads n hex digits after an escape letter. */
static int read_hex(struct rd *r, int n, uint32_t *ret)
{
	uint32_t v = 0;

	for (int i = 0; i < n; i++) {
		int h = hexval(peek(r, 0));
		if (h < 0)
			return bad(r, "expected a hex digit in an escape");
		v = v * 16 + (uint32_t)h;
		r->pos++;
	}
	*ret = v;
	return 0;
}

/* One escape after the backslash, appended to b. */
static int read_escape(struct rd *r, struct kwg_buf *b)
{
	static const char from[] = "abtnfrv?0'\"/\\", to[] = "\a\b\t\n\f\r\v?\0'\"/\\";
	int c = peek(r, 0);
	const char *p;
	uint32_t cp = 0;
	int e;

	if (c < 0)
		return bad(r, "unterminated escape");
	r->pos++;
	if (c == '\n')
		return 0; /* a line continuation */
	if (c == '\r') {
		if (peek(r, 0) == '\n')
			r->pos++;
		return 0;
	}
	if (c == 'x' || c == 'u' || c == 'U') {
		e = read_hex(r, c == 'x' ? 2 : c == 'u' ? 4 : 8, &cp);
		if (e < 0)
			return e;
		if (c == 'u' && cp >= 0xD800 && cp < 0xDC00 && peek(r, 0) == '\\' &&
		    peek(r, 1) == 'u') {
			uint32_t lo = 0;
			r->pos += 2;
			e = read_hex(r, 4, &lo);
			if (e < 0)
				return e;
			if (lo < 0xDC00 || lo > 0xDFFF)
				return bad(r, "unpaired surrogate in an escape");
			cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
		}
		if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
			return bad(r, "escape is not a Unicode scalar value");
		return put_utf8(b, cp);
	}
	p = c ? strchr(from, c) : NULL;
	if (!p)
		return bad(r, "unknown escape");
	return kwg_buf_append(b, &to[p - from], 1);
}

/* Text up to the closing quote (q, or ''' when triple), appended to b. */
static int read_quoted(struct rd *r, char q, bool triple, struct kwg_buf *b)
{
	for (;;) {
		int c = peek(r, 0), e;
		if (c < 0)
			return bad(r, "unterminated string");
		if (triple ? (c == '\'' && peek(r, 1) == '\'' && peek(r, 2) == '\'') : c == q) {
			r->pos += triple ? 3 : 1;
			return 0;
		}
		if (!triple && (c == '\n' || c == '\r'))
			return bad(r, "newline in a quoted string");
		r->pos++;
		e = c == '\\' ? read_escape(r, b) : kwg_buf_append(b, &r->s[r->pos - 1], 1);
		if (e < 0)
			return e;
	}
}

/* "…" , '…', or a run of '''…''' pieces: a new JSON string. */
static int read_string(struct rd *r, json_t **ret)
{
	struct kwg_buf b;
	int e = 0;

	kwg_buf_init(&b, 64u << 20);
	if (peek(r, 0) == '\'' && peek(r, 1) == '\'' && peek(r, 2) == '\'') {
		while (e >= 0 && peek(r, 0) == '\'' && peek(r, 1) == '\'' && peek(r, 2) == '\'') {
			size_t save;
			r->pos += 3;
			e = read_quoted(r, '\'', true, &b);
			save = r->pos;
			if (e >= 0)
				e = skip_ws(r);
			if (e >= 0 &&
			    !(peek(r, 0) == '\'' && peek(r, 1) == '\'' && peek(r, 2) == '\''))
				r->pos = save;
		}
	} else {
		char q = r->s[r->pos++];
		e = read_quoted(r, q, false, &b);
	}
	if (e >= 0) {
		*ret = json_stringn(b.data ? b.data : "", b.len);
		e = *ret ? 0 : bad(r, "string is not valid UTF-8");
	}
	kwg_buf_done(&b);
	return e;
}

/* A number, timestamp or special float starting at pos: the token runs to a delimiter. */
static int read_scalar_token(struct rd *r, json_t **ret)
{
	size_t start = r->pos, n;
	char tok[128], clean[128];
	size_t k = 0;
	bool has_dot = false, has_e = false, has_d = false;

	while (r->pos < r->len) {
		int c = peek(r, 0);
		if (c == ',' || c == ']' || c == '}' || c == ')' || c == ' ' || c == '\t' ||
		    c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == '"' || c == '\'' ||
		    c == '[' || c == '{' || c == '(' ||
		    (c == '/' && (peek(r, 1) == '/' || peek(r, 1) == '*')))
			break;
		r->pos++;
	}
	n = r->pos - start;
	if (n == 0 || n >= sizeof(tok))
		return bad(r, n ? "number too long" : "expected a value");
	memcpy(tok, r->s + start, n);
	tok[n] = '\0';
	if (strcmp(tok, "+inf") == 0 || strcmp(tok, "-inf") == 0) {
		*ret = json_string(tok[0] == '+' ? "Infinity" : "-Infinity");
		return *ret ? 0 : -ENOMEM;
	}
	/* A timestamp: digits then '-' or 'T' after four digits. */
	if (n >= 5 && tok[0] >= '0' && tok[0] <= '9' && (tok[4] == '-' || tok[4] == 'T')) {
		for (size_t i = 0; i < n; i++)
			if (!strchr("0123456789-:.TZ+", tok[i]))
				return bad(r, "invalid timestamp");
		*ret = json_string(tok);
		return *ret ? 0 : -ENOMEM;
	}
	const char *p = tok;
	if (*p == '-')
		clean[k++] = *p++;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X' || p[1] == 'b' || p[1] == 'B')) {
		int base = (p[1] == 'x' || p[1] == 'X') ? 16 : 2;
		unsigned long long v = 0;
		bool any = false, over = false;
		for (p += 2; *p; p++) {
			int h = *p == '_' ? -2 : hexval(*p);
			if (h == -2)
				continue;
			if (h < 0 || h >= base)
				return bad(r, "invalid digit in an int");
			if (v > (ULLONG_MAX - (unsigned)h) / (unsigned)base)
				over = true;
			v = v * (unsigned)base + (unsigned)h;
			any = true;
		}
		if (!any)
			return bad(r, "int without digits");
		if (over || v > (unsigned long long)INT64_MAX + (tok[0] == '-'))
			return bad(r, "int out of range");
		*ret = json_integer(tok[0] == '-' ? (json_int_t)(0 - v) : (json_int_t)v);
		return *ret ? 0 : -ENOMEM;
	}
	if (!(*p >= '0' && *p <= '9'))
		return bad(r, "expected a value");
	if (p[0] == '0' && p[1] >= '0' && p[1] <= '9')
		return bad(r, "leading zero in a number");
	for (; *p; p++) {
		char c = *p;
		if (c == '_') {
			if (!(p[-1] >= '0' && p[-1] <= '9') || !(p[1] >= '0' && p[1] <= '9'))
				return bad(r, "misplaced '_' in a number");
			continue;
		}
		if (c >= '0' && c <= '9') {
			clean[k++] = c;
		} else if (c == '.' && !has_dot && !has_e && !has_d) {
			has_dot = true, clean[k++] = c;
		} else if ((c == 'e' || c == 'E' || c == 'd' || c == 'D') && !has_e && !has_d) {
			has_e = c == 'e' || c == 'E';
			has_d = !has_e;
			clean[k++] = 'e';
			if (p[1] == '+' || p[1] == '-')
				clean[k++] = *++p;
			if (!(p[1] >= '0' && p[1] <= '9'))
				return bad(r, "exponent without digits");
		} else {
			return bad(r, "invalid character in a number");
		}
	}
	clean[k] = '\0';
	if (!has_dot && !has_e && !has_d) {
		char *end;
		errno = 0;
		long long v = strtoll(clean, &end, 10);
		if (errno == ERANGE)
			*ret = json_real(strtod(clean, NULL));
		else
			*ret = json_integer((json_int_t)v);
	} else {
		double d = strtod(clean, NULL);
		if (!isfinite(d))
			*ret = json_string(d > 0 ? "Infinity" : "-Infinity");
		else
			*ret = json_real(d);
	}
	return *ret ? 0 : -ENOMEM;
}

static int read_value(struct rd *r, int depth, json_t **ret);

/* The contents of [ … ], ( … ) or { … } after the opening bracket. */
static int read_container(struct rd *r, char open, int depth, json_t **ret)
{
	char close = open == '[' ? ']' : open == '(' ? ')' : '}';
	json_t *c = open == '{' ? json_object() : json_array();
	int e = 0;

	if (!c)
		return -ENOMEM;
	if (depth >= KWG_ION_MAX_DEPTH) {
		json_decref(c);
		return bad(r, "nesting too deep");
	}
	for (;;) {
		json_t *v = NULL, *name = NULL;
		e = skip_ws(r);
		if (e < 0)
			break;
		if (peek(r, 0) == close) {
			r->pos++;
			*ret = c;
			return 0;
		}
		if (peek(r, 0) < 0) {
			e = bad(r, "unterminated container");
			break;
		}
		if (open == '(' && is_operator(peek(r, 0))) {
			size_t start = r->pos;
			while (is_operator(peek(r, 0)) &&
			       !(peek(r, 0) == '/' && (peek(r, 1) == '/' || peek(r, 1) == '*')))
				r->pos++;
			if (r->pos == start) {
				e = bad(r, "expected a value");
				break;
			}
			v = json_stringn(r->s + start, r->pos - start);
			e = v ? 0 : -ENOMEM;
		} else if (open == '{') {
			int q = peek(r, 0);
			if (q == '"' || q == '\'') {
				e = read_string(r, &name);
			} else if (is_ident_start(q)) {
				size_t start = r->pos;
				while (is_ident(peek(r, 0)))
					r->pos++;
				name = json_stringn(r->s + start, r->pos - start);
				e = name ? 0 : -ENOMEM;
			} else {
				e = bad(r, "expected a field name");
			}
			if (e >= 0)
				e = skip_ws(r);
			if (e >= 0 && peek(r, 0) != ':')
				e = bad(r, "expected ':' after a field name");
			if (e >= 0) {
				r->pos++;
				e = read_value(r, depth + 1, &v);
			}
		} else {
			e = read_value(r, depth + 1, &v);
		}
		if (e >= 0) {
			if (open == '{')
				e = json_object_set_new(c, json_string_value(name), v) ? -ENOMEM
				                                                       : 0;
			else
				e = json_array_append_new(c, v) ? -ENOMEM : 0;
			v = NULL;
		}
		json_decref(name);
		json_decref(v);
		if (e < 0)
			break;
		if (open != '(') {
			e = skip_ws(r);
			if (e < 0)
				break;
			if (peek(r, 0) == ',')
				r->pos++;
			else if (peek(r, 0) != close) {
				e = bad(r, open == '{' ? "expected ',' or '}'"
				                       : "expected ',' or ']'");
				break;
			}
		}
	}
	json_decref(c);
	return e;
}

/* {{ … }}: a blob (its base64 text) or a clob (its string). */
static int read_lob(struct rd *r, json_t **ret)
{
	const char *end;
	int e;

	r->pos += 2;
	e = skip_ws(r);
	if (e < 0)
		return e;
	if (peek(r, 0) == '"' || peek(r, 0) == '\'') {
		e = read_string(r, ret);
		if (e >= 0)
			e = skip_ws(r);
		if (e >= 0 && !(peek(r, 0) == '}' && peek(r, 1) == '}'))
			e = bad(r, "expected '}}' after a clob");
		if (e < 0) {
			json_decref(*ret);
			*ret = NULL;
			return e;
		}
		r->pos += 2;
		return 0;
	}
	end = r->pos < r->len ? memmem(r->s + r->pos, r->len - r->pos, "}}", 2) : NULL;
	if (!end)
		return bad(r, "unterminated blob");
	struct kwg_buf b;
	kwg_buf_init(&b, 64u << 20);
	for (const char *p = r->s + r->pos; p < end; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f')
			continue;
		if (!(is_ident(*p) || *p == '+' || *p == '/' || *p == '=') || *p == '_' ||
		    *p == '$') {
			kwg_buf_done(&b);
			return bad(r, "invalid character in a blob");
		}
		if (kwg_buf_append(&b, p, 1) < 0) {
			kwg_buf_done(&b);
			return -ENOMEM;
		}
	}
	r->pos = (size_t)(end - r->s) + 2;
	*ret = json_stringn(b.data ? b.data : "", b.len);
	kwg_buf_done(&b);
	return *ret ? 0 : -ENOMEM;
}

/* An identifier symbol: a keyword (null, true, false, nan, null.type) or a string. */
static int read_ident(struct rd *r, json_t **ret)
{
	size_t start = r->pos, n;
	const char *s;

	while (is_ident(peek(r, 0)))
		r->pos++;
	s = r->s + start;
	n = r->pos - start;
	if (n == 4 && memcmp(s, "null", 4) == 0) {
		if (peek(r, 0) == '.') {
			r->pos++;
			if (!is_ident_start(peek(r, 0)))
				return bad(r, "expected a type after 'null.'");
			while (is_ident(peek(r, 0)))
				r->pos++;
		}
		*ret = json_null();
	} else if (n == 4 && memcmp(s, "true", 4) == 0) {
		*ret = json_true();
	} else if (n == 5 && memcmp(s, "false", 5) == 0) {
		*ret = json_false();
	} else if (n == 3 && memcmp(s, "nan", 3) == 0) {
		*ret = json_string("NaN");
	} else {
		*ret = json_stringn(s, n);
	}
	return *ret ? 0 : -ENOMEM;
}

/* One value, after any annotations. */
static int read_value(struct rd *r, int depth, json_t **ret)
{
	int e, c;

	*ret = NULL;
	for (;;) {
		e = skip_ws(r);
		if (e < 0)
			return e;
		c = peek(r, 0);
		if (c < 0)
			return bad(r, "expected a value");
		if (c == '{' && peek(r, 1) == '{')
			e = read_lob(r, ret);
		else if (c == '{' || c == '[' || c == '(') {
			r->pos++;
			e = read_container(r, (char)c, depth, ret);
		} else if (c == '"' || c == '\'')
			e = read_string(r, ret);
		else if (is_ident_start(c))
			e = read_ident(r, ret);
		else
			e = read_scalar_token(r, ret);
		if (e < 0)
			return e;
		/* A symbol followed by '::' was an annotation: read the value it annotates. */
		if ((c == '\'' || is_ident_start(c)) && json_is_string(*ret)) {
			size_t save = r->pos;
			e = skip_ws(r);
			if (e < 0) {
				json_decref(*ret);
				*ret = NULL;
				return e;
			}
			if (peek(r, 0) == ':' && peek(r, 1) == ':') {
				r->pos += 2;
				json_decref(*ret);
				*ret = NULL;
				continue;
			}
			r->pos = save;
		}
		return 0;
	}
}

int kwg_ion_next(const char *text, size_t len, size_t *pos, json_t **ret, struct kwg_err *err)
{
	struct rd r = {.s = text, .len = len, .pos = *pos, .err = err};
	json_t *v = NULL;
	int e;

	for (;;) {
		size_t start;
		e = skip_ws(&r);
		if (e < 0)
			return e;
		if (r.pos >= r.len) {
			*pos = r.pos;
			return 0;
		}
		start = r.pos;
		e = read_value(&r, 0, &v);
		if (e < 0)
			return e;
		/* The version marker is not a value. */
		if (r.pos - start == 8 && memcmp(text + start, "$ion_1_0", 8) == 0) {
			json_decref(v);
			v = NULL;
			continue;
		}
		*pos = r.pos;
		*ret = v;
		return 1;
	}
}

int kwg_ion_parse(const char *text, size_t len, json_t **ret, struct kwg_err *err)
{
	size_t pos = 0;
	int e = kwg_ion_next(text, len, &pos, ret, err);

	if (e == 0)
		return kwg_err_set(err, -EBADMSG, "invalid Ion at offset %zu: expected a value",
		                   pos);
	return e < 0 ? e : 0;
}
