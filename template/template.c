/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's Pebble subset (docs/templating.md). The template is lexed into tokens, parsed into a
 * small tree (every node in one arena), then evaluated with jansson values: a json_t is a value,
 * NULL is "undefined" (only ever seen by ??, ???, default and "is defined").
 *
 * KESTRA: behaviour read in kestra-io/kestra core/.../runners/VariableRenderer.java (the
 * "Unable to find `x` used in the expression `TEMPLATE` at line N" message: the expression is
 * the whole template, Pebble's file name) and Pebble 3.2's CoreExtension operator table. */
#include "template/template.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <jq.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "template/datetime.h"
#include "template/jdecimal.h"
#include "template/jregex.h"
#include "template/unicode.h"
#include "template/yaml.h"

#define MAX_EXPR_DEPTH 200
#define MAX_LIST 1000000
#define MAX_VALUE_DEPTH 1000
#define MAX_STEPS 20000000ull
#define MAX_TEMPLATE_EXPR_SHOWN 200

/* ---- arena: every token and tree node of one render, freed at once ---- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct arena_block *head;
};

static void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_block *b = a->head;

	n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 16384 ? n : 16384;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = a->head;
		b->used = 0;
		b->cap = cap;
		a->head = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

static void arena_done(struct arena *a)
{
	while (a->head) {
		struct arena_block *b = a->head;
		a->head = b->next;
		free(b);
	}
}

/* ---- tokens ---- */

enum tok_kind {
	T_TEXT,
	T_PRINT_OPEN,
	T_PRINT_CLOSE,
	T_EXEC_OPEN,
	T_EXEC_CLOSE,
	T_NAME,
	T_INT,
	T_DBL,
	T_STR,
	T_ISTR_BEGIN, /* "…#{expr}…": T_STR parts and T_INTERP_OPEN expr T_INTERP_CLOSE */
	T_ISTR_END,
	T_INTERP_OPEN,
	T_INTERP_CLOSE,
	T_OP,
	T_EOF,
};

struct tok {
	enum tok_kind kind;
	int line;
	const char *s; /* text, name, operator, or decoded string (arena) */
	size_t n;
	int64_t i;
	double d;
};

/* ---- tree ---- */

enum expr_kind {
	E_LIT_STR,
	E_LIT_INT,
	E_LIT_DBL,
	E_LIT_BOOL,
	E_LIT_NULL,
	E_VAR,
	E_ATTR,  /* a.name */
	E_INDEX, /* a[b] */
	E_LIST,
	E_MAP, /* args alternate key, value */
	E_NEG,
	E_NOT,
	E_BIN,
	E_TERNARY,
	E_FILTER, /* a | name(args) */
	E_FUNC,   /* name(args) */
	E_TEST,   /* a is [not] name(args) */
	E_INTERP, /* args concatenated */
	E_BODY,   /* the rendered body of the enclosing filter tag */
	E_METHOD, /* a.name(args): a Java String method */
};

enum binop {
	OP_OR,
	OP_AND,
	OP_CONTAINS,
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_GT,
	OP_LE,
	OP_GE,
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_DIV,
	OP_MOD,
	OP_CONCAT,
	OP_RANGE,
	OP_NULLCO,  /* ?? */
	OP_UNDEFCO, /* ??? */
};

struct expr {
	enum expr_kind kind;
	int op; /* enum binop; for E_TEST: 1 when negated */
	int line;
	const char *s; /* string literal, variable, attribute, filter, function or test name */
	size_t n;
	int64_t i;
	double d;
	struct expr *a, *b, *c;
	struct expr **args;
	const char **argnames; /* NULL entries: positional */
	size_t nargs;
};

enum node_kind { N_TEXT, N_PRINT, N_IF, N_FOR, N_SET, N_FILTER };

struct node {
	enum node_kind kind;
	int line;
	struct node *next;
	const char *text; /* N_TEXT (points into the template) */
	size_t len;
	struct expr *e;       /* N_PRINT, N_SET value, N_FOR iterable, N_FILTER chain */
	const char *v1, *v2;  /* N_SET name; N_FOR names (v2 may be NULL) */
	struct expr **conds;  /* N_IF */
	struct node **bodies; /* N_IF: one per cond; N_FOR, N_FILTER: bodies[0] */
	size_t nconds;
	struct node *els; /* N_IF, N_FOR */
};

/* ---- render context ---- */

struct scope_var {
	const char *name;
	json_t *value; /* owned */
};

struct ctx {
	const char *tmpl; /* the template of this render (named in strict-mode errors) */
	const struct kwg_template_opts *opts;
	struct kwg_err *err;
	struct arena arena;
	struct tok *toks; /* arena */
	size_t ntoks, cap_toks, pos;
	int pdepth;       /* parser / lexer recursion */
	int edepth;       /* evaluation recursion */
	int render_depth; /* render() nesting */
	uint64_t *steps;  /* shared with nested renders */
	uint64_t *rng;    /* shared with nested renders */
	struct scope_var *scope;
	size_t nscope, cap_scope;
	size_t frame; /* first scope entry of the innermost scope (a for loop opens one) */
	struct kwg_buf *out;
	bool attr_missing; /* the last failure was an undefined variable or attribute */
	struct kwg_jregex *regex_cache[8]; /* owned; patterns compiled by this render */
	size_t regex_next;
	json_t *filter_body; /* E_BODY: the innermost filter tag's rendered body (borrowed) */
};

static int fail(struct ctx *c, int r, int line, const char *fmt, ...) KWG_PRINTF(4, 5);
static int fail(struct ctx *c, int r, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->attr_missing = false;
	return kwg_err_set(c->err, r, "%s at line %d", msg, line);
}

static int oom(void)
{
	return -ENOMEM;
}

static int step(struct ctx *c, int line)
{
	if (++*c->steps > MAX_STEPS)
		return fail(c, -EMSGSIZE, line, "template needs more than %llu evaluation steps",
		            (unsigned long long)MAX_STEPS);
	return 0;
}

static char *adup(struct ctx *c, const char *s, size_t n)
{
	char *p = arena_alloc(&c->arena, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

/* ==== lexer ==== */

static int push_tok(struct ctx *c, enum tok_kind kind, int line, const char *s, size_t n,
                    struct tok **ret)
{
	if (c->ntoks == c->cap_toks) {
		size_t cap = c->cap_toks ? c->cap_toks * 2 : 256;
		struct tok *t = arena_alloc(&c->arena, cap * sizeof(*t));
		if (!t)
			return oom();
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

static bool is_ws(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static bool is_name_start(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
}

static bool is_digit(char ch)
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
			r = fail(c, -EBADMSG, start_line, "unclosed string literal");
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
			char *s = adup(c, kwg_buf_str(&b), b.len);
			if (!s || push_tok(c, T_STR, *line, s, b.len, NULL) < 0) {
				r = oom();
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
	char *s = adup(c, kwg_buf_str(&b), b.len);
	if (!s) {
		r = oom();
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

	while (is_digit(*p))
		p++;
	/* "1..5" is a range: a '.' followed by a digit makes a decimal. */
	if (*p == '.' && is_digit(p[1])) {
		dbl = true;
		p++;
		while (is_digit(*p))
			p++;
	}
	char *txt = adup(c, s, (size_t)(p - s));
	if (!txt)
		return oom();
	r = push_tok(c, dbl ? T_DBL : T_INT, line, txt, (size_t)(p - s), &t);
	if (r < 0)
		return r;
	if (dbl) {
		t->d = strtod(txt, NULL);
	} else {
		errno = 0;
		long long v = strtoll(txt, NULL, 10);
		if (errno)
			return fail(c, -EBADMSG, line, "integer literal %.40s is out of range",
			            txt);
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
		return fail(c, -EBADMSG, *line, "expression nested too deeply");
	for (;;) {
		while (is_ws(*p)) {
			if (*p == '\n')
				(*line)++;
			p++;
		}
		if (!*p) {
			r = fail(c, -EBADMSG, *line, "unclosed %s",
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
		if (is_digit(*p)) {
			r = lex_number(c, &p, *line);
			if (r < 0)
				goto out;
			continue;
		}
		if (is_name_start(*p)) {
			const char *s = p;
			while (is_name_start(*p) || is_digit(*p))
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
			r = fail(c, -EBADMSG, *line, "unexpected character '%c'", *p);
			goto out;
		}
		/* KESTRA: Pebble's bracket stack: a closing bracket must match the last one opened
		 */
		char ch = ops[i][0];
		if (ch == '{' || ch == '(' || ch == '[') {
			if (braces == (int)sizeof(open)) {
				r = fail(c, -EBADMSG, *line, "expression nested too deeply");
				goto out;
			}
			open[braces++] = ch;
		} else if (ch == '}' || ch == ')' || ch == ']') {
			char want = braces ? open[braces - 1] : 0;
			if (!want) {
				r = fail(c, -EBADMSG, *line, "Unexpected \"%c\"", ch);
				goto out;
			}
			if ((want == '(' ? ')' : want == '[' ? ']' : '}') != ch) {
				r = fail(c, -EBADMSG, *line, "Unclosed \"%c\"",
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
static bool java_ws(char ch)
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
	while (java_ws(*q))
		q++;
	if (strncmp(q, name, n) != 0)
		return 0;
	q += n;
	while (java_ws(*q))
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
static void strip_raw(char *s)
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
	while (is_ws(*p))
		p++;
	if (strncmp(p, name, n) != 0 || is_name_start(p[n]) || is_digit(p[n]))
		return false;
	p += n;
	while (is_ws(*p))
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
		while (t->n && is_ws(t->s[t->n - 1]))
			t->n--;
	}
}

static int lex_template(struct ctx *c)
{
	const char *p = c->tmpl;
	int line = 1, r;
	bool trim_next = false;

	for (;;) {
		const char *s = p;
		if (trim_next)
			while (is_ws(*s))
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
				return fail(c, -EBADMSG, line, "'raw' without 'endraw'");
			const char *b = after, *e = end;
			if (rt)
				while (b < e && is_ws(*b))
					b++;
			if (elt)
				while (e > b && is_ws(e[-1]))
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
				return fail(c, -EBADMSG, line, "unclosed comment");
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

/* ==== parser ==== */

static struct tok *peek(struct ctx *c)
{
	return &c->toks[c->pos];
}

static struct tok *peek_at(struct ctx *c, size_t k)
{
	size_t i = c->pos + k;
	return &c->toks[i < c->ntoks ? i : c->ntoks - 1];
}

static void advance(struct ctx *c)
{
	if (c->pos + 1 < c->ntoks)
		c->pos++;
}

static bool is_op(const struct tok *t, const char *op)
{
	return t->kind == T_OP && strcmp(t->s, op) == 0;
}

static bool is_name(const struct tok *t, const char *name)
{
	return t->kind == T_NAME && t->n == strlen(name) && memcmp(t->s, name, t->n) == 0;
}

static const char *tok_desc(const struct tok *t)
{
	switch (t->kind) {
	case T_TEXT:
		return "text";
	case T_PRINT_OPEN:
		return "'{{'";
	case T_PRINT_CLOSE:
		return "'}}'";
	case T_EXEC_OPEN:
		return "'{%'";
	case T_EXEC_CLOSE:
		return "'%}'";
	case T_NAME:
		return "a name";
	case T_INT:
	case T_DBL:
		return "a number";
	case T_STR:
	case T_ISTR_BEGIN:
		return "a string";
	case T_ISTR_END:
	case T_INTERP_OPEN:
	case T_INTERP_CLOSE:
		return "a string interpolation";
	case T_OP:
		return t->s;
	case T_EOF:
		return "the end of the template";
	}
	return "?";
}

static int expect_op(struct ctx *c, const char *op)
{
	struct tok *t = peek(c);
	if (!is_op(t, op))
		return fail(c, -EBADMSG, t->line, "expected '%s' but found %s", op, tok_desc(t));
	advance(c);
	return 0;
}

static int expect_kind(struct ctx *c, enum tok_kind kind, const char *what)
{
	struct tok *t = peek(c);
	if (t->kind != kind)
		return fail(c, -EBADMSG, t->line, "expected %s but found %s", what, tok_desc(t));
	advance(c);
	return 0;
}

static struct expr *new_expr(struct ctx *c, enum expr_kind kind, int line)
{
	struct expr *e = arena_alloc(&c->arena, sizeof(*e));
	if (e) {
		e->kind = kind;
		e->line = line;
	}
	return e;
}

static int parse_expr(struct ctx *c, int min_prec, struct expr **ret);

struct argvec {
	struct expr **v;
	const char **names;
	size_t n, cap;
};

static int argvec_push(struct ctx *c, struct argvec *a, struct expr *e, const char *name)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 4;
		struct expr **v = arena_alloc(&c->arena, cap * sizeof(*v));
		const char **nm = arena_alloc(&c->arena, cap * sizeof(*nm));
		if (!v || !nm)
			return oom();
		if (a->n) {
			memcpy(v, a->v, a->n * sizeof(*v));
			memcpy(nm, a->names, a->n * sizeof(*nm));
		}
		a->v = v;
		a->names = nm;
		a->cap = cap;
	}
	a->v[a->n] = e;
	a->names[a->n] = name;
	a->n++;
	return 0;
}

/* "(a, b, name=c)" after the name of a filter, function or test. */
static int parse_args(struct ctx *c, struct expr *e)
{
	struct argvec a = {0};
	int r;

	r = expect_op(c, "(");
	if (r < 0)
		return r;
	while (!is_op(peek(c), ")")) {
		const char *name = NULL;
		struct expr *v;
		if (a.n) {
			r = expect_op(c, ",");
			if (r < 0)
				return r;
		}
		if (peek(c)->kind == T_NAME && is_op(peek_at(c, 1), "=")) {
			name = adup(c, peek(c)->s, peek(c)->n);
			if (!name)
				return oom();
			advance(c);
			advance(c);
		}
		r = parse_expr(c, 0, &v);
		if (r < 0)
			return r;
		r = argvec_push(c, &a, v, name);
		if (r < 0)
			return r;
	}
	advance(c);
	e->args = a.v;
	e->argnames = a.names;
	e->nargs = a.n;
	return 0;
}

static int parse_postfix(struct ctx *c, struct expr **io)
{
	int r;

	for (;;) {
		struct tok *t = peek(c);
		if (is_op(t, ".")) {
			advance(c);
			struct tok *n = peek(c);
			struct expr *e;
			if (n->kind == T_NAME) {
				e = new_expr(c, E_ATTR, n->line);
				if (!e || !(e->s = adup(c, n->s, n->n)))
					return oom();
				e->n = n->n;
				advance(c);
				if (is_op(peek(c), "(")) {
					e->kind = E_METHOD;
					r = parse_args(c, e);
					if (r < 0)
						return r;
				}
			} else if (n->kind == T_INT) {
				struct expr *idx = new_expr(c, E_LIT_INT, n->line);
				e = new_expr(c, E_INDEX, n->line);
				if (!e || !idx)
					return oom();
				idx->i = n->i;
				e->b = idx;
				advance(c);
			} else {
				return fail(c, -EBADMSG, n->line,
				            "expected an attribute name after '.'");
			}
			e->a = *io;
			*io = e;
		} else if (is_op(t, "[")) {
			advance(c);
			struct expr *e = new_expr(c, E_INDEX, t->line);
			if (!e)
				return oom();
			r = parse_expr(c, 0, &e->b);
			if (r < 0)
				return r;
			r = expect_op(c, "]");
			if (r < 0)
				return r;
			e->a = *io;
			*io = e;
		} else {
			return 0;
		}
	}
}

/* "a #{x} b": T_ISTR_BEGIN, then T_STR parts and T_INTERP_OPEN expr T_INTERP_CLOSE. */
static int parse_interp(struct ctx *c, int line, struct expr **ret)
{
	struct argvec a = {0};
	struct expr *e = new_expr(c, E_INTERP, line);
	int r;

	if (!e)
		return oom();
	advance(c);
	while (peek(c)->kind != T_ISTR_END) {
		struct tok *p = peek(c);
		struct expr *part;
		if (p->kind == T_STR) {
			part = new_expr(c, E_LIT_STR, p->line);
			if (!part)
				return oom();
			part->s = p->s;
			part->n = p->n;
			advance(c);
		} else {
			r = expect_kind(c, T_INTERP_OPEN, "'#{'");
			if (r < 0)
				return r;
			r = parse_expr(c, 0, &part);
			if (r < 0)
				return r;
			r = expect_kind(c, T_INTERP_CLOSE, "'}'");
			if (r < 0)
				return r;
		}
		r = argvec_push(c, &a, part, NULL);
		if (r < 0)
			return r;
	}
	advance(c);
	e->args = a.v;
	e->nargs = a.n;
	*ret = e;
	return 0;
}

static int parse_primary(struct ctx *c, struct expr **ret)
{
	struct tok *t = peek(c);
	struct expr *e = NULL;
	int r;

	switch (t->kind) {
	case T_INT:
		e = new_expr(c, E_LIT_INT, t->line);
		if (!e)
			return oom();
		e->i = t->i;
		advance(c);
		break;
	case T_DBL:
		e = new_expr(c, E_LIT_DBL, t->line);
		if (!e)
			return oom();
		e->d = t->d;
		advance(c);
		break;
	case T_STR:
		e = new_expr(c, E_LIT_STR, t->line);
		if (!e)
			return oom();
		e->s = t->s;
		e->n = t->n;
		advance(c);
		break;
	case T_ISTR_BEGIN:
		r = parse_interp(c, t->line, &e);
		if (r < 0)
			return r;
		break;
	case T_NAME: {
		static const char *const kw[] = {"true", "false", "null", "none"};
		for (size_t k = 0; k < ARRAY_SIZE(kw); k++) {
			if (is_name(t, kw[k])) {
				e = new_expr(c, k < 2 ? E_LIT_BOOL : E_LIT_NULL, t->line);
				if (!e)
					return oom();
				e->i = k == 0;
				advance(c);
				break;
			}
		}
		if (e)
			break;
		bool call = is_op(peek_at(c, 1), "(");
		e = new_expr(c, call ? E_FUNC : E_VAR, t->line);
		if (!e || !(e->s = adup(c, t->s, t->n)))
			return oom();
		e->n = t->n;
		advance(c);
		if (call) {
			r = parse_args(c, e);
			if (r < 0)
				return r;
		}
		break;
	}
	case T_OP:
		if (is_op(t, "(")) {
			advance(c);
			r = parse_expr(c, 0, &e);
			if (r < 0)
				return r;
			r = expect_op(c, ")");
			if (r < 0)
				return r;
		} else if (is_op(t, "[") || is_op(t, "{")) {
			bool map = is_op(t, "{");
			const char *close = map ? "}" : "]";
			struct argvec a = {0};
			e = new_expr(c, map ? E_MAP : E_LIST, t->line);
			if (!e)
				return oom();
			advance(c);
			while (!is_op(peek(c), close)) {
				struct expr *v;
				if (a.n) {
					r = expect_op(c, ",");
					if (r < 0)
						return r;
				}
				r = parse_expr(c, 0, &v);
				if (r < 0)
					return r;
				r = argvec_push(c, &a, v, NULL);
				if (r < 0)
					return r;
				if (map) {
					r = expect_op(c, ":");
					if (r < 0)
						return r;
					r = parse_expr(c, 0, &v);
					if (r < 0)
						return r;
					r = argvec_push(c, &a, v, NULL);
					if (r < 0)
						return r;
				}
			}
			advance(c);
			e->args = a.v;
			e->nargs = a.n;
		} else {
			return fail(c, -EBADMSG, t->line, "unexpected '%s' in an expression", t->s);
		}
		break;
	default:
		return fail(c, -EBADMSG, t->line, "expected an expression but found %s",
		            tok_desc(t));
	}
	r = parse_postfix(c, &e);
	if (r < 0)
		return r;
	*ret = e;
	return 0;
}

struct binop_def {
	const char *sym;
	bool word;
	int prec;
	enum binop op;
};

/* KESTRA: Pebble 3.2 CoreExtension precedences; ?? and ??? are Kestra's (ExtensionCustomizer). */
static const struct binop_def binops[] = {
    {"or", true, 10, OP_OR},
    {"and", true, 15, OP_AND},
    {"contains", true, 20, OP_CONTAINS},
    {"==", false, 30, OP_EQ},
    {"equals", true, 30, OP_EQ},
    {"!=", false, 30, OP_NE},
    {"<", false, 30, OP_LT},
    {">", false, 30, OP_GT},
    {"<=", false, 30, OP_LE},
    {">=", false, 30, OP_GE},
    {"+", false, 40, OP_ADD},
    {"-", false, 40, OP_SUB},
    {"*", false, 60, OP_MUL},
    {"/", false, 60, OP_DIV},
    {"%", false, 60, OP_MOD},
    {"~", false, 110, OP_CONCAT},
    {"..", false, 120, OP_RANGE},
    {"??", false, 120, OP_NULLCO},
    {"???", false, 120, OP_UNDEFCO},
};
#define PREC_IS 20
#define PREC_FILTER 100
#define PREC_NOT 500 /* Pebble 3.2.2: not binds as tightly as unary minus */
#define PREC_NEG 500

static const struct binop_def *find_binop(const struct tok *t)
{
	for (size_t i = 0; i < ARRAY_SIZE(binops); i++) {
		if (binops[i].word ? is_name(t, binops[i].sym) : is_op(t, binops[i].sym))
			return &binops[i];
	}
	return NULL;
}

static int parse_named_call(struct ctx *c, enum expr_kind kind, struct expr *input,
                            struct expr **ret)
{
	struct tok *n = peek(c);
	struct expr *e;
	int r;

	if (n->kind != T_NAME)
		return fail(c, -EBADMSG, n->line, "expected a %s name but found %s",
		            kind == E_FILTER ? "filter" : "test", tok_desc(n));
	e = new_expr(c, kind, n->line);
	if (!e || !(e->s = adup(c, n->s, n->n)))
		return oom();
	e->n = n->n;
	e->a = input;
	advance(c);
	if (is_op(peek(c), "(")) {
		r = parse_args(c, e);
		if (r < 0)
			return r;
	}
	*ret = e;
	return 0;
}

static int parse_expr_inner(struct ctx *c, int min_prec, struct expr **ret)
{
	struct tok *t = peek(c);
	struct expr *e;
	int r;

	if (is_name(t, "not") || is_op(t, "-") || is_op(t, "+")) {
		bool neg = is_op(t, "-"), plus = is_op(t, "+");
		advance(c);
		r = parse_expr(c, neg || plus ? PREC_NEG : PREC_NOT, &e);
		if (r < 0)
			return r;
		if (!plus) {
			struct expr *u = new_expr(c, neg ? E_NEG : E_NOT, t->line);
			if (!u)
				return oom();
			u->a = e;
			e = u;
		}
	} else {
		r = parse_primary(c, &e);
		if (r < 0)
			return r;
	}
	for (;;) {
		t = peek(c);
		if (is_op(t, "|") && PREC_FILTER >= min_prec) {
			advance(c);
			r = parse_named_call(c, E_FILTER, e, &e);
			if (r < 0)
				return r;
			continue;
		}
		if (is_name(t, "is") && PREC_IS >= min_prec) {
			bool negate = false;
			advance(c);
			if (is_name(peek(c), "not")) {
				negate = true;
				advance(c);
			}
			r = parse_named_call(c, E_TEST, e, &e);
			if (r < 0)
				return r;
			e->op = negate;
			continue;
		}
		const struct binop_def *d = find_binop(t);
		if (!d || d->prec < min_prec)
			break;
		advance(c);
		struct expr *b = new_expr(c, E_BIN, t->line);
		if (!b)
			return oom();
		b->op = (int)d->op;
		b->a = e;
		r = parse_expr(c, d->prec + 1, &b->b);
		if (r < 0)
			return r;
		e = b;
	}
	if (min_prec == 0 && is_op(peek(c), "?")) {
		struct expr *q = new_expr(c, E_TERNARY, peek(c)->line);
		if (!q)
			return oom();
		advance(c);
		q->a = e;
		r = parse_expr(c, 0, &q->b);
		if (r < 0)
			return r;
		r = expect_op(c, ":");
		if (r < 0)
			return r;
		r = parse_expr(c, 0, &q->c);
		if (r < 0)
			return r;
		e = q;
	}
	*ret = e;
	return 0;
}

static int parse_expr(struct ctx *c, int min_prec, struct expr **ret)
{
	int r;

	if (++c->pdepth > MAX_EXPR_DEPTH) {
		c->pdepth--;
		return fail(c, -EBADMSG, peek(c)->line, "expression nested too deeply");
	}
	r = parse_expr_inner(c, min_prec, ret);
	c->pdepth--;
	return r;
}

static struct node *new_node(struct ctx *c, enum node_kind kind, int line)
{
	struct node *n = arena_alloc(&c->arena, sizeof(*n));
	if (n) {
		n->kind = kind;
		n->line = line;
	}
	return n;
}

static int parse_body(struct ctx *c, const char *const *stops, size_t nstops, struct node **ret,
                      size_t *ret_stop);

static int tag_name(struct ctx *c, struct tok *t, char *buf, size_t n)
{
	if (t->kind != T_NAME)
		return fail(c, -EBADMSG, t->line, "expected a tag name but found %s", tok_desc(t));
	snprintf(buf, n, "%.*s", (int)KWG_MIN(t->n, n - 1), t->s);
	return 0;
}

static int parse_if(struct ctx *c, int line, struct node **ret)
{
	static const char *const stops[] = {"elseif", "else", "endif"};
	struct node *n = new_node(c, N_IF, line);
	struct expr *conds[64];
	struct node *bodies[64];
	size_t nc = 0, stop;
	int r;

	if (!n)
		return oom();
	for (;;) {
		if (nc == ARRAY_SIZE(conds))
			return fail(c, -EBADMSG, line, "more than %zu branches in one 'if'",
			            ARRAY_SIZE(conds));
		r = parse_expr(c, 0, &conds[nc]);
		if (r < 0)
			return r;
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
		if (r < 0)
			return r;
		r = parse_body(c, stops, 3, &bodies[nc], &stop);
		if (r < 0)
			return r;
		nc++;
		if (stop != 0)
			break;
	}
	if (stop == 1) {
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
		if (r < 0)
			return r;
		r = parse_body(c, stops + 2, 1, &n->els, &stop);
		if (r < 0)
			return r;
	}
	r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r < 0)
		return r;
	n->conds = arena_alloc(&c->arena, nc * sizeof(*n->conds));
	n->bodies = arena_alloc(&c->arena, nc * sizeof(*n->bodies));
	if (!n->conds || !n->bodies)
		return oom();
	memcpy(n->conds, conds, nc * sizeof(*conds));
	memcpy(n->bodies, bodies, nc * sizeof(*bodies));
	n->nconds = nc;
	*ret = n;
	return 0;
}

static int parse_for(struct ctx *c, int line, struct node **ret)
{
	static const char *const stops[] = {"else", "endfor"};
	struct node *n = new_node(c, N_FOR, line);
	size_t stop;
	int r;

	if (!n || !(n->bodies = arena_alloc(&c->arena, sizeof(*n->bodies))))
		return oom();
	if (peek(c)->kind != T_NAME)
		return fail(c, -EBADMSG, line, "expected a variable name after 'for'");
	n->v1 = adup(c, peek(c)->s, peek(c)->n);
	advance(c);
	if (is_op(peek(c), ",")) {
		advance(c);
		if (peek(c)->kind != T_NAME)
			return fail(c, -EBADMSG, line, "expected a second variable name after ','");
		n->v2 = adup(c, peek(c)->s, peek(c)->n);
		advance(c);
	}
	if (!is_name(peek(c), "in"))
		return fail(c, -EBADMSG, line, "expected 'in' in 'for'");
	advance(c);
	r = parse_expr(c, 0, &n->e);
	if (r < 0)
		return r;
	r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r < 0)
		return r;
	r = parse_body(c, stops, 2, &n->bodies[0], &stop);
	if (r < 0)
		return r;
	if (stop == 0) {
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
		if (r < 0)
			return r;
		r = parse_body(c, stops + 1, 1, &n->els, &stop);
		if (r < 0)
			return r;
	}
	r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r < 0)
		return r;
	*ret = n;
	return 0;
}

static const char *const unsupported_tags[] = {"macro",  "block",      "include", "extends",
                                               "import", "autoescape", "cache",   "parallel",
                                               "embed",  "flush",      "from",    "verbatim"};

static int parse_body(struct ctx *c, const char *const *stops, size_t nstops, struct node **ret,
                      size_t *ret_stop);

/* ==== the filter tag ==== */

/* [PB] Pebble 3.2 FilterTokenParser: {% filter name(args) | name2 %}body{% endfilter %}; the
 * body is rendered to a string, the chain applied to it, the result printed. */
static int parse_filter_tag(struct ctx *c, int line, struct node **ret)
{
	static const char *const stops[] = {"endfilter"};
	struct node *n = new_node(c, N_FILTER, line);
	struct expr *e;
	size_t stop;
	int r;

	if (!n || !(n->bodies = arena_alloc(&c->arena, sizeof(*n->bodies))) ||
	    !(e = new_expr(c, E_BODY, line)))
		return oom();
	for (;;) {
		r = parse_named_call(c, E_FILTER, e, &e);
		if (r < 0)
			return r;
		if (!is_op(peek(c), "|"))
			break;
		advance(c);
	}
	n->e = e;
	r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r >= 0)
		r = parse_body(c, stops, 1, &n->bodies[0], &stop);
	if (r >= 0)
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r >= 0)
		*ret = n;
	return r;
}

/* Nodes until EOF (stops == NULL) or one of the stop tags; then the stop tag name is consumed
 * and its index set in *ret_stop. */
static int parse_body(struct ctx *c, const char *const *stops, size_t nstops, struct node **ret,
                      size_t *ret_stop)
{
	struct node *head = NULL, **tail = &head;
	int r;

	if (++c->pdepth > MAX_EXPR_DEPTH) {
		c->pdepth--;
		return fail(c, -EBADMSG, peek(c)->line, "tags nested too deeply");
	}
	for (;;) {
		struct tok *t = peek(c);
		struct node *n = NULL;
		if (t->kind == T_EOF) {
			if (stops) {
				r = fail(c, -EBADMSG, t->line, "expected '%s' before the end",
				         stops[nstops - 1]);
				goto out;
			}
			break;
		}
		if (t->kind == T_TEXT) {
			n = new_node(c, N_TEXT, t->line);
			if (!n) {
				r = oom();
				goto out;
			}
			n->text = t->s;
			n->len = t->n;
			advance(c);
		} else if (t->kind == T_PRINT_OPEN) {
			n = new_node(c, N_PRINT, t->line);
			if (!n) {
				r = oom();
				goto out;
			}
			advance(c);
			r = parse_expr(c, 0, &n->e);
			if (r < 0)
				goto out;
			r = expect_kind(c, T_PRINT_CLOSE, "'}}'");
			if (r < 0)
				goto out;
		} else if (t->kind == T_EXEC_OPEN) {
			char name[32];
			int line = t->line;
			advance(c);
			r = tag_name(c, peek(c), name, sizeof(name));
			if (r < 0)
				goto out;
			size_t k;
			for (k = 0; stops && k < nstops; k++)
				if (strcmp(name, stops[k]) == 0)
					break;
			if (stops && k < nstops) {
				advance(c);
				*ret_stop = k;
				break;
			}
			advance(c);
			if (strcmp(name, "if") == 0) {
				r = parse_if(c, line, &n);
			} else if (strcmp(name, "for") == 0) {
				r = parse_for(c, line, &n);
			} else if (strcmp(name, "filter") == 0) {
				r = parse_filter_tag(c, line, &n);
			} else if (strcmp(name, "set") == 0) {
				n = new_node(c, N_SET, line);
				if (!n) {
					r = oom();
					goto out;
				}
				if (peek(c)->kind != T_NAME) {
					r = fail(c, -EBADMSG, line, "expected a name after 'set'");
					goto out;
				}
				n->v1 = adup(c, peek(c)->s, peek(c)->n);
				advance(c);
				r = expect_op(c, "=");
				if (r >= 0)
					r = parse_expr(c, 0, &n->e);
				if (r >= 0)
					r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
			} else {
				bool known = false;
				for (k = 0; k < ARRAY_SIZE(unsupported_tags); k++)
					known |= strcmp(name, unsupported_tags[k]) == 0;
				if (known)
					r = fail(c, -EOPNOTSUPP, line, "tag '%s' is not supported",
					         name);
				else if (strncmp(name, "end", 3) == 0 ||
				         strcmp(name, "else") == 0 || strcmp(name, "elseif") == 0)
					r = fail(c, -EBADMSG, line, "unexpected tag '%s'", name);
				else
					r = fail(c, -EOPNOTSUPP, line, "unknown tag '%s'", name);
			}
			if (r < 0)
				goto out;
		} else {
			r = fail(c, -EBADMSG, t->line, "unexpected %s", tok_desc(t));
			goto out;
		}
		*tail = n;
		tail = &n->next;
	}
	*ret = head;
	r = 0;
out:
	c->pdepth--;
	return r;
}

/* ==== values ==== */

/* Java's Double.toString (shortest digits that read back, as JDK 19+). */
static void java_double(double d, char *out, size_t n)
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
		if (strtod(tmp, NULL) == d)
			break;
	}
	const char *p = tmp;
	bool neg = *p == '-';
	if (neg)
		p++;
	for (; *p && *p != 'e'; p++)
		if (is_digit(*p) && nd < (int)sizeof(digits) - 1)
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
static int json_write(struct kwg_buf *b, const json_t *v, int depth)
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
				r = json_write(b, x, depth + 1);
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
				r = json_write(b, x, depth + 1);
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
		java_double(json_real_value(v), num, sizeof(num));
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
static int write_text(struct kwg_buf *b, const json_t *v)
{
	char num[40];

	if (!v || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return kwg_buf_append(b, json_string_value(v), json_string_length(v));
	if (json_is_real(v)) {
		java_double(json_real_value(v), num, sizeof(num));
		return kwg_buf_puts(b, num);
	}
	return json_write(b, v, 0);
}

/* Java's toString (String.valueOf) of a value: what ~, +, join, interpolation and the filters
 * that call toString() see. Lists print as [a, b], maps as {k=v, k2=v2}, null as "null". */
static int java_text(struct kwg_buf *b, const json_t *v, int depth)
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
		java_double(json_real_value(v), num, sizeof(num));
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
				r = java_text(b, x, depth + 1);
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
				r = java_text(b, x, depth + 1);
		}
		return r < 0 ? r : kwg_buf_putc(b, '}');
	}
	return json_write(b, v, depth);
}

static int size_err(struct ctx *c, int r, int line)
{
	if (r == -EMSGSIZE)
		return fail(c, r, line, "a value would pass %u bytes", KWG_TEMPLATE_MAX_OUTPUT);
	if (r == -ELOOP)
		return fail(c, -EINVAL, line, "value nested too deeply to print");
	return r;
}

/* A new string value from a buffer (which is emptied). */
static int buf_value(struct ctx *c, struct kwg_buf *b, int line, json_t **ret)
{
	json_t *s = json_stringn_nocheck(kwg_buf_str(b), b->len);
	(void)c;
	(void)line;
	kwg_buf_done(b);
	if (!s)
		return oom();
	*ret = s;
	return 0;
}

static int to_string_value(struct ctx *c, const json_t *v, int line, json_t **ret)
{
	struct kwg_buf b;
	int r;

	if (json_is_string(v)) {
		*ret = json_incref((json_t *)v);
		return 0;
	}
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	r = java_text(&b, v, 0);
	if (r < 0) {
		kwg_buf_done(&b);
		return size_err(c, r, line);
	}
	return buf_value(c, &b, line, ret);
}

static bool is_number(const json_t *v)
{
	return json_is_integer(v) || json_is_real(v);
}

static double num_value(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

static const char *type_name(const json_t *v)
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

static bool truthy(const json_t *v)
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
static int condition(struct ctx *c, const json_t *v, int line, const char *where, bool *ret)
{
	if (json_is_null(v)) {
		if (!where) {
			*ret = false;
			return 0;
		}
		return fail(c, -EINVAL, line,
		            "null value given to %s and strict variables is set to true", where);
	}
	if (json_is_array(v) || json_is_object(v))
		return fail(c, -EINVAL, line,
		            "Unsupported value type %s. Expected Boolean, String, Number in %s",
		            type_name(v), where ? where : "a ternary");
	*ret = truthy(v);
	return 0;
}

/* Pebble's EmptyTest: null, a blank string (after Java's trim), an empty list or map. */
static bool is_empty(const json_t *v)
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

static bool values_equal(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return a == b;
	if (is_number(a) && is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return num_value(a) == num_value(b);
	}
	if (json_is_array(a) && json_is_array(b)) {
		if (json_array_size(a) != json_array_size(b))
			return false;
		for (size_t i = 0; i < json_array_size(a); i++)
			if (!values_equal(json_array_get(a, i), json_array_get(b, i)))
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

static int compare_values(const json_t *a, const json_t *b)
{
	if (is_number(a) && is_number(b)) {
		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t x = json_integer_value(a), y = json_integer_value(b);
			return x < y ? -1 : x > y;
		}
		double x = num_value(a), y = num_value(b);
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b))
		return java_compare(json_string_value(a), json_string_length(a),
		                    json_string_value(b), json_string_length(b));
	return -2;
}

/* ==== scopes ==== */

static json_t *scope_get(struct ctx *c, const char *name)
{
	for (size_t i = c->nscope; i-- > 0;)
		if (strcmp(c->scope[i].name, name) == 0)
			return c->scope[i].value;
	return json_object_get(c->opts->vars, name);
}

/* Steals value. */
static int scope_push(struct ctx *c, const char *name, json_t *value)
{
	if (c->nscope == c->cap_scope) {
		size_t cap = c->cap_scope ? c->cap_scope * 2 : 16;
		struct scope_var *s = realloc(c->scope, cap * sizeof(*s));
		if (!s) {
			json_decref(value);
			return oom();
		}
		c->scope = s;
		c->cap_scope = cap;
	}
	c->scope[c->nscope++] = (struct scope_var){name, value};
	return 0;
}

/* Sets name in the innermost scope (as Pebble's ScopeChain.put), stealing value. */
static int scope_set(struct ctx *c, const char *name, json_t *value)
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

static void scope_pop_to(struct ctx *c, size_t mark)
{
	while (c->nscope > mark)
		json_decref(c->scope[--c->nscope].value);
}

/* ==== evaluation ==== */

static int eval(struct ctx *c, const struct expr *e, bool soft, json_t **ret);
static int range_values(struct ctx *c, json_t *s, json_t *t, int64_t inc, int line, json_t **ret);

static int undefined_err(struct ctx *c, const char *name, int line)
{
	size_t n = strlen(c->tmpl);
	int r = fail(c, -EINVAL, line, "Unable to find `%s` used in the expression `%.*s%s`", name,
	             (int)KWG_MIN(n, MAX_TEMPLATE_EXPR_SHOWN), c->tmpl,
	             n > MAX_TEMPLATE_EXPR_SHOWN ? "…" : "");
	c->attr_missing = true;
	return r;
}

/* Evaluates e where an undefined value is an answer (the left of ?? and ???, the input of
 * default, of "is defined"). KESTRA: those catch Pebble's AttributeNotFoundException thrown
 * anywhere inside (block[missing].child, (missing | upper)), so such a failure is undefined. */
static int eval_soft(struct ctx *c, const struct expr *e, json_t **ret)
{
	struct kwg_err saved;
	int r;

	if (c->err)
		saved = *c->err;
	r = eval(c, e, true, ret);
	if (r < 0 && c->attr_missing) {
		c->attr_missing = false;
		if (c->err)
			*c->err = saved;
		*ret = NULL;
		return 0;
	}
	return r;
}

/* The argument values of a call, evaluated strictly. */
struct args {
	json_t *v[16];
	const char *names[16];
	size_t n;
	int line;
	const char *what; /* "filter 'x'" */
};

static void args_done(struct args *a)
{
	for (size_t i = 0; i < a->n; i++)
		json_decref(a->v[i]);
	a->n = 0;
}

static int args_eval(struct ctx *c, const struct expr *e, struct args *a)
{
	int r;

	a->n = 0;
	a->line = e->line;
	if (e->nargs > ARRAY_SIZE(a->v))
		return fail(c, -EINVAL, e->line, "too many arguments to '%s'", e->s);
	for (size_t i = 0; i < e->nargs; i++) {
		json_t *v;
		r = eval(c, e->args[i], false, &v);
		if (r < 0) {
			args_done(a);
			return r;
		}
		a->v[a->n] = v;
		a->names[a->n] = e->argnames ? e->argnames[i] : NULL;
		a->n++;
	}
	return 0;
}

/* Positional argument pos, or the one named name; NULL when absent (borrowed). */
static json_t *arg(const struct args *a, size_t pos, const char *name)
{
	size_t k = 0;
	for (size_t i = 0; i < a->n; i++) {
		if (a->names[i]) {
			if (name && strcmp(a->names[i], name) == 0)
				return a->v[i];
		} else if (k++ == pos) {
			return a->v[i];
		}
	}
	return NULL;
}

static int arg_str(struct ctx *c, const struct args *a, const char *fn, size_t pos,
                   const char *name, bool required, const char **ret)
{
	json_t *v = arg(a, pos, name);
	if (!v || json_is_null(v)) {
		if (required)
			return fail(c, -EINVAL, a->line, "'%s' needs its '%s' argument", fn, name);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return fail(c, -EINVAL, a->line, "'%s': argument '%s' must be a string, not %s", fn,
		            name, type_name(v));
	*ret = json_string_value(v);
	return 0;
}

static int arg_int(struct ctx *c, const struct args *a, const char *fn, size_t pos,
                   const char *name, bool required, int64_t def, int64_t *ret)
{
	json_t *v = arg(a, pos, name);
	if (!v || json_is_null(v)) {
		if (required)
			return fail(c, -EINVAL, a->line, "'%s' needs its '%s' argument", fn, name);
		*ret = def;
		return 0;
	}
	if (json_is_integer(v)) {
		*ret = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v) && fabs(json_real_value(v)) < 9e18) {
		*ret = (int64_t)json_real_value(v);
		return 0;
	}
	if (json_is_string(v)) {
		char *end;
		errno = 0;
		long long x = strtoll(json_string_value(v), &end, 10);
		if (!errno && *json_string_value(v) && !*end) {
			*ret = x;
			return 0;
		}
	}
	return fail(c, -EINVAL, a->line, "'%s': argument '%s' must be an integer, not %s", fn, name,
	            type_name(v));
}

static bool arg_bool(const struct args *a, size_t pos, const char *name, bool def)
{
	json_t *v = arg(a, pos, name);
	if (!v || json_is_null(v))
		return def;
	if (json_is_string(v))
		return strcasecmp(json_string_value(v), "true") == 0;
	return truthy(v);
}

/* ---- arithmetic (Pebble OperatorUtils: long op long stays long, wrapping as Java) ---- */

static int arith(struct ctx *c, int op, json_t *x, json_t *y, int line, json_t **ret)
{
	static const char *const sym[] = {
	    [OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%"};

	if (!is_number(x) || !is_number(y))
		return fail(c, -EINVAL, line, "cannot apply '%s' to %s and %s", sym[op],
		            type_name(x), type_name(y));
	if (json_is_integer(x) && json_is_integer(y)) {
		uint64_t a = (uint64_t)json_integer_value(x), b = (uint64_t)json_integer_value(y);
		int64_t sa = json_integer_value(x), sb = json_integer_value(y), v = 0;
		switch (op) {
		case OP_ADD:
			v = (int64_t)(a + b);
			break;
		case OP_SUB:
			v = (int64_t)(a - b);
			break;
		case OP_MUL:
			v = (int64_t)(a * b);
			break;
		case OP_DIV:
		case OP_MOD:
			if (sb == 0)
				return fail(c, -EINVAL, line, "/ by zero");
			if (sa == INT64_MIN && sb == -1)
				v = op == OP_DIV ? INT64_MIN : 0;
			else
				v = op == OP_DIV ? sa / sb : sa % sb;
			break;
		default:
			break;
		}
		*ret = json_integer(v);
	} else {
		double a = num_value(x), b = num_value(y), v = 0;
		switch (op) {
		case OP_ADD:
			v = a + b;
			break;
		case OP_SUB:
			v = a - b;
			break;
		case OP_MUL:
			v = a * b;
			break;
		case OP_DIV:
			v = a / b;
			break;
		case OP_MOD:
			v = fmod(a, b);
			break;
		default:
			break;
		}
		*ret = json_real(v);
	}
	return *ret ? 0 : oom();
}

static int list_check(struct ctx *c, size_t n, int line)
{
	if (n > MAX_LIST)
		return fail(c, -EMSGSIZE, line, "a list would pass %d items", MAX_LIST);
	*c->steps += n;
	return step(c, line);
}

static int make_range(struct ctx *c, int64_t from, int64_t to, int64_t inc, int line, json_t **ret)
{
	json_t *l;
	uint64_t count;

	if (inc == 0)
		return fail(c, -EINVAL, line, "range increment must not be 0");
	if ((inc > 0 && from > to) || (inc < 0 && from < to))
		count = 0;
	else if (inc > 0)
		count = ((uint64_t)to - (uint64_t)from) / (uint64_t)inc + 1;
	else
		count = ((uint64_t)from - (uint64_t)to) / (uint64_t)(-(inc + 1) + 1ull) + 1;
	if (count > MAX_LIST)
		return fail(c, -EMSGSIZE, line, "a range would pass %d items", MAX_LIST);
	int r = list_check(c, (size_t)count, line);
	if (r < 0)
		return r;
	l = json_array();
	if (!l)
		return oom();
	for (uint64_t i = 0; i < count; i++) {
		if (json_array_append_new(
		        l, json_integer((int64_t)((uint64_t)from + i * (uint64_t)inc))) < 0) {
			json_decref(l);
			return oom();
		}
	}
	*ret = l;
	return 0;
}

static int concat_text(struct ctx *c, json_t *x, json_t *y, bool null_word, int line, json_t **ret)
{
	struct kwg_buf b;
	int r = 0;

	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	json_t *parts[2] = {x, y};
	for (int i = 0; i < 2 && r >= 0; i++) {
		/* ConcatenateExpression skips null; OperatorUtils.add writes "null" */
		if (null_word || (parts[i] && !json_is_null(parts[i])))
			r = java_text(&b, parts[i], 0);
	}
	if (r < 0) {
		kwg_buf_done(&b);
		return size_err(c, r, line);
	}
	return buf_value(c, &b, line, ret);
}

static int contains(struct ctx *c, json_t *x, json_t *y, int line, bool *ret)
{
	if (!x || json_is_null(x)) {
		*ret = false;
		return 0;
	}
	if (json_is_string(x)) {
		json_t *s;
		int r = to_string_value(c, y, line, &s);
		if (r < 0)
			return r;
		*ret = memmem(json_string_value(x), json_string_length(x), json_string_value(s),
		              json_string_length(s)) != NULL;
		json_decref(s);
		return 0;
	}
	if (json_is_object(x)) {
		*ret = json_is_string(y) && json_object_get(x, json_string_value(y));
		return 0;
	}
	if (json_is_array(x)) {
		size_t i;
		json_t *v;
		if (json_is_array(y)) { /* Pebble: containsAll */
			size_t j;
			json_t *w;
			json_array_foreach (y, j, w) {
				bool found = false;
				int r;
				*c->steps +=
				    json_array_size(x); /* n × m comparisons: on the budget */
				r = step(c, line);
				if (r < 0)
					return r;
				json_array_foreach (x, i, v)
					found |= values_equal(v, w);
				if (!found) {
					*ret = false;
					return 0;
				}
			}
			*ret = true;
			return 0;
		}
		*ret = false;
		*c->steps += json_array_size(x) / 16;
		json_array_foreach (x, i, v)
			if (values_equal(v, y))
				*ret = true;
		return step(c, line);
	}
	return fail(c, -EINVAL, line, "'contains' needs a list, map or string, not %s",
	            type_name(x));
}

/* + and - (KESTRA: Pebble OperatorUtils.add/subtract): a string on either side of + concatenates
 * (String.valueOf, so null is "null"); a list gets the right side appended (a list: its items)
 * or removed; otherwise arithmetic. */
static int add_sub(struct ctx *c, int op, json_t *x, json_t *y, int line, json_t **ret)
{
	int r = 0;

	if (op == OP_ADD && (json_is_string(x) || json_is_string(y)))
		return concat_text(c, x, y, true, line, ret);
	if (op == OP_ADD && json_is_array(x)) {
		json_t *l = json_copy(x);
		size_t n = json_array_size(x) + (json_is_array(y) ? json_array_size(y) : 1);
		r = list_check(c, n, line);
		if (r >= 0 && !l)
			r = oom();
		if (r >= 0)
			r = (json_is_array(y) ? json_array_extend(l, y) : json_array_append(l, y)) <
			            0
			        ? oom()
			        : 0;
		if (r < 0) {
			json_decref(l);
			return r;
		}
		*ret = l;
		return 0;
	}
	if (op == OP_SUB && json_is_array(x)) {
		json_t *l = json_array(), *v;
		size_t i;
		if (!l)
			return oom();
		json_array_foreach (x, i, v) {
			bool drop;
			if (json_is_array(y)) {
				r = contains(c, y, v, line, &drop);
				if (r < 0)
					break;
			} else {
				drop = values_equal(v, y);
			}
			if (!drop && json_array_append(l, v) < 0) {
				r = oom();
				break;
			}
		}
		if (r < 0) {
			json_decref(l);
			return r;
		}
		*ret = l;
		return 0;
	}
	return arith(c, op, x, y, line, ret);
}

static int eval_bin(struct ctx *c, const struct expr *e, bool soft, json_t **ret)
{
	json_t *x = NULL, *y = NULL;
	int r, op = e->op;

	if (op == OP_NULLCO || op == OP_UNDEFCO) {
		r = eval_soft(c, e->a, &x);
		if (r < 0)
			return r;
		if (x && (op == OP_UNDEFCO || !json_is_null(x))) {
			*ret = x;
			return 0;
		}
		json_decref(x);
		/* KESTRA: NullCoalescingExpression catches the left side's missing attribute, so in
		 * "a ?? b ?? 'c'" an undefined b falls through to 'c'. */
		return eval(c, e->b, soft, ret);
	}
	r = eval(c, e->a, false, &x);
	if (r < 0)
		return r;
	if (op == OP_AND || op == OP_OR) {
		const char *where = op == OP_AND ? "and" : "or";
		bool t = false;
		r = condition(c, x, e->line, where, &t);
		json_decref(x);
		if (r < 0)
			return r;
		if ((op == OP_AND && !t) || (op == OP_OR && t)) {
			*ret = json_boolean(t);
			return 0;
		}
		r = eval(c, e->b, false, &y);
		if (r < 0)
			return r;
		r = condition(c, y, e->line, where, &t);
		json_decref(y);
		if (r < 0)
			return r;
		*ret = json_boolean(t);
		return 0;
	}
	r = eval(c, e->b, false, &y);
	if (r < 0) {
		json_decref(x);
		return r;
	}
	switch (op) {
	case OP_EQ:
	case OP_NE:
		*ret = json_boolean(values_equal(x, y) == (op == OP_EQ));
		break;
	case OP_LT:
	case OP_GT:
	case OP_LE:
	case OP_GE: {
		int k = compare_values(x, y);
		if (json_is_null(x) || json_is_null(y)) { /* OperatorUtils: null compares false */
			*ret = json_false();
			break;
		}
		/* KESTRA: LessThanExpression & co. (expression/): two strings compare with
		 * String.compareTo; everything else as Pebble's OperatorUtils (numbers). */
		if (k == -2 || (!(is_number(x) && is_number(y)) &&
		                !(json_is_string(x) && json_is_string(y)))) {
			r = fail(c, -EINVAL, e->line, "cannot compare %s with %s", type_name(x),
			         type_name(y));
			break;
		}
		bool v = op == OP_LT ? k < 0 : op == OP_GT ? k > 0 : op == OP_LE ? k <= 0 : k >= 0;
		*ret = json_boolean(v);
		break;
	}
	case OP_CONTAINS: {
		bool v;
		r = contains(c, x, y, e->line, &v);
		if (r >= 0)
			*ret = json_boolean(v);
		break;
	}
	case OP_CONCAT:
		r = concat_text(c, x, y, false, e->line, ret);
		break;
	case OP_RANGE:
		r = range_values(c, x, y, 1, e->line, ret);
		break;
	case OP_ADD:
	case OP_SUB:
		r = add_sub(c, op, x, y, e->line, ret);
		break;
	default:
		r = arith(c, op, x, y, e->line, ret);
		break;
	}
	json_decref(x);
	json_decref(y);
	if (r >= 0 && !*ret)
		return oom();
	return r;
}

static int call_filter(struct ctx *c, const struct expr *e, json_t **ret);
static int call_function(struct ctx *c, const struct expr *e, json_t **ret);
static int call_test(struct ctx *c, const struct expr *e, json_t **ret);
static int call_method(struct ctx *c, const struct expr *e, json_t **ret);

static int eval_access(struct ctx *c, const struct expr *e, bool soft, json_t **ret)
{
	json_t *base = NULL, *key = NULL, *v = NULL;
	const char *name = e->s;
	char idxname[32];
	int r;

	r = eval(c, e->a, soft, &base);
	if (r < 0)
		return r;
	if (!base) { /* soft, and undefined further up */
		*ret = NULL;
		return 0;
	}
	if (json_is_null(base)) {
		/* KESTRA: Pebble GetAttributeExpression on null: RootAttributeNotFoundException
		 * naming the variable when the object is one, else the attribute. */
		json_decref(base);
		if (soft) {
			*ret = NULL;
			return 0;
		}
		if (e->a->kind == E_VAR)
			return undefined_err(c, e->a->s, e->line);
		if (e->kind == E_ATTR)
			return undefined_err(c, e->s, e->line);
		r = eval(c, e->b, false, &key);
		if (r < 0)
			return r;
		json_t *k = NULL;
		r = to_string_value(c, key, e->line, &k);
		json_decref(key);
		if (r < 0)
			return r;
		r = undefined_err(c, json_string_value(k), e->line);
		json_decref(k);
		return r;
	}
	if (e->kind == E_INDEX) {
		r = eval(c, e->b, false, &key);
		if (r < 0) {
			json_decref(base);
			return r;
		}
	}
	if (key && json_is_string(key))
		name = json_string_value(key);
	if (json_is_object(base)) {
		if (name)
			v = json_object_get(base, name);
		else if (key && json_is_integer(key)) {
			snprintf(idxname, sizeof(idxname), "%" JSON_INTEGER_FORMAT,
			         json_integer_value(key));
			v = json_object_get(base, idxname);
			name = idxname;
		}
	} else if (json_is_array(base) && key && json_is_integer(key)) {
		json_int_t i = json_integer_value(key);
		if (i >= 0 && (uint64_t)i < json_array_size(base))
			v = json_array_get(base, (size_t)i);
		snprintf(idxname, sizeof(idxname), "%" JSON_INTEGER_FORMAT, i);
		name = idxname;
	} else if (json_is_array(base) && name &&
	           (strcmp(name, "size") == 0 || strcmp(name, "length") == 0)) {
		/* Pebble reads Java bean getters; a list's size is the one used in flows. */
		*ret = json_integer((json_int_t)json_array_size(base));
		json_decref(base);
		json_decref(key);
		return *ret ? 0 : oom();
	}
	if (!name) {
		snprintf(idxname, sizeof(idxname), "%s", key ? type_name(key) : "?");
		name = idxname;
	}
	if (v) {
		*ret = json_incref(v);
		r = 0;
	} else if (soft) {
		*ret = NULL;
		r = 0;
	} else {
		r = undefined_err(c, name, e->line);
	}
	json_decref(base);
	json_decref(key);
	return r;
}

/* A list or map literal. */
static int eval_collection(struct ctx *c, const struct expr *e, json_t **ret)
{
	json_t *v;
	int r;

	v = e->kind == E_LIST ? json_array() : json_object();
	if (!v)
		return oom();
	r = list_check(c, e->nargs, e->line);
	for (size_t i = 0; i < e->nargs && r >= 0; i++) {
		json_t *x, *y;
		r = eval(c, e->args[i], false, &x);
		if (r < 0)
			break;
		if (e->kind == E_LIST) {
			r = json_array_append_new(v, x) < 0 ? oom() : 0;
			continue;
		}
		r = eval(c, e->args[++i], false, &y);
		if (r < 0) {
			json_decref(x);
			break;
		}
		json_t *k;
		r = to_string_value(c, x, e->line, &k);
		json_decref(x);
		if (r >= 0) {
			r = json_object_setn_new_nocheck(v, json_string_value(k),
			                                 json_string_length(k), y) < 0
			        ? oom()
			        : 0;
			json_decref(k);
		} else {
			json_decref(y);
		}
	}
	if (r < 0) {
		json_decref(v);
		return r;
	}
	*ret = v;
	return 0;
}

static int eval_inner(struct ctx *c, const struct expr *e, bool soft, json_t **ret)
{
	json_t *v = NULL;
	int r;

	switch (e->kind) {
	case E_LIT_STR:
		v = json_stringn_nocheck(e->s, e->n);
		break;
	case E_LIT_INT:
		v = json_integer(e->i);
		break;
	case E_LIT_DBL:
		v = json_real(e->d);
		break;
	case E_LIT_BOOL:
		v = json_boolean(e->i);
		break;
	case E_LIT_NULL:
		v = json_null();
		break;
	case E_VAR:
		v = scope_get(c, e->s);
		if (!v) {
			if (soft) {
				*ret = NULL;
				return 0;
			}
			return undefined_err(c, e->s, e->line);
		}
		json_incref(v);
		break;
	case E_ATTR:
	case E_INDEX:
		return eval_access(c, e, soft, ret);
	case E_LIST:
	case E_MAP:
		return eval_collection(c, e, ret);
	case E_NEG:
		r = eval(c, e->a, false, &v);
		if (r < 0)
			return r;
		if (!is_number(v)) {
			r = fail(c, -EINVAL, e->line, "cannot negate %s", type_name(v));
			json_decref(v);
			return r;
		}
		{
			json_t *n =
			    json_is_integer(v)
			        ? json_integer((json_int_t)(0 - (uint64_t)json_integer_value(v)))
			        : json_real(-json_real_value(v));
			json_decref(v);
			v = n;
		}
		break;
	case E_NOT:
		r = eval(c, e->a, false, &v);
		if (r < 0)
			return r;
		{
			bool t = false;
			r = condition(c, v, e->line, "not()", &t);
			json_decref(v);
			if (r < 0)
				return r;
			v = json_boolean(!t);
		}
		break;
	case E_BIN:
		return eval_bin(c, e, soft, ret);
	case E_TERNARY:
		r = eval(c, e->a, false, &v);
		if (r < 0)
			return r;
		{
			bool t = false;
			r = condition(c, v, e->line, NULL, &t);
			json_decref(v);
			if (r < 0)
				return r;
			return eval(c, t ? e->b : e->c, false, ret);
		}
	case E_FILTER:
		return call_filter(c, e, ret);
	case E_FUNC:
		return call_function(c, e, ret);
	case E_TEST:
		return call_test(c, e, ret);
	case E_METHOD:
		return call_method(c, e, ret);
	case E_BODY:
		v = c->filter_body ? json_incref(c->filter_body) : json_null();
		break;
	case E_INTERP: {
		struct kwg_buf b;
		kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
		for (size_t i = 0; i < e->nargs; i++) {
			r = eval(c, e->args[i], false, &v);
			if (r >= 0) {
				r = json_is_null(v) ? 0 : java_text(&b, v, 0);
				json_decref(v);
				if (r < 0)
					r = size_err(c, r, e->line);
			}
			if (r < 0) {
				kwg_buf_done(&b);
				return r;
			}
		}
		return buf_value(c, &b, e->line, ret);
	}
	}
	if (!v)
		return oom();
	*ret = v;
	return 0;
}

static int eval(struct ctx *c, const struct expr *e, bool soft, json_t **ret)
{
	int r;

	if (++c->edepth > 2 * MAX_EXPR_DEPTH) {
		c->edepth--;
		return fail(c, -EINVAL, e->line, "expression nested too deeply");
	}
	r = step(c, e->line);
	if (r >= 0)
		r = eval_inner(c, e, soft, ret);
	c->edepth--;
	return r;
}

/* ==== tests ==== */

static int call_test(struct ctx *c, const struct expr *e, json_t **ret)
{
	json_t *v = NULL;
	bool soft = strcmp(e->s, "defined") == 0, res;
	int r;

	if (e->nargs)
		return fail(c, -EINVAL, e->line, "test '%s' takes no argument", e->s);
	r = soft ? eval_soft(c, e->a, &v) : eval(c, e->a, false, &v);
	if (r < 0)
		return r;
	if (soft) /* Pebble's DefinedTest is "not null": a null value is not defined */
		res = v != NULL && !json_is_null(v);
	else if (strcmp(e->s, "null") == 0 || strcmp(e->s, "none") == 0)
		res = json_is_null(v);
	else if (strcmp(e->s, "empty") == 0)
		res = is_empty(v);
	else if (strcmp(e->s, "even") == 0 || strcmp(e->s, "odd") == 0) {
		if (!json_is_integer(v)) {
			r = fail(c, -EINVAL, e->line, "test '%s' needs an integer, not %s", e->s,
			         type_name(v));
			json_decref(v);
			return r;
		}
		res = (json_integer_value(v) % 2 == 0) == (e->s[0] == 'e');
	} else if (strcmp(e->s, "iterable") == 0)
		res = json_is_array(v);
	else if (strcmp(e->s, "map") == 0)
		res = json_is_object(v);
	else if (strcmp(e->s, "json") == 0) {
		/* KESTRA: JsonTest: a string that parses as JSON. */
		res = false;
		if (json_is_string(v)) {
			json_t *j = json_loadb(json_string_value(v), json_string_length(v),
			                       JSON_DECODE_ANY, NULL);
			res = j != NULL;
			json_decref(j);
		}
	} else {
		json_decref(v);
		return fail(c, -EOPNOTSUPP, e->line, "unknown test '%s'", e->s);
	}
	json_decref(v);
	*ret = json_boolean(res != (e->op != 0));
	return 0;
}

/* ==== filters ==== */

typedef int filter_fn(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                      json_t **ret);

static int need_string(struct ctx *c, const struct expr *e, json_t *in)
{
	if (!json_is_string(in))
		return fail(c, -EINVAL, e->line, "filter '%s' needs a string, not %s", e->s,
		            type_name(in));
	return 0;
}

static int need_list(struct ctx *c, const struct expr *e, json_t *in)
{
	if (!json_is_array(in))
		return fail(c, -EINVAL, e->line, "filter '%s' needs a list, not %s", e->s,
		            type_name(in));
	return 0;
}

/* ---- Java regular expressions (protocol/jregex.h) ---- */

/* A compiled pattern from the render's small cache (a filter in a loop compiles once); borrowed,
 * valid until the render ends. */
static int get_regex(struct ctx *c, const struct expr *e, const char *pat, size_t len,
                     struct kwg_jregex **ret)
{
	struct kwg_jregex *re;
	struct kwg_err rerr;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(c->regex_cache); i++) {
		re = c->regex_cache[i];
		if (re && strlen(kwg_jregex_pattern(re)) == len &&
		    memcmp(kwg_jregex_pattern(re), pat, len) == 0) {
			*ret = re;
			return 0;
		}
	}
	r = kwg_jregex_new(pat, len, &re, &rerr);
	if (r == -ENOMEM)
		return oom();
	if (r < 0)
		return fail(c, r, e->line, "filter '%s': %s", e->s, rerr.msg);
	size_t slot = c->regex_next++ % ARRAY_SIZE(c->regex_cache);
	kwg_jregex_free(c->regex_cache[slot]);
	c->regex_cache[slot] = re;
	*ret = re;
	return 0;
}

struct regex_step {
	struct ctx *c;
	int line;
	bool stopped; /* the step budget ran out (c->err says so) */
};

static int regex_step(void *data)
{
	struct regex_step *rs = data;
	int r = step(rs->c, rs->line);
	rs->stopped = r < 0;
	return r;
}

/* A failure of kwg_jregex_*: the template's error, naming the filter. */
static int regex_err(struct ctx *c, const struct expr *e, int r, const struct regex_step *rs,
                     const struct kwg_err *rerr)
{
	if (rs->stopped)
		return r;
	if (r == -ENOMEM)
		return oom();
	if (r == -EMSGSIZE)
		return size_err(c, r, e->line);
	return fail(c, -EINVAL, e->line, "filter '%s': %s", e->s, rerr->msg);
}

typedef int str_fn(struct ctx *c, const struct expr *e, const char *s, size_t n, void *data,
                   json_t **ret);

/* fn over a value as Kestra's Replace/EscapeChar filters walk one: strings, each item of a
 * list, each value of a map, anything else as its toString(); null items stay null. */
static int map_strings(struct ctx *c, const struct expr *e, json_t *v, str_fn *fn, void *data,
                       int depth, json_t **ret)
{
	json_t *out = NULL, *x, *y;
	int r = 0;

	if (depth > 2 * MAX_EXPR_DEPTH + 2100)
		return fail(c, -EINVAL, e->line, "filter '%s': value nested too deeply", e->s);
	if (json_is_null(v)) {
		*ret = json_null();
		return 0;
	}
	if (json_is_array(v)) {
		size_t i;
		out = json_array();
		if (!out)
			return oom();
		json_array_foreach (v, i, x) {
			r = map_strings(c, e, x, fn, data, depth + 1, &y);
			if (r >= 0)
				r = json_array_append_new(out, y) < 0 ? oom() : 0;
			if (r < 0)
				break;
		}
	} else if (json_is_object(v)) {
		const char *k;
		out = json_object();
		if (!out)
			return oom();
		json_object_foreach (v, k, x) {
			r = map_strings(c, e, x, fn, data, depth + 1, &y);
			if (r >= 0)
				r = json_object_set_new_nocheck(out, k, y) < 0 ? oom() : 0;
			if (r < 0)
				break;
		}
	} else {
		json_t *s;
		r = to_string_value(c, v, e->line, &s);
		if (r < 0)
			return r;
		r = fn(c, e, json_string_value(s), json_string_length(s), data, ret);
		json_decref(s);
		return r;
	}
	if (r < 0) {
		json_decref(out);
		return r;
	}
	*ret = out;
	return 0;
}

/* KESTRA: Pebble UpperFilter/LowerFilter (String.toUpperCase/toLowerCase: full Unicode case
 * mapping), CapitalizeFilter/TitleFilter (Character.toTitleCase after Character.isWhitespace);
 * protocol/unicode.h. */
static int f_upper_lower(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret)
{
	bool up = e->s[0] == 'u';
	cleanup_free char *s = NULL;
	size_t n;
	int r = need_string(c, e, in);
	if (r < 0)
		return r;
	r = kwg_java_case(json_string_value(in), json_string_length(in), up, &s, &n);
	if (r < 0)
		return r == -ENOMEM ? oom() : fail(c, r, e->line, "filter '%s': not UTF-8", e->s);
	*ret = json_stringn_nocheck(s, n);
	return *ret ? 0 : oom();
}

static int f_capitalize_title(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                              json_t **ret)
{
	bool title = e->s[0] == 't';
	cleanup_free char *s = NULL;
	size_t n;
	int r = need_string(c, e, in);
	if (r < 0)
		return r;
	r = kwg_java_titlecase(json_string_value(in), json_string_length(in), title, &s, &n);
	if (r < 0)
		return r == -ENOMEM ? oom() : fail(c, r, e->line, "filter '%s': not UTF-8", e->s);
	*ret = json_stringn_nocheck(s, n);
	return *ret ? 0 : oom();
}

static int f_trim(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	int r = need_string(c, e, in);
	if (r < 0)
		return r;
	const char *s = json_string_value(in);
	size_t b = 0, n = json_string_length(in);
	while (b < n && (unsigned char)s[b] <= ' ')
		b++;
	while (n > b && (unsigned char)s[n - 1] <= ' ')
		n--;
	*ret = json_stringn_nocheck(s + b, n - b);
	return *ret ? 0 : oom();
}

static int f_length(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	size_t n = 0;
	/* KESTRA: Pebble LengthFilter: null and anything uncountable are 0 */
	if (json_is_string(in))
		n = kwg_utf16_units(json_string_value(in), json_string_length(in));
	else if (json_is_array(in))
		n = json_array_size(in);
	else if (json_is_object(in))
		n = json_object_size(in);
	*ret = json_integer((json_int_t)n);
	return *ret ? 0 : oom();
}

static int f_abs(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	if (json_is_integer(in)) {
		json_int_t v = json_integer_value(in);
		*ret = json_integer(v < 0 ? (json_int_t)(0 - (uint64_t)v) : v);
	} else if (json_is_real(in)) {
		*ret = json_real(fabs(json_real_value(in)));
	} else {
		return fail(c, -EINVAL, e->line, "filter 'abs' needs a number, not %s",
		            type_name(in));
	}
	return *ret ? 0 : oom();
}

static int f_default(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	json_t *d = arg(a, 0, "default");
	/* KESTRA: Pebble DefaultFilter: what EmptyTest calls empty takes the default. */
	if (is_empty(in))
		*ret = d ? json_incref(d) : json_null();
	else
		*ret = json_incref(in);
	return 0;
}

static int f_join(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const char *sep;
	struct kwg_buf b;
	size_t i;
	json_t *v;
	int r;

	if (json_is_null(in)) {
		*ret = json_null();
		return 0;
	}
	r = need_list(c, e, in);
	if (r < 0)
		return r;
	r = arg_str(c, a, "join", 0, "separator", false, &sep);
	if (r < 0)
		return r;
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	json_array_foreach (in, i, v) {
		if (i && sep)
			r = kwg_buf_puts(&b, sep);
		if (r >= 0)
			r = java_text(&b, v, 0);
		if (r < 0) {
			kwg_buf_done(&b);
			return size_err(c, r, e->line);
		}
	}
	return buf_value(c, &b, e->line, ret);
}

struct split_out {
	struct regex_step rs; /* first: kwg_jregex_split gives regex_step the same data */
	json_t *list;
};

static int split_piece(void *data, const char *p, size_t len)
{
	struct split_out *so = data;
	return json_array_append_new(so->list, json_stringn_nocheck(p, len)) < 0 ? oom() : 0;
}

static int f_split(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const char *sep;
	int64_t limit;
	struct kwg_jregex *re;
	struct kwg_err rerr;
	int r = need_string(c, e, in);
	if (r < 0)
		return r;
	r = arg_str(c, a, "split", 0, "delimiter", true, &sep);
	if (r < 0)
		return r;
	r = arg_int(c, a, "split", 1, "limit", false, 0, &limit);
	if (r < 0)
		return r;
	r = get_regex(c, e, sep, strlen(sep), &re);
	if (r < 0)
		return r;
	/* KESTRA: Pebble SplitFilter is Java's String.split(delimiter, limit): the delimiter is a
	 * regular expression; no leading empty piece for a zero-width match at 0; limit > 0 caps
	 * the pieces, 0 drops trailing empty pieces; no match gives the input. */
	struct split_out so = {{c, e->line, false}, json_array()};
	if (!so.list)
		return oom();
	r = kwg_jregex_split(re, json_string_value(in), json_string_length(in), (long long)limit,
	                     split_piece, regex_step, &so, &rerr);
	if (r < 0)
		r = regex_err(c, e, r, &so.rs, &rerr);
	if (r >= 0)
		r = list_check(c, json_array_size(so.list), e->line);
	if (r < 0) {
		json_decref(so.list);
		return r;
	}
	*ret = so.list;
	return 0;
}

static int f_first_last(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret)
{
	bool first = e->s[0] == 'f';
	if (json_is_array(in)) {
		size_t n = json_array_size(in);
		json_t *v = n ? json_array_get(in, first ? 0 : n - 1) : NULL;
		*ret = v ? json_incref(v) : json_null();
		return 0;
	}
	if (json_is_string(in)) {
		const char *s = json_string_value(in);
		size_t n = json_string_length(in), b, l;
		/* Pebble: charAt(0) / charAt(length - 1), an error on "" */
		if (!n)
			return fail(c, -EINVAL, e->line, "filter '%s': String index out of range",
			            e->s);
		if (first) {
			b = 0;
			for (l = 1; l < n && ((unsigned char)s[l] & 0xC0) == 0x80; l++)
				;
		} else {
			for (b = n - 1; b > 0 && ((unsigned char)s[b] & 0xC0) == 0x80; b--)
				;
			l = n - b;
		}
		*ret = json_stringn_nocheck(s + b, l);
		return *ret ? 0 : oom();
	}
	if (json_is_null(in)) {
		*ret = json_null();
		return 0;
	}
	return fail(c, -EINVAL, e->line, "filter '%s' needs a list or string, not %s", e->s,
	            type_name(in));
}

static int f_keys_values(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret)
{
	bool keys = e->s[0] == 'k';
	const char *k;
	json_t *v, *l;

	if (json_is_null(in)) {
		*ret = json_null();
		return 0;
	}
	/* KESTRA: KeysFilter also takes a list (its indexes); ValuesFilter only a map. */
	if (keys && json_is_array(in))
		return make_range(c, 0, (int64_t)json_array_size(in) - 1, 1, e->line, ret);
	if (!json_is_object(in))
		return fail(c, -EINVAL, e->line, "'%s' filter can only be applied to %s, not %s",
		            e->s, keys ? "List, Map" : "Map", type_name(in));
	l = json_array();
	if (!l)
		return oom();
	json_object_foreach (in, k, v) {
		if (json_array_append_new(l, keys ? json_string_nocheck(k) : json_incref(v)) < 0) {
			json_decref(l);
			return oom();
		}
	}
	*ret = l;
	return 0;
}

static int f_tojson(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	struct kwg_buf b;
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	int r = json_write(&b, in, 0);
	if (r < 0) {
		kwg_buf_done(&b);
		return size_err(c, r, e->line);
	}
	return buf_value(c, &b, e->line, ret);
}

/* Java's String.replaceAll(pat, rep): $n and ${name} groups, \\x a literal x. */
static int regex_replace(struct ctx *c, const struct expr *e, const char *s, size_t n,
                         const char *pat, const char *rep, struct kwg_buf *out)
{
	struct kwg_jregex *re;
	struct kwg_err rerr;
	struct regex_step rs = {c, e->line, false};
	int r = get_regex(c, e, pat, strlen(pat), &re);

	if (r < 0)
		return r;
	r = kwg_jregex_replace_all(re, s, n, rep, out, regex_step, &rs, &rerr);
	return r < 0 ? regex_err(c, e, r, &rs, &rerr) : 0;
}

struct replace_args {
	json_t *pairs;
	bool regexp;
};

static int replace_string(struct ctx *c, const struct expr *e, const char *s, size_t n, void *data,
                          json_t **ret)
{
	const struct replace_args *ra = data;
	json_t *cur = json_stringn_nocheck(s, n), *v;
	const char *k;
	int r = 0;

	if (!cur)
		return oom();
	/* KESTRA: ReplaceFilter.processString: each pair in order, String.replace or, with
	 * regexp, String.replaceAll (Java regex through PCRE2, protocol/jregex.h). */
	json_object_foreach (ra->pairs, k, v) {
		struct kwg_buf b;
		json_t *rep;
		kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
		r = to_string_value(c, v, e->line, &rep);
		if (r < 0)
			break;
		const char *p = json_string_value(cur), *end = p + json_string_length(cur), *m;
		const char *rs = json_string_value(rep);
		size_t kl = strlen(k), rl = json_string_length(rep);
		if (ra->regexp) {
			r = regex_replace(c, e, p, (size_t)(end - p), k, rs, &b);
		} else if (kl == 0) { /* Java: "abc".replace("", "-") is "-a-b-c-" */
			r = kwg_buf_append(&b, rs, rl);
			while (r >= 0 && p < end) {
				const char *q = p + 1;
				while (q < end && ((unsigned char)*q & 0xC0) == 0x80)
					q++;
				r = kwg_buf_append(&b, p, (size_t)(q - p));
				if (r >= 0)
					r = kwg_buf_append(&b, rs, rl);
				p = q;
			}
		} else {
			while (r >= 0 && (m = memmem(p, (size_t)(end - p), k, kl))) {
				r = kwg_buf_append(&b, p, (size_t)(m - p));
				if (r >= 0)
					r = kwg_buf_append(&b, rs, rl);
				p = m + kl;
			}
			if (r >= 0)
				r = kwg_buf_append(&b, p, (size_t)(end - p));
		}
		json_decref(rep);
		if (r < 0) {
			kwg_buf_done(&b);
			if (!ra->regexp) /* regex_replace's errors are final */
				r = size_err(c, r, e->line);
			break;
		}
		json_decref(cur);
		r = buf_value(c, &b, e->line, &cur);
		if (r < 0) {
			cur = NULL;
			break;
		}
	}
	if (r < 0) {
		json_decref(cur);
		return r;
	}
	*ret = cur;
	return 0;
}

static int f_replace(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	struct replace_args ra = {arg(a, 0, "replace_pairs"), arg_bool(a, 1, "regexp", false)};

	if (!ra.pairs || json_is_null(ra.pairs))
		return fail(c, -EINVAL, e->line, "The argument 'replace_pairs' is required.");
	if (!json_is_object(ra.pairs))
		return fail(c, -EINVAL, e->line,
		            "filter 'replace' needs a map of replacements, not %s",
		            type_name(ra.pairs));
	return map_strings(c, e, in, replace_string, &ra, 0, ret);
}

/* KESTRA: RegexMatchFilter, RegexExtractFilter, RegexReplaceFilter (Kestra 1.x, read @
 * 3bd5dd62): Matcher.find(), the first match's group, Matcher.replaceAll on toString(). */
static int regex_arg(struct ctx *c, const struct expr *e, struct args *a, json_t *in,
                     struct kwg_jregex **ret_re, json_t **ret_text)
{
	json_t *rx = arg(a, 0, "regex"), *p;
	int r;

	if (!rx || json_is_null(rx))
		return fail(c, -EINVAL, e->line, "The argument 'regex' is required.");
	r = to_string_value(c, rx, e->line, &p);
	if (r < 0)
		return r;
	r = get_regex(c, e, json_string_value(p), json_string_length(p), ret_re);
	json_decref(p);
	if (r < 0)
		return r;
	return to_string_value(c, in, e->line, ret_text);
}

static int f_regex_match(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret)
{
	struct kwg_jregex *re;
	struct kwg_jregex_iter it;
	struct kwg_err rerr;
	struct regex_step rs = {c, e->line, false};
	json_t *text;
	int r;

	if (json_is_null(in)) { /* RegexMatchFilter: null is false */
		*ret = json_false();
		return 0;
	}
	r = regex_arg(c, e, a, in, &re, &text);
	if (r < 0)
		return r;
	kwg_jregex_iter_init(&it, re, json_string_value(text), json_string_length(text));
	r = kwg_jregex_find(&it, &rerr);
	json_decref(text);
	if (r < 0)
		return regex_err(c, e, r, &rs, &rerr);
	*ret = json_boolean(r > 0);
	return 0;
}

static int f_regex_extract(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                           json_t **ret)
{
	struct kwg_jregex *re;
	struct kwg_jregex_iter it;
	struct kwg_err rerr;
	struct regex_step rs = {c, e->line, false};
	json_t *text, *g = arg(a, 1, "group");
	int64_t group = 0;
	size_t gs, ge;
	int r;

	if (g && !json_is_null(g)) {
		if (!is_number(g))
			return fail(c, -EINVAL, e->line,
			            "filter 'regexExtract': group must be a number, not %s",
			            type_name(g));
		group = json_is_integer(g) ? json_integer_value(g) : (int64_t)json_real_value(g);
	}
	r = regex_arg(c, e, a, in, &re, &text);
	if (r < 0)
		return r;
	kwg_jregex_iter_init(&it, re, json_string_value(text), json_string_length(text));
	r = kwg_jregex_find(&it, &rerr);
	if (r < 0) {
		json_decref(text);
		return regex_err(c, e, r, &rs, &rerr);
	}
	if (r == 0) {
		json_decref(text);
		*ret = json_null();
		return 0;
	}
	if (group < 0 || (uint64_t)group > kwg_jregex_groups(re)) {
		json_decref(text);
		return fail(c, -EINVAL, e->line, "filter 'regexExtract': No group %" PRId64, group);
	}
	if (kwg_jregex_group(re, (size_t)group, &gs, &ge))
		*ret = json_stringn_nocheck(json_string_value(text) + gs, ge - gs);
	else
		*ret = json_null();
	json_decref(text);
	return *ret ? 0 : oom();
}

static int f_regex_replace(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                           json_t **ret)
{
	struct kwg_jregex *re;
	struct kwg_err rerr;
	struct regex_step rs = {c, e->line, false};
	struct kwg_buf b;
	json_t *text, *rep = arg(a, 1, "replacement"), *reps;
	int r;

	if (!arg(a, 0, "regex") || json_is_null(arg(a, 0, "regex")))
		return fail(c, -EINVAL, e->line, "The argument 'regex' is required.");
	if (!rep || json_is_null(rep))
		return fail(c, -EINVAL, e->line, "The argument 'replacement' is required.");
	r = regex_arg(c, e, a, in, &re, &text);
	if (r < 0)
		return r;
	r = to_string_value(c, rep, e->line, &reps);
	if (r < 0) {
		json_decref(text);
		return r;
	}
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	r = kwg_jregex_replace_all(re, json_string_value(text), json_string_length(text),
	                           json_string_value(reps), &b, regex_step, &rs, &rerr);
	json_decref(text);
	json_decref(reps);
	if (r < 0) {
		kwg_buf_done(&b);
		return regex_err(c, e, r, &rs, &rerr);
	}
	return buf_value(c, &b, e->line, ret);
}

static int f_slugify(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	cleanup_free char *slug = NULL;
	int r = need_string(c, e, in);

	if (r < 0)
		return r;
	/* The same Slugify as Kestra's storage paths (protocol/storage_path.c). */
	slug = kwg_slugify(json_string_value(in));
	if (!slug)
		return oom();
	*ret = json_string(slug);
	return *ret ? 0 : oom();
}

static int parse_number(const char *s, json_t **ret)
{
	char *end;
	if (!*s || is_ws(*s))
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

static int f_number(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const char *type, *s;
	char *end;
	int r;

	/* KESTRA: NumberFilter: a string only; INT, LONG, BIGINTEGER, FLOAT, DOUBLE, BIGDECIMAL
	 * (case-sensitive, Apache NumberUtils.create*), anything else createNumber. */
	if (!json_is_string(in))
		return fail(c, -EINVAL, e->line,
		            "'number' filter can only be applied to String. Actual type was: %s",
		            type_name(in));
	r = arg_str(c, a, "number", 0, "type", false, &type);
	if (r < 0)
		return r;
	s = json_string_value(in);
	if (type &&
	    (!strcmp(type, "INT") || !strcmp(type, "LONG") || !strcmp(type, "BIGINTEGER"))) {
		errno = 0;
		long long v = *s && !is_ws(*s) ? strtoll(s, &end, 0) : 0;
		if (!*s || is_ws(*s) || errno || *end ||
		    (!strcmp(type, "INT") && (v < INT32_MIN || v > INT32_MAX)))
			return fail(c, -EINVAL, e->line, "filter 'number': '%.64s' is not a %s", s,
			            type);
		*ret = json_integer(v);
	} else if (type && (!strcmp(type, "FLOAT") || !strcmp(type, "DOUBLE") ||
	                    !strcmp(type, "BIGDECIMAL"))) {
		double d = *s && !is_ws(*s) ? strtod(s, &end) : 0;
		if (!*s || is_ws(*s) || (*end && strchr("fFdD", *end) && !end[1] ? false : *end))
			return fail(c, -EINVAL, e->line, "filter 'number': '%.64s' is not a %s", s,
			            type);
		*ret = json_real(d);
	} else if (parse_number(s, ret) < 0) {
		return fail(c, -EINVAL, e->line, "filter 'number': '%.64s' is not a number", s);
	}
	return *ret ? 0 : oom();
}

static int f_starts_ends(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret)
{
	json_t *s = NULL, *x = NULL, *xv = arg(a, 0, "value");
	int r;

	/* KESTRA: Starts/EndsWithFilter: input.toString(), value.toString() */
	if (!xv)
		return fail(c, -EINVAL, e->line, "filter '%s' needs its 'value' argument", e->s);
	r = to_string_value(c, in, e->line, &s);
	if (r >= 0)
		r = to_string_value(c, xv, e->line, &x);
	if (r >= 0) {
		size_t n = json_string_length(s), k = json_string_length(x);
		const char *p = json_string_value(s);
		*ret = json_boolean(
		    k <= n && memcmp(e->s[0] == 's' ? p : p + n - k, json_string_value(x), k) == 0);
	}
	json_decref(s);
	json_decref(x);
	return r;
}

static const char *rmemmem(const char *s, size_t n, const char *x, size_t k)
{
	if (k > n)
		return NULL;
	for (size_t i = n - k + 1; i-- > 0;)
		if (memcmp(s + i, x, k) == 0)
			return s + i;
	return NULL;
}

static int f_substring(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret)
{
	const char *x;
	json_t *str;
	bool before = strncmp(e->s, "substringBefore", 15) == 0;
	bool last = e->s[strlen(e->s) - 1] == 't';
	int r = arg_str(c, a, e->s, 0, "separator", true, &x);
	if (r < 0)
		return r;
	r = to_string_value(c, in, e->line, &str);
	if (r < 0)
		return r;
	/* KESTRA: Apache StringUtils.substring*(input.toString(), separator): not found →
	 * Before* keep the whole string, After* give "". */
	const char *s = json_string_value(str);
	size_t n = json_string_length(str), k = strlen(x);
	const char *m = last ? rmemmem(s, n, x, k) : memmem(s, n, x, k);
	if (!k && !last)
		m = s;
	if (!k && last)
		m = s + n;
	if (before)
		*ret = json_stringn_nocheck(s, m ? (size_t)(m - s) : n);
	else if (!m || (last && !k))
		*ret = json_string("");
	else
		*ret = json_stringn_nocheck(m + k, n - (size_t)(m - s) - k);
	json_decref(str);
	return *ret ? 0 : oom();
}

static int f_indent(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	int64_t amount;
	const char *prefix, *sep;
	bool nindent = e->s[0] == 'n';
	struct kwg_buf b, pad;
	json_t *str;
	int r;

	r = to_string_value(c, in, e->line, &str);
	if (r < 0)
		return r;
	const char *s = json_string_value(str), *end = s + json_string_length(str);
	if (s == end) {
		*ret = str;
		return 0;
	}
	r = arg_int(c, a, e->s, 0, "amount", true, 0, &amount);
	if (r >= 0)
		r = arg_str(c, a, e->s, 1, "prefix", false, &prefix);
	if (r >= 0 && (amount < 0 || amount > 4096))
		r = fail(c, -EINVAL, e->line,
		         "The '%s' filter expects a positive integer >=0 as argument 'amount'.",
		         e->s);
	if (r < 0) {
		json_decref(str);
		return r;
	}
	/* KESTRA: AbstractIndent: the input's line separator (CRLF, LFCR, LF, CR, else the
	 * system's); indent puts the pad after each separator, nindent first adds one. */
	if (memmem(s, (size_t)(end - s), "\r\n", 2))
		sep = "\r\n";
	else if (memmem(s, (size_t)(end - s), "\n\r", 2))
		sep = "\n\r";
	else if (memchr(s, '\n', (size_t)(end - s)))
		sep = "\n";
	else if (memchr(s, '\r', (size_t)(end - s)))
		sep = "\r";
	else
		sep = "\n";
	size_t sl = strlen(sep);
	kwg_buf_init(&pad, KWG_TEMPLATE_MAX_OUTPUT);
	for (int64_t i = 0; i < amount && r >= 0; i++)
		r = kwg_buf_puts(&pad, prefix ? prefix : " ");
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	if (r >= 0 && nindent) {
		r = kwg_buf_puts(&b, sep);
		if (r >= 0)
			r = kwg_buf_append(&b, kwg_buf_str(&pad), pad.len);
	}
	while (r >= 0 && s < end) {
		const char *m = memmem(s, (size_t)(end - s), sep, sl);
		const char *pe = m ? m + sl : end;
		r = kwg_buf_append(&b, s, (size_t)(pe - s));
		if (r >= 0 && m)
			r = kwg_buf_append(&b, kwg_buf_str(&pad), pad.len);
		s = pe;
	}
	kwg_buf_done(&pad);
	json_decref(str);
	if (r < 0) {
		kwg_buf_done(&b);
		return size_err(c, r, e->line);
	}
	return buf_value(c, &b, e->line, ret);
}

static int f_digest(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const EVP_MD *md = e->s[0] == 'm'                ? EVP_md5()
	                   : strcmp(e->s, "sha1") == 0   ? EVP_sha1()
	                   : strcmp(e->s, "sha256") == 0 ? EVP_sha256()
	                                                 : EVP_sha512();
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hn = 0;
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	json_t *s;
	int r = to_string_value(c, in, e->line, &s);

	if (r < 0)
		return r;
	if (!EVP_Digest(json_string_value(s), json_string_length(s), h, &hn, md, NULL)) {
		json_decref(s);
		return fail(c, -EINVAL, e->line, "filter '%s' failed", e->s);
	}
	json_decref(s);
	for (unsigned int i = 0; i < hn; i++)
		snprintf(hex + 2 * i, 3, "%02x", h[i]);
	*ret = json_string(hex);
	return *ret ? 0 : oom();
}

static int f_urlencode(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret)
{
	struct kwg_buf b;
	int r = need_string(c, e, in);
	if (r < 0)
		return r;
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	const unsigned char *s = (const unsigned char *)json_string_value(in);
	size_t n = json_string_length(in);
	if (e->s[3] == 'e') { /* Java URLEncoder.encode(s, UTF-8) */
		for (size_t i = 0; i < n && r >= 0; i++) {
			if (isalnum(s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '*' ||
			    s[i] == '_')
				r = kwg_buf_putc(&b, (char)s[i]);
			else if (s[i] == ' ')
				r = kwg_buf_putc(&b, '+');
			else
				r = kwg_buf_printf(&b, "%%%02X", s[i]);
		}
	} else { /* URLDecoder.decode */
		for (size_t i = 0; i < n && r >= 0; i++) {
			if (s[i] == '+') {
				r = kwg_buf_putc(&b, ' ');
			} else if (s[i] == '%') {
				unsigned int v;
				char hx[3] = {0};
				if (i + 2 >= n + 0 || !isxdigit(s[i + 1]) || !isxdigit(s[i + 2])) {
					kwg_buf_done(&b);
					return fail(c, -EINVAL, e->line,
					            "filter 'urldecode': bad escape at byte %zu",
					            i);
				}
				hx[0] = (char)s[i + 1];
				hx[1] = (char)s[i + 2];
				sscanf(hx, "%x", &v);
				r = kwg_buf_putc(&b, (char)v);
				i += 2;
			} else {
				r = kwg_buf_putc(&b, (char)s[i]);
			}
		}
	}
	if (r < 0) {
		kwg_buf_done(&b);
		return size_err(c, r, e->line);
	}
	return buf_value(c, &b, e->line, ret);
}

static int f_abbreviate(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret)
{
	int64_t w;
	int r = need_string(c, e, in);
	if (r < 0)
		return r;
	r = arg_int(c, a, "abbreviate", 0, "length", true, 0, &w);
	if (r < 0)
		return r;
	if (w < 0)
		return fail(c, -EINVAL, e->line,
		            "Invalid argument to abbreviate filter; must be greater than zero");
	const char *s = json_string_value(in);
	size_t n = json_string_length(in), len = kwg_utf16_units(s, n);
	/* KESTRA: Pebble AbbreviateFilter: shorter than length, or 3 chars or fewer: as is;
	 * length 3 or less: cut; else the first length-3 chars and "...". */
	if (len < (uint64_t)w || len <= 3) {
		*ret = json_incref(in);
		return 0;
	}
	struct kwg_buf b;
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	r = kwg_buf_append(&b, s, kwg_utf16_offset(s, n, w <= 3 ? (size_t)w : (size_t)w - 3));
	if (r >= 0 && w > 3)
		r = kwg_buf_puts(&b, "...");
	if (r < 0) {
		kwg_buf_done(&b);
		return r;
	}
	return buf_value(c, &b, e->line, ret);
}

static int sort_cmp(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int k = compare_values(a, b);
	return k == -2 ? 0 : k;
}

static int f_sort(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	bool desc = e->s[0] == 'r';
	int r = need_list(c, e, in);
	if (r < 0)
		return r;
	size_t n = json_array_size(in);
	for (size_t i = 1; i < n; i++)
		if (compare_values(json_array_get(in, 0), json_array_get(in, i)) == -2)
			return fail(c, -EINVAL, e->line, "filter '%s': items cannot be compared",
			            e->s);
	r = list_check(c, n, e->line);
	if (r < 0)
		return r;
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return oom();
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(in, i);
	qsort(v, n, sizeof(*v), sort_cmp);
	json_t *l = json_array();
	for (size_t i = 0; l && i < n; i++)
		if (json_array_append(l, v[desc ? n - 1 - i : i]) < 0) {
			json_decref(l);
			l = NULL;
		}
	free(v);
	if (!l)
		return oom();
	*ret = l;
	return 0;
}

static int f_reverse(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	if (json_is_string(in)) {
		size_t n = json_string_length(in);
		const char *s = json_string_value(in);
		char *o = malloc(n + 1);
		if (!o)
			return oom();
		/* reverse by code points */
		size_t k = 0;
		for (size_t i = n; i > 0;) {
			size_t j = i - 1;
			while (j > 0 && ((unsigned char)s[j] & 0xC0) == 0x80)
				j--;
			memcpy(o + k, s + j, i - j);
			k += i - j;
			i = j;
		}
		*ret = json_stringn_nocheck(o, n);
		free(o);
		return *ret ? 0 : oom();
	}
	int r = need_list(c, e, in);
	if (r < 0)
		return r;
	json_t *l = json_array();
	size_t n = json_array_size(in);
	for (size_t i = 0; l && i < n; i++)
		if (json_array_append(l, json_array_get(in, n - 1 - i)) < 0) {
			json_decref(l);
			l = NULL;
		}
	if (!l)
		return oom();
	*ret = l;
	return 0;
}

static int f_slice(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	int64_t from, to, len;
	int r;

	if (json_is_string(in))
		len = (int64_t)kwg_utf16_units(json_string_value(in), json_string_length(in));
	else if (json_is_array(in))
		len = (int64_t)json_array_size(in);
	else
		return fail(
		    c, -EINVAL, e->line,
		    "Slice filter can only be applied to String, List and array inputs, not %s",
		    type_name(in));
	r = arg_int(c, a, "slice", 0, "fromIndex", false, 0, &from);
	if (r >= 0)
		r = arg_int(c, a, "slice", 1, "toIndex", false, -1, &to);
	if (r < 0)
		return r;
	/* KESTRA: Pebble SliceFilter bounds */
	if (from < 0)
		return fail(c, -EINVAL, e->line, "fromIndex must be greater than 0");
	if (to != -1 || arg(a, 1, "toIndex")) {
		if (to > len)
			return fail(c, -EINVAL, e->line,
			            "toIndex must be smaller than input size: %" PRId64, len);
		if (from >= to)
			return fail(c, -EINVAL, e->line, "toIndex must be greater than fromIndex");
	} else {
		to = len;
	}
	if (from > to)
		return fail(c, -EINVAL, e->line,
		            "fromIndex %" PRId64 " out of bounds for length %" PRId64, from, len);
	if (json_is_string(in)) {
		const char *s = json_string_value(in);
		/* String.substring: UTF-16 indexes */
		size_t n = json_string_length(in), b = kwg_utf16_offset(s, n, (size_t)from);
		*ret = json_stringn_nocheck(s + b, kwg_utf16_offset(s, n, (size_t)to) - b);
		return *ret ? 0 : oom();
	}
	json_t *l = json_array();
	for (int64_t i = from; l && i < to; i++)
		if (json_array_append(l, json_array_get(in, (size_t)i)) < 0) {
			json_decref(l);
			l = NULL;
		}
	if (!l)
		return oom();
	*ret = l;
	return 0;
}

static int f_merge(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	json_t *o = arg(a, 0, "items");
	int r;

	if (json_is_object(in) && json_is_object(o)) {
		json_t *m = json_copy(in);
		if (!m || json_object_update(m, o) < 0) {
			json_decref(m);
			return oom();
		}
		*ret = m;
		return 0;
	}
	if (json_is_array(in) && (json_is_array(o) || o)) {
		r = list_check(c, json_array_size(in) + (json_is_array(o) ? json_array_size(o) : 1),
		               e->line);
		if (r < 0)
			return r;
		json_t *l = json_copy(in);
		if (!l ||
		    (json_is_array(o) ? json_array_extend(l, o) : json_array_append(l, o)) < 0) {
			json_decref(l);
			return oom();
		}
		*ret = l;
		return 0;
	}
	return fail(c, -EINVAL, e->line, "filter 'merge' cannot merge %s with %s", type_name(in),
	            type_name(o));
}

static int f_chunk(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	int64_t size;
	int r = need_list(c, e, in);
	if (r < 0)
		return r;
	r = arg_int(c, a, "chunk", 0, "size", true, 0, &size);
	if (r < 0)
		return r;
	if (size <= 0)
		return fail(c, -EINVAL, e->line, "filter 'chunk': size must be positive");
	json_t *l = json_array(), *cur = NULL;
	size_t i;
	json_t *v;
	if (!l)
		return oom();
	json_array_foreach (in, i, v) {
		if (i % (uint64_t)size == 0) {
			cur = json_array();
			if (!cur || json_array_append_new(l, cur) < 0) {
				json_decref(l);
				return oom();
			}
		}
		if (json_array_append(cur, v) < 0) {
			json_decref(l);
			return oom();
		}
	}
	*ret = l;
	return 0;
}

static int f_flatten(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	size_t i;
	json_t *v;
	int r = need_list(c, e, in);
	if (r < 0)
		return r;
	json_t *l = json_array();
	if (!l)
		return oom();
	json_array_foreach (in, i, v) {
		r = json_is_array(v) ? json_array_extend(l, v) : json_array_append(l, v);
		if (r >= 0)
			r = list_check(c, json_array_size(l), e->line);
		if (r < 0) {
			json_decref(l);
			return r == -1 ? oom() : r;
		}
	}
	*ret = l;
	return 0;
}

static int escape_string(struct ctx *c, const struct expr *e, const char *s, size_t n, void *data,
                         json_t **ret)
{
	const char *const *fr = data; /* {find, replacement} */
	struct kwg_buf b;
	int r = 0;

	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	for (size_t i = 0; i < n && r >= 0; i++)
		r = s[i] == *fr[0] ? kwg_buf_puts(&b, fr[1]) : kwg_buf_putc(&b, s[i]);
	if (r < 0) {
		kwg_buf_done(&b);
		return size_err(c, r, e->line);
	}
	return buf_value(c, &b, e->line, ret);
}

static int f_escape_char(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret)
{
	const char *type, *fr[2];
	int r = arg_str(c, a, "escapeChar", 0, "type", true, &type);
	if (r < 0)
		return r;
	/* KESTRA: EscapeCharFilter (type case-insensitive): single ' → \', double " → \",
	 * shell ' → '\''; lists and maps are escaped item by item. */
	if (!strcasecmp(type, "single")) {
		fr[0] = "'";
		fr[1] = "\\'";
	} else if (!strcasecmp(type, "double")) {
		fr[0] = "\"";
		fr[1] = "\\\"";
	} else if (!strcasecmp(type, "shell")) {
		fr[0] = "'";
		fr[1] = "'\\''";
	} else {
		return fail(c, -EINVAL, e->line,
		            "The 'escapeChar' filter expects the value of 'type' to be either "
		            "'single', 'double', or 'shell'.");
	}
	return map_strings(c, e, in, escape_string, fr, 0, ret);
}

/* The Java class Kestra would see for v (NULL for null). */
static const char *java_class(const json_t *v)
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

/* KESTRA: DistinctFilter: a list without repeats (Java equals: 1 and 1.0 differ), first
 * occurrence kept; null is the string "null". */
static int f_distinct(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	json_t *l, *v;
	size_t i;

	if (json_is_null(in)) {
		*ret = json_string("null");
		return *ret ? 0 : oom();
	}
	if (!json_is_array(in))
		return fail(c, -EINVAL, e->line, "Input must be a list, but received : %s",
		            java_class(in));
	l = json_array();
	if (!l)
		return oom();
	json_array_foreach (in, i, v) {
		bool seen = false;
		for (size_t j = 0; j < json_array_size(l) && !seen; j++) {
			int r = step(c, e->line);
			if (r < 0) {
				json_decref(l);
				return r;
			}
			seen = json_equal(json_array_get(l, j), v);
		}
		if (!seen && json_array_append(l, v) < 0) {
			json_decref(l);
			return oom();
		}
	}
	*ret = l;
	return 0;
}

/* KESTRA: CondenseStringFilter: a string without its '\n' characters. */
static int f_condense(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	if (!json_is_string(in))
		return fail(c, -EINVAL, e->line, "condense can only be applied on strings");
	const char *s = json_string_value(in);
	size_t n = json_string_length(in), k = 0;
	char *out = malloc(n + 1);
	if (!out)
		return oom();
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\n')
			out[k++] = s[i];
	*ret = json_stringn_nocheck(out, k);
	free(out);
	return *ret ? 0 : oom();
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
		if (is_digit(*p)) {
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
		for (; p < end && is_digit(*p); p++) {
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
static int f_string(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	struct kwg_buf b;
	int r;

	if (is_number(in))
		return to_string_value(c, in, e->line, ret);
	if (!json_is_string(in))
		return fail(
		    c, -EINVAL, e->line,
		    "'string' filter expects a Number (INT, FLOAT, DOUBLE, etc.) or numeric "
		    "String. Received: %s",
		    java_class(in));
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	r = big_decimal_text(json_string_value(in), json_string_length(in), &b);
	if (r == -EINVAL) {
		kwg_buf_done(&b);
		return fail(c, r, e->line,
		            "'string' filter expects a valid number. Received an invalid numeric "
		            "string: %.200s",
		            json_string_value(in));
	}
	if (r < 0) {
		kwg_buf_done(&b);
		return size_err(c, r, e->line);
	}
	return buf_value(c, &b, e->line, ret);
}

static int f_class_name(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret)
{
	const char *n = java_class(in);
	*ret = n ? json_string(n) : json_null();
	return *ret ? 0 : oom();
}

/* ---- jq (libjq 1.6) ---- */

/* word appears in s as a jq keyword would (not inside a longer name). */
static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
		bool before = p == s || !(is_name_start(p[-1]) || is_digit(p[-1]) || p[-1] == '$');
		bool after = !(is_name_start(p[n]) || is_digit(p[n]));
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

static int f_jq(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err jerr = {{0}};
	cleanup_free char *results = NULL;
	const char *prog;
	struct kwg_buf txt;
	json_t *l;
	int r;

	r = arg_str(c, a, "jq", 0, "expression", true, &prog);
	if (r < 0)
		return r;
	/* SECURITY: no environment ($ENV, env), no modules, no stderr side channel. */
	if (strstr(prog, "$ENV") || has_word(prog, "import") || has_word(prog, "include") ||
	    strstr(prog, "$__"))
		return fail(c, -EOPNOTSUPP, e->line,
		            "filter 'jq': $ENV, modules and $__ variables are not available");
	kwg_buf_init(&txt, KWG_TEMPLATE_MAX_OUTPUT);
	/* KESTRA: JqFilter (kestra-io/kestra develop, 2025) reads a string input as JSON text (an
	 * error when it is not), other values as their JSON; a null input gives null. */
	if (json_is_string(in)) {
		json_t *p = json_loadb(json_string_value(in), json_string_length(in),
		                       JSON_DECODE_ANY, NULL);
		if (!p) {
			kwg_buf_done(&txt);
			return fail(c, -EINVAL, e->line, "Unable to parse jq value '%.64s'",
			            json_string_value(in));
		}
		r = json_write(&txt, p, 0);
		json_decref(p);
	} else {
		r = json_write(&txt, in, 0);
	}
	if (r < 0) {
		kwg_buf_done(&txt);
		return size_err(c, r, e->line);
	}
	/* The worker runs jq away from its loop, with a deadline (an endless program is the flow
	 * author's to write); without the hook it runs here. */
	r = h && h->jq ? h->jq(h->userdata, prog, kwg_buf_str(&txt), &results, &jerr)
	               : kwg_template_jq(prog, kwg_buf_str(&txt), &results, &jerr);
	kwg_buf_done(&txt);
	if (r == -ENOMEM)
		return oom();
	if (r < 0)
		return fail(c, r == -EMSGSIZE ? -EMSGSIZE : -EINVAL, e->line, "filter 'jq': %s",
		            jerr.msg);
	l = json_loads(results, JSON_DECODE_ANY, NULL);
	if (!json_is_array(l)) {
		json_decref(l);
		return fail(c, -EINVAL, e->line, "filter 'jq': cannot read its results");
	}
	r = list_check(c, json_array_size(l), e->line);
	if (r < 0) {
		json_decref(l);
		return r;
	}
	*ret = l;
	return 0;
}

/* ---- dates (protocol/datetime.h) ---- */

static int to_datetime(struct ctx *c, const struct expr *e, json_t *in, const char *existing,
                       const char *zone, struct kwg_datetime *d)
{
	struct kwg_err derr = {{0}};
	int r;

	if (json_is_integer(in)) {
		kwg_datetime_from_epoch(json_integer_value(in), 0, d);
		return 0;
	}
	if (json_is_real(in)) {
		double s = floor(json_real_value(in));
		if (!(fabs(s) < 9e15))
			return fail(c, -EINVAL, e->line, "filter '%s': date out of range", e->s);
		kwg_datetime_from_epoch((int64_t)s, (int32_t)((json_real_value(in) - s) * 1e9), d);
		return 0;
	}
	if (!json_is_string(in))
		return fail(c, -EINVAL, e->line, "filter '%s' needs a date, not %s", e->s,
		            type_name(in));
	r = kwg_datetime_parse(json_string_value(in), existing, zone, d, &derr);
	if (r < 0)
		return fail(c, r, e->line, "%s: %s", e->s, derr.msg);
	return 0;
}

static int format_date(struct ctx *c, const struct expr *e, const struct kwg_datetime *d,
                       const char *format, const char *zone, json_t **ret)
{
	struct kwg_err derr = {{0}};
	char *s = NULL;
	int r = kwg_datetime_format(d, format, zone, &s, &derr);
	if (r < 0)
		return r == -ENOMEM ? r : fail(c, r, e->line, "%s: %s", e->s, derr.msg);
	*ret = json_string_nocheck(s);
	free(s);
	return *ret ? 0 : oom();
}

static int f_date(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const char *format, *zone, *existing;
	struct kwg_datetime d;
	int r;

	r = arg_str(c, a, "date", 0, "format", false, &format);
	if (r >= 0)
		r = arg_str(c, a, "date", 1, "timeZone", false, &zone);
	if (r >= 0)
		r = arg_str(c, a, "date", 2, "existingFormat", false, &existing);
	if (r >= 0)
		r = to_datetime(c, e, in, existing, zone, &d);
	if (r < 0)
		return r;
	return format_date(c, e, &d, format, zone, ret);
}

static int f_date_add(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const char *unit, *format, *zone, *existing;
	struct kwg_datetime d, d2;
	struct kwg_err derr = {{0}};
	int64_t amount;
	int r;

	r = arg_int(c, a, "dateAdd", 0, "amount", true, 0, &amount);
	if (r >= 0)
		r = arg_str(c, a, "dateAdd", 1, "unit", true, &unit);
	if (r >= 0)
		r = arg_str(c, a, "dateAdd", 2, "format", false, &format);
	if (r >= 0)
		r = arg_str(c, a, "dateAdd", 3, "timeZone", false, &zone);
	if (r >= 0)
		r = arg_str(c, a, "dateAdd", 4, "existingFormat", false, &existing);
	if (r >= 0)
		r = to_datetime(c, e, in, existing, zone, &d);
	if (r < 0)
		return r;
	r = kwg_datetime_add(&d, amount, unit, &d2, &derr);
	if (r < 0)
		return fail(c, r, e->line, "dateAdd: %s", derr.msg);
	return format_date(c, e, &d2, format, zone, ret);
}

static int f_timestamp(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret)
{
	const char *zone, *existing;
	struct kwg_datetime d;
	int r;

	r = arg_str(c, a, e->s, 0, "timeZone", false, &zone);
	if (r >= 0)
		r = arg_str(c, a, e->s, 1, "existingFormat", false, &existing);
	if (r >= 0)
		r = to_datetime(c, e, in, existing, zone, &d);
	if (r < 0)
		return r;
	/* KESTRA: TimestampFilter and TimestampMilliFilter give a Long (toEpochSecond,
	 * toEpochMilli); TimestampMicroFilter and TimestampNanoFilter a String, and Micro's is
	 * SECONDS.toNanos(epochSecond) + NANOSECONDS.toMicros(nano), nanoseconds plus
	 * microseconds, as Kestra computes it (Java long arithmetic: wraps). */
	uint64_t s9 = (uint64_t)d.epoch_s * 1000000000u;
	if (!strcmp(e->s, "timestampMicro") || !strcmp(e->s, "timestampNano")) {
		char num[32];
		uint64_t v = s9 + (uint64_t)(e->s[9] == 'M' ? d.nano / 1000 : d.nano);
		snprintf(num, sizeof(num), "%" PRId64, (int64_t)v);
		*ret = json_string(num);
	} else if (!strcmp(e->s, "timestampMilli")) {
		*ret = json_integer(
		    (json_int_t)((uint64_t)d.epoch_s * 1000u + (uint64_t)(d.nano / 1000000)));
	} else {
		*ret = json_integer(d.epoch_s);
	}
	return *ret ? 0 : oom();
}

static int f_base64(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	bool enc = strcmp(e->s, "base64encode") == 0;
	json_t *s;
	int r = to_string_value(c, in, e->line, &s);
	if (r < 0)
		return r;
	size_t n = json_string_length(s);
	const unsigned char *p = (const unsigned char *)json_string_value(s);
	unsigned char *o = malloc(4 * (n / 3 + 1) + 1);
	int k;
	if (!o || n > INT32_MAX / 2) {
		free(o);
		json_decref(s);
		return oom();
	}
	/* KESTRA: Pebble Base64Encoder/DecoderFilter (java.util.Base64, UTF-8) */
	if (enc) {
		k = EVP_EncodeBlock(o, p, (int)n);
	} else {
		size_t pad = 0;
		for (size_t i = 0; i < n; i++) {
			if (p[i] == '=' && i + 2 >= n && n % 4 == 0)
				pad++;
			else if (!isalnum(p[i]) && p[i] != '+' && p[i] != '/')
				n = SIZE_MAX;
			if (n == SIZE_MAX)
				break;
		}
		k = n == SIZE_MAX || n % 4 ? -1 : EVP_DecodeBlock(o, p, (int)n);
		if (k >= 0)
			k -= (int)pad;
	}
	json_decref(s);
	if (k < 0) {
		free(o);
		return fail(c, -EINVAL, e->line, "filter 'base64decode': input is not base64");
	}
	*ret = json_stringn_nocheck((const char *)o, (size_t)k);
	free(o);
	return *ret ? 0 : oom();
}

/* ==== numberformat (Pebble's NumberFormatFilter: java.text.DecimalFormat, protocol/jdecimal.h)
 * ==== */

static int f_numberformat(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
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
		return fail(c, -EINVAL, e->line, "filter '%s' needs a number, not %s", e->s,
		            type_name(in));
	r = arg_str(c, a, e->s, 0, "format", false, &pattern);
	if (r < 0)
		return r;
	r = kwg_jdecimal_format(pattern, json_is_integer(in),
	                        json_is_integer(in) ? json_integer_value(in) : 0,
	                        json_is_real(in) ? json_real_value(in) : 0, &out, &nerr);
	if (r == -ENOMEM)
		return oom();
	if (r < 0)
		return fail(c, r, e->line, "filter '%s': %s", e->s, nerr.msg);
	*ret = json_string(out);
	free(out);
	return *ret ? 0 : oom();
}

struct filter_def {
	const char *name;
	filter_fn *fn;
	bool soft;    /* sees an undefined input */
	bool null_ok; /* a null input goes to the filter (otherwise: null out) */
};

static const struct filter_def filters[] = {
    {"abs", f_abs, false, false},
    {"abbreviate", f_abbreviate, false, false},
    {"capitalize", f_capitalize_title, false, false},
    {"title", f_capitalize_title, false, false},
    {"default", f_default, true, true},
    {"upper", f_upper_lower, false, false},
    {"lower", f_upper_lower, false, false},
    {"trim", f_trim, false, false},
    {"length", f_length, false, true},
    {"join", f_join, false, true},
    {"split", f_split, false, false},
    {"first", f_first_last, false, true},
    {"last", f_first_last, false, true},
    {"keys", f_keys_values, false, true},
    {"values", f_keys_values, false, true},
    {"toJson", f_tojson, false, true},
    {"json", f_tojson, false, true},
    {"replace", f_replace, false, false},
    {"regexMatch", f_regex_match, false, true},
    {"regexExtract", f_regex_extract, false, false},
    {"regexReplace", f_regex_replace, false, false},
    {"slugify", f_slugify, false, false},
    {"number", f_number, false, false},
    {"startsWith", f_starts_ends, false, false},
    {"endsWith", f_starts_ends, false, false},
    {"substringBefore", f_substring, false, false},
    {"substringBeforeLast", f_substring, false, false},
    {"substringAfter", f_substring, false, false},
    {"substringAfterLast", f_substring, false, false},
    {"indent", f_indent, false, false},
    {"nindent", f_indent, false, false},
    {"sha1", f_digest, false, false},
    {"sha512", f_digest, false, false},
    {"md5", f_digest, false, false},
    {"sha256", f_digest, false, false},
    {"base64encode", f_base64, false, false},
    {"base64decode", f_base64, false, false},
    {"urlencode", f_urlencode, false, false},
    {"urldecode", f_urlencode, false, false},
    {"jq", f_jq, false, false},
    {"sort", f_sort, false, false},
    {"rsort", f_sort, false, false},
    {"reverse", f_reverse, false, false},
    {"slice", f_slice, false, false},
    {"merge", f_merge, false, false},
    {"chunk", f_chunk, false, false},
    {"flatten", f_flatten, false, false},
    {"escapeChar", f_escape_char, false, false},
    {"className", f_class_name, false, true},
    {"distinct", f_distinct, false, true},
    {"condense", f_condense, false, true},
    {"string", f_string, false, false},
    {"date", f_date, false, false},
    {"dateAdd", f_date_add, false, false},
    {"timestamp", f_timestamp, false, false},
    {"timestampMilli", f_timestamp, false, false},
    {"timestampMicro", f_timestamp, false, false},
    {"timestampNano", f_timestamp, false, false},
    {"numberformat", f_numberformat, false, false},
    {"numberFormat", f_numberformat, false, false},
};

static int call_filter(struct ctx *c, const struct expr *e, json_t **ret)
{
	const struct filter_def *f = NULL;
	struct args a = {0};
	json_t *in = NULL;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(filters); i++)
		if (strcmp(filters[i].name, e->s) == 0)
			f = &filters[i];
	if (!f)
		return fail(c, -EOPNOTSUPP, e->line, "unknown filter '%s'", e->s);
	r = f->soft ? eval_soft(c, e->a, &in) : eval(c, e->a, false, &in);
	if (r < 0)
		return r;
	if (!f->null_ok && json_is_null(in)) {
		/* Pebble filters hand null through (upper, trim, date, …). */
		*ret = in;
		return 0;
	}
	r = args_eval(c, e, &a);
	if (r >= 0) {
		*ret = NULL;
		r = f->fn(c, e, in, &a, ret);
		if (r >= 0 && !*ret)
			r = oom();
	}
	args_done(&a);
	json_decref(in);
	return r;
}

/* ==== functions ==== */

static uint64_t next_random(struct ctx *c)
{
	/* splitmix64: repeatable from opts->seed, no global state */
	uint64_t z = (*c->rng += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int hook_missing(struct ctx *c, const struct expr *e)
{
	return fail(c, -EOPNOTSUPP, e->line, "function '%s' is not available here", e->s);
}

static int hook_err(struct ctx *c, const struct expr *e, int r, const struct kwg_err *herr)
{
	if (r == -ENOMEM)
		return r;
	return fail(c, r, e->line, "%s: %s", e->s, herr->msg[0] ? herr->msg : "failed");
}

static int render_nested(struct ctx *c, const char *tmpl, int line, char **ret);

static int fn_now(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const char *format, *zone;
	struct kwg_datetime d;
	int64_t us = c->opts->now_us;
	int r = arg_str(c, a, "now", 0, "format", false, &format);
	if (r >= 0)
		r = arg_str(c, a, "now", 1, "timeZone", false, &zone);
	if (r < 0)
		return r;
	int64_t s = us / 1000000, rem = us % 1000000;
	if (rem < 0) {
		s--;
		rem += 1000000;
	}
	kwg_datetime_from_epoch(s, (int32_t)(rem * 1000), &d);
	return format_date(c, e, &d, format, zone, ret);
}

static int fn_secret(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	const char *name;
	char *v = NULL;
	int r = arg_str(c, a, "secret", 0, "key", true, &name);
	if (r < 0)
		return r;
	if (!h || !h->secret)
		return hook_missing(c, e);
	r = h->secret(h->userdata, name, &v, &herr);
	if (r == -ENOENT)
		return fail(c, -EINVAL, e->line, "Cannot find secret for key '%s'.", name);
	if (r < 0)
		return hook_err(c, e, r, &herr);
	*ret = json_string_nocheck(v);
	free(v);
	return *ret ? 0 : oom();
}

static int fn_read(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	const char *path;
	char *v = NULL;
	size_t n = 0;
	int r = arg_str(c, a, "read", 0, "path", true, &path);
	if (r < 0)
		return r;
	if (!h || !h->read)
		return hook_missing(c, e);
	r = h->read(h->userdata, path, &v, &n, &herr);
	if (r < 0)
		return hook_err(c, e, r, &herr);
	if (n > KWG_TEMPLATE_MAX_OUTPUT) {
		free(v);
		return fail(c, -EMSGSIZE, e->line, "read: '%.64s' is larger than %u bytes", path,
		            KWG_TEMPLATE_MAX_OUTPUT);
	}
	*ret = json_stringn_nocheck(v, n);
	free(v);
	return *ret ? 0 : oom();
}

static int fn_kv(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	const char *key, *ns;
	json_t *v = NULL;
	int r = arg_str(c, a, "kv", 0, "key", true, &key);
	if (r >= 0)
		r = arg_str(c, a, "kv", 1, "namespace", false, &ns);
	if (r < 0)
		return r;
	bool error_on_missing = arg_bool(a, 2, "errorOnMissing", true);
	if (!h || !h->kv)
		return hook_missing(c, e);
	r = h->kv(h->userdata, key, ns, &v, &herr);
	if (r == -ENOENT) {
		if (!error_on_missing) {
			*ret = json_null();
			return 0;
		}
		/* KESTRA: KvFunction's message. */
		if (!ns) {
			json_t *flow = json_object_get(c->opts->vars, "flow");
			ns = json_string_value(json_object_get(flow, "namespace"));
		}
		return fail(c, -EINVAL, e->line,
		            "The key '%s' does not exist in the namespace '%s'.", key,
		            ns ? ns : "");
	}
	/* KESTRA: KvFunction: an expired value is an error, or null without errorOnMissing. */
	if (r == -ESTALE) {
		if (!error_on_missing) {
			*ret = json_null();
			return 0;
		}
		return fail(c, -EINVAL, e->line, "The requested value has expired");
	}
	if (r < 0)
		return hook_err(c, e, r, &herr);
	*ret = v ? v : json_null();
	return 0;
}

static int fn_file_uri(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	const char *path;
	char *v = NULL;
	int r = arg_str(c, a, "fileURI", 0, "path", true, &path);
	if (r < 0)
		return r;
	/* KESTRA: FileURIFunction refuses a path holding "../" at once. */
	if (strstr(path[0] == '/' ? path + 1 : path, "../"))
		return fail(c, -EINVAL, e->line, "Path must not contain '../'");
	if (!h || !h->file_uri)
		return hook_missing(c, e);
	r = h->file_uri(h->userdata, path, &v, &herr);
	if (r < 0)
		return hook_err(c, e, r, &herr);
	*ret = json_string_nocheck(v);
	free(v);
	return *ret ? 0 : oom();
}

static int fn_from_json(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = arg(a, 0, "json");
	json_error_t jerr;

	/* KESTRA: FromJsonFunction (json() is the same class): the argument is required, null
	 * gives null, anything but a string fails. */
	if (!s)
		return fail(c, -EINVAL, e->line,
		            "The 'fromJson' function expects an argument 'json'.");
	if (json_is_null(s)) {
		*ret = json_null();
		return 0;
	}
	if (!json_is_string(s))
		return fail(c, -EINVAL, e->line,
		            "The 'fromJson' function expects an argument 'json' with type string.");
	*ret = json_loadb(json_string_value(s), json_string_length(s), JSON_DECODE_ANY, &jerr);
	if (!*ret)
		return fail(c, -EINVAL, e->line, "Invalid json: %s", jerr.text);
	return 0;
}

static int render_string(struct ctx *c, const char *s, bool recursive, int line, char **ret)
{
	char *cur;
	int r;

	if (!kwg_template_needs_render(s)) {
		*ret = strdup(s);
		return *ret ? 0 : oom();
	}
	cur = strdup(s);
	if (!cur)
		return oom();
	/* KESTRA: VariableRenderer.renderRecursively: again until the text no longer changes,
	 * at most MAX_RENDERING_AMOUNT (100) times; raw blocks are dropped at the end. */
	for (int pass = 0;; pass++) {
		char *next = NULL;
		if (pass > 100) {
			free(cur);
			return fail(c, -EINVAL, line, "Too many rendering attempts");
		}
		r = render_nested(c, cur, line, &next);
		if (r < 0) {
			free(cur);
			return r;
		}
		bool same = strcmp(next, cur) == 0;
		free(cur);
		cur = next;
		if (!recursive || same)
			break;
	}
	strip_raw(cur);
	*ret = cur;
	return 0;
}

/* KESTRA: VariableRenderer.renderObject: strings are rendered, lists item by item, maps key
 * (once) and value; anything else is returned as is. */
static int render_value(struct ctx *c, json_t *v, bool recursive, int line, int depth, json_t **ret)
{
	char *o = NULL;
	int r = 0;

	if (depth > 2 * MAX_EXPR_DEPTH + 2100)
		return fail(c, -EINVAL, line, "render: value nested too deeply");
	if (json_is_string(v)) {
		r = render_string(c, json_string_value(v), recursive, line, &o);
		if (r < 0)
			return r;
		*ret = json_string_nocheck(o);
		free(o);
		return *ret ? 0 : oom();
	}
	if (json_is_array(v)) {
		json_t *l = json_array(), *x, *y;
		size_t i;
		if (!l)
			return oom();
		json_array_foreach (v, i, x) {
			r = render_value(c, x, recursive, line, depth + 1, &y);
			if (r >= 0)
				r = json_array_append_new(l, y) < 0 ? oom() : 0;
			if (r < 0) {
				json_decref(l);
				return r;
			}
		}
		*ret = l;
		return 0;
	}
	if (json_is_object(v)) {
		json_t *m = json_object(), *x, *y;
		const char *k;
		if (!m)
			return oom();
		json_object_foreach (v, k, x) {
			r = render_string(c, k, false, line, &o);
			if (r >= 0)
				r = render_value(c, x, recursive, line, depth + 1, &y);
			if (r >= 0) {
				/* putIfAbsent: the first key that renders the same wins */
				if (json_object_get(m, o))
					json_decref(y);
				else
					r = json_object_set_new_nocheck(m, o, y) < 0 ? oom() : 0;
			}
			free(o);
			o = NULL;
			if (r < 0) {
				json_decref(m);
				return r;
			}
		}
		*ret = m;
		return 0;
	}
	*ret = json_incref(v);
	return 0;
}

static int fn_render(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = arg(a, 0, "toRender"), *rec = arg(a, 1, "recursive");
	bool recursive = true;

	/* KESTRA: RenderFunction / RenderOnceFunction (renderOnce = recursive=false) */
	if (!s)
		return fail(c, -EINVAL, e->line,
		            "The 'render' function expects an argument 'toRender'.");
	if (strcmp(e->s, "renderOnce") == 0) {
		recursive = false;
	} else if (rec && !json_is_null(rec)) {
		if (!json_is_boolean(rec))
			return fail(
			    c, -EINVAL, e->line,
			    "The 'render' function expects an optional argument 'recursive' with "
			    "type boolean.");
		recursive = json_is_true(rec);
	}
	return render_value(c, s, recursive, e->line, 0, ret);
}

static int fn_uuid(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	uint64_t hi = next_random(c), lo = next_random(c);
	char s[40];

	hi = (hi & ~0xF000ull) | 0x4000ull;                 /* version 4 */
	lo = (lo & ~(0xC000ull << 48)) | (0x8000ull << 48); /* IETF variant */
	snprintf(s, sizeof(s),
	         "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%012" PRIx64, hi >> 32,
	         (hi >> 16) & 0xFFFF, hi & 0xFFFF, lo >> 48, lo & (uint64_t)0xFFFFFFFFFFFF);
	*ret = json_string(s);
	return *ret ? 0 : oom();
}

static int fn_id(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	/* KESTRA: IdUtils.create(): 22 characters of base62, as execution ids look. */
	static const char alphabet[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	char s[23];
	for (int i = 0; i < 22; i++)
		s[i] = alphabet[next_random(c) % 62];
	s[22] = 0;
	*ret = json_string(s);
	return *ret ? 0 : oom();
}

/* KESTRA: Pebble RangeFunction (also behind "a..b"): inclusive; numbers, or one-character
 * strings (a range of characters). */
static int range_values(struct ctx *c, json_t *s, json_t *t, int64_t inc, int line, json_t **ret)
{
	if (json_is_string(s) && json_is_string(t)) {
		if (json_string_length(s) != 1 || json_string_length(t) != 1)
			return fail(
			    c, -EINVAL, line,
			    "Arguments of range function must be of type Number or String with "
			    "a length of 1");
		json_t *codes = NULL, *l, *v;
		size_t i;
		int r = make_range(c, (unsigned char)json_string_value(s)[0],
		                   (unsigned char)json_string_value(t)[0], inc, line, &codes);
		if (r < 0)
			return r;
		l = json_array();
		json_array_foreach (codes, i, v) {
			char ch = (char)json_integer_value(v);
			if (!l || json_array_append_new(l, json_stringn_nocheck(&ch, 1)) < 0) {
				json_decref(l);
				l = NULL;
				break;
			}
		}
		json_decref(codes);
		if (!l)
			return oom();
		*ret = l;
		return 0;
	}
	if (!is_number(s) || !is_number(t))
		return fail(c, -EINVAL, line, "a range needs numbers or characters, not %s and %s",
		            type_name(s), type_name(t));
	double a = num_value(s), b = num_value(t);
	if (!(fabs(a) < 9.2e18) || !(fabs(b) < 9.2e18))
		return fail(c, -EINVAL, line, "range bounds out of range");
	return make_range(c, json_is_integer(s) ? json_integer_value(s) : (int64_t)a,
	                  json_is_integer(t) ? json_integer_value(t) : (int64_t)b, inc, line, ret);
}

static int fn_range(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = arg(a, 0, "start"), *t = arg(a, 1, "end");
	int64_t inc;
	int r = arg_int(c, a, "range", 2, "increment", false, 1, &inc);
	if (r < 0)
		return r;
	return range_values(c, s, t, inc, e->line, ret);
}

/* ---- calendar functions (Kestra 1.x: DayOfWeekFunction, DayOfMonthFunction,
 * MonthOfYearFunction, HourOfDayFunction, IsWeekendFunction, IsDateBefore/After/Between,
 * IsDayWeekInMonthFunction, IsLastWorkingDayFunction; read @ b031460a, 1e87364a, 5c6c1fb9) ---- */

enum iso_kind { ISO_OTHER, ISO_DATE, ISO_ZONED, ISO_LOCAL_DT };

/* Which ISO-8601 form text has: a date (LocalDate.parse), a date-time with an offset or zone
 * (ZonedDateTime.parse), a date-time without (LocalDateTime.parse). */
static enum iso_kind iso_kind(const char *t)
{
	size_t n = strlen(t);
	if (n < 10 || t[4] != '-' || t[7] != '-')
		return ISO_OTHER;
	if (n == 10)
		return ISO_DATE;
	if (t[10] != 'T')
		return ISO_OTHER;
	for (const char *p = t + 11; *p; p++)
		if (*p == 'Z' || *p == '+' || *p == '-' || *p == '[')
			return ISO_ZONED;
	return ISO_LOCAL_DT;
}

struct cal {
	int year, month, day, hour;
	int dow; /* 1 = Monday … 7 = Sunday (java.time.DayOfWeek) */
	struct kwg_datetime d;
};

static const char *const day_names[] = {"MONDAY", "TUESDAY",  "WEDNESDAY", "THURSDAY",
                                        "FRIDAY", "SATURDAY", "SUNDAY"};

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Day of week of a proleptic Gregorian date, 1 = Monday. */
static int day_of_week(int y, int m, int d)
{
	static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
	if (m < 3)
		y--;
	int w = (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7; /* 0 = Sunday */
	return w == 0 ? 7 : w;
}

/* The argument name of fn as a calendar value, fields as written in the text (no UTC
 * normalisation; Kestra's DateUtils.parseLocalDate). kinds: a bit per accepted iso_kind. */
static int cal_arg(struct ctx *c, const struct expr *e, struct args *a, size_t pos,
                   const char *name, unsigned kinds, struct cal *ret)
{
	json_t *v = arg(a, pos, name), *t;
	struct kwg_err derr;
	cleanup_free char *f = NULL;
	int r;

	if (!v || json_is_null(v))
		return fail(c, -EINVAL, e->line, "The '%s()' function expects a '%s' argument.",
		            e->s, name);
	r = to_string_value(c, v, e->line, &t);
	if (r < 0)
		return r;
	const char *text = json_string_value(t);
	enum iso_kind k = iso_kind(text);
	r = kinds & (1u << k) ? kwg_datetime_parse(text, NULL, NULL, &ret->d, &derr) : -EINVAL;
	if (r == -EINVAL && !(kinds & (1u << k)))
		snprintf(derr.msg, sizeof(derr.msg), "Text '%.200s' could not be parsed", text);
	if (r >= 0)
		r = kwg_datetime_format(&ret->d, "yyyy-MM-dd-HH", NULL, &f, &derr);
	if (r >= 0 && sscanf(f, "%d-%d-%d-%d", &ret->year, &ret->month, &ret->day, &ret->hour) != 4)
		r = -EINVAL;
	if (r == -ENOMEM) {
		json_decref(t);
		return oom();
	}
	if (r < 0) {
		r = fail(c, -EINVAL, e->line, "The '%s()' function could not parse '%s': %s", e->s,
		         name, derr.msg);
		json_decref(t);
		return r;
	}
	json_decref(t);
	ret->dow = day_of_week(ret->year, ret->month, ret->day);
	return 0;
}

#define LOCAL_DATE ((1u << ISO_DATE) | (1u << ISO_ZONED))

static int fn_calendar(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	struct cal d;
	int r;

	if (!strcmp(e->s, "hourOfDay")) {
		r = cal_arg(c, e, a, 0, "date", (1u << ISO_ZONED) | (1u << ISO_LOCAL_DT), &d);
		if (r < 0)
			return r;
		*ret = json_integer(d.hour);
		return 0;
	}
	r = cal_arg(c, e, a, 0, "date", LOCAL_DATE, &d);
	if (r < 0)
		return r;
	if (!strcmp(e->s, "dayOfWeek"))
		*ret = json_string(day_names[d.dow - 1]);
	else if (!strcmp(e->s, "dayOfMonth"))
		*ret = json_integer(d.day);
	else if (!strcmp(e->s, "monthOfYear"))
		*ret = json_integer(d.month);
	else /* isWeekend */
		*ret = json_boolean(d.dow >= 6);
	return 0;
}

/* isDateBefore(date, reference), isDateAfter(date, reference): instants, a value without an
 * offset taken as UTC; isDateBetween(date, after, before): values with an offset only,
 * strictly between. */
static int fn_date_compare(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	bool between = !strcmp(e->s, "isDateBetween");
	static const char *const names2[] = {"date", "reference"}, *const names3[] = {
	                                                               "date", "after", "before"};
	const char *const *names = between ? names3 : names2;
	unsigned kinds =
	    between ? 1u << ISO_ZONED : (1u << ISO_DATE) | (1u << ISO_ZONED) | (1u << ISO_LOCAL_DT);
	struct cal v[3];
	int r;

	for (size_t i = 0; i < (between ? 3u : 2u); i++) {
		json_t *x = arg(a, i, names[i]);
		if (!x || json_is_null(x))
			return fail(c, -EINVAL, e->line,
			            "The '%s()' function expects a '%s' argument.", e->s, names[i]);
	}
	for (size_t i = 0; i < (between ? 3u : 2u); i++) {
		r = cal_arg(c, e, a, i, names[i], kinds, &v[i]);
		if (r < 0)
			return r;
	}
#define CMP(x, y)                                                                                  \
	((x).d.epoch_s != (y).d.epoch_s                                                            \
	     ? ((x).d.epoch_s < (y).d.epoch_s ? -1 : 1)                                            \
	     : ((x).d.nano < (y).d.nano ? -1 : (x).d.nano > (y).d.nano))
	if (between)
		*ret = json_boolean(CMP(v[0], v[1]) > 0 && CMP(v[0], v[2]) < 0);
	else
		*ret = json_boolean(e->s[6] == 'B' ? CMP(v[0], v[1]) < 0 : CMP(v[0], v[1]) > 0);
#undef CMP
	return 0;
}

/* A day name as DayOfWeek.valueOf(s.toUpperCase()): 1-7, or 0. */
static int day_number(const char *s, size_t n)
{
	for (int i = 0; i < 7; i++)
		if (strlen(day_names[i]) == n && strncasecmp(day_names[i], s, n) == 0)
			return i + 1;
	return 0;
}

static int fn_day_week_in_month(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	static const char *const pos_names[] = {"FIRST", "SECOND", "THIRD", "FOURTH", "LAST"};
	json_t *dw = arg(a, 1, "dayOfWeek"), *pos = arg(a, 2, "position"), *tw = NULL, *tp = NULL;
	struct cal d;
	int r, want, k = -1;

	if (!arg(a, 0, "date") || json_is_null(arg(a, 0, "date")))
		return fail(c, -EINVAL, e->line, "The '%s()' function expects a 'date' argument.",
		            e->s);
	if (!dw || json_is_null(dw))
		return fail(c, -EINVAL, e->line,
		            "The '%s()' function expects a 'dayOfWeek' argument.", e->s);
	if (!pos || json_is_null(pos))
		return fail(c, -EINVAL, e->line,
		            "The '%s()' function expects a 'position' argument.", e->s);
	r = cal_arg(c, e, a, 0, "date", LOCAL_DATE, &d);
	if (r >= 0)
		r = to_string_value(c, dw, e->line, &tw);
	if (r >= 0)
		r = to_string_value(c, pos, e->line, &tp);
	if (r < 0)
		goto out;
	want = day_number(json_string_value(tw), json_string_length(tw));
	if (!want) {
		r = fail(c, -EINVAL, e->line,
		         "The '%s()' function received an invalid 'dayOfWeek' value: '%.64s'. "
		         "Expected one of: MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, "
		         "SUNDAY.",
		         e->s, json_string_value(tw));
		goto out;
	}
	for (int i = 0; i < 5; i++)
		if (!strcasecmp(json_string_value(tp), pos_names[i]))
			k = i;
	if (k < 0) {
		r = fail(
		    c, -EINVAL, e->line,
		    "The '%s()' function received an invalid 'position' value: '%.64s'. Expected "
		    "one of: FIRST, SECOND, THIRD, FOURTH, LAST.",
		    e->s, json_string_value(tp));
		goto out;
	}
	int dim = days_in_month(d.year, d.month), day;
	if (k < 4) { /* firstInMonth, then whole weeks (may pass into the next month) */
		int first_dow = day_of_week(d.year, d.month, 1);
		day = 1 + (want - first_dow + 7) % 7 + 7 * k;
	} else {
		int last_dow = day_of_week(d.year, d.month, dim);
		day = dim - (last_dow - want + 7) % 7;
	}
	*ret = json_boolean(day == d.day);
out:
	json_decref(tw);
	json_decref(tp);
	return r;
}

static int fn_last_working_day(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *wd = arg(a, 1, "workingDays"), *t = NULL;
	unsigned days = 0x1F; /* bit i: day i + 1; Monday-Friday */
	struct cal d;
	int r = cal_arg(c, e, a, 0, "date", LOCAL_DATE, &d);

	if (r < 0)
		return r;
	if (wd && !json_is_null(wd)) {
		r = to_string_value(c, wd, e->line, &t);
		if (r < 0)
			return r;
		const char *p = json_string_value(t);
		unsigned set = 0;
		bool blank = true;
		for (const char *q = p; *q; q++)
			blank = blank && java_ws(*q);
		while (!blank && *p) { /* split on [,\s]+ */
			while (*p == ',' || java_ws(*p))
				p++;
			const char *w = p;
			while (*p && *p != ',' && !java_ws(*p))
				p++;
			if (p == w)
				continue;
			int k = day_number(w, (size_t)(p - w));
			if (!k) {
				r = fail(
				    c, -EINVAL, e->line,
				    "The '%s()' function received an invalid 'workingDays' value: "
				    "'%.*s'. Expected day names like MONDAY, TUESDAY, etc.",
				    e->s, (int)KWG_MIN((size_t)64, (size_t)(p - w)), w);
				json_decref(t);
				return r;
			}
			set |= 1u << (k - 1);
		}
		json_decref(t);
		if (!blank && !set)
			return fail(c, -EINVAL, e->line,
			            "The '%s()' function requires at least one valid day in "
			            "'workingDays'.",
			            e->s);
		if (!blank)
			days = set;
	}
	if (!(days & (1u << (d.dow - 1)))) {
		*ret = json_false();
		return 0;
	}
	int day = days_in_month(d.year, d.month);
	while (!(days & (1u << (day_of_week(d.year, d.month, day) - 1))))
		day--;
	*ret = json_boolean(day == d.day);
	return 0;
}

/* KESTRA: YamlFunction: yaml(text) parsed as Jackson's YAML mapper reads it (the first
 * document, a repeated key replacing the earlier one). */
static int fn_yaml(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *s = arg(a, 0, "yaml");
	struct kwg_err yerr;
	int r;

	if (!s)
		return fail(c, -EINVAL, e->line, "The 'yaml' function expects an argument 'yaml'.");
	if (!json_is_string(s))
		return fail(c, -EINVAL, e->line,
		            "The 'yaml' function expects an argument 'yaml' with type string.");
	r = kwg_yaml_load(json_string_value(s), json_string_length(s), true, ret, &yerr);
	if (r == -ENOMEM)
		return oom();
	if (r < 0)
		return fail(c, -EINVAL, e->line, "Invalid yaml: %s", yerr.msg);
	return 0;
}

/* What cannot work in a worker: a named failure. */
static int fn_unsupported(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	if (!strcmp(e->s, "isPublicHoliday"))
		return fail(c, -EOPNOTSUPP, e->line,
		            "function 'isPublicHoliday' is not supported: it needs Kestra's public "
		            "holiday calendars (Jollyday), which kwg does not carry");
	if (!strcmp(e->s, "errorLogs"))
		return fail(c, -EOPNOTSUPP, e->line,
		            "function 'errorLogs' is not supported: the execution's logs are in "
		            "Kestra's log repository, which a worker does not read");
	return fail(c, -EOPNOTSUPP, e->line, "function '%s' is not supported", e->s);
}

static int fn_max_min(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	bool max = e->s[1] == 'a';
	json_t *best = NULL;

	if (!a->n)
		return fail(c, -EINVAL, e->line, "'%s' needs arguments", e->s);
	for (size_t i = 0; i < a->n; i++) {
		if (!is_number(a->v[i]))
			return fail(c, -EINVAL, e->line, "'%s' needs numbers, not %s", e->s,
			            type_name(a->v[i]));
		if (!best || (compare_values(a->v[i], best) > 0) == max)
			best = a->v[i];
	}
	*ret = json_incref(best);
	return 0;
}

static int fn_random_int(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	int64_t lim[2];
	static const char *const names[] = {"lower", "upper"};

	/* KESTRA: RandomIntFunction: both arguments must be Integers (an integer literal or
	 * value in int range; not a string, a decimal or a long). */
	for (size_t i = 0; i < 2; i++) {
		json_t *v = arg(a, i, names[i]);
		if (!v)
			return fail(c, -EINVAL, e->line,
			            "The 'GenerateRandomNumber' function expects an argument %s",
			            names[i]);
		if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN ||
		    json_integer_value(v) > INT32_MAX)
			return fail(
			    c, -EINVAL, e->line,
			    "The 'GenerateRandomNumber' function expects an argument %swith "
			    "type Integer.",
			    names[i]);
		lim[i] = json_integer_value(v);
	}
	int64_t lo = lim[0], hi = lim[1];
	/* KESTRA: RandomIntFunction: floor(random * (upper - lower)) + lower, so upper is
	 * excluded and upper == lower gives lower. */
	if (hi < lo)
		return fail(c, -EINVAL, e->line,
		            "In 'GenerateRandomNumber' upper is less than lower");
	uint64_t span = (uint64_t)hi - (uint64_t)lo;
	*ret = json_integer((json_int_t)((uint64_t)lo + (span ? next_random(c) % span : 0)));
	return *ret ? 0 : oom();
}

/* ==== encrypt / decrypt (Kestra's EncryptionService: AES/GCM/NoPadding) ==== */

/* java.util.Base64's basic decoder: the standard alphabet, '=' padding optional. NULL when s is
 * not base64; else a new buffer and *n. */
static unsigned char *b64_decode(const char *s, size_t len, size_t *n)
{
	size_t pad = 0, full;
	unsigned char *o;
	char *t;
	int k;

	while (len > 0 && s[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	if (len % 4 == 1 || len > INT32_MAX / 2)
		return NULL;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '+' && s[i] != '/')
			return NULL;
	full = (len + 3) / 4 * 4;
	t = malloc(full + 1);
	o = malloc(full / 4 * 3 + 1);
	if (!t || !o) {
		free(t);
		free(o);
		return NULL;
	}
	memcpy(t, s, len);
	memset(t + len, '=', full - len);
	k = EVP_DecodeBlock(o, (const unsigned char *)t, (int)full);
	free(t);
	if (k < 0) {
		free(o);
		return NULL;
	}
	*n = (size_t)k - (full - len);
	return o;
}

/* KESTRA: EncryptFunction/DecryptFunction (kestra-io/kestra 58c1ca2): encrypt(key, plaintext),
 * decrypt(key, encrypted); the key is base64 (16, 24 or 32 bytes: AES-128/192/256); the output
 * is base64(IV (12 random bytes) || ciphertext || 16-byte GCM tag); a null or empty text comes
 * back as it is. */
static int fn_crypt(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	bool enc = e->s[0] == 'e';
	const char *tname = enc ? "plaintext" : "encrypted";
	json_t *k = arg(a, 0, "key"), *t = arg(a, 1, tname);
	unsigned char *key = NULL, *in = NULL, *out = NULL;
	size_t klen = 0, inlen, outlen = 0;
	const EVP_CIPHER *cipher;
	EVP_CIPHER_CTX *cx = NULL;
	int r = 0, len;

	if (!k || !t)
		return fail(c, -EINVAL, e->line,
		            "The '%s' function expects two arguments 'key' and '%s'.", e->s, tname);
	if (!json_is_string(k) || !(json_is_string(t) || json_is_null(t)))
		return fail(c, -EINVAL, e->line, "'%s': 'key' and '%s' must be strings", e->s,
		            tname);
	if (json_is_null(t) || json_string_length(t) == 0) {
		*ret = json_incref(t);
		return 0;
	}
	key = b64_decode(json_string_value(k), json_string_length(k), &klen);
	if (!key)
		return fail(c, -EINVAL, e->line, "'%s': the key is not base64", e->s);
	cipher = klen == 16   ? EVP_aes_128_gcm()
	         : klen == 24 ? EVP_aes_192_gcm()
	         : klen == 32 ? EVP_aes_256_gcm()
	                      : NULL;
	if (!cipher) {
		r = fail(c, -EINVAL, e->line, "Invalid AES key length: %zu bytes", klen);
		goto out;
	}
	if (enc) {
		inlen = json_string_length(t);
		in = malloc(inlen + 12 + 16);
		if (!in || RAND_bytes(in, 12) != 1) {
			r = oom();
			goto out;
		}
		memcpy(in + 12, json_string_value(t), inlen);
	} else {
		in = b64_decode(json_string_value(t), json_string_length(t), &inlen);
		if (!in) {
			r = fail(c, -EINVAL, e->line,
			         "'decrypt': the encrypted text is not base64");
			goto out;
		}
		if (inlen < 12 + 16) {
			r = fail(
			    c, -EINVAL, e->line,
			    "Input data too short to contain an expected tag length of 16bytes");
			goto out;
		}
	}
	out = malloc(inlen + 12 + 16);
	cx = EVP_CIPHER_CTX_new();
	if (!out || !cx) {
		r = oom();
		goto out;
	}
	if (enc) {
		memcpy(out, in, 12);
		if (EVP_EncryptInit_ex(cx, cipher, NULL, key, in) != 1 ||
		    EVP_EncryptUpdate(cx, out + 12, &len, in + 12, (int)inlen) != 1) {
			r = oom();
			goto out;
		}
		outlen = 12 + (size_t)len;
		if (EVP_EncryptFinal_ex(cx, out + outlen, &len) != 1 ||
		    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_GET_TAG, 16, out + outlen + len) != 1) {
			r = oom();
			goto out;
		}
		outlen += (size_t)len + 16;
		*ret = NULL;
		{
			unsigned char *b = malloc(4 * (outlen / 3 + 1) + 1);
			if (!b) {
				r = oom();
				goto out;
			}
			len = EVP_EncodeBlock(b, out, (int)outlen);
			*ret = json_stringn_nocheck((const char *)b, (size_t)len);
			free(b);
		}
	} else {
		if (EVP_DecryptInit_ex(cx, cipher, NULL, key, in) != 1 ||
		    EVP_DecryptUpdate(cx, out, &len, in + 12, (int)(inlen - 12 - 16)) != 1 ||
		    EVP_CIPHER_CTX_ctrl(cx, EVP_CTRL_GCM_SET_TAG, 16, in + inlen - 16) != 1) {
			r = oom();
			goto out;
		}
		outlen = (size_t)len;
		if (EVP_DecryptFinal_ex(cx, out + outlen, &len) != 1) {
			r = fail(c, -EINVAL, e->line, "Tag mismatch");
			goto out;
		}
		outlen += (size_t)len;
		*ret = json_stringn((const char *)out, outlen);
		if (!*ret) {
			r = fail(c, -EINVAL, e->line, "'decrypt': the decrypted text is not UTF-8");
			goto out;
		}
	}
	if (!*ret)
		r = oom();
out:
	EVP_CIPHER_CTX_free(cx);
	if (key)
		OPENSSL_cleanse(key, klen);
	free(key);
	free(in);
	free(out);
	return r;
}

typedef int function_fn(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);

/* ==== method calls (Pebble's reflective method access, on strings) ==== */

static int method_str_arg(struct ctx *c, const struct expr *e, const struct args *a, size_t i,
                          const char **ret, size_t *len)
{
	json_t *v = i < a->n ? a->v[i] : NULL;
	if (!v || !json_is_string(v))
		return fail(c, -EINVAL, e->line,
		            "method '%s': argument %zu must be a string, not %s", e->s, i + 1,
		            v ? type_name(v) : "missing");
	*ret = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

/* Pebble 3.2 calls a public method of the value's class by name and argument count (numbers
 * converted to the parameter's type). kwg does the common java.lang.String methods; on another
 * value, or another method, the call fails naming it. */
static int call_method(struct ctx *c, const struct expr *e, json_t **ret)
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

	r = eval(c, e->a, false, &obj);
	if (r < 0)
		return r;
	if (!json_is_string(obj)) {
		r = fail(c, -EOPNOTSUPP, e->line, "method call '%s()' on %s is not supported", e->s,
		         type_name(obj));
		json_decref(obj);
		return r;
	}
	r = args_eval(c, e, &a);
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
		r = fail(c, -EOPNOTSUPP, e->line,
		         "method call '%s()' with %zu argument(s) on a String is not supported",
		         e->s, a.n);
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
		r = arg_int(c, &a, "substring", 0, "beginIndex", true, 0, &b);
		if (r >= 0 && a.n == 2)
			r = arg_int(c, &a, "substring", 1, "endIndex", true, 0, &end);
		if (r >= 0 && (b < 0 || end > len || b > end))
			r = fail(c, -EINVAL, e->line, "begin %lld, end %lld, length %lld",
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
				r = size_err(c, r, e->line);
			} else {
				r = buf_value(c, &b, e->line, ret);
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
				r = size_err(c, r, e->line);
			} else {
				r = buf_value(c, &b, e->line, ret);
			}
		}
	}
	if (r == -ENOMEM)
		r = oom();
	if (r >= 0 && !*ret)
		r = oom();
	args_done(&a);
	json_decref(obj);
	return r;
}

static const struct {
	const char *name;
	function_fn *fn;
} functions[] = {
    {"now", fn_now},
    {"secret", fn_secret},
    {"read", fn_read},
    {"kv", fn_kv},
    {"fileURI", fn_file_uri},
    {"json", fn_from_json},
    {"fromJson", fn_from_json},
    {"render", fn_render},
    {"renderOnce", fn_render},
    {"uuid", fn_uuid},
    {"id", fn_id},
    {"range", fn_range},
    {"max", fn_max_min},
    {"min", fn_max_min},
    {"randomInt", fn_random_int},
    {"dayOfWeek", fn_calendar},
    {"dayOfMonth", fn_calendar},
    {"monthOfYear", fn_calendar},
    {"hourOfDay", fn_calendar},
    {"isWeekend", fn_calendar},
    {"isDateBefore", fn_date_compare},
    {"isDateAfter", fn_date_compare},
    {"isDateBetween", fn_date_compare},
    {"isDayWeekInMonth", fn_day_week_in_month},
    {"isLastWorkingDay", fn_last_working_day},
    {"isPublicHoliday", fn_unsupported},
    {"errorLogs", fn_unsupported},
    {"yaml", fn_yaml},
    {"encrypt", fn_crypt},
    {"decrypt", fn_crypt},
};

static int call_function(struct ctx *c, const struct expr *e, json_t **ret)
{
	function_fn *fn = NULL;
	struct args a = {0};
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(functions); i++)
		if (strcmp(functions[i].name, e->s) == 0)
			fn = functions[i].fn;
	if (!fn)
		return fail(c, -EOPNOTSUPP, e->line, "unknown function '%s'", e->s);
	r = args_eval(c, e, &a);
	if (r < 0)
		return r;
	*ret = NULL;
	r = fn(c, e, &a, ret);
	if (r >= 0 && !*ret)
		r = oom();
	args_done(&a);
	return r;
}

/* ==== nodes ==== */

static int exec_nodes(struct ctx *c, const struct node *n);

static int put_out(struct ctx *c, int line, int r)
{
	if (r == -EMSGSIZE)
		return fail(c, r, line, "output would pass %u bytes", KWG_TEMPLATE_MAX_OUTPUT);
	if (r == -ELOOP)
		return fail(c, -EINVAL, line, "value nested too deeply to print");
	return r;
}

static json_t *loop_var(size_t i, size_t n)
{
	return json_pack("{sIsIsbsbsI}", "index", (json_int_t)i, "length", (json_int_t)n, "first",
	                 i == 0, "last", i + 1 == n, "revindex", (json_int_t)(n - i - 1));
}

/* Depth of v, descending at most limit levels; counts the nodes seen in *nodes. */
static int value_depth(const json_t *v, int limit, uint64_t *nodes)
{
	const char *k;
	json_t *x;
	size_t i;
	int max = 0;

	(*nodes)++;
	if (limit <= 0)
		return 1;
	if (json_is_array(v)) {
		json_array_foreach (v, i, x) {
			int d = json_is_array(x) || json_is_object(x)
			            ? value_depth(x, limit - 1, nodes)
			            : ((*nodes)++, 0);
			max = KWG_MAX(max, d);
			if (max >= limit)
				break;
		}
	} else if (json_is_object(v)) {
		json_object_foreach ((json_t *)v, k, x) {
			int d = json_is_array(x) || json_is_object(x)
			            ? value_depth(x, limit - 1, nodes)
			            : ((*nodes)++, 0);
			max = KWG_MAX(max, d);
			if (max >= limit)
				break;
		}
	}
	return max + 1;
}

/* A set is the only way to feed a value back into itself ({% set l = [l] %} in a loop), so
 * nesting is bounded there: deep values would overflow the stack of jansson's recursive free.
 * The scan is charged to the step budget (a node is 1/16 step). */
static int check_depth(struct ctx *c, const json_t *v, int line)
{
	uint64_t nodes = 0;

	if (!json_is_array(v) && !json_is_object(v))
		return 0;
	if (value_depth(v, MAX_VALUE_DEPTH, &nodes) > MAX_VALUE_DEPTH)
		return fail(c, -EINVAL, line, "value nested deeper than %d", MAX_VALUE_DEPTH);
	*c->steps += nodes / 16;
	return step(c, line);
}

static int exec_for(struct ctx *c, const struct node *n)
{
	json_t *seq = NULL;
	size_t mark = c->nscope, count;
	int r;

	r = eval(c, n->e, false, &seq);
	if (r < 0)
		return r;
	if (json_is_array(seq))
		count = json_array_size(seq);
	else if (json_is_object(seq))
		count = json_object_size(seq);
	else if (json_is_null(seq)) { /* KESTRA: Pebble's ForNode renders nothing, not even else */
		json_decref(seq);
		return 0;
	} else {
		r = fail(c, -EINVAL, n->line, "Not an iterable object (%s)", type_name(seq));
		json_decref(seq);
		return r;
	}
	if (count == 0) {
		json_decref(seq);
		return exec_nodes(c, n->els);
	}
	void *it = json_is_object(seq) ? json_object_iter(seq) : NULL;
	/* KESTRA: Pebble's ForNode pushes one scope for the whole loop: a set in one iteration is
	 * seen by the next, and gone after the loop. */
	size_t saved_frame = c->frame;
	c->frame = mark;
	for (size_t i = 0; i < count && r >= 0; i++) {
		json_t *k, *v;
		r = step(c, n->line);
		if (r < 0)
			break;
		if (json_is_array(seq)) {
			k = json_integer((json_int_t)i);
			v = json_incref(json_array_get(seq, i));
		} else {
			k = json_string_nocheck(json_object_iter_key(it));
			v = json_incref(json_object_iter_value(it));
			it = json_object_iter_next(seq, it);
		}
		json_t *lv = loop_var(i, count);
		if (!k || !v || !lv) {
			json_decref(k);
			json_decref(v);
			json_decref(lv);
			r = oom();
			break;
		}
		r = scope_set(c, "loop", lv);
		if (n->v2) {
			if (r >= 0)
				r = scope_set(c, n->v1, k);
			else
				json_decref(k);
			if (r >= 0)
				r = scope_set(c, n->v2, v);
			else
				json_decref(v);
		} else {
			/* KESTRA: Pebble's for over a map iterates its entries (Map.Entry: .key and
			 * .value); kwg gives a {key, value} map. */
			json_t *x = v;
			if (json_is_object(seq)) {
				x = json_pack("{sOsO}", "key", k, "value", v);
				json_decref(v);
			}
			json_decref(k);
			if (!x)
				r = r < 0 ? r : oom();
			else if (r >= 0)
				r = scope_set(c, n->v1, x);
			else
				json_decref(x);
		}
		if (r >= 0)
			r = exec_nodes(c, n->bodies[0]);
	}
	scope_pop_to(c, mark);
	c->frame = saved_frame;
	json_decref(seq);
	return r;
}

static int exec_nodes(struct ctx *c, const struct node *n);

/* The filter tag: the body into its own buffer (bounded like the output), then the chain. */
static int exec_filter_tag(struct ctx *c, const struct node *n)
{
	struct kwg_buf *saved_out = c->out, body;
	json_t *saved_body = c->filter_body, *s = NULL, *v = NULL;
	int r;

	kwg_buf_init(&body, KWG_TEMPLATE_MAX_OUTPUT);
	c->out = &body;
	r = exec_nodes(c, n->bodies[0]);
	c->out = saved_out;
	if (r >= 0)
		r = buf_value(c, &body, n->line, &s);
	else
		kwg_buf_done(&body);
	if (r < 0)
		return r;
	c->filter_body = s;
	r = eval(c, n->e, false, &v);
	c->filter_body = saved_body;
	json_decref(s);
	if (r < 0)
		return r;
	r = put_out(c, n->line, write_text(c->out, v));
	json_decref(v);
	return r;
}

static int exec_nodes(struct ctx *c, const struct node *n)
{
	int r = 0;

	for (; n && r >= 0; n = n->next) {
		switch (n->kind) {
		case N_TEXT:
			r = put_out(c, n->line, kwg_buf_append(c->out, n->text, n->len));
			break;
		case N_PRINT: {
			json_t *v;
			r = eval(c, n->e, false, &v);
			if (r < 0)
				break;
			r = put_out(c, n->line, write_text(c->out, v));
			json_decref(v);
			break;
		}
		case N_IF: {
			size_t i;
			for (i = 0; i < n->nconds; i++) {
				json_t *v;
				bool t = false;
				r = eval(c, n->conds[i], false, &v);
				if (r < 0)
					return r;
				r = condition(c, v, n->line, "if statement", &t);
				json_decref(v);
				if (r < 0)
					return r;
				if (t)
					break;
			}
			r = exec_nodes(c, i < n->nconds ? n->bodies[i] : n->els);
			break;
		}
		case N_FOR:
			r = exec_for(c, n);
			break;
		case N_FILTER:
			r = exec_filter_tag(c, n);
			break;
		case N_SET: {
			json_t *v = NULL;
			r = eval(c, n->e, false, &v);
			if (r < 0)
				break;
			r = check_depth(c, v, n->line);
			if (r >= 0)
				r = scope_set(c, n->v1, v);
			else
				json_decref(v);
			break;
		}
		}
	}
	return r;
}

/* ==== entry points ==== */

static int render_ctx(struct ctx *c, char **ret)
{
	struct kwg_buf out;
	struct node *root = NULL;
	int r;

	kwg_buf_init(&out, KWG_TEMPLATE_MAX_OUTPUT);
	c->out = &out;
	r = lex_template(c);
	if (r >= 0)
		r = parse_body(c, NULL, 0, &root, NULL);
	if (r >= 0)
		r = exec_nodes(c, root);
	scope_pop_to(c, 0);
	free(c->scope);
	c->scope = NULL;
	for (size_t i = 0; i < ARRAY_SIZE(c->regex_cache); i++)
		kwg_jregex_free(steal_ptr(&c->regex_cache[i]));
	arena_done(&c->arena);
	if (r < 0) {
		kwg_buf_done(&out);
		return r;
	}
	*ret = kwg_buf_steal(&out);
	return *ret ? 0 : -ENOMEM;
}

static int render_nested(struct ctx *c, const char *tmpl, int line, char **ret)
{
	if (c->render_depth + 1 > KWG_TEMPLATE_MAX_DEPTH)
		return fail(c, -EINVAL, line, "render() nested deeper than %d",
		            KWG_TEMPLATE_MAX_DEPTH);
	if (!kwg_template_needs_render(tmpl)) {
		*ret = strdup(tmpl);
		return *ret ? 0 : -ENOMEM;
	}
	struct ctx sub = {
	    .tmpl = tmpl,
	    .opts = c->opts,
	    .err = c->err,
	    .render_depth = c->render_depth + 1,
	    .steps = c->steps,
	    .rng = c->rng,
	};
	return render_ctx(&sub, ret);
}

bool kwg_template_needs_render(const char *s)
{
	return strchr(s, '{') != NULL;
}

int kwg_template_render(const char *tmpl, const struct kwg_template_opts *opts, char **ret,
                        struct kwg_err *err)
{
	uint64_t steps = 0, rng = opts->seed;
	struct ctx c = {
	    .tmpl = tmpl,
	    .opts = opts,
	    .err = err,
	    .steps = &steps,
	    .rng = &rng,
	};

	if (!kwg_template_needs_render(tmpl)) {
		*ret = strdup(tmpl);
		return *ret ? 0 : -ENOMEM;
	}
	if (strlen(tmpl) > KWG_TEMPLATE_MAX_OUTPUT)
		return kwg_err_set(err, -EMSGSIZE, "template larger than %u bytes",
		                   KWG_TEMPLATE_MAX_OUTPUT);
	int r = render_ctx(&c, ret);
	if (r >= 0)
		strip_raw(*ret);
	return r;
}
