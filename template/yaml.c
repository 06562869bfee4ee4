/* SPDX-License-Identifier: Apache-2.0 */
/* YAML into jansson values through libyaml: task definitions (protocol/task_def.c) and the
 * yaml filter. */
#include "template/yaml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* YAML nodes deeper than this are refused (the definition is user input). */
#define YAML_MAX_DEPTH 64

struct yaml_reader {
	yaml_parser_t parser;
	struct kwg_err *err;
	int depth;
	bool last_key_wins; /* a repeated key replaces (Jackson's default) instead of failing */
};

static json_t *yaml_scalar(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	char *end;

	/* Quoted scalars are strings; plain ones follow the YAML core schema. */
	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return json_stringn(v, len);
	if (len == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0)
		return json_null();
	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
		return json_true();
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
		return json_false();
	if (strspn(v, "+-0123456789") == len && len < 19) {
		long long n = strtoll(v, &end, 10);
		if (*end == '\0')
			return json_integer(n);
	}
	if (strspn(v, "+-0123456789.eE") == len && strpbrk(v, "0123456789")) {
		double d = strtod(v, &end);
		if (*end == '\0')
			return json_real(d);
	}
	return json_stringn(v, len);
}

static int yaml_next(struct yaml_reader *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->parser, ev))
		return kwg_err_set(y->err, -EBADMSG, "YAML line %zu column %zu: %s",
		                   y->parser.problem_mark.line + 1,
		                   y->parser.problem_mark.column + 1,
		                   y->parser.problem ? y->parser.problem : "syntax error");
	return 0;
}

static int yaml_node(struct yaml_reader *y, yaml_event_t *ev, json_t **ret);

static int yaml_collection(struct yaml_reader *y, bool is_map, json_t **ret)
{
	json_t *c = is_map ? json_object() : json_array();
	yaml_event_t ev;
	int r = 0;

	if (++y->depth > YAML_MAX_DEPTH)
		r = kwg_err_set(y->err, -EBADMSG, "YAML nested deeper than %d levels",
		                YAML_MAX_DEPTH);
	while (r >= 0 && c) {
		json_t *key = NULL, *value = NULL;
		r = yaml_next(y, &ev);
		if (r < 0)
			break;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (is_map) {
			r = yaml_node(y, &ev, &key);
			if (r >= 0 && !json_is_string(key) && !json_is_integer(key))
				r = kwg_err_set(y->err, -EBADMSG,
				                "YAML mapping keys must be scalars");
			if (r >= 0)
				r = yaml_next(y, &ev);
		}
		if (r >= 0)
			r = yaml_node(y, &ev, &value);
		if (r >= 0 && is_map) {
			char num[32];
			const char *k = json_is_string(key) ? json_string_value(key) : num;
			if (json_is_integer(key))
				(void)snprintf(num, sizeof(num), "%lld",
				               (long long)json_integer_value(key));
			if (json_object_get(c, k) && !y->last_key_wins)
				r = kwg_err_set(y->err, -EBADMSG, "duplicate key '%.64s'", k);
			else
				r = json_object_set(c, k, value) < 0 ? -ENOMEM : 0;
		} else if (r >= 0) {
			r = json_array_append(c, value) < 0 ? -ENOMEM : 0;
		}
		json_decref(key);
		json_decref(value);
	}
	y->depth--;
	if (!c)
		r = -ENOMEM;
	if (r < 0) {
		json_decref(c);
		return r;
	}
	*ret = c;
	return 0;
}

/* Consumes the node that starts with ev (which it deletes). KESTRA: Jackson's YAMLParser ignores
 * anchors and reads an alias as a string holding the anchor's name ("*ref" is "ref"). */
static int yaml_node(struct yaml_reader *y, yaml_event_t *ev, json_t **ret)
{
	yaml_event_type_t type = ev->type;
	int r = 0;

	*ret = NULL;
	if (type == YAML_SCALAR_EVENT) {
		*ret = yaml_scalar(ev);
		r = *ret ? 0 : kwg_err_set(y->err, -EBADMSG, "YAML scalar is not valid UTF-8");
	} else if (type == YAML_ALIAS_EVENT) {
		*ret = json_string((const char *)ev->data.alias.anchor);
		r = *ret ? 0 : -ENOMEM;
	} else if (type != YAML_MAPPING_START_EVENT && type != YAML_SEQUENCE_START_EVENT) {
		r = kwg_err_set(y->err, -EBADMSG, "unexpected YAML event");
	}
	yaml_event_delete(ev);
	if (r < 0 || *ret)
		return r;
	return yaml_collection(y, type == YAML_MAPPING_START_EVENT, ret);
}

int kwg_yaml_load(const char *text, size_t len, bool last_key_wins, json_t **ret,
                  struct kwg_err *err)
{
	struct yaml_reader y = {.err = err, .last_key_wins = last_key_wins};
	yaml_event_t ev;
	int r;

	if (!yaml_parser_initialize(&y.parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, len);
	*ret = NULL;
	/* stream start, document start, the root node, document end */
	r = yaml_next(&y, &ev);
	if (r >= 0) {
		yaml_event_delete(&ev);
		r = yaml_next(&y, &ev);
	}
	if (r >= 0 && ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		r = kwg_err_set(err, -EBADMSG, "empty document");
	} else if (r >= 0) {
		yaml_event_delete(&ev);
		r = yaml_next(&y, &ev);
		if (r >= 0)
			r = yaml_node(&y, &ev, ret);
	}
	yaml_parser_delete(&y.parser);
	return r;
}
