/* SPDX-License-Identifier: Apache-2.0 */
/* The tables of filters and functions (each family's functions live in its own file) and
 * the calls through them. */
#include "template/internal.h"

/* ==== filters ==== */

int kwg_tpl_need_string(struct ctx *c, const struct expr *e, json_t *in)
{
	if (!json_is_string(in))
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s' needs a string, not %s", e->s,
		                    kwg_tpl_type_name(in));
	return 0;
}

int kwg_tpl_need_list(struct ctx *c, const struct expr *e, json_t *in)
{
	if (!json_is_array(in))
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s' needs a list, not %s", e->s,
		                    kwg_tpl_type_name(in));
	return 0;
}

struct filter_def {
	const char *name;
	filter_fn *fn;
	bool soft;    /* sees an undefined input */
	bool null_ok; /* a null input goes to the filter (otherwise: null out) */
};

static const struct filter_def filters[] = {
    {"abs", kwg_tpl_f_abs, false, false},
    {"abbreviate", kwg_tpl_f_abbreviate, false, false},
    {"capitalize", kwg_tpl_f_capitalize_title, false, false},
    {"title", kwg_tpl_f_capitalize_title, false, false},
    {"default", kwg_tpl_f_default, true, true},
    {"upper", kwg_tpl_f_upper_lower, false, false},
    {"lower", kwg_tpl_f_upper_lower, false, false},
    {"trim", kwg_tpl_f_trim, false, false},
    {"length", kwg_tpl_f_length, false, true},
    {"join", kwg_tpl_f_join, false, true},
    {"split", kwg_tpl_f_split, false, false},
    {"first", kwg_tpl_f_first_last, false, true},
    {"last", kwg_tpl_f_first_last, false, true},
    {"keys", kwg_tpl_f_keys_values, false, true},
    {"values", kwg_tpl_f_keys_values, false, true},
    {"toJson", kwg_tpl_f_tojson, false, true},
    {"json", kwg_tpl_f_tojson, false, true},
    {"toIon", kwg_tpl_f_toion, false, true},
    {"yaml", kwg_tpl_f_yaml, false, true},
    {"replace", kwg_tpl_f_replace, false, false},
    {"regexMatch", kwg_tpl_f_regex_match, false, true},
    {"regexExtract", kwg_tpl_f_regex_extract, false, false},
    {"regexReplace", kwg_tpl_f_regex_replace, false, false},
    {"slugify", kwg_tpl_f_slugify, false, false},
    {"number", kwg_tpl_f_number, false, false},
    {"startsWith", kwg_tpl_f_starts_ends, false, false},
    {"endsWith", kwg_tpl_f_starts_ends, false, false},
    {"substringBefore", kwg_tpl_f_substring, false, false},
    {"substringBeforeLast", kwg_tpl_f_substring, false, false},
    {"substringAfter", kwg_tpl_f_substring, false, false},
    {"substringAfterLast", kwg_tpl_f_substring, false, false},
    {"indent", kwg_tpl_f_indent, false, false},
    {"nindent", kwg_tpl_f_indent, false, false},
    {"sha1", kwg_tpl_f_digest, false, false},
    {"sha512", kwg_tpl_f_digest, false, false},
    {"md5", kwg_tpl_f_digest, false, false},
    {"sha256", kwg_tpl_f_digest, false, false},
    {"base64encode", kwg_tpl_f_base64, false, false},
    {"base64decode", kwg_tpl_f_base64, false, false},
    {"urlencode", kwg_tpl_f_urlencode, false, false},
    {"urldecode", kwg_tpl_f_urlencode, false, false},
    {"jq", kwg_tpl_f_jq, false, false},
    {"sort", kwg_tpl_f_sort, false, false},
    {"rsort", kwg_tpl_f_sort, false, false},
    {"reverse", kwg_tpl_f_reverse, false, false},
    {"slice", kwg_tpl_f_slice, false, false},
    {"merge", kwg_tpl_f_merge, false, false},
    {"chunk", kwg_tpl_f_chunk, false, false},
    {"flatten", kwg_tpl_f_flatten, false, false},
    {"escapeChar", kwg_tpl_f_escape_char, false, false},
    {"className", kwg_tpl_f_class_name, false, true},
    {"distinct", kwg_tpl_f_distinct, false, true},
    {"condense", kwg_tpl_f_condense, false, true},
    {"string", kwg_tpl_f_string, false, false},
    {"date", kwg_tpl_f_date, false, false},
    {"dateAdd", kwg_tpl_f_date_add, false, false},
    {"timestamp", kwg_tpl_f_timestamp, false, false},
    {"timestampMilli", kwg_tpl_f_timestamp, false, false},
    {"timestampMicro", kwg_tpl_f_timestamp, false, false},
    {"timestampNano", kwg_tpl_f_timestamp, false, false},
    {"numberformat", kwg_tpl_f_numberformat, false, false},
    {"numberFormat", kwg_tpl_f_numberformat, false, false},
};

int kwg_tpl_call_filter(struct ctx *c, const struct expr *e, json_t **ret)
{
	const struct filter_def *f = NULL;
	struct args a = {0};
	json_t *in = NULL;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(filters); i++)
		if (strcmp(filters[i].name, e->s) == 0)
			f = &filters[i];
	if (!f)
		return kwg_tpl_fail(c, -EOPNOTSUPP, e->line, "unknown filter '%s'", e->s);
	r = f->soft ? kwg_tpl_eval_soft(c, e->a, &in) : kwg_tpl_eval(c, e->a, false, &in);
	if (r < 0)
		return r;
	if (!f->null_ok && json_is_null(in)) {
		/* Pebble filters hand null through (upper, trim, date, …). */
		*ret = in;
		return 0;
	}
	r = kwg_tpl_args_eval(c, e, &a);
	if (r >= 0) {
		*ret = NULL;
		r = f->fn(c, e, in, &a, ret);
		if (r >= 0 && !*ret)
			r = kwg_tpl_oom();
	}
	kwg_tpl_args_done(&a);
	json_decref(in);
	return r;
}

static const struct {
	const char *name;
	function_fn *fn;
} functions[] = {
    {"now", kwg_tpl_fn_now},
    {"secret", kwg_tpl_fn_secret},
    {"read", kwg_tpl_fn_read},
    {"kv", kwg_tpl_fn_kv},
    {"fileURI", kwg_tpl_fn_file_uri},
    {"fileSize", kwg_tpl_fn_file_stat},
    {"fileExists", kwg_tpl_fn_file_stat},
    {"isFileEmpty", kwg_tpl_fn_file_stat},
    {"block", kwg_tpl_fn_block},
    {"fetchContext", kwg_tpl_fn_context},
    {"printContext", kwg_tpl_fn_context},
    {"currentEachOutput", kwg_tpl_fn_current_each_output},
    {"json", kwg_tpl_fn_from_json},
    {"fromJson", kwg_tpl_fn_from_json},
    {"fromIon", kwg_tpl_fn_from_ion},
    {"render", kwg_tpl_fn_render},
    {"renderOnce", kwg_tpl_fn_render},
    {"uuid", kwg_tpl_fn_uuid},
    {"id", kwg_tpl_fn_id},
    {"range", kwg_tpl_fn_range},
    {"max", kwg_tpl_fn_max_min},
    {"min", kwg_tpl_fn_max_min},
    {"randomInt", kwg_tpl_fn_random_int},
    {"dayOfWeek", kwg_tpl_fn_calendar},
    {"dayOfMonth", kwg_tpl_fn_calendar},
    {"monthOfYear", kwg_tpl_fn_calendar},
    {"hourOfDay", kwg_tpl_fn_calendar},
    {"isWeekend", kwg_tpl_fn_calendar},
    {"isDateBefore", kwg_tpl_fn_date_compare},
    {"isDateAfter", kwg_tpl_fn_date_compare},
    {"isDateBetween", kwg_tpl_fn_date_compare},
    {"isDayWeekInMonth", kwg_tpl_fn_day_week_in_month},
    {"isLastWorkingDay", kwg_tpl_fn_last_working_day},
    {"isPublicHoliday", kwg_tpl_fn_unsupported},
    {"errorLogs", kwg_tpl_fn_unsupported},
    {"yaml", kwg_tpl_fn_yaml},
    {"encrypt", kwg_tpl_fn_crypt},
    {"decrypt", kwg_tpl_fn_crypt},
};

int kwg_tpl_call_function(struct ctx *c, const struct expr *e, json_t **ret)
{
	function_fn *fn = NULL;
	struct args a = {0};
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(functions); i++)
		if (strcmp(functions[i].name, e->s) == 0)
			fn = functions[i].fn;
	if (!fn) {
		/* KESTRA: Pebble calls a function of that name first, else a macro. */
		const struct node *m = kwg_tpl_find_def(c, N_MACRO, e->s);
		if (m)
			return kwg_tpl_call_macro(c, m, e, ret);
		return kwg_tpl_fail(c, -EOPNOTSUPP, e->line, "unknown function '%s'", e->s);
	}
	r = kwg_tpl_args_eval(c, e, &a);
	if (r < 0)
		return r;
	*ret = NULL;
	r = fn(c, e, &a, ret);
	if (r >= 0 && !*ret)
		r = kwg_tpl_oom();
	kwg_tpl_args_done(&a);
	return r;
}
