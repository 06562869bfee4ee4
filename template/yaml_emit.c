/* SPDX-License-Identifier: Apache-2.0 */
/* A value as the YAML Kestra's yaml filter writes: Jackson's YAMLGenerator (MINIMIZE_QUOTES, no
 * document marker, INDENT_ARRAYS, no line splitting) choosing each scalar's style, and SnakeYAML's
 * emitter (indent 2, indicator indent 1) laying it out. The emitter below is the event-driven
 * emitter of SnakeYAML and PyYAML (their common design: a column, an indent stack, the
 * "whitespace" and "indention" flags, and the scalar analysis that decides which styles a text
 * allows) walked recursively over the value. libyaml's emitter shares that design but has no
 * indicator indent, so its layout differs from Jackson's. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

#include "template/internal.h"
#include "template/yaml.h"

#define BEST_INDENT 2
#define INDICATOR_INDENT 1
#define MAX_SIMPLE_KEY 128
#define NO_INDENT (-1)

enum style { PLAIN, SINGLE, DOUBLE, LITERAL };

struct em {
	struct kwg_buf *b;
	int r; /* the first write error */
	int column, indent, flow_level;
	bool whitespace, indention;
};

struct analysis {
	bool empty, multiline, allow_flow_plain, allow_block_plain, allow_single, allow_block;
};

static void put(struct em *e, const char *s, size_t n, int columns)
{
	if (e->r >= 0)
		e->r = kwg_buf_append(e->b, s, n);
	e->column += columns;
}

static int columns(const char *s, size_t n)
{
	size_t c = u8_mbsnlen((const uint8_t *)s, n);
	return c > (size_t)INT32_MAX ? INT32_MAX : (int)c;
}

static void line_break(struct em *e)
{
	put(e, "\n", 1, 0);
	e->whitespace = e->indention = true;
	e->column = 0;
}

static void spaces(struct em *e, int n)
{
	if (n <= 0)
		return;
	e->whitespace = true;
	for (int i = 0; i < n; i++)
		put(e, " ", 1, 1);
}

static void write_indent(struct em *e)
{
	int indent = e->indent == NO_INDENT ? 0 : e->indent;

	if (!e->indention || e->column > indent || (e->column == indent && !e->whitespace))
		line_break(e);
	spaces(e, indent - e->column);
}

static void indicator(struct em *e, const char *s, bool need_ws, bool ws, bool indentation)
{
	if (!e->whitespace && need_ws)
		put(e, " ", 1, 1);
	put(e, s, strlen(s), (int)strlen(s));
	e->whitespace = ws;
	e->indention = e->indention && indentation;
}

/* Pushes the indent (the caller keeps the old one) and raises it. */
static int increase_indent(struct em *e, bool flow, bool indentless)
{
	int old = e->indent;

	if (e->indent == NO_INDENT)
		e->indent = flow ? BEST_INDENT : 0;
	else if (!indentless)
		e->indent += BEST_INDENT;
	return old;
}

static bool is_break(ucs4_t c)
{
	return c == '\n' || c == 0x85 || c == 0x2028 || c == 0x2029;
}

static bool is_space_or_break(ucs4_t c)
{
	return c == 0 || c == ' ' || c == '\t' || c == '\r' || is_break(c);
}

static bool is_null_bl_t(ucs4_t c)
{
	return c == 0 || c == ' ' || c == '\t';
}

/* The code point at UTF-16 index i (Java's String.codePointAt). */
static ucs4_t cp_at(const uint16_t *s, size_t n, size_t i)
{
	if (s[i] >= 0xd800 && s[i] <= 0xdbff && i + 1 < n && s[i + 1] >= 0xdc00 &&
	    s[i + 1] <= 0xdfff)
		return 0x10000 + (((ucs4_t)s[i] - 0xd800) << 10) + (s[i + 1] - 0xdc00);
	return s[i];
}

/* "0" then digits or underscores: a number with a leading zero. */
static bool leading_zero(const uint16_t *s, size_t n)
{
	if (n < 2 || s[0] != '0')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* SnakeYAML 2's analyzeScalar (allowUnicode on), over the text's UTF-16 units as Java sees it. */
static void analyze(const uint16_t *s, size_t n, struct analysis *a)
{
	bool block_ind = false, flow_ind = false, line_breaks = false, special = false;
	bool lead_space = false, lead_break = false, trail_space = false, trail_break = false;
	bool break_space = false, space_break = false, prev_space = false, prev_break = false;
	bool preceded_ws = true, followed_ws;

	*a =
	    (struct analysis){.empty = n == 0, .allow_block_plain = n == 0, .allow_single = n == 0};
	if (n == 0)
		return;
	followed_ws = n == 1 || is_space_or_break(cp_at(s, n, 1));
	if (n >= 3 && ((s[0] == '-' && s[1] == '-' && s[2] == '-') ||
	               (s[0] == '.' && s[1] == '.' && s[2] == '.')))
		block_ind = flow_ind = true;
	for (size_t i = 0; i < n;) {
		ucs4_t c = cp_at(s, n, i);
		if (i == 0) {
			if (c < 128 && c && strchr("#,[]{}&*!|>'\"%@`", (int)c))
				flow_ind = block_ind = true;
			if (c == '?' || c == ':') {
				flow_ind = true;
				block_ind = block_ind || followed_ws;
			}
			if (c == '-' && followed_ws)
				flow_ind = block_ind = true;
		} else {
			if (c < 128 && c && strchr(",?[]{}", (int)c))
				flow_ind = true;
			if (c == ':') {
				flow_ind = true;
				block_ind = block_ind || followed_ws;
			}
			if (c == '#' && preceded_ws)
				flow_ind = block_ind = true;
		}
		bool brk = is_break(c);
		line_breaks = line_breaks || brk;
		if (!(c == '\n' || (c >= 0x20 && c <= 0x7e)) &&
		    !(c == 0x85 || (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) ||
		      (c >= 0x10000 && c <= 0x10ffff)))
			special = true;
		if (c == ' ') {
			lead_space = lead_space || i == 0;
			trail_space = trail_space || i == n - 1;
			break_space = break_space || prev_break;
			prev_space = true;
			prev_break = false;
		} else if (brk) {
			lead_break = lead_break || i == 0;
			trail_break = trail_break || i == n - 1;
			space_break = space_break || prev_space;
			prev_space = false;
			prev_break = true;
		} else {
			prev_space = prev_break = false;
		}
		i += c >= 0x10000 ? 2 : 1;
		preceded_ws = is_null_bl_t(c) || brk;
		/* Java's quirk kept: the unit after the next code point, or this one a break. */
		followed_ws = true;
		if (i + 1 < n) {
			size_t next = i + (cp_at(s, n, i) >= 0x10000 ? 2 : 1);
			if (next < n)
				followed_ws = is_null_bl_t(cp_at(s, n, next)) || brk;
		}
	}
	a->multiline = line_breaks;
	a->allow_flow_plain = a->allow_block_plain = a->allow_single = a->allow_block = true;
	if (lead_space || lead_break || trail_space || trail_break || leading_zero(s, n))
		a->allow_flow_plain = a->allow_block_plain = false;
	if (trail_space)
		a->allow_block = false;
	if (break_space)
		a->allow_flow_plain = a->allow_block_plain = a->allow_single = false;
	if (space_break || special)
		a->allow_flow_plain = a->allow_block_plain = a->allow_single = a->allow_block =
		    false;
	/* SnakeYAML writes multi-line plain scalars in block context (PyYAML does not). */
	if (line_breaks)
		a->allow_flow_plain = false;
	if (flow_ind)
		a->allow_flow_plain = false;
	if (block_ind)
		a->allow_block_plain = false;
}

/* SnakeYAML's chooseScalarStyle for an implicit (untagged) scalar Jackson asked a style of. */
static enum style choose(const struct analysis *a, enum style want, bool simple_key, int flow)
{
	if (want == DOUBLE)
		return DOUBLE;
	if (want == PLAIN && !(simple_key && (a->empty || a->multiline)) &&
	    (flow ? a->allow_flow_plain : a->allow_block_plain))
		return PLAIN;
	if (want == LITERAL && flow == 0 && !simple_key && a->allow_block)
		return LITERAL;
	if ((want == PLAIN || want == SINGLE) && a->allow_single && !(simple_key && a->multiline))
		return SINGLE;
	return DOUBLE;
}

static bool printable(ucs4_t c)
{
	return (c >= 0x20 && c <= 0x7e) || c == 0x9 || c == 0xa || c == 0xd || c == 0x85 ||
	       (c >= 0xa0 && c <= 0xd7ff) || (c >= 0xe000 && c <= 0xfffd) ||
	       (c >= 0x10000 && c <= 0x10ffff);
}

static void write_double(struct em *e, const char *s, size_t len)
{
	static const struct {
		ucs4_t c;
		const char *esc;
	} replace[] = {{0, "\\0"},    {0x07, "\\a"},   {0x08, "\\b"},  {0x09, "\\t"},
	               {0x0a, "\\n"}, {0x0b, "\\v"},   {0x0c, "\\f"},  {0x0d, "\\r"},
	               {0x1b, "\\e"}, {'"', "\\\""},   {'\\', "\\\\"}, {0x85, "\\N"},
	               {0xa0, "\\_"}, {0x2028, "\\L"}, {0x2029, "\\P"}};

	indicator(e, "\"", true, false, false);
	for (size_t i = 0; i < len;) {
		ucs4_t c;
		int m = u8_mbtouc(&c, (const uint8_t *)s + i, len - i);
		const char *esc = NULL;
		char hex[16];

		m = m > 0 ? m : 1;
		for (size_t k = 0; k < ARRAY_SIZE(replace) && !esc; k++)
			if (replace[k].c == c)
				esc = replace[k].esc;
		if (!esc && !printable(c)) {
			(void)snprintf(hex, sizeof(hex), c <= 0xff ? "\\x%02x" : "\\u%04x", c);
			esc = hex;
		}
		if (esc)
			put(e, esc, strlen(esc), (int)strlen(esc));
		else
			put(e, s + i, (size_t)m, 1);
		i += (size_t)m;
	}
	indicator(e, "\"", false, false, false);
}

/* The code point at s[i] (len bytes in all) and its length in bytes; 0 at the end. */
static size_t next_cp(const char *s, size_t len, size_t i, ucs4_t *c)
{
	int m;

	if (i >= len) {
		*c = 0;
		return 0;
	}
	m = u8_mbtouc(c, (const uint8_t *)s + i, len - i);
	return m > 0 ? (size_t)m : 1;
}

/* A run of line breaks, each written as it is (in single quotes a leading \n is doubled, since
 * one \n there folds into a space). */
static void write_breaks(struct em *e, const char *s, size_t start, size_t end, bool fold)
{
	ucs4_t c;

	if (fold && s[start] == '\n')
		line_break(e);
	for (size_t i = start, m; i < end; i += m) {
		m = next_cp(s, end, i, &c);
		if (c == '\n') {
			line_break(e);
			continue;
		}
		put(e, s + i, m, 0);
		e->whitespace = e->indention = true;
		e->column = 0;
	}
}

/* SnakeYAML's writePlain and writeSingleQuoted, without line splitting: runs of spaces and of
 * line breaks (only U+0085, U+2028 and U+2029 reach a plain scalar) written as they are, each
 * break run followed by the indent; in single quotes ' is doubled. */
static void write_flow_scalar(struct em *e, const char *s, size_t len, bool quoted)
{
	size_t start = 0, m;
	bool spaces_run = false, breaks = false;
	ucs4_t c;

	if (quoted) {
		indicator(e, "'", true, false, false);
	} else {
		if (len == 0)
			return;
		if (!e->whitespace)
			put(e, " ", 1, 1);
		e->whitespace = e->indention = false;
	}
	for (size_t i = 0;; i += m) {
		m = next_cp(s, len, i, &c);
		bool end = m == 0;
		if (spaces_run) {
			if (end || c != ' ') {
				put(e, s + start, i - start, (int)(i - start));
				start = i;
			}
		} else if (breaks) {
			if (end || !is_break(c)) {
				write_breaks(e, s, start, i, true);
				write_indent(e);
				if (!quoted)
					e->whitespace = e->indention = false;
				start = i;
			}
		} else if ((end || c == ' ' || is_break(c) || (quoted && c == '\'')) && start < i) {
			put(e, s + start, i - start, columns(s + start, i - start));
			start = i;
		}
		if (end)
			break;
		if (quoted && c == '\'') {
			put(e, "''", 2, 2);
			start = i + 1;
		}
		spaces_run = c == ' ';
		breaks = is_break(c);
	}
	if (quoted)
		indicator(e, "'", false, false, false);
}

/* SnakeYAML's writeLiteral. */
static void write_literal(struct em *e, const uint16_t *u, size_t n, const char *s, size_t len)
{
	char hints[8] = "|";
	size_t start = 0, m;
	bool breaks = true;
	ucs4_t c;

	/* determineBlockHints */
	if (n > 0 && (u[0] == ' ' || is_break(u[0])))
		(void)snprintf(hints + 1, sizeof(hints) - 1, "%d", BEST_INDENT);
	if (n > 0 && !is_break(u[n - 1]))
		strcat(hints, "-");
	else if (n == 1 || (n > 1 && is_break(u[n - 2])))
		strcat(hints, "+");
	indicator(e, hints, true, false, false);
	line_break(e);
	for (size_t i = 0;; i += m) {
		m = next_cp(s, len, i, &c);
		bool end = m == 0;
		if (breaks) {
			if (end || !is_break(c)) {
				write_breaks(e, s, start, i, false);
				if (!end)
					write_indent(e);
				start = i;
			}
		} else if (end || is_break(c)) {
			put(e, s + start, i - start, columns(s + start, i - start));
			if (end)
				line_break(e);
			start = i;
		}
		if (end)
			break;
		breaks = is_break(c);
	}
}

/* A scalar's text in the style SnakeYAML settles on. */
static void scalar(struct em *e, const char *s, size_t len, enum style want, bool simple_key)
{
	uint16_t stack[256], *u;
	struct analysis a;
	size_t n = ARRAY_SIZE(stack);
	int old;

	u = u8_to_u16((const uint8_t *)s, len, stack, &n);
	if (!u) {
		e->r = -ENOMEM;
		return;
	}
	analyze(u, n, &a);
	old = increase_indent(e, true, false);
	enum style style = choose(&a, want, simple_key, e->flow_level);
	switch (style) {
	case PLAIN:
	case SINGLE:
		write_flow_scalar(e, s, len, style == SINGLE);
		break;
	case DOUBLE:
		write_double(e, s, len);
		break;
	case LITERAL:
		write_literal(e, u, n, s, len);
		break;
	}
	e->indent = old;
	if (u != stack)
		free(u);
}

static bool reserved(const char *s)
{
	static const char *const words[] = {"false", "False", "FALSE", "n",    "N",    "no",   "No",
	                                    "NO",    "null",  "Null",  "NULL", "on",   "On",   "ON",
	                                    "off",   "Off",   "OFF",   "true", "True", "TRUE", "y",
	                                    "Y",     "yes",   "Yes",   "YES"};

	if (!*s || *s == '~')
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(words); i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

/* Jackson's StringQuotingChecker.Default.needToQuoteValue: reserved words, the empty string, and
 * texts with [ ] { } , or a # after a blank or a : before one. */
static bool value_needs_quotes(const char *s, size_t n)
{
	if (reserved(s))
		return true;
	for (size_t i = 0; i < n; i++) {
		if (strchr("[]{},", s[i]) && s[i])
			return true;
		if (s[i] == '#' && i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t'))
			return true;
		if (s[i] == ':' && i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '\t'))
			return true;
	}
	return false;
}

/* needToQuoteName: reserved words, what looks like a number, control characters. */
static bool name_needs_quotes(const char *s)
{
	if (reserved(s) || strchr("0123456789-+.", *s))
		return true;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			return true;
	return false;
}

static void node(struct em *e, const json_t *v, bool mapping_ctx, int depth);

static void key_and_value(struct em *e, const char *k, const json_t *v, int depth)
{
	size_t kn = strlen(k);
	enum style ks = name_needs_quotes(k) ? DOUBLE : PLAIN;
	bool multiline = false;
	ucs4_t c;

	for (size_t i = 0, m; (m = next_cp(k, kn, i, &c)) > 0; i += m)
		multiline = multiline || is_break(c);
	write_indent(e);
	/* SnakeYAML's checkSimpleKey: a short, non-empty, single-line key. */
	if (kwg_utf16_units(k, kn) < MAX_SIMPLE_KEY && kn > 0 && !multiline) {
		scalar(e, k, kn, ks, true);
		indicator(e, ":", false, false, false);
	} else {
		indicator(e, "?", true, false, true);
		scalar(e, k, kn, ks, false);
		write_indent(e);
		indicator(e, ":", true, false, true);
	}
	node(e, v, true, depth + 1);
}

static void flow_empty(struct em *e, const char *open, const char *close)
{
	int old = increase_indent(e, true, false);

	indicator(e, open, true, true, false);
	e->indent = old;
	indicator(e, close, false, false, false);
}

static void node(struct em *e, const json_t *v, bool mapping_ctx, int depth)
{
	char num[40];
	const char *k;
	json_t *x;
	size_t i;
	int old;

	if (depth > 2000) {
		e->r = -ELOOP;
		return;
	}
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (json_object_size(v) == 0) {
			flow_empty(e, "{", "}");
			return;
		}
		old = increase_indent(e, false, false);
		json_object_foreach ((json_t *)v, k, x)
			key_and_value(e, k, x, depth);
		e->indent = old;
		return;
	case JSON_ARRAY:
		if (json_array_size(v) == 0) {
			flow_empty(e, "[", "]");
			return;
		}
		old = increase_indent(e, false, mapping_ctx && !e->indention);
		json_array_foreach (v, i, x) {
			write_indent(e);
			spaces(e, INDICATOR_INDENT);
			indicator(e, "-", true, false, true);
			node(e, x, false, depth + 1);
		}
		e->indent = old;
		return;
	case JSON_STRING: {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		/* KESTRA: YAMLGenerator.writeString with MINIMIZE_QUOTES: an empty text is quoted,
		 * a text with a line break literal, reserved words and flow characters quoted. */
		enum style st = n == 0                     ? DOUBLE
		                : memchr(s, '\n', n)       ? LITERAL
		                : value_needs_quotes(s, n) ? DOUBLE
		                                           : PLAIN;
		scalar(e, s, n, st, false);
		return;
	}
	case JSON_INTEGER:
		(void)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		kwg_tpl_java_double(json_real_value(v), num, sizeof(num));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		(void)snprintf(num, sizeof(num), "%s", json_is_true(v) ? "true" : "false");
		break;
	case JSON_NULL:
		(void)snprintf(num, sizeof(num), "null");
		break;
	}
	scalar(e, num, strlen(num), PLAIN, false);
}

int kwg_yaml_dump(const json_t *v, struct kwg_buf *b)
{
	struct em e = {.b = b, .indent = NO_INDENT, .whitespace = true, .indention = true};

	/* An empty text alone is an empty document: SnakeYAML starts it explicitly. */
	if (json_is_string(v) && json_string_length(v) == 0)
		indicator(&e, "---", true, false, false);
	node(&e, v, false, 0);
	/* The document's end. */
	write_indent(&e);
	return e.r;
}
