/* SPDX-License-Identifier: Apache-2.0 */
/* The render context's helpers (arena, errors, step budget), the tags' execution (print, if,
 * for, set, filter) and the entry points kwg_template_render and kwg_template_needs_render. */
#include "template/internal.h"

void *kwg_tpl_arena_alloc(struct arena *a, size_t n)
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

int kwg_tpl_fail(struct ctx *c, int r, int line, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->attr_missing = false;
	return kwg_err_set(c->err, r, "%s at line %d", msg, line);
}

int kwg_tpl_step(struct ctx *c, int line)
{
	if (++*c->steps > MAX_STEPS)
		return kwg_tpl_fail(c, -EMSGSIZE, line,
		                    "template needs more than %llu evaluation steps",
		                    (unsigned long long)MAX_STEPS);
	return 0;
}

char *kwg_tpl_adup(struct ctx *c, const char *s, size_t n)
{
	char *p = kwg_tpl_arena_alloc(&c->arena, n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = 0;
	return p;
}

/* ==== nodes ==== */

static int exec_nodes(struct ctx *c, const struct node *n);

static int put_out(struct ctx *c, int line, int r)
{
	if (r == -EMSGSIZE)
		return kwg_tpl_fail(c, r, line, "output would pass %u bytes",
		                    KWG_TEMPLATE_MAX_OUTPUT);
	if (r == -ELOOP)
		return kwg_tpl_fail(c, -EINVAL, line, "value nested too deeply to print");
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
		return kwg_tpl_fail(c, -EINVAL, line, "value nested deeper than %d",
		                    MAX_VALUE_DEPTH);
	*c->steps += nodes / 16;
	return kwg_tpl_step(c, line);
}

static int exec_for(struct ctx *c, const struct node *n)
{
	json_t *seq = NULL;
	size_t mark = c->nscope, count;
	int r;

	r = kwg_tpl_eval(c, n->e, false, &seq);
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
		r = kwg_tpl_fail(c, -EINVAL, n->line, "Not an iterable object (%s)",
		                 kwg_tpl_type_name(seq));
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
		r = kwg_tpl_step(c, n->line);
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
			r = kwg_tpl_oom();
			break;
		}
		r = kwg_tpl_scope_set(c, "loop", lv);
		if (n->v2) {
			if (r >= 0)
				r = kwg_tpl_scope_set(c, n->v1, k);
			else
				json_decref(k);
			if (r >= 0)
				r = kwg_tpl_scope_set(c, n->v2, v);
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
				r = r < 0 ? r : kwg_tpl_oom();
			else if (r >= 0)
				r = kwg_tpl_scope_set(c, n->v1, x);
			else
				json_decref(x);
		}
		if (r >= 0)
			r = exec_nodes(c, n->bodies[0]);
	}
	kwg_tpl_scope_pop_to(c, mark);
	c->frame = saved_frame;
	json_decref(seq);
	return r;
}

static int exec_nodes(struct ctx *c, const struct node *n);

/* Nodes rendered into a string of their own (bounded like the output). */
static int exec_to_string(struct ctx *c, const struct node *n, int line, json_t **ret)
{
	struct kwg_buf *saved_out = c->out, body;
	int r;

	kwg_buf_init(&body, KWG_TEMPLATE_MAX_OUTPUT);
	c->out = &body;
	r = exec_nodes(c, n);
	c->out = saved_out;
	if (r < 0) {
		kwg_buf_done(&body);
		return r;
	}
	return kwg_tpl_buf_value(c, &body, line, ret);
}

/* The filter tag: the body into its own buffer (bounded like the output), then the chain. */
static int exec_filter_tag(struct ctx *c, const struct node *n)
{
	json_t *saved_body = c->filter_body, *s = NULL, *v = NULL;
	int r = exec_to_string(c, n->bodies[0], n->line, &s);

	if (r < 0)
		return r;
	c->filter_body = s;
	r = kwg_tpl_eval(c, n->e, false, &v);
	c->filter_body = saved_body;
	json_decref(s);
	if (r < 0)
		return r;
	r = put_out(c, n->line, kwg_tpl_write_text(c->out, v));
	json_decref(v);
	return r;
}

const struct node *kwg_tpl_find_def(const struct ctx *c, enum node_kind kind, const char *name)
{
	for (const struct node *d = c->defs; d; d = d->next_def)
		if (d->kind == kind && strcmp(d->v1, name) == 0)
			return d;
	return NULL;
}

/* [PB] BlockFunctionExpression: the block rendered again in the current scope (a block that
 * is not defined renders nothing). */
int kwg_tpl_fn_block(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	const struct node *b;
	const char *name;
	int r = kwg_tpl_arg_str(c, a, "block", 0, "name", true, &name);

	if (r < 0)
		return r;
	b = kwg_tpl_find_def(c, N_BLOCK, name);
	if (!b) {
		*ret = json_string("");
		return *ret ? 0 : kwg_tpl_oom();
	}
	return exec_to_string(c, b->bodies[0], e->line, ret);
}

/* Deepest nesting of macro calls (a macro may call itself). */
#define MAX_MACRO_DEPTH 64

/* [PB] MacroNode.call: the arguments are evaluated where the macro is called; inside, only
 * they are seen (then the defaults, evaluated in the macro's own scope, and null for a
 * parameter with neither), not the template's variables; the body renders to a string. */
int kwg_tpl_call_macro(struct ctx *c, const struct node *m, const struct expr *e, json_t **ret)
{
	size_t mark = c->nscope, saved_base = c->scope_base, saved_frame = c->frame;
	bool saved_isolated = c->isolated;
	struct args a = {0};
	size_t k = 0;
	int r;

	if (c->macro_depth >= MAX_MACRO_DEPTH)
		return kwg_tpl_fail(c, -EINVAL, e->line, "macro '%s': calls nested deeper than %d",
		                    m->v1, MAX_MACRO_DEPTH);
	r = kwg_tpl_args_eval(c, e, &a);
	if (r < 0)
		return r;
	for (size_t i = 0; r >= 0 && i < a.n; i++) {
		bool known = false;
		for (size_t j = 0; a.names[i] && j < m->nconds; j++)
			known |= strcmp(a.names[i], m->params[j]) == 0;
		if (a.names[i] && !known)
			r = kwg_tpl_fail(c, -EINVAL, e->line,
			                 "The following named argument does not exist: %s",
			                 a.names[i]);
		else if (!a.names[i] && k++ >= m->nconds)
			r = kwg_tpl_fail(c, -EINVAL, e->line,
			                 "The argument at position %zu is not allowed. Only %zu "
			                 "argument(s) are allowed.",
			                 k, m->nconds);
	}
	c->scope_base = c->frame = mark;
	c->isolated = true;
	c->macro_depth++;
	for (size_t i = 0; r >= 0 && i < m->nconds; i++) {
		json_t *v = kwg_tpl_arg(&a, i, m->params[i]);
		if (v)
			v = json_incref(v);
		else if (m->conds[i])
			r = kwg_tpl_eval(c, m->conds[i], false, &v);
		else
			v = json_null();
		if (r >= 0)
			r = kwg_tpl_scope_set(c, m->params[i], v);
	}
	if (r >= 0)
		r = exec_to_string(c, m->bodies[0], e->line, ret);
	c->macro_depth--;
	kwg_tpl_scope_pop_to(c, mark);
	c->scope_base = saved_base;
	c->frame = saved_frame;
	c->isolated = saved_isolated;
	kwg_tpl_args_done(&a);
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
			r = kwg_tpl_eval(c, n->e, false, &v);
			if (r < 0)
				break;
			r = put_out(c, n->line,
			            kwg_tpl_jnum(c, v) ? kwg_tpl_value_text(c, c->out, v)
			                               : kwg_tpl_write_text(c->out, v));
			json_decref(v);
			break;
		}
		case N_IF: {
			size_t i;
			for (i = 0; i < n->nconds; i++) {
				json_t *v;
				bool t = false;
				r = kwg_tpl_eval(c, n->conds[i], false, &v);
				if (r < 0)
					return r;
				r = kwg_tpl_condition(c, v, n->line, "if statement", &t);
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
		case N_BLOCK:
			r = exec_nodes(c, n->bodies[0]);
			break;
		case N_MACRO:
			break;
		case N_SET: {
			json_t *v = NULL;
			r = kwg_tpl_eval(c, n->e, false, &v);
			if (r < 0)
				break;
			r = check_depth(c, v, n->line);
			if (r >= 0)
				r = kwg_tpl_scope_set(c, n->v1, v);
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
	r = kwg_tpl_lex_template(c);
	if (r >= 0)
		r = kwg_tpl_parse_body(c, NULL, 0, &root, NULL);
	if (r >= 0)
		r = exec_nodes(c, root);
	kwg_tpl_scope_pop_to(c, 0);
	free(c->scope);
	c->scope = NULL;
	kwg_tpl_jnums_done(c);
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

int kwg_tpl_render_nested(struct ctx *c, const char *tmpl, int line, char **ret)
{
	if (c->render_depth + 1 > KWG_TEMPLATE_MAX_DEPTH)
		return kwg_tpl_fail(c, -EINVAL, line, "render() nested deeper than %d",
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
		kwg_tpl_strip_raw(*ret);
	return r;
}
