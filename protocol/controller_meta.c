/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/controller_meta.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/json.h"
#include "template/datetime.h"

/* An empty reply, whitespace only, or JSON null alone: the service found no row. */
static bool blank(const char *json, size_t len)
{
	while (len && strchr(" \t\r\n", json[len - 1]) && json[len - 1])
		len--;
	while (len && strchr(" \t\r\n", json[0]) && json[0]) {
		json++;
		len--;
	}
	return len == 0 || (len == 4 && memcmp(json, "null", 4) == 0);
}

/* *ret_j: the reply's value (an object or an array), NULL for no row. */
static int parse(const char *json, size_t len, json_t **ret_j, struct kwg_err *err)
{
	json_t *j = NULL;
	int r;

	*ret_j = NULL;
	if (blank(json, len))
		return 0;
	r = kwg_json_parse(json, len, KWG_CONTROLLER_META_MAX_BYTES, &j, err);
	if (r >= 0)
		*ret_j = j;
	return r;
}

/* version: an integer >= 1 (absent: 1, Kestra's first revision). */
static int get_version(const json_t *o, const char *path, long long *ret, struct kwg_err *err)
{
	json_t *v = json_object_get(o, "version");

	*ret = 1;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 1)
		return kwg_err_set(err, -EBADMSG, "%s.version: expected an integer >= 1", path);
	*ret = (long long)json_integer_value(v);
	return 0;
}

/* The fields every row has: version, deleted. */
static int row_common(const json_t *o, const char *path, struct kwg_controller_meta *ret,
                      struct kwg_err *err)
{
	int r;

	if (!json_is_object(o))
		return kwg_err_set(err, -EBADMSG, "%s: expected an object or null", path);
	ret->found = true;
	r = get_version(o, path, &ret->version, err);
	if (r >= 0)
		r = kwg_json_get_bool(o, "deleted", path, false, &ret->deleted, err);
	return r;
}

int kwg_controller_kv_meta_decode(const char *json, size_t len, int64_t now_us,
                                  struct kwg_controller_meta *ret, struct kwg_err *err)
{
	json_t *j;
	const char *exp = NULL;
	struct kwg_datetime d;
	struct kwg_err e2 = {{0}};
	int r;

	*ret = (struct kwg_controller_meta){0};
	r = parse(json, len, &j, err);
	if (r < 0 || !j)
		return r;
	r = row_common(j, "$", ret, err);
	if (r >= 0)
		r = kwg_json_get_str(j, "expirationDate", "$", false, &exp, err);
	if (r >= 0 && !exp)
		r = kwg_json_get_str(j, "expiration_date", "$", false, &exp, err);
	if (r >= 0 && exp) {
		if (kwg_datetime_parse(exp, NULL, "UTC", &d, &e2) < 0) {
			r = kwg_err_set(err, -EBADMSG, "$.expirationDate: %s", e2.msg);
		} else {
			/* KESTRA: kv_metadata's expired is expiration_date <= now(). */
			int64_t s = now_us / 1000000, ns = (now_us % 1000000) * 1000;
			ret->expired = d.epoch_s < s || (d.epoch_s == s && d.nano <= ns);
		}
	}
	json_decref(j);
	if (r < 0)
		*ret = (struct kwg_controller_meta){0};
	return r;
}

int kwg_controller_nsfile_meta_decode(const char *json, size_t len, struct kwg_controller_meta *ret,
                                      struct kwg_err *err)
{
	json_t *j;
	const char *path = NULL;
	int r;

	*ret = (struct kwg_controller_meta){0};
	r = parse(json, len, &j, err);
	if (r < 0 || !j)
		return r;
	r = row_common(j, "$", ret, err);
	if (r >= 0)
		r = kwg_json_get_str(j, "path", "$", true, &path, err);
	if (r >= 0)
		ret->directory = *path && path[strlen(path) - 1] == '/';
	json_decref(j);
	if (r < 0)
		*ret = (struct kwg_controller_meta){0};
	return r;
}

/* An absolute path of non-empty segments, none "." or ".." (a trailing "/" is a directory). */
static bool path_ok(const char *p)
{
	if (p[0] != '/')
		return false;
	while (*p == '/') {
		const char *seg = p + 1, *end = strchr(seg, '/');
		size_t n = end ? (size_t)(end - seg) : strlen(seg);
		if (!end && n == 0)
			return true; /* the trailing "/" of a directory */
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		p = seg + n;
	}
	return *p == '\0';
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(((const struct kwg_controller_nsfile *)a)->path,
	              ((const struct kwg_controller_nsfile *)b)->path);
}

int kwg_controller_nsfile_list_decode(const char *json, size_t len,
                                      struct kwg_controller_nsfile **ret, size_t *ret_n,
                                      struct kwg_err *err)
{
	struct kwg_controller_nsfile *files = NULL;
	json_t *j, *e;
	size_t n = 0, i;
	int r;

	*ret = NULL;
	*ret_n = 0;
	r = parse(json, len, &j, err);
	if (r < 0 || !j)
		return r;
	if (!json_is_array(j))
		r = kwg_err_set(err, -EBADMSG, "$: expected an array");
	if (r >= 0 && !(files = calloc(json_array_size(j) + 1, sizeof(*files))))
		r = -ENOMEM;
	json_array_foreach (r >= 0 ? j : NULL, i, e) {
		struct kwg_controller_meta row = {0};
		const char *path = NULL;
		char at[32];
		bool last = true;

		(void)snprintf(at, sizeof(at), "$[%zu]", i);
		r = row_common(e, at, &row, err);
		if (r >= 0)
			r = kwg_json_get_str(e, "path", at, true, &path, err);
		if (r >= 0 && !path_ok(path))
			r = kwg_err_set(err, -EBADMSG, "%s.path: '%.200s' is not an absolute path",
			                at, path);
		if (r >= 0)
			r = kwg_json_get_bool(e, "last", at, true, &last, err);
		if (r < 0)
			break;
		/* KESTRA: Namespace.all(): the current revisions, not deleted, no directories. */
		if (!last || row.deleted || path[strlen(path) - 1] == '/')
			continue;
		files[n].path = strdup(path);
		if (!files[n].path) {
			r = -ENOMEM;
			break;
		}
		files[n++].version = row.version;
	}
	json_decref(j);
	if (r < 0) {
		kwg_controller_nsfiles_free(files, n);
		return r;
	}
	qsort(files, n, sizeof(*files), cmp_path);
	for (i = 1; i < n; i++)
		if (strcmp(files[i - 1].path, files[i].path) == 0) {
			r = kwg_err_set(err, -EBADMSG, "$: '%.200s' is current twice",
			                files[i].path);
			kwg_controller_nsfiles_free(files, n);
			return r;
		}
	*ret = files;
	*ret_n = n;
	return 0;
}

void kwg_controller_nsfiles_free(struct kwg_controller_nsfile *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}
