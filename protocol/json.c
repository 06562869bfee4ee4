/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/json.h"

#include <errno.h>
#include <string.h>

int kwg_json_depth(const json_t *j)
{
	int max = 0, d;
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_object(j)) {
		json_object_foreach ((json_t *)j, key, v) {
			d = kwg_json_depth(v);
			max = d > max ? d : max;
		}
		return max + 1;
	}
	if (json_is_array(j)) {
		json_array_foreach (j, i, v) {
			d = kwg_json_depth(v);
			max = d > max ? d : max;
		}
		return max + 1;
	}
	return 0;
}

int kwg_json_parse(const char *data, size_t len, size_t max_bytes, json_t **ret,
                   struct kwg_err *err)
{
	json_error_t jerr;
	json_t *j;

	if (len > max_bytes)
		return kwg_err_set(err, -EMSGSIZE, "message of %zu bytes exceeds the limit of %zu",
		                   len, max_bytes);
	/* jansson's parser is itself bounded (JSON_PARSER_MAX_DEPTH 2048), so deep input cannot
	 * exhaust the stack before the depth check below. */
	j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!j)
		return kwg_err_set(err, -EBADMSG, "invalid JSON at line %d column %d: %s",
		                   jerr.line, jerr.column, jerr.text);
	if (kwg_json_depth(j) > KWG_JSON_MAX_DEPTH) {
		json_decref(j);
		return kwg_err_set(err, -EBADMSG, "JSON nested deeper than %d levels",
		                   KWG_JSON_MAX_DEPTH);
	}
	*ret = j;
	return 0;
}

int kwg_json_get_str(const json_t *obj, const char *key, const char *path, bool required,
                     const char **ret, struct kwg_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		if (required)
			return kwg_err_set(err, -EBADMSG, "%s.%s: missing", path, key);
		*ret = NULL;
		return 0;
	}
	if (!json_is_string(v))
		return kwg_err_set(err, -EBADMSG, "%s.%s: expected a string", path, key);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return kwg_err_set(err, -EBADMSG, "%s.%s: contains a NUL character", path, key);
	*ret = json_string_value(v);
	return 0;
}

int kwg_json_get_obj(const json_t *obj, const char *key, const char *path, bool required,
                     json_t **ret, struct kwg_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		if (required)
			return kwg_err_set(err, -EBADMSG, "%s.%s: missing", path, key);
		*ret = NULL;
		return 0;
	}
	if (!json_is_object(v))
		return kwg_err_set(err, -EBADMSG, "%s.%s: expected an object", path, key);
	*ret = v;
	return 0;
}

int kwg_json_get_bool(const json_t *obj, const char *key, const char *path, bool dflt, bool *ret,
                      struct kwg_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v)) {
		*ret = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return kwg_err_set(err, -EBADMSG, "%s.%s: expected a boolean", path, key);
	*ret = json_is_true(v);
	return 0;
}

char *kwg_json_dump(const json_t *j)
{
	return json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY |
	                         JSON_REAL_PRECISION(15));
}

int kwg_json_escape(struct kwg_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t start = 0;
	int r;

	r = kwg_buf_putc(b, '"');
	for (size_t i = 0; r >= 0 && i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t n;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		r = kwg_buf_append(b, s + start, i - start);
		if (r < 0)
			return r;
		start = i + 1;
		switch (c) {
		case '"':
			memcpy(esc, "\\\"", 2), n = 2;
			break;
		case '\\':
			memcpy(esc, "\\\\", 2), n = 2;
			break;
		case '\n':
			memcpy(esc, "\\n", 2), n = 2;
			break;
		case '\r':
			memcpy(esc, "\\r", 2), n = 2;
			break;
		case '\t':
			memcpy(esc, "\\t", 2), n = 2;
			break;
		default:
			esc[0] = '\\', esc[1] = 'u', esc[2] = '0', esc[3] = '0';
			esc[4] = hex[c >> 4], esc[5] = hex[c & 15], n = 6;
			break;
		}
		r = kwg_buf_append(b, esc, n);
	}
	if (r >= 0)
		r = kwg_buf_append(b, s + start, len - start);
	if (r >= 0)
		r = kwg_buf_putc(b, '"');
	return r;
}
