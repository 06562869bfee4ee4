/* SPDX-License-Identifier: Apache-2.0 */
/* Filters on strings: case, trim, split, replace, Java regular expressions (template/jregex.h),
 * slugify, substrings, indent, url encoding, abbreviate, escapeChar. */
#include "template/internal.h"

/* ---- Java regular expressions (template/jregex.h) ---- */

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
		return kwg_tpl_oom();
	if (r < 0)
		return kwg_tpl_fail(c, r, e->line, "filter '%s': %s", e->s, rerr.msg);
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
	int r = kwg_tpl_step(rs->c, rs->line);
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
		return kwg_tpl_oom();
	if (r == -EMSGSIZE)
		return kwg_tpl_size_err(c, r, e->line);
	return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s': %s", e->s, rerr->msg);
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
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s': value nested too deeply",
		                    e->s);
	if (json_is_null(v)) {
		*ret = json_null();
		return 0;
	}
	if (json_is_array(v)) {
		size_t i;
		out = json_array();
		if (!out)
			return kwg_tpl_oom();
		json_array_foreach (v, i, x) {
			r = map_strings(c, e, x, fn, data, depth + 1, &y);
			if (r >= 0)
				r = json_array_append_new(out, y) < 0 ? kwg_tpl_oom() : 0;
			if (r < 0)
				break;
		}
	} else if (json_is_object(v)) {
		const char *k;
		out = json_object();
		if (!out)
			return kwg_tpl_oom();
		json_object_foreach (v, k, x) {
			r = map_strings(c, e, x, fn, data, depth + 1, &y);
			if (r >= 0)
				r = json_object_set_new_nocheck(out, k, y) < 0 ? kwg_tpl_oom() : 0;
			if (r < 0)
				break;
		}
	} else {
		json_t *s;
		r = kwg_tpl_to_string_value(c, v, e->line, &s);
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
 * template/unicode.h. */
int kwg_tpl_f_upper_lower(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                          json_t **ret)
{
	bool up = e->s[0] == 'u';
	cleanup_free char *s = NULL;
	size_t n;
	int r = kwg_tpl_need_string(c, e, in);
	if (r < 0)
		return r;
	r = kwg_java_case(json_string_value(in), json_string_length(in), up, &s, &n);
	if (r < 0)
		return r == -ENOMEM ? kwg_tpl_oom()
		                    : kwg_tpl_fail(c, r, e->line, "filter '%s': not UTF-8", e->s);
	*ret = json_stringn_nocheck(s, n);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_f_capitalize_title(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                               json_t **ret)
{
	bool title = e->s[0] == 't';
	cleanup_free char *s = NULL;
	size_t n;
	int r = kwg_tpl_need_string(c, e, in);
	if (r < 0)
		return r;
	r = kwg_java_titlecase(json_string_value(in), json_string_length(in), title, &s, &n);
	if (r < 0)
		return r == -ENOMEM ? kwg_tpl_oom()
		                    : kwg_tpl_fail(c, r, e->line, "filter '%s': not UTF-8", e->s);
	*ret = json_stringn_nocheck(s, n);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_f_trim(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	int r = kwg_tpl_need_string(c, e, in);
	if (r < 0)
		return r;
	const char *s = json_string_value(in);
	size_t b = 0, n = json_string_length(in);
	while (b < n && (unsigned char)s[b] <= ' ')
		b++;
	while (n > b && (unsigned char)s[n - 1] <= ' ')
		n--;
	*ret = json_stringn_nocheck(s + b, n - b);
	return *ret ? 0 : kwg_tpl_oom();
}

struct split_out {
	struct regex_step rs; /* first: kwg_jregex_split gives regex_step the same data */
	json_t *list;
};

static int split_piece(void *data, const char *p, size_t len)
{
	struct split_out *so = data;
	return json_array_append_new(so->list, json_stringn_nocheck(p, len)) < 0 ? kwg_tpl_oom()
	                                                                         : 0;
}

int kwg_tpl_f_split(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const char *sep;
	int64_t limit;
	struct kwg_jregex *re;
	struct kwg_err rerr;
	int r = kwg_tpl_need_string(c, e, in);
	if (r < 0)
		return r;
	r = kwg_tpl_arg_str(c, a, "split", 0, "delimiter", true, &sep);
	if (r < 0)
		return r;
	r = kwg_tpl_arg_int(c, a, "split", 1, "limit", false, 0, &limit);
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
		return kwg_tpl_oom();
	r = kwg_jregex_split(re, json_string_value(in), json_string_length(in), (long long)limit,
	                     split_piece, regex_step, &so, &rerr);
	if (r < 0)
		r = regex_err(c, e, r, &so.rs, &rerr);
	if (r >= 0)
		r = kwg_tpl_list_check(c, json_array_size(so.list), e->line);
	if (r < 0) {
		json_decref(so.list);
		return r;
	}
	*ret = so.list;
	return 0;
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
		return kwg_tpl_oom();
	/* KESTRA: ReplaceFilter.processString: each pair in order, String.replace or, with
	 * regexp, String.replaceAll (Java regex through PCRE2, template/jregex.h). */
	json_object_foreach (ra->pairs, k, v) {
		struct kwg_buf b;
		json_t *rep;
		kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT);
		r = kwg_tpl_to_string_value(c, v, e->line, &rep);
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
				r = kwg_tpl_size_err(c, r, e->line);
			break;
		}
		json_decref(cur);
		r = kwg_tpl_buf_value(c, &b, e->line, &cur);
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

int kwg_tpl_f_replace(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	struct replace_args ra = {kwg_tpl_arg(a, 0, "replace_pairs"),
	                          kwg_tpl_arg_bool(a, 1, "regexp", false)};

	if (!ra.pairs || json_is_null(ra.pairs))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The argument 'replace_pairs' is required.");
	if (!json_is_object(ra.pairs))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "filter 'replace' needs a map of replacements, not %s",
		                    kwg_tpl_type_name(ra.pairs));
	return map_strings(c, e, in, replace_string, &ra, 0, ret);
}

/* KESTRA: RegexMatchFilter, RegexExtractFilter, RegexReplaceFilter (Kestra 1.x, read @
 * 3bd5dd62): Matcher.find(), the first match's group, Matcher.replaceAll on toString(). */
static int regex_arg(struct ctx *c, const struct expr *e, struct args *a, json_t *in,
                     struct kwg_jregex **ret_re, json_t **ret_text)
{
	json_t *rx = kwg_tpl_arg(a, 0, "regex"), *p;
	int r;

	if (!rx || json_is_null(rx))
		return kwg_tpl_fail(c, -EINVAL, e->line, "The argument 'regex' is required.");
	r = kwg_tpl_to_string_value(c, rx, e->line, &p);
	if (r < 0)
		return r;
	r = get_regex(c, e, json_string_value(p), json_string_length(p), ret_re);
	json_decref(p);
	if (r < 0)
		return r;
	return kwg_tpl_to_string_value(c, in, e->line, ret_text);
}

int kwg_tpl_f_regex_match(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
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

int kwg_tpl_f_regex_extract(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                            json_t **ret)
{
	struct kwg_jregex *re;
	struct kwg_jregex_iter it;
	struct kwg_err rerr;
	struct regex_step rs = {c, e->line, false};
	json_t *text, *g = kwg_tpl_arg(a, 1, "group");
	int64_t group = 0;
	size_t gs, ge;
	int r;

	if (g && !json_is_null(g)) {
		if (!kwg_tpl_is_number(g))
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "filter 'regexExtract': group must be a number, not %s",
			                    kwg_tpl_type_name(g));
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
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter 'regexExtract': No group %" PRId64,
		                    group);
	}
	if (kwg_jregex_group(re, (size_t)group, &gs, &ge))
		*ret = json_stringn_nocheck(json_string_value(text) + gs, ge - gs);
	else
		*ret = json_null();
	json_decref(text);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_f_regex_replace(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                            json_t **ret)
{
	struct kwg_jregex *re;
	struct kwg_err rerr;
	struct regex_step rs = {c, e->line, false};
	struct kwg_buf b;
	json_t *text, *rep = kwg_tpl_arg(a, 1, "replacement"), *reps;
	int r;

	if (!kwg_tpl_arg(a, 0, "regex") || json_is_null(kwg_tpl_arg(a, 0, "regex")))
		return kwg_tpl_fail(c, -EINVAL, e->line, "The argument 'regex' is required.");
	if (!rep || json_is_null(rep))
		return kwg_tpl_fail(c, -EINVAL, e->line, "The argument 'replacement' is required.");
	r = regex_arg(c, e, a, in, &re, &text);
	if (r < 0)
		return r;
	r = kwg_tpl_to_string_value(c, rep, e->line, &reps);
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
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

int kwg_tpl_f_slugify(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	cleanup_free char *slug = NULL;
	int r = kwg_tpl_need_string(c, e, in);

	if (r < 0)
		return r;
	/* The same Slugify as Kestra's storage paths (kwg_slugify, template/unicode.c). */
	slug = kwg_slugify(json_string_value(in));
	if (!slug)
		return kwg_tpl_oom();
	*ret = json_string(slug);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_f_starts_ends(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                          json_t **ret)
{
	json_t *s = NULL, *x = NULL, *xv = kwg_tpl_arg(a, 0, "value");
	int r;

	/* KESTRA: Starts/EndsWithFilter: input.toString(), value.toString() */
	if (!xv)
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s' needs its 'value' argument",
		                    e->s);
	r = kwg_tpl_to_string_value(c, in, e->line, &s);
	if (r >= 0)
		r = kwg_tpl_to_string_value(c, xv, e->line, &x);
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

int kwg_tpl_f_substring(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret)
{
	const char *x;
	json_t *str;
	bool before = strncmp(e->s, "substringBefore", 15) == 0;
	bool last = e->s[strlen(e->s) - 1] == 't';
	int r = kwg_tpl_arg_str(c, a, e->s, 0, "separator", true, &x);
	if (r < 0)
		return r;
	r = kwg_tpl_to_string_value(c, in, e->line, &str);
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
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_f_indent(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	int64_t amount;
	const char *prefix, *sep;
	bool nindent = e->s[0] == 'n';
	struct kwg_buf b, pad;
	json_t *str;
	int r;

	r = kwg_tpl_to_string_value(c, in, e->line, &str);
	if (r < 0)
		return r;
	const char *s = json_string_value(str), *end = s + json_string_length(str);
	if (s == end) {
		*ret = str;
		return 0;
	}
	r = kwg_tpl_arg_int(c, a, e->s, 0, "amount", true, 0, &amount);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, e->s, 1, "prefix", false, &prefix);
	if (r >= 0 && (amount < 0 || amount > 4096))
		r = kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The '%s' filter expects a positive integer >=0 as argument 'amount'.", e->s);
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
		return kwg_tpl_size_err(c, r, e->line);
	}
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

int kwg_tpl_f_urlencode(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret)
{
	struct kwg_buf b;
	int r = kwg_tpl_need_string(c, e, in);
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
					return kwg_tpl_fail(
					    c, -EINVAL, e->line,
					    "filter 'urldecode': bad escape at byte %zu", i);
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
		return kwg_tpl_size_err(c, r, e->line);
	}
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

int kwg_tpl_f_abbreviate(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret)
{
	int64_t w;
	int r = kwg_tpl_need_string(c, e, in);
	if (r < 0)
		return r;
	r = kwg_tpl_arg_int(c, a, "abbreviate", 0, "length", true, 0, &w);
	if (r < 0)
		return r;
	if (w < 0)
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
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
	return kwg_tpl_buf_value(c, &b, e->line, ret);
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
		return kwg_tpl_size_err(c, r, e->line);
	}
	return kwg_tpl_buf_value(c, &b, e->line, ret);
}

int kwg_tpl_f_escape_char(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                          json_t **ret)
{
	const char *type, *fr[2];
	int r = kwg_tpl_arg_str(c, a, "escapeChar", 0, "type", true, &type);
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
		return kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The 'escapeChar' filter expects the value of 'type' to be either "
		    "'single', 'double', or 'shell'.");
	}
	return map_strings(c, e, in, escape_string, fr, 0, ret);
}
