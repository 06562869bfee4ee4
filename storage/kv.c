/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's KV store read from the local internal storage (see kv.h). */
#include "storage/kv.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "storage/fetch.h"
#include "storage/storage_path.h"
#include "template/datetime.h"
#include "template/ion.h"

/* KESTRA: KVStore.validateKey's rule; it also keeps a key to one file name. */
static bool kv_key_valid(const char *key)
{
	if (!((*key >= 'a' && *key <= 'z') || (*key >= 'A' && *key <= 'Z') ||
	      (*key >= '0' && *key <= '9')))
		return false;
	return strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	       strlen(key);
}

/* A namespace kwg can turn into a storage path: dot-separated non-empty names of [A-Za-z0-9_-]. */
static bool kv_namespace_valid(const char *ns)
{
	size_t n = strlen(ns);

	return n > 0 && n < 512 && ns[0] != '.' && ns[n - 1] != '.' && !strstr(ns, "..") &&
	       strspn(ns, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

/* The storage path of key in namespace ns, /<ns path>/_kv/<key>.ion (Kestra's
 * KVStore.storageUri, revision 1), with suffix added. */
static int kv_upath(const char *ns, const char *key, const char *suffix, char *upath, size_t size)
{
	int n = snprintf(upath, size, "/%s/_kv/%s.ion%s", ns, key, suffix);

	if (n < 0 || n >= (int)size)
		return -ENAMETOOLONG;
	for (char *p = upath + 1; *p && strncmp(p, "/_kv/", 5) != 0; p++)
		if (*p == '.')
			*p = '/';
	return 0;
}

/* True when the sidecar metadata (<value>.metadata, Ion) of a KV value gives an expirationDate in
 * the past. A missing sidecar or date: not expired. -errno or -EBADMSG (err set) when unreadable.
 */
static int kv_expired(struct kwg_storage_reader *rd, const char *ns, const char *key,
                      struct kwg_err *err)
{
	cleanup_free char *text = NULL;
	char meta[1200];
	struct kwg_datetime d;
	struct kwg_err e2 = {{0}};
	json_t *m = NULL;
	const char *exp;
	size_t len = 0;
	int r = kv_upath(ns, key, ".metadata", meta, sizeof(meta));

	if (r == 0)
		r = kwg_storage_read_object(rd, meta, &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r == -EAGAIN || r == -ENOMEM)
		return r;
	if (r < 0)
		return kwg_err_set(err, r, "kv('%.100s'): cannot read its metadata: %s", key,
		                   strerror(-r));
	r = kwg_ion_parse(text, len, &m, &e2);
	if (r < 0)
		return kwg_err_set(err, r == -ENOMEM ? r : -EINVAL,
		                   "kv('%.100s'): its metadata: %s", key, e2.msg);
	exp = json_string_value(json_object_get(m, "expirationDate"));
	if (!exp)
		exp = json_string_value(json_object_get(m, "expiration_date"));
	if (exp && kwg_datetime_parse(exp, NULL, "UTC", &d, &e2) < 0) {
		json_decref(m);
		return kwg_err_set(err, -EINVAL, "kv('%.100s'): its expirationDate: %s", key,
		                   e2.msg);
	}
	json_decref(m);
	if (!exp)
		return 0;
	/* KESTRA: InternalKVStore: expired when now is after the expiration date. */
	int64_t now = kwg_clock_now_us();
	return now / 1000000 > d.epoch_s ||
	       (now / 1000000 == d.epoch_s && (now % 1000000) * 1000 > d.nano);
}

/* With remote storage, every object the search may look at (value, later revision, metadata,
 * in ns and, inheriting, each parent) is looked up before any is used, so that one fetch round
 * brings them all: -EAGAIN when one is not fetched yet, 0 when all are known. */
/* The value's Ion text into *ret. */
static int kv_parse(const char *text, size_t len, const char *key, const char *ns, json_t **ret,
                    struct kwg_err *err)
{
	struct kwg_err e2 = {{0}};
	int r = kwg_ion_parse(text, len, ret, &e2);

	if (r < 0)
		return kwg_err_set(err, r == -ENOMEM ? r : -EINVAL, "kv('%.100s') in '%.200s': %s",
		                   key, ns, e2.msg);
	return 0;
}

/* Moves cur to its parent namespace ("a.b" to "a"): false at the top, or when not inheriting
 * (KESTRA: KvFunction searches the parents only without a namespace argument). */
static bool kv_parent(char *cur, bool inherit)
{
	char *dot = inherit ? strrchr(cur, '.') : NULL;

	if (dot)
		*dot = '\0';
	return dot != NULL;
}

/* Asks the key's kv_metadata rows (Kestra 1.1+) in ns and the parents the search may reach, all
 * at once: -EAGAIN while an answer is missing; 0 with *ret_table when the table exists. */
static int kv_want_rows(struct kwg_storage_reader *rd, const char *ns, const char *key,
                        bool inherit, bool *ret_table)
{
	const struct kwg_meta_row *row;
	char cur[512];
	bool wanted = false;

	*ret_table = false;
	(void)snprintf(cur, sizeof(cur), "%s", ns);
	do {
		int r = kwg_storage_fetch_meta(rd->fetch, KWG_META_KV, cur, key, &row);
		if (r == -EAGAIN)
			wanted = true;
		else if (r < 0)
			return r;
		else if (row->table)
			*ret_table = true;
	} while (kv_parent(cur, inherit));
	return wanted ? -EAGAIN : 0;
}

/* Without kv_metadata, from remote storage: asks every object the search may look at (value,
 * second revision, sidecar, in ns and the parents) at once. -EAGAIN while one is missing. */
static int kv_want_objects(struct kwg_storage_reader *rd, const char *ns, const char *key,
                           bool inherit)
{
	static const char *const suffixes[] = {"", ".v2", ".metadata"};
	char cur[512], upath[1200];
	bool wanted = false;
	int64_t size;

	(void)snprintf(cur, sizeof(cur), "%s", ns);
	do {
		for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
			int r = kv_upath(cur, key, suffixes[i], upath, sizeof(upath));
			if (r == 0)
				r = kwg_storage_object_size(rd, upath, &size);
			if (r == -EAGAIN)
				wanted = true;
			else if (r < 0 && r != -ENOENT && r != -EMSGSIZE)
				return r;
		}
	} while (kv_parent(cur, inherit));
	return wanted ? -EAGAIN : 0;
}

/* The key's value in namespace ns. row: its kv_metadata row (found or not), NULL on a Kestra
 * without the table. 0 and *ret; -ENOENT when absent there (the search goes on to the parent);
 * -ESTALE when expired; another error with err. */
static int kv_read_at(struct kwg_storage_reader *rd, const char *ns, const char *key,
                      const struct kwg_meta_row *row, json_t **ret, struct kwg_err *err)
{
	cleanup_free char *text = NULL;
	char upath[1200], suffix[32] = "";
	size_t len = 0;
	int64_t size;
	int r;

	if (row && row->found) {
		/* KESTRA 1.1+: InternalKVStore.getRawValue: a deleted key is absent, an expired one
		 * an error, else the object of its revision. */
		if (row->deleted)
			return -ENOENT;
		if (row->expired)
			return -ESTALE;
		if (row->version > 1)
			(void)snprintf(suffix, sizeof(suffix), ".v%lld", row->version);
	} else if (!row) {
		/* Before kv_metadata, a second revision beside the value cannot be told apart. */
		r = kv_upath(ns, key, ".v2", upath, sizeof(upath));
		if (r == 0 && kwg_storage_object_size(rd, upath, &size) == 0)
			return kwg_err_set(
			    err, -EOPNOTSUPP,
			    "kv('%.100s'): the key has several revisions in '%.200s' and "
			    "this database has no kv_metadata table to say which is "
			    "current",
			    key, ns);
	}
	/* With a table and no row, revision 1 is read as it is, without expiry, as Kestra does;
	 * without a table its sidecar says when it expires. */
	r = kv_upath(ns, key, suffix, upath, sizeof(upath));
	if (r == 0)
		r = kwg_storage_read_object(rd, upath, &text, &len);
	if (r == 0 && !row) {
		r = kv_expired(rd, ns, key, err);
		if (r != 0)
			return r > 0 ? -ESTALE : r;
	}
	if (r == 0)
		return kv_parse(text, len, key, ns, ret, err);
	if (r == -EMSGSIZE)
		return kwg_err_set(err, -EINVAL,
		                   "kv('%.100s'): past 16 MiB, or 64 MiB read by the task", key);
	if (r == -EAGAIN || r == -ENOMEM || r == -ENOENT)
		return r;
	return kwg_err_set(err, r, "kv('%.100s'): %s", key, strerror(-r));
}

/* KESTRA 2.x CONTROLLER worker access: the value through the controller's
 * KVStoreService.getRawValue, which answers the current revision's bytes (NOT_FOUND: none,
 * FAILED_PRECONDITION: expired). Every namespace the search may reach is asked in one round. */
static int kv_from_source(struct kwg_storage_reader *rd, const char *ns, const char *key,
                          bool inherit, json_t **ret, struct kwg_err *err)
{
	char cur[512];
	const char *data;
	size_t len;
	bool wanted = false;
	int r;

	(void)snprintf(cur, sizeof(cur), "%s", ns);
	do {
		r = kwg_storage_fetch_content(rd->fetch, KWG_META_KV, cur, key, &data, &len);
		if (r == -EAGAIN)
			wanted = true;
		else if (r == -E2BIG || r == -ENOMEM)
			return r;
	} while (kv_parent(cur, inherit));
	if (wanted)
		return -EAGAIN;
	(void)snprintf(cur, sizeof(cur), "%s", ns);
	do {
		r = kwg_storage_fetch_content(rd->fetch, KWG_META_KV, cur, key, &data, &len);
		if (r == 0 && len > KWG_STORAGE_READ_TOTAL_BYTES - rd->read_bytes)
			r = -EMSGSIZE;
		if (r == 0) {
			rd->read_bytes += len;
			return kv_parse(data, len, key, cur, ret, err);
		}
		if (r == -EMSGSIZE)
			return kwg_err_set(err, -EINVAL,
			                   "kv('%.100s') in '%.200s': the value is past 16 MiB, or "
			                   "64 MiB read by the task",
			                   key, cur);
		if (r != -ENOENT)
			return r;
	} while (kv_parent(cur, inherit));
	return -ENOENT;
}

int kwg_storage_kv_get(struct kwg_storage_reader *rd, const char *key, const char *ns, json_t **ret,
                       struct kwg_err *err)
{
	char cur[512];
	bool inherit = ns == NULL;
	int r;

	if (!kv_key_valid(key))
		return kwg_err_set(
		    err, -EINVAL,
		    "Key must start with an alphanumeric character (uppercase or "
		    "lowercase) and can contain alphanumeric characters (uppercase or "
		    "lowercase), dots (.), underscores (_), and hyphens (-) only.");
	if (!ns)
		ns = rd->namespace_;
	if (!kv_namespace_valid(ns))
		return kwg_err_set(err, -EINVAL, "kv('%.100s'): invalid namespace '%.200s'", key,
		                   ns);
	if (kwg_storage_fetch_reads(rd->fetch, KWG_META_KV)) {
		r = kv_from_source(rd, ns, key, inherit, ret, err);
		return r == -E2BIG ? kwg_err_set(err, -EINVAL,
		                                 "kv('%.100s'): the task's templates read more "
		                                 "than %d files",
		                                 key, KWG_STORAGE_FETCH_MAX_OBJECTS)
		                   : r;
	}
	if (!rd->local_base && !kwg_storage_fetch_has_storage(rd->fetch))
		return kwg_err_set(err, -EOPNOTSUPP,
		                   "kv('%.100s'): this worker has no internal storage configured",
		                   key);
	/* Rows first; objects of the old layout only where there is no table. */
	bool table = false;
	r = rd->fetch && kwg_storage_fetch_has_meta(rd->fetch)
	        ? kv_want_rows(rd, ns, key, inherit, &table)
	        : 0;
	if (r == 0 && !table && rd->fetch && !rd->local_base)
		r = kv_want_objects(rd, ns, key, inherit);
	if (r < 0)
		return r == -E2BIG
		           ? kwg_err_set(err, -EINVAL,
		                         "kv('%.100s'): the task's templates read more than "
		                         "%d files",
		                         key, KWG_STORAGE_FETCH_MAX_OBJECTS)
		           : r;
	(void)snprintf(cur, sizeof(cur), "%s", ns);
	do {
		const struct kwg_meta_row *row = NULL;
		if (table && kwg_storage_fetch_meta(rd->fetch, KWG_META_KV, cur, key, &row) < 0)
			row = NULL;
		r = kv_read_at(rd, cur, key, row, ret, err);
		if (r != -ENOENT)
			return r;
	} while (kv_parent(cur, inherit));
	return -ENOENT;
}
