/* SPDX-License-Identifier: Apache-2.0 */
/* Evaluator: expressions into values (call arguments, arithmetic as Java, ranges, contains,
 * attribute access). */
#include "template/internal.h"

/* ==== evaluation ==== */

static int undefined_err(struct ctx *c, const char *name, int line)
{
	size_t n = strlen(c->tmpl);
	int r =
	    kwg_tpl_fail(c, -EINVAL, line, "Unable to find `%s` used in the expression `%.*s%s`",
	                 name, (int)KWG_MIN(n, MAX_TEMPLATE_EXPR_SHOWN), c->tmpl,
	                 n > MAX_TEMPLATE_EXPR_SHOWN ? "…" : "");
	c->attr_missing = true;
	return r;
}

/* Evaluates e where an undefined value is an answer (the left of ?? and ???, the input of
 * default, of "is defined"). KESTRA: those catch Pebble's AttributeNotFoundException thrown
 * anywhere inside (block[missing].child, (missing | upper)), so such a failure is undefined. */
int kwg_tpl_eval_soft(struct ctx *c, const struct expr *e, json_t **ret)
{
	struct kwg_err saved;
	int r;

	if (c->err)
		saved = *c->err;
	r = kwg_tpl_eval(c, e, true, ret);
	if (r < 0 && c->attr_missing) {
		c->attr_missing = false;
		if (c->err)
			*c->err = saved;
		*ret = NULL;
		return 0;
	}
	return r;
}

void kwg_tpl_args_done(struct args *a)
{
	for (size_t i = 0; i < a->n; i++)
		json_decref(a->v[i]);
	a->n = 0;
}

int kwg_tpl_args_eval(struct ctx *c, const struct expr *e, struct args *a)
{
	int r;

	a->n = 0;
	a->line = e->line;
	if (e->nargs > ARRAY_SIZE(a->v))
		return kwg_tpl_fail(c, -EINVAL, e->line, "too many arguments to '%s'", e->s);
	for (size_t i = 0; i < e->nargs; i++) {
		json_t *v;
		r = kwg_tpl_eval(c, e->args[i], false, &v);
		if (r < 0) {
			kwg_tpl_args_done(a);
			return r;
		}
		a->v[a->n] = v;
		a->names[a->n] = e->argnames ? e->argnames[i] : NULL;
		a->n++;
	}
	return 0;
}

/* Positional argument pos, or the one named name; NULL when absent (borrowed). */
json_t *kwg_tpl_arg(const struct args *a, size_t pos, const char *name)
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

int kwg_tpl_arg_str(struct ctx *c, const struct args *a, const char *fn, size_t pos,
                    const char *name, bool required, const char **ret)
{
	json_t *v = kwg_tpl_arg(a, pos, name);
	if (!v || json_is_null(v)) {
		if (required)
			return kwg_tpl_fail(c, -EINVAL, a->line, "'%s' needs its '%s' argument", fn,
			                    name);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return kwg_tpl_fail(c, -EINVAL, a->line,
		                    "'%s': argument '%s' must be a string, not %s", fn, name,
		                    kwg_tpl_type_name(v));
	*ret = json_string_value(v);
	return 0;
}

int kwg_tpl_arg_int(struct ctx *c, const struct args *a, const char *fn, size_t pos,
                    const char *name, bool required, int64_t def, int64_t *ret)
{
	json_t *v = kwg_tpl_arg(a, pos, name);
	if (!v || json_is_null(v)) {
		if (required)
			return kwg_tpl_fail(c, -EINVAL, a->line, "'%s' needs its '%s' argument", fn,
			                    name);
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
	return kwg_tpl_fail(c, -EINVAL, a->line, "'%s': argument '%s' must be an integer, not %s",
	                    fn, name, kwg_tpl_type_name(v));
}

bool kwg_tpl_arg_bool(const struct args *a, size_t pos, const char *name, bool def)
{
	json_t *v = kwg_tpl_arg(a, pos, name);
	if (!v || json_is_null(v))
		return def;
	if (json_is_string(v))
		return strcasecmp(json_string_value(v), "true") == 0;
	return kwg_tpl_truthy(v);
}

/* ---- arithmetic (Pebble OperatorUtils: long op long stays long, wrapping as Java) ---- */

static int arith(struct ctx *c, int op, json_t *x, json_t *y, int line, json_t **ret)
{
	static const char *const sym[] = {
	    [OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*", [OP_DIV] = "/", [OP_MOD] = "%"};

	if (!kwg_tpl_is_number(x) || !kwg_tpl_is_number(y))
		return kwg_tpl_fail(c, -EINVAL, line, "cannot apply '%s' to %s and %s", sym[op],
		                    kwg_tpl_type_name(x), kwg_tpl_type_name(y));
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
				return kwg_tpl_fail(c, -EINVAL, line, "/ by zero");
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
		double a = kwg_tpl_num_value(x), b = kwg_tpl_num_value(y), v = 0;
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
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_list_check(struct ctx *c, size_t n, int line)
{
	if (n > MAX_LIST)
		return kwg_tpl_fail(c, -EMSGSIZE, line, "a list would pass %d items", MAX_LIST);
	*c->steps += n;
	return kwg_tpl_step(c, line);
}

int kwg_tpl_make_range(struct ctx *c, int64_t from, int64_t to, int64_t inc, int line, json_t **ret)
{
	json_t *l;
	uint64_t count;

	if (inc == 0)
		return kwg_tpl_fail(c, -EINVAL, line, "range increment must not be 0");
	if ((inc > 0 && from > to) || (inc < 0 && from < to))
		count = 0;
	else if (inc > 0)
		count = ((uint64_t)to - (uint64_t)from) / (uint64_t)inc + 1;
	else
		count = ((uint64_t)from - (uint64_t)to) / (uint64_t)(-(inc + 1) + 1ull) + 1;
	if (count > MAX_LIST)
		return kwg_tpl_fail(c, -EMSGSIZE, line, "a range would pass %d items", MAX_LIST);
	int r = kwg_tpl_list_check(c, (size_t)count, line);
	if (r < 0)
		return r;
	l = json_array();
	if (!l)
		return kwg_tpl_oom();
	for (uint64_t i = 0; i < count; i++) {
		if (json_array_append_new(
		        l, json_integer((int64_t)((uint64_t)from + i * (uint64_t)inc))) < 0) {
			json_decref(l);
			return kwg_tpl_oom();
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
			r = kwg_tpl_value_text(c, &b, parts[i]);
	}
	if (r < 0) {
		kwg_buf_done(&b);
		return kwg_tpl_size_err(c, r, line);
	}
	return kwg_tpl_buf_value(c, &b, line, ret);
}

static int contains(struct ctx *c, json_t *x, json_t *y, int line, bool *ret)
{
	if (!x || json_is_null(x)) {
		*ret = false;
		return 0;
	}
	if (json_is_string(x)) {
		json_t *s;
		int r = kwg_tpl_to_string_value(c, y, line, &s);
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
				r = kwg_tpl_step(c, line);
				if (r < 0)
					return r;
				json_array_foreach (x, i, v)
					found |= kwg_tpl_values_equal(v, w);
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
			if (kwg_tpl_values_equal(v, y))
				*ret = true;
		return kwg_tpl_step(c, line);
	}
	return kwg_tpl_fail(c, -EINVAL, line, "'contains' needs a list, map or string, not %s",
	                    kwg_tpl_type_name(x));
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
		r = kwg_tpl_list_check(c, n, line);
		if (r >= 0 && !l)
			r = kwg_tpl_oom();
		if (r >= 0)
			r = (json_is_array(y) ? json_array_extend(l, y) : json_array_append(l, y)) <
			            0
			        ? kwg_tpl_oom()
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
			return kwg_tpl_oom();
		json_array_foreach (x, i, v) {
			bool drop;
			if (json_is_array(y)) {
				r = contains(c, y, v, line, &drop);
				if (r < 0)
					break;
			} else {
				drop = kwg_tpl_values_equal(v, y);
			}
			if (!drop && json_array_append(l, v) < 0) {
				r = kwg_tpl_oom();
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
		r = kwg_tpl_eval_soft(c, e->a, &x);
		if (r < 0)
			return r;
		if (x && (op == OP_UNDEFCO || !json_is_null(x))) {
			*ret = x;
			return 0;
		}
		json_decref(x);
		/* KESTRA: NullCoalescingExpression catches the left side's missing attribute, so in
		 * "a ?? b ?? 'c'" an undefined b falls through to 'c'. */
		return kwg_tpl_eval(c, e->b, soft, ret);
	}
	r = kwg_tpl_eval(c, e->a, false, &x);
	if (r < 0)
		return r;
	if (op == OP_AND || op == OP_OR) {
		const char *where = op == OP_AND ? "and" : "or";
		bool t = false;
		r = kwg_tpl_condition(c, x, e->line, where, &t);
		json_decref(x);
		if (r < 0)
			return r;
		if ((op == OP_AND && !t) || (op == OP_OR && t)) {
			*ret = json_boolean(t);
			return 0;
		}
		r = kwg_tpl_eval(c, e->b, false, &y);
		if (r < 0)
			return r;
		r = kwg_tpl_condition(c, y, e->line, where, &t);
		json_decref(y);
		if (r < 0)
			return r;
		*ret = json_boolean(t);
		return 0;
	}
	r = kwg_tpl_eval(c, e->b, false, &y);
	if (r < 0) {
		json_decref(x);
		return r;
	}
	switch (op) {
	case OP_EQ:
	case OP_NE:
		*ret = json_boolean(kwg_tpl_values_equal(x, y) == (op == OP_EQ));
		break;
	case OP_LT:
	case OP_GT:
	case OP_LE:
	case OP_GE: {
		int k = kwg_tpl_compare_values(x, y);
		if (json_is_null(x) || json_is_null(y)) { /* OperatorUtils: null compares false */
			*ret = json_false();
			break;
		}
		/* KESTRA: LessThanExpression & co. (expression/): two strings compare with
		 * String.compareTo; everything else as Pebble's OperatorUtils (numbers). */
		if (k == -2 || (!(kwg_tpl_is_number(x) && kwg_tpl_is_number(y)) &&
		                !(json_is_string(x) && json_is_string(y)))) {
			r = kwg_tpl_fail(c, -EINVAL, e->line, "cannot compare %s with %s",
			                 kwg_tpl_type_name(x), kwg_tpl_type_name(y));
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
		r = kwg_tpl_range_values(c, x, y, 1, e->line, ret);
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
		return kwg_tpl_oom();
	return r;
}

/* A looked-up value that is encrypted (Kestra's EncryptedString) becomes its plaintext when the
 * caller's hook says so. *v is replaced (or released on failure). */
static int decrypt_value(struct ctx *c, int line, json_t **v)
{
	const struct kwg_template_hooks *h = c->opts->hooks;
	struct kwg_err herr = {{0}};
	char *plain = NULL;
	json_t *s;
	int r;

	if (!h || !h->encrypted || !kwg_template_is_encrypted(*v))
		return 0;
	r = h->encrypted(h->encrypted_userdata, *v, &plain, &herr);
	if (r == -ENOENT)
		return 0;
	json_decref(*v);
	*v = NULL;
	if (r < 0)
		return r == -ENOMEM ? r
		                    : kwg_tpl_fail(c, r, line, "%s",
		                                   herr.msg[0] ? herr.msg : "cannot decrypt");
	s = json_string(plain);
	free(plain);
	if (!s)
		return kwg_tpl_oom();
	*v = s;
	return 0;
}

static int eval_access(struct ctx *c, const struct expr *e, bool soft, json_t **ret)
{
	json_t *base = NULL, *key = NULL, *v = NULL;
	const char *name = e->s;
	char idxname[32];
	int r;

	r = kwg_tpl_eval(c, e->a, soft, &base);
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
		r = kwg_tpl_eval(c, e->b, false, &key);
		if (r < 0)
			return r;
		json_t *k = NULL;
		r = kwg_tpl_to_string_value(c, key, e->line, &k);
		json_decref(key);
		if (r < 0)
			return r;
		r = undefined_err(c, json_string_value(k), e->line);
		json_decref(k);
		return r;
	}
	if (e->kind == E_INDEX) {
		r = kwg_tpl_eval(c, e->b, false, &key);
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
		return *ret ? 0 : kwg_tpl_oom();
	}
	if (!name) {
		snprintf(idxname, sizeof(idxname), "%s", key ? kwg_tpl_type_name(key) : "?");
		name = idxname;
	}
	if (v) {
		*ret = json_incref(v);
		r = decrypt_value(c, e->line, ret);
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
		return kwg_tpl_oom();
	r = kwg_tpl_list_check(c, e->nargs, e->line);
	for (size_t i = 0; i < e->nargs && r >= 0; i++) {
		json_t *x, *y;
		r = kwg_tpl_eval(c, e->args[i], false, &x);
		if (r < 0)
			break;
		if (e->kind == E_LIST) {
			r = json_array_append_new(v, x) < 0 ? kwg_tpl_oom() : 0;
			continue;
		}
		r = kwg_tpl_eval(c, e->args[++i], false, &y);
		if (r < 0) {
			json_decref(x);
			break;
		}
		json_t *k;
		r = kwg_tpl_to_string_value(c, x, e->line, &k);
		json_decref(x);
		if (r >= 0) {
			r = json_object_setn_new_nocheck(v, json_string_value(k),
			                                 json_string_length(k), y) < 0
			        ? kwg_tpl_oom()
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
		v = kwg_tpl_scope_get(c, e->s);
		if (!v) {
			if (soft) {
				*ret = NULL;
				return 0;
			}
			return undefined_err(c, e->s, e->line);
		}
		json_incref(v);
		r = decrypt_value(c, e->line, &v);
		if (r < 0)
			return r;
		break;
	case E_ATTR:
	case E_INDEX:
		return eval_access(c, e, soft, ret);
	case E_LIST:
	case E_MAP:
		return eval_collection(c, e, ret);
	case E_NEG:
		r = kwg_tpl_eval(c, e->a, false, &v);
		if (r < 0)
			return r;
		if (!kwg_tpl_is_number(v)) {
			r = kwg_tpl_fail(c, -EINVAL, e->line, "cannot negate %s",
			                 kwg_tpl_type_name(v));
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
		r = kwg_tpl_eval(c, e->a, false, &v);
		if (r < 0)
			return r;
		{
			bool t = false;
			r = kwg_tpl_condition(c, v, e->line, "not()", &t);
			json_decref(v);
			if (r < 0)
				return r;
			v = json_boolean(!t);
		}
		break;
	case E_BIN:
		return eval_bin(c, e, soft, ret);
	case E_TERNARY:
		r = kwg_tpl_eval(c, e->a, false, &v);
		if (r < 0)
			return r;
		{
			bool t = false;
			r = kwg_tpl_condition(c, v, e->line, NULL, &t);
			json_decref(v);
			if (r < 0)
				return r;
			return kwg_tpl_eval(c, t ? e->b : e->c, false, ret);
		}
	case E_FILTER:
		return kwg_tpl_call_filter(c, e, ret);
	case E_FUNC:
		return kwg_tpl_call_function(c, e, ret);
	case E_TEST:
		return kwg_tpl_call_test(c, e, ret);
	case E_METHOD:
		return kwg_tpl_call_method(c, e, ret);
	case E_BODY:
		v = c->filter_body ? json_incref(c->filter_body) : json_null();
		break;
	case E_INTERP: {
		struct kwg_buf b;
		kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
		for (size_t i = 0; i < e->nargs; i++) {
			r = kwg_tpl_eval(c, e->args[i], false, &v);
			if (r >= 0) {
				r = json_is_null(v) ? 0 : kwg_tpl_value_text(c, &b, v);
				json_decref(v);
				if (r < 0)
					r = kwg_tpl_size_err(c, r, e->line);
			}
			if (r < 0) {
				kwg_buf_done(&b);
				return r;
			}
		}
		return kwg_tpl_buf_value(c, &b, e->line, ret);
	}
	}
	if (!v)
		return kwg_tpl_oom();
	*ret = v;
	return 0;
}

int kwg_tpl_eval(struct ctx *c, const struct expr *e, bool soft, json_t **ret)
{
	int r;

	if (++c->edepth > 2 * MAX_EXPR_DEPTH) {
		c->edepth--;
		return kwg_tpl_fail(c, -EINVAL, e->line, "expression nested too deeply");
	}
	r = kwg_tpl_step(c, e->line);
	if (r >= 0)
		r = eval_inner(c, e, soft, ret);
	c->edepth--;
	return r;
}
