/* SPDX-License-Identifier: Apache-2.0 */
/* Filters on lists and maps: length, default, join, first/last, keys/values, toJson, sort,
 * reverse, slice, merge, chunk, flatten, distinct, condense. */
#include "template/internal.h"
#include "template/yaml.h"

int kwg_tpl_f_length(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
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
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_f_default(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	json_t *d = kwg_tpl_arg(a, 0, "default");
	/* KESTRA: Pebble DefaultFilter: what EmptyTest calls empty takes the default. */
	if (kwg_tpl_is_empty(in))
		*ret = d ? json_incref(d) : json_null();
	else
		*ret = json_incref(in);
	return 0;
}

int kwg_tpl_f_join(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
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
	r = kwg_tpl_need_list(c, e, in);
	if (r < 0)
		return r;
	r = kwg_tpl_arg_str(c, a, "join", 0, "separator", false, &sep);
	if (r < 0)
		return r;
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	json_array_foreach (in, i, v) {
		if (i && sep)
			r = kwg_buf_puts(&b, sep);
		if (r >= 0)
			r = kwg_tpl_value_text(c, &b, v);
		if (r < 0) {
			kwg_buf_done(&b);
			return kwg_tpl_size_err(c, r, e->line);
		}
	}
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

int kwg_tpl_f_first_last(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
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
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "filter '%s': String index out of range", e->s);
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
		return *ret ? 0 : kwg_tpl_oom();
	}
	if (json_is_null(in)) {
		*ret = json_null();
		return 0;
	}
	return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s' needs a list or string, not %s", e->s,
	                    kwg_tpl_type_name(in));
}

int kwg_tpl_f_keys_values(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
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
		return kwg_tpl_make_range(c, 0, (int64_t)json_array_size(in) - 1, 1, e->line, ret);
	if (!json_is_object(in))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "'%s' filter can only be applied to %s, not %s", e->s,
		                    keys ? "List, Map" : "Map", kwg_tpl_type_name(in));
	l = json_array();
	if (!l)
		return kwg_tpl_oom();
	json_object_foreach (in, k, v) {
		if (json_array_append_new(l, keys ? json_string_nocheck(k) : json_incref(v)) < 0) {
			json_decref(l);
			return kwg_tpl_oom();
		}
	}
	*ret = l;
	return 0;
}

int kwg_tpl_f_tojson(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	struct kwg_buf b;
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	int r = kwg_tpl_json_write(&b, in, 0);
	if (r < 0) {
		kwg_buf_done(&b);
		return kwg_tpl_size_err(c, r, e->line);
	}
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

/* KESTRA: YamlFilter: null gives the text "null", anything else a YAML document. */
int kwg_tpl_f_yaml(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	struct kwg_buf b;
	int r;

	(void)a;
	if (json_is_null(in)) {
		*ret = json_string("null");
		return *ret ? 0 : kwg_tpl_oom();
	}
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
	r = kwg_yaml_dump(in, &b);
	if (r < 0) {
		kwg_buf_done(&b);
		return kwg_tpl_size_err(c, r, e->line);
	}
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

static int sort_cmp(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int k = kwg_tpl_compare_values(a, b);
	return k == -2 ? 0 : k;
}

int kwg_tpl_f_sort(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	bool desc = e->s[0] == 'r';
	int r = kwg_tpl_need_list(c, e, in);
	if (r < 0)
		return r;
	size_t n = json_array_size(in);
	for (size_t i = 1; i < n; i++)
		if (kwg_tpl_compare_values(json_array_get(in, 0), json_array_get(in, i)) == -2)
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "filter '%s': items cannot be compared", e->s);
	r = kwg_tpl_list_check(c, n, e->line);
	if (r < 0)
		return r;
	json_t **v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return kwg_tpl_oom();
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
		return kwg_tpl_oom();
	*ret = l;
	return 0;
}

int kwg_tpl_f_reverse(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	if (json_is_string(in)) {
		size_t n = json_string_length(in);
		const char *s = json_string_value(in);
		char *o = malloc(n + 1);
		if (!o)
			return kwg_tpl_oom();
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
		return *ret ? 0 : kwg_tpl_oom();
	}
	int r = kwg_tpl_need_list(c, e, in);
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
		return kwg_tpl_oom();
	*ret = l;
	return 0;
}

int kwg_tpl_f_slice(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	int64_t from, to, len;
	int r;

	if (json_is_string(in))
		len = (int64_t)kwg_utf16_units(json_string_value(in), json_string_length(in));
	else if (json_is_array(in))
		len = (int64_t)json_array_size(in);
	else
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "Slice filter can only be applied to String, List and array inputs, not %s",
		    kwg_tpl_type_name(in));
	r = kwg_tpl_arg_int(c, a, "slice", 0, "fromIndex", false, 0, &from);
	if (r >= 0)
		r = kwg_tpl_arg_int(c, a, "slice", 1, "toIndex", false, -1, &to);
	if (r < 0)
		return r;
	/* KESTRA: Pebble SliceFilter bounds */
	if (from < 0)
		return kwg_tpl_fail(c, -EINVAL, e->line, "fromIndex must be greater than 0");
	if (to != -1 || kwg_tpl_arg(a, 1, "toIndex")) {
		if (to > len)
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "toIndex must be smaller than input size: %" PRId64,
			                    len);
		if (from >= to)
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "toIndex must be greater than fromIndex");
	} else {
		to = len;
	}
	if (from > to)
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "fromIndex %" PRId64 " out of bounds for length %" PRId64, from,
		                    len);
	if (json_is_string(in)) {
		const char *s = json_string_value(in);
		/* String.substring: UTF-16 indexes */
		size_t n = json_string_length(in), b = kwg_utf16_offset(s, n, (size_t)from);
		*ret = json_stringn_nocheck(s + b, kwg_utf16_offset(s, n, (size_t)to) - b);
		return *ret ? 0 : kwg_tpl_oom();
	}
	json_t *l = json_array();
	for (int64_t i = from; l && i < to; i++)
		if (json_array_append(l, json_array_get(in, (size_t)i)) < 0) {
			json_decref(l);
			l = NULL;
		}
	if (!l)
		return kwg_tpl_oom();
	*ret = l;
	return 0;
}

int kwg_tpl_f_merge(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	json_t *o = kwg_tpl_arg(a, 0, "items");
	int r;

	if (json_is_object(in) && json_is_object(o)) {
		json_t *m = json_copy(in);
		if (!m || json_object_update(m, o) < 0) {
			json_decref(m);
			return kwg_tpl_oom();
		}
		*ret = m;
		return 0;
	}
	if (json_is_array(in) && (json_is_array(o) || o)) {
		r = kwg_tpl_list_check(
		    c, json_array_size(in) + (json_is_array(o) ? json_array_size(o) : 1), e->line);
		if (r < 0)
			return r;
		json_t *l = json_copy(in);
		if (!l ||
		    (json_is_array(o) ? json_array_extend(l, o) : json_array_append(l, o)) < 0) {
			json_decref(l);
			return kwg_tpl_oom();
		}
		*ret = l;
		return 0;
	}
	return kwg_tpl_fail(c, -EINVAL, e->line, "filter 'merge' cannot merge %s with %s",
	                    kwg_tpl_type_name(in), kwg_tpl_type_name(o));
}

int kwg_tpl_f_chunk(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	int64_t size;
	int r = kwg_tpl_need_list(c, e, in);
	if (r < 0)
		return r;
	r = kwg_tpl_arg_int(c, a, "chunk", 0, "size", true, 0, &size);
	if (r < 0)
		return r;
	if (size <= 0)
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter 'chunk': size must be positive");
	json_t *l = json_array(), *cur = NULL;
	size_t i;
	json_t *v;
	if (!l)
		return kwg_tpl_oom();
	json_array_foreach (in, i, v) {
		if (i % (uint64_t)size == 0) {
			cur = json_array();
			if (!cur || json_array_append_new(l, cur) < 0) {
				json_decref(l);
				return kwg_tpl_oom();
			}
		}
		if (json_array_append(cur, v) < 0) {
			json_decref(l);
			return kwg_tpl_oom();
		}
	}
	*ret = l;
	return 0;
}

int kwg_tpl_f_flatten(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	size_t i;
	json_t *v;
	int r = kwg_tpl_need_list(c, e, in);
	if (r < 0)
		return r;
	json_t *l = json_array();
	if (!l)
		return kwg_tpl_oom();
	json_array_foreach (in, i, v) {
		r = json_is_array(v) ? json_array_extend(l, v) : json_array_append(l, v);
		if (r >= 0)
			r = kwg_tpl_list_check(c, json_array_size(l), e->line);
		if (r < 0) {
			json_decref(l);
			return r == -1 ? kwg_tpl_oom() : r;
		}
	}
	*ret = l;
	return 0;
}

/* KESTRA: DistinctFilter: a list without repeats (Java equals: 1 and 1.0 differ), first
 * occurrence kept; null is the string "null". */
int kwg_tpl_f_distinct(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret)
{
	json_t *l, *v;
	size_t i;

	if (json_is_null(in)) {
		*ret = json_string("null");
		return *ret ? 0 : kwg_tpl_oom();
	}
	if (!json_is_array(in))
		return kwg_tpl_fail(c, -EINVAL, e->line, "Input must be a list, but received : %s",
		                    kwg_tpl_java_class(in));
	l = json_array();
	if (!l)
		return kwg_tpl_oom();
	json_array_foreach (in, i, v) {
		bool seen = false;
		for (size_t j = 0; j < json_array_size(l) && !seen; j++) {
			int r = kwg_tpl_step(c, e->line);
			if (r < 0) {
				json_decref(l);
				return r;
			}
			seen = json_equal(json_array_get(l, j), v);
		}
		if (!seen && json_array_append(l, v) < 0) {
			json_decref(l);
			return kwg_tpl_oom();
		}
	}
	*ret = l;
	return 0;
}

/* KESTRA: CondenseStringFilter: a string without its '\n' characters. */
int kwg_tpl_f_condense(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret)
{
	if (!json_is_string(in))
		return kwg_tpl_fail(c, -EINVAL, e->line, "condense can only be applied on strings");
	const char *s = json_string_value(in);
	size_t n = json_string_length(in), k = 0;
	char *out = malloc(n + 1);
	if (!out)
		return kwg_tpl_oom();
	for (size_t i = 0; i < n; i++)
		if (s[i] != '\n')
			out[k++] = s[i];
	*ret = json_stringn_nocheck(out, k);
	free(out);
	return *ret ? 0 : kwg_tpl_oom();
}
