/* SPDX-License-Identifier: Apache-2.0 */
/* Pebble tests ("is defined", "is null", "is empty", …). */
#include "template/internal.h"

/* ==== tests ==== */

int kwg_tpl_call_test(struct ctx *c, const struct expr *e, json_t **ret)
{
	json_t *v = NULL;
	bool soft = strcmp(e->s, "defined") == 0, res;
	int r;

	if (e->nargs)
		return kwg_tpl_fail(c, -EINVAL, e->line, "test '%s' takes no argument", e->s);
	r = soft ? kwg_tpl_eval_soft(c, e->a, &v) : kwg_tpl_eval(c, e->a, false, &v);
	if (r < 0)
		return r;
	if (soft) /* Pebble's DefinedTest is "not null": a null value is not defined */
		res = v != NULL && !json_is_null(v);
	else if (strcmp(e->s, "null") == 0 || strcmp(e->s, "none") == 0)
		res = json_is_null(v);
	else if (strcmp(e->s, "empty") == 0)
		res = kwg_tpl_is_empty(v);
	else if (strcmp(e->s, "even") == 0 || strcmp(e->s, "odd") == 0) {
		if (!json_is_integer(v)) {
			r = kwg_tpl_fail(c, -EINVAL, e->line, "test '%s' needs an integer, not %s",
			                 e->s, kwg_tpl_type_name(v));
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
		return kwg_tpl_fail(c, -EOPNOTSUPP, e->line, "unknown test '%s'", e->s);
	}
	json_decref(v);
	*ret = json_boolean(res != (e->op != 0));
	return 0;
}
