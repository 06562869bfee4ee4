/* SPDX-License-Identifier: Apache-2.0 */
/* Parser: tokens into the expression and node tree (operators by precedence, calls, tags). */
#include "template/internal.h"

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
		return kwg_tpl_fail(c, -EBADMSG, t->line, "expected '%s' but found %s", op,
		                    tok_desc(t));
	advance(c);
	return 0;
}

static int expect_kind(struct ctx *c, enum tok_kind kind, const char *what)
{
	struct tok *t = peek(c);
	if (t->kind != kind)
		return kwg_tpl_fail(c, -EBADMSG, t->line, "expected %s but found %s", what,
		                    tok_desc(t));
	advance(c);
	return 0;
}

static struct expr *new_expr(struct ctx *c, enum expr_kind kind, int line)
{
	struct expr *e = kwg_tpl_arena_alloc(&c->arena, sizeof(*e));
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
		struct expr **v = kwg_tpl_arena_alloc(&c->arena, cap * sizeof(*v));
		const char **nm = kwg_tpl_arena_alloc(&c->arena, cap * sizeof(*nm));
		if (!v || !nm)
			return kwg_tpl_oom();
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
			name = kwg_tpl_adup(c, peek(c)->s, peek(c)->n);
			if (!name)
				return kwg_tpl_oom();
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
				if (!e || !(e->s = kwg_tpl_adup(c, n->s, n->n)))
					return kwg_tpl_oom();
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
					return kwg_tpl_oom();
				idx->i = n->i;
				e->b = idx;
				advance(c);
			} else {
				return kwg_tpl_fail(c, -EBADMSG, n->line,
				                    "expected an attribute name after '.'");
			}
			e->a = *io;
			*io = e;
		} else if (is_op(t, "[")) {
			advance(c);
			struct expr *e = new_expr(c, E_INDEX, t->line);
			if (!e)
				return kwg_tpl_oom();
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
		return kwg_tpl_oom();
	advance(c);
	while (peek(c)->kind != T_ISTR_END) {
		struct tok *p = peek(c);
		struct expr *part;
		if (p->kind == T_STR) {
			part = new_expr(c, E_LIT_STR, p->line);
			if (!part)
				return kwg_tpl_oom();
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
			return kwg_tpl_oom();
		e->i = t->i;
		advance(c);
		break;
	case T_DBL:
		e = new_expr(c, E_LIT_DBL, t->line);
		if (!e)
			return kwg_tpl_oom();
		e->d = t->d;
		advance(c);
		break;
	case T_STR:
		e = new_expr(c, E_LIT_STR, t->line);
		if (!e)
			return kwg_tpl_oom();
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
					return kwg_tpl_oom();
				e->i = k == 0;
				advance(c);
				break;
			}
		}
		if (e)
			break;
		bool call = is_op(peek_at(c, 1), "(");
		e = new_expr(c, call ? E_FUNC : E_VAR, t->line);
		if (!e || !(e->s = kwg_tpl_adup(c, t->s, t->n)))
			return kwg_tpl_oom();
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
				return kwg_tpl_oom();
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
			return kwg_tpl_fail(c, -EBADMSG, t->line,
			                    "unexpected '%s' in an expression", t->s);
		}
		break;
	default:
		return kwg_tpl_fail(c, -EBADMSG, t->line, "expected an expression but found %s",
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
		return kwg_tpl_fail(c, -EBADMSG, n->line, "expected a %s name but found %s",
		                    kind == E_FILTER ? "filter" : "test", tok_desc(n));
	e = new_expr(c, kind, n->line);
	if (!e || !(e->s = kwg_tpl_adup(c, n->s, n->n)))
		return kwg_tpl_oom();
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
				return kwg_tpl_oom();
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
			return kwg_tpl_oom();
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
			return kwg_tpl_oom();
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
		return kwg_tpl_fail(c, -EBADMSG, peek(c)->line, "expression nested too deeply");
	}
	r = parse_expr_inner(c, min_prec, ret);
	c->pdepth--;
	return r;
}

static struct node *new_node(struct ctx *c, enum node_kind kind, int line)
{
	struct node *n = kwg_tpl_arena_alloc(&c->arena, sizeof(*n));
	if (n) {
		n->kind = kind;
		n->line = line;
	}
	return n;
}

static int tag_name(struct ctx *c, struct tok *t, char *buf, size_t n)
{
	if (t->kind != T_NAME)
		return kwg_tpl_fail(c, -EBADMSG, t->line, "expected a tag name but found %s",
		                    tok_desc(t));
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
		return kwg_tpl_oom();
	for (;;) {
		if (nc == ARRAY_SIZE(conds))
			return kwg_tpl_fail(c, -EBADMSG, line, "more than %zu branches in one 'if'",
			                    ARRAY_SIZE(conds));
		r = parse_expr(c, 0, &conds[nc]);
		if (r < 0)
			return r;
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
		if (r < 0)
			return r;
		r = kwg_tpl_parse_body(c, stops, 3, &bodies[nc], &stop);
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
		r = kwg_tpl_parse_body(c, stops + 2, 1, &n->els, &stop);
		if (r < 0)
			return r;
	}
	r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r < 0)
		return r;
	n->conds = kwg_tpl_arena_alloc(&c->arena, nc * sizeof(*n->conds));
	n->bodies = kwg_tpl_arena_alloc(&c->arena, nc * sizeof(*n->bodies));
	if (!n->conds || !n->bodies)
		return kwg_tpl_oom();
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

	if (!n || !(n->bodies = kwg_tpl_arena_alloc(&c->arena, sizeof(*n->bodies))))
		return kwg_tpl_oom();
	if (peek(c)->kind != T_NAME)
		return kwg_tpl_fail(c, -EBADMSG, line, "expected a variable name after 'for'");
	n->v1 = kwg_tpl_adup(c, peek(c)->s, peek(c)->n);
	advance(c);
	if (is_op(peek(c), ",")) {
		advance(c);
		if (peek(c)->kind != T_NAME)
			return kwg_tpl_fail(c, -EBADMSG, line,
			                    "expected a second variable name after ','");
		n->v2 = kwg_tpl_adup(c, peek(c)->s, peek(c)->n);
		advance(c);
	}
	if (!is_name(peek(c), "in"))
		return kwg_tpl_fail(c, -EBADMSG, line, "expected 'in' in 'for'");
	advance(c);
	r = parse_expr(c, 0, &n->e);
	if (r < 0)
		return r;
	r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r < 0)
		return r;
	r = kwg_tpl_parse_body(c, stops, 2, &n->bodies[0], &stop);
	if (r < 0)
		return r;
	if (stop == 0) {
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
		if (r < 0)
			return r;
		r = kwg_tpl_parse_body(c, stops + 1, 1, &n->els, &stop);
		if (r < 0)
			return r;
	}
	r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r < 0)
		return r;
	*ret = n;
	return 0;
}

static const char *const unsupported_tags[] = {"include", "extends",  "import", "autoescape",
                                               "cache",   "parallel", "embed",  "flush",
                                               "from",    "verbatim"};

/* ==== blocks and macros ==== */

static int define(struct ctx *c, struct node *n)
{
	if (kwg_tpl_find_def(c, n->kind, n->v1))
		return kwg_tpl_fail(c, -EBADMSG, n->line, "%s '%s' is defined twice",
		                    n->kind == N_MACRO ? "macro" : "block", n->v1);
	n->next_def = c->defs;
	c->defs = n;
	return 0;
}

/* The body up to the end tag, which may repeat the name: "{% endblock name %}". */
static int parse_def_body(struct ctx *c, const char *end, struct node *n)
{
	const char *const stops[] = {end};
	size_t stop;
	int r;

	if (!(n->bodies = kwg_tpl_arena_alloc(&c->arena, sizeof(*n->bodies))))
		return kwg_tpl_oom();
	r = kwg_tpl_parse_body(c, stops, 1, &n->bodies[0], &stop);
	if (r >= 0 && (peek(c)->kind == T_NAME || peek(c)->kind == T_STR))
		advance(c);
	if (r >= 0)
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	return r;
}

/* [PB] BlockTokenParser: {% block name %}body{% endblock %}, the name a name or a string; the
 * body renders in place, and again where block('name') is called. */
static int parse_block(struct ctx *c, int line, struct node **ret)
{
	struct node *n = new_node(c, N_BLOCK, line);
	struct tok *t = peek(c);
	int r;

	if (!n)
		return kwg_tpl_oom();
	if (t->kind != T_NAME && t->kind != T_STR)
		return kwg_tpl_fail(c, -EBADMSG, line, "expected a block name but found %s",
		                    tok_desc(t));
	n->v1 = kwg_tpl_adup(c, t->s, t->n);
	advance(c);
	r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r >= 0)
		r = parse_def_body(c, "endblock", n);
	if (r >= 0)
		r = define(c, n);
	if (r >= 0)
		*ret = n;
	return r;
}

/* [PB] MacroTokenParser: {% macro name(a, b = default) %}body{% endmacro %}. */
static int parse_macro(struct ctx *c, int line, struct node **ret)
{
	struct node *n = new_node(c, N_MACRO, line);
	struct expr *defaults[16];
	const char *params[16];
	size_t np = 0;
	int r;

	if (!n)
		return kwg_tpl_oom();
	if (peek(c)->kind != T_NAME)
		return kwg_tpl_fail(c, -EBADMSG, line, "expected a macro name after 'macro'");
	n->v1 = kwg_tpl_adup(c, peek(c)->s, peek(c)->n);
	advance(c);
	r = expect_op(c, "(");
	while (r >= 0 && !is_op(peek(c), ")")) {
		if (np == ARRAY_SIZE(params))
			return kwg_tpl_fail(c, -EBADMSG, line, "more than %zu macro parameters",
			                    ARRAY_SIZE(params));
		if (np > 0 && (r = expect_op(c, ",")) < 0)
			break;
		if (peek(c)->kind != T_NAME)
			return kwg_tpl_fail(c, -EBADMSG, line,
			                    "expected a parameter name but found %s",
			                    tok_desc(peek(c)));
		params[np] = kwg_tpl_adup(c, peek(c)->s, peek(c)->n);
		defaults[np] = NULL;
		advance(c);
		if (is_op(peek(c), "=")) {
			advance(c);
			r = parse_expr(c, 0, &defaults[np]);
		}
		np++;
	}
	if (r >= 0)
		r = expect_op(c, ")");
	if (r >= 0)
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r < 0)
		return r;
	n->params = kwg_tpl_arena_alloc(&c->arena, (np ? np : 1) * sizeof(*n->params));
	n->conds = kwg_tpl_arena_alloc(&c->arena, (np ? np : 1) * sizeof(*n->conds));
	if (!n->params || !n->conds)
		return kwg_tpl_oom();
	memcpy(n->params, params, np * sizeof(*params));
	memcpy(n->conds, defaults, np * sizeof(*defaults));
	n->nconds = np;
	r = parse_def_body(c, "endmacro", n);
	if (r >= 0)
		r = define(c, n);
	if (r >= 0)
		*ret = n;
	return r;
}

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

	if (!n || !(n->bodies = kwg_tpl_arena_alloc(&c->arena, sizeof(*n->bodies))) ||
	    !(e = new_expr(c, E_BODY, line)))
		return kwg_tpl_oom();
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
		r = kwg_tpl_parse_body(c, stops, 1, &n->bodies[0], &stop);
	if (r >= 0)
		r = expect_kind(c, T_EXEC_CLOSE, "'%}'");
	if (r >= 0)
		*ret = n;
	return r;
}

/* Nodes until EOF (stops == NULL) or one of the stop tags; then the stop tag name is consumed
 * and its index set in *ret_stop. */
int kwg_tpl_parse_body(struct ctx *c, const char *const *stops, size_t nstops, struct node **ret,
                       size_t *ret_stop)
{
	struct node *head = NULL, **tail = &head;
	int r;

	if (++c->pdepth > MAX_EXPR_DEPTH) {
		c->pdepth--;
		return kwg_tpl_fail(c, -EBADMSG, peek(c)->line, "tags nested too deeply");
	}
	for (;;) {
		struct tok *t = peek(c);
		struct node *n = NULL;
		if (t->kind == T_EOF) {
			if (stops) {
				r = kwg_tpl_fail(c, -EBADMSG, t->line,
				                 "expected '%s' before the end", stops[nstops - 1]);
				goto out;
			}
			break;
		}
		if (t->kind == T_TEXT) {
			n = new_node(c, N_TEXT, t->line);
			if (!n) {
				r = kwg_tpl_oom();
				goto out;
			}
			n->text = t->s;
			n->len = t->n;
			advance(c);
		} else if (t->kind == T_PRINT_OPEN) {
			n = new_node(c, N_PRINT, t->line);
			if (!n) {
				r = kwg_tpl_oom();
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
			} else if (strcmp(name, "block") == 0) {
				r = parse_block(c, line, &n);
			} else if (strcmp(name, "macro") == 0) {
				r = parse_macro(c, line, &n);
			} else if (strcmp(name, "set") == 0) {
				n = new_node(c, N_SET, line);
				if (!n) {
					r = kwg_tpl_oom();
					goto out;
				}
				if (peek(c)->kind != T_NAME) {
					r = kwg_tpl_fail(c, -EBADMSG, line,
					                 "expected a name after 'set'");
					goto out;
				}
				n->v1 = kwg_tpl_adup(c, peek(c)->s, peek(c)->n);
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
					r = kwg_tpl_fail(c, -EOPNOTSUPP, line,
					                 "tag '%s' is not supported", name);
				else if (strncmp(name, "end", 3) == 0 ||
				         strcmp(name, "else") == 0 || strcmp(name, "elseif") == 0)
					r = kwg_tpl_fail(c, -EBADMSG, line, "unexpected tag '%s'",
					                 name);
				else
					r = kwg_tpl_fail(c, -EOPNOTSUPP, line, "unknown tag '%s'",
					                 name);
			}
			if (r < 0)
				goto out;
		} else {
			r = kwg_tpl_fail(c, -EBADMSG, t->line, "unexpected %s", tok_desc(t));
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
