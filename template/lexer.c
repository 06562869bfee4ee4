/* SPDX-License-Identifier: Apache-2.0 */
/* Lexer: template text into tokens (text, {{ }}, {% %}, strings with #{} interpolation,
 * numbers, operators), whitespace control and Kestra's raw blocks. */
#include "template/internal.h"

/* ==== lexer ==== */

static int push_tok(struct ctx *c, enum tok_kind kind, int line, const char *s, size_t n,
                    struct tok **ret)
{
	if (c->ntoks == c->cap_toks) {
		size_t cap = c->cap_toks ? c->cap_toks * 2 : 256;
		struct tok *t = kwg_tpl_arena_alloc(&c->arena, cap * sizeof(*t));
		if (!t)
			return kwg_tpl_oom();
		if (c->ntoks)
			memcpy(t, c->toks, c->ntoks * sizeof(*t));
		c->toks = t;
		c->cap_toks = cap;
	}
	struct tok *t = &c->toks[c->ntoks++];
	*t = (struct tok){.kind = kind, .line = line, .s = s, .n = n};
	if (ret)
		*ret = t;
	return 0;
}

bool kwg_tpl_is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

bool kwg_tpl_is_name_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

bool kwg_tpl_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int count_lines(const char *s, const char *e)
{
	int n = 0;
	for (; s < e; s++)
		n += *s == '\n';
	return n;
}

enum code_mode { CODE_PRINT, CODE_EXEC, CODE_INTERP };

static int lex_code(struct ctx *c, const char **pp, int *line, enum code_mode mode, bool *trim);

/* A string literal at *pp (the quote). Double-quoted strings with #{…} become T_ISTR_BEGIN …
 * T_ISTR_END. */
static int lex_string(struct ctx *c, const char **pp, int *line)
{
	const char *p = *pp;
	char q = *p++;
	struct kwg_buf b;
	bool interp = false;
	int start_line = *line, r = 0;
	bool raw = false;

	for (const char *x = p; q == '"' && *x && *x != '"'; x++) {
		if (*x == '\\' && x[1])
			x++;
		else if (*x == '#')
			raw = true;
	}
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	for (;;) {
		if (!*p) {
			r = kwg_tpl_fail(c, -EBADMSG, start_line, "unclosed string literal");
			goto out;
		}
		if (*p == q) {
			p++;
			break;
		}
		/* KESTRA: Pebble 3.2.2 LexerImpl.unquoteAndUnescape: only a backslash before the
		 * string's own quote is removed, and not at all in a double-quoted string holding a
		 * '#' (read as an interpolated string, left as written). "\n" stays two characters.
		 */
		if (*p == '\\' && p[1]) {
			if (!raw && p[1] == q) {
				r = kwg_buf_putc(&b, q);
			} else {
				if (p[1] == '\n')
					(*line)++;
				r = kwg_buf_append(&b, p, 2);
			}
			p += 2;
			if (r < 0)
				goto out;
			continue;
		}
		if (q == '"' && p[0] == '#' && p[1] == '{') {
			if (!interp) {
				r = push_tok(c, T_ISTR_BEGIN, start_line, NULL, 0, NULL);
				if (r < 0)
					goto out;
				interp = true;
			}
			char *s = kwg_tpl_adup(c, kwg_buf_str(&b), b.len);
			if (!s || push_tok(c, T_STR, *line, s, b.len, NULL) < 0) {
				r = kwg_tpl_oom();
				goto out;
			}
			kwg_buf_clear(&b);
			p += 2;
			r = push_tok(c, T_INTERP_OPEN, *line, NULL, 0, NULL);
			if (r < 0)
				goto out;
			r = lex_code(c, &p, line, CODE_INTERP, NULL);
			if (r < 0)
				goto out;
			r = push_tok(c, T_INTERP_CLOSE, *line, NULL, 0, NULL);
			if (r < 0)
				goto out;
			continue;
		}
		if (*p == '\n')
			(*line)++;
		r = kwg_buf_putc(&b, *p++);
		if (r < 0)
			goto out;
	}
	char *s = kwg_tpl_adup(c, kwg_buf_str(&b), b.len);
	if (!s) {
		r = kwg_tpl_oom();
		goto out;
	}
	r = push_tok(c, T_STR, start_line, s, b.len, NULL);
	if (r >= 0 && interp)
		r = push_tok(c, T_ISTR_END, *line, NULL, 0, NULL);
out:
	kwg_buf_done(&b);
	*pp = p;
	return r;
}

static int lex_number(struct ctx *c, const char **pp, int line)
{
	const char *p = *pp, *s = p;
	bool dbl = false;
	struct tok *t;
	int r;

	while (kwg_tpl_is_digit(*p))
		p++;
	/* "1..5" is a range: a '.' followed by a digit makes a decimal. */
	if (*p == '.' && kwg_tpl_is_digit(p[1])) {
		dbl = true;
		p++;
		while (kwg_tpl_is_digit(*p))
			p++;
	}
	char *txt = kwg_tpl_adup(c, s, (size_t)(p - s));
	if (!txt)
		return kwg_tpl_oom();
	r = push_tok(c, dbl ? T_DBL : T_INT, line, txt, (size_t)(p - s), &t);
	if (r < 0)
		return r;
	if (dbl) {
		t->d = strtod(txt, NULL);
	} else {
		errno = 0;
		long long v = strtoll(txt, NULL, 10);
		if (errno)
			return kwg_tpl_fail(c, -EBADMSG, line,
			                    "integer literal %.40s is out of range", txt);
		t->i = v;
	}
	*pp = p;
	return 0;
}

static const char *const ops[] = {"???", "??", "..", "==", "!=", "<=", ">=", "(", ")",
                                  "[",   "]",  "{",  "}",  ",",  ":",  ".",  "|", "?",
                                  "~",   "+",  "-",  "*",  "/",  "%",  "<",  ">", "="};

/* Lexes code until its closing delimiter (}} or %} outside brackets, with '-' setting *trim) or,
 * for CODE_INTERP, an unmatched '}'. */
static int lex_code(struct ctx *c, const char **pp, int *line, enum code_mode mode, bool *trim)
{
	const char *p = *pp;
	char open[MAX_EXPR_DEPTH]; /* the brackets open, innermost last */
	int braces = 0, r;

	if (++c->pdepth > MAX_EXPR_DEPTH)
		return kwg_tpl_fail(c, -EBADMSG, *line, "expression nested too deeply");
	for (;;) {
		while (kwg_tpl_is_ws(*p)) {
			if (*p == '\n')
				(*line)++;
			p++;
		}
		if (!*p) {
			r = kwg_tpl_fail(c, -EBADMSG, *line, "unclosed %s",
			                 mode == CODE_PRINT  ? "'{{'"
			                 : mode == CODE_EXEC ? "'{%'"
			                                     : "'#{' in a string");
			goto out;
		}
		/* KESTRA: Pebble's LexerImpl looks for the closing delimiter only outside brackets:
		 * "{{ {'a': {'b': 1}} }}" is one print tag. */
		if (mode != CODE_INTERP && braces == 0) {
			const char *close = mode == CODE_PRINT ? "}}" : "%}";
			bool dash = *p == '-' && strncmp(p + 1, close, 2) == 0;
			if (dash || strncmp(p, close, 2) == 0) {
				if (trim)
					*trim = dash;
				p += dash ? 3 : 2;
				r = push_tok(c, mode == CODE_PRINT ? T_PRINT_CLOSE : T_EXEC_CLOSE,
				             *line, NULL, 0, NULL);
				goto out;
			}
		} else if (*p == '}' && braces == 0) {
			p++;
			r = 0;
			goto out;
		}
		if (*p == '"' || *p == '\'') {
			r = lex_string(c, &p, line);
			if (r < 0)
				goto out;
			continue;
		}
		if (kwg_tpl_is_digit(*p)) {
			r = lex_number(c, &p, *line);
			if (r < 0)
				goto out;
			continue;
		}
		if (kwg_tpl_is_name_start(*p)) {
			const char *s = p;
			while (kwg_tpl_is_name_start(*p) || kwg_tpl_is_digit(*p))
				p++;
			r = push_tok(c, T_NAME, *line, s, (size_t)(p - s), NULL);
			if (r < 0)
				goto out;
			continue;
		}
		size_t i;
		for (i = 0; i < ARRAY_SIZE(ops); i++)
			if (strncmp(p, ops[i], strlen(ops[i])) == 0)
				break;
		if (i == ARRAY_SIZE(ops)) {
			r = kwg_tpl_fail(c, -EBADMSG, *line, "unexpected character '%c'", *p);
			goto out;
		}
		/* KESTRA: Pebble's bracket stack: a closing bracket must match the last one opened
		 */
		char ch = ops[i][0];
		if (ch == '{' || ch == '(' || ch == '[') {
			if (braces == (int)sizeof(open)) {
				r = kwg_tpl_fail(c, -EBADMSG, *line,
				                 "expression nested too deeply");
				goto out;
			}
			open[braces++] = ch;
		} else if (ch == '}' || ch == ')' || ch == ']') {
			char want = braces ? open[braces - 1] : 0;
			if (!want) {
				r = kwg_tpl_fail(c, -EBADMSG, *line, "Unexpected \"%c\"", ch);
				goto out;
			}
			if ((want == '(' ? ')' : want == '[' ? ']' : '}') != ch) {
				r = kwg_tpl_fail(c, -EBADMSG, *line, "Unclosed \"%c\"",
				                 want == '('   ? ')'
				                 : want == '[' ? ']'
				                               : '}');
				goto out;
			}
			braces--;
		}
		r = push_tok(c, T_OP, *line, ops[i], strlen(ops[i]), NULL);
		if (r < 0)
			goto out;
		p += strlen(ops[i]);
	}
out:
	c->pdepth--;
	*pp = p;
	return r;
}

/* KESTRA: VariableRenderer.RAW_PATTERN, "(\{%-*\s*raw\s*-*%}(.*?)\{%-*\s*endraw\s*-*%})" without
 * DOTALL: such a raw block on one line is taken out before Pebble sees the template, put back
 * after, and its tags dropped only when the whole render() ends, so render() passes keep it.
 * A raw block over several lines is Pebble's own raw tag (lex_template). */
bool kwg_tpl_java_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

static size_t kestra_raw_tag(const char *p, const char *name)
{
	const char *q = p;
	size_t n = strlen(name);

	if (q[0] != '{' || q[1] != '%')
		return 0;
	q += 2;
	while (*q == '-')
		q++;
	while (kwg_tpl_java_ws(*q))
		q++;
	if (strncmp(q, name, n) != 0)
		return 0;
	q += n;
	while (kwg_tpl_java_ws(*q))
		q++;
	while (*q == '-')
		q++;
	if (q[0] != '%' || q[1] != '}')
		return 0;
	return (size_t)(q + 2 - p);
}

/* The length of a one-line raw block at p (0: none), and where its content is. */
static size_t kestra_raw_block(const char *p, size_t *ret_cstart, size_t *ret_clen)
{
	size_t open = kestra_raw_tag(p, "raw");

	if (!open)
		return 0;
	for (const char *q = p + open; *q; q++) {
		size_t close = kestra_raw_tag(q, "endraw");
		if (close) {
			*ret_cstart = open;
			*ret_clen = (size_t)(q - (p + open));
			return (size_t)(q + close - p);
		}
		if (*q == '\n' || *q == '\r')
			break;
	}
	return 0;
}

/* Replaces each one-line raw block of s by its content, in place. */
void kwg_tpl_strip_raw(char *s)
{
	char *w = s;
	const char *p = s;

	while (*p) {
		size_t cs = 0, cl = 0, n = *p == '{' ? kestra_raw_block(p, &cs, &cl) : 0;
		if (n) {
			memmove(w, p + cs, cl);
			w += cl;
			p += n;
		} else {
			*w++ = *p++;
		}
	}
	*w = 0;
}

/* "{% raw %}" at p (with optional '-' after "{%" and before "%}")? Sets *after past it. */
static bool match_tag(const char *p, const char *name, bool *ltrim, bool *rtrim, const char **after)
{
	size_t n = strlen(name);

	if (p[0] != '{' || p[1] != '%')
		return false;
	p += 2;
	*ltrim = *p == '-';
	if (*ltrim)
		p++;
	while (kwg_tpl_is_ws(*p))
		p++;
	if (strncmp(p, name, n) != 0 || kwg_tpl_is_name_start(p[n]) || kwg_tpl_is_digit(p[n]))
		return false;
	p += n;
	while (kwg_tpl_is_ws(*p))
		p++;
	*rtrim = *p == '-';
	if (*rtrim)
		p++;
	if (p[0] != '%' || p[1] != '}')
		return false;
	*after = p + 2;
	return true;
}

static void rtrim_last_text(struct ctx *c)
{
	if (c->ntoks && c->toks[c->ntoks - 1].kind == T_TEXT) {
		struct tok *t = &c->toks[c->ntoks - 1];
		while (t->n && kwg_tpl_is_ws(t->s[t->n - 1]))
			t->n--;
	}
}

int kwg_tpl_lex_template(struct ctx *c)
{
	const char *p = c->tmpl;
	int line = 1, r;
	bool trim_next = false;

	for (;;) {
		const char *s = p;
		if (trim_next)
			while (kwg_tpl_is_ws(*s))
				s++;
		line += count_lines(p, s);
		p = s;
		/* text up to the next delimiter */
		while (*p && !(p[0] == '{' && (p[1] == '{' || p[1] == '%' || p[1] == '#')))
			p++;
		if (p > s) {
			r = push_tok(c, T_TEXT, line, s, (size_t)(p - s), NULL);
			if (r < 0)
				return r;
			line += count_lines(s, p);
		}
		trim_next = false;
		if (!*p)
			break;
		bool lt, rt;
		const char *after;
		size_t kcs, kcl, kn = kestra_raw_block(p, &kcs, &kcl);
		if (kn) { /* kept with its tags until the render ends (strip_raw) */
			r = push_tok(c, T_TEXT, line, p, kn, NULL);
			if (r < 0)
				return r;
			p += kn;
			continue;
		}
		if (match_tag(p, "raw", &lt, &rt, &after)) {
			if (lt)
				rtrim_last_text(c);
			const char *q = after, *end = NULL, *end_after = NULL;
			bool elt = false, ert = false;
			for (; *q; q++)
				if (match_tag(q, "endraw", &elt, &ert, &end_after)) {
					end = q;
					break;
				}
			if (!end)
				return kwg_tpl_fail(c, -EBADMSG, line, "'raw' without 'endraw'");
			const char *b = after, *e = end;
			if (rt)
				while (b < e && kwg_tpl_is_ws(*b))
					b++;
			if (elt)
				while (e > b && kwg_tpl_is_ws(e[-1]))
					e--;
			if (e > b) {
				r = push_tok(c, T_TEXT, line, b, (size_t)(e - b), NULL);
				if (r < 0)
					return r;
			}
			line += count_lines(p, end_after);
			p = end_after;
			trim_next = ert;
			continue;
		}
		if (p[1] == '#') {
			const char *e = strstr(p + 2, "#}");
			if (!e)
				return kwg_tpl_fail(c, -EBADMSG, line, "unclosed comment");
			line += count_lines(p, e);
			p = e + 2;
			continue;
		}
		bool print = p[1] == '{';
		p += 2;
		if (*p == '-') {
			rtrim_last_text(c);
			p++;
		}
		r = push_tok(c, print ? T_PRINT_OPEN : T_EXEC_OPEN, line, NULL, 0, NULL);
		if (r < 0)
			return r;
		r = lex_code(c, &p, &line, print ? CODE_PRINT : CODE_EXEC, &trim_next);
		if (r < 0)
			return r;
	}
	return push_tok(c, T_EOF, line, NULL, 0, NULL);
}
