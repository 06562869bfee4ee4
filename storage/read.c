/* SPDX-License-Identifier: Apache-2.0 */
/* read(), fileURI() and the file tests (fileSize, fileExists, isFileEmpty) of templates on the
 * local internal storage (see read.h). */
#include "storage/read.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "storage/fetch.h"
#include "storage/storage_path.h"

/* KESTRA: AbstractFileFunction lets read() reach the flow's namespace files, the current
 * execution's files and task outputs of the flow's namespace, nothing else of the tenant. */
bool kwg_storage_read_allowed(const char *ns_name, const char *flow_id, const char *execution_id,
                              const char *upath)
{
	cleanup_free char *flow = kwg_slugify(flow_id);
	char ns[1024], prefix[2048];
	const char *ex;
	size_t n;

	if (!flow || snprintf(ns, sizeof(ns), "/%s", ns_name) >= (int)sizeof(ns))
		return false;
	for (char *p = ns; *p; p++)
		if (*p == '.')
			*p = '/';
	n = strlen(ns);
	if (strncmp(upath, ns, n) != 0 || upath[n] != '/')
		return false;
	if (strncmp(upath + n, "/_files/", 8) == 0)
		return true;
	(void)snprintf(prefix, sizeof(prefix), "%s/%s/executions/%s/", ns, flow, execution_id);
	if (strncmp(upath, prefix, strlen(prefix)) == 0)
		return true;
	ex = strstr(upath + n, "/executions/");
	return ex && strstr(ex, "/tasks/") != NULL;
}

/* The bytes one more read may take: 16 MiB, or what is left of the task's 64 MiB. */
static size_t read_room(const struct kwg_storage_reader *rd)
{
	size_t left = KWG_STORAGE_READ_TOTAL_BYTES - rd->read_bytes;
	return left < KWG_STORAGE_READ_MAX_BYTES ? left : KWG_STORAGE_READ_MAX_BYTES;
}

int kwg_storage_read_bounded(struct kwg_storage_reader *rd, const char *file, char **ret,
                             size_t *ret_len)
{
	cleanup_close int fd = open(file, O_RDONLY | O_CLOEXEC);
	struct kwg_buf b;
	int r = 0;

	if (fd < 0)
		return -errno;
	kwg_buf_init(&b, read_room(rd));
	r = kwg_buf_read_fd(&b, fd);
	if (r < 0) {
		kwg_buf_done(&b);
		return r;
	}
	rd->read_bytes += b.len;
	*ret_len = b.len;
	*ret = kwg_buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

/* The local file of a storage path. */
static int local_file(const struct kwg_storage_reader *rd, const char *upath,
                      char file[static PATH_MAX])
{
	cleanup_free char *key = kwg_storage_key(KWG_STORAGE_LOCAL, rd->tenant, upath);

	if (!key)
		return -ENOMEM;
	return snprintf(file, PATH_MAX, "%s/%s", rd->local_base, key) >= PATH_MAX ? -ENAMETOOLONG
	                                                                          : 0;
}

static const char *ns_file_rel(const struct kwg_storage_reader *rd, const char *upath);

/* KESTRA 2.x CONTROLLER worker access: a namespace file's object (upath, a revision's) read
 * through the meta source, by its name relative to the namespace-files root. 1 when upath is not
 * read so, else kwg_storage_fetch_content's result. */
static int via_source(struct kwg_storage_reader *rd, const char *upath, const char **data,
                      size_t *len)
{
	const char *rel =
	    kwg_storage_fetch_reads(rd->fetch, KWG_META_NSFILE) ? ns_file_rel(rd, upath) : NULL;

	if (!rel)
		return 1;
	return kwg_storage_fetch_content(rd->fetch, KWG_META_NSFILE, rd->namespace_, rel + 1, data,
	                                 len);
}

int kwg_storage_read_object(struct kwg_storage_reader *rd, const char *upath, char **ret,
                            size_t *ret_len)
{
	char file[PATH_MAX];
	const char *data;
	size_t len;
	int r = via_source(rd, upath, &data, &len);

	if (r > 0 && rd->local_base) {
		r = local_file(rd, upath, file);
		if (r == 0)
			r = kwg_storage_read_bounded(rd, file, ret, ret_len);
		return r == -ENOTDIR || r == -EISDIR ? -ENOENT : r;
	}
	if (r > 0 && !rd->fetch)
		return -EOPNOTSUPP;
	if (r > 0)
		r = kwg_storage_fetch_lookup(rd->fetch, upath, &data, &len);
	if (r < 0)
		return r;
	if (len > read_room(rd))
		return -EMSGSIZE;
	*ret = malloc(len + 1);
	if (!*ret)
		return -ENOMEM;
	memcpy(*ret, data, len + 1);
	*ret_len = len;
	rd->read_bytes += len;
	return 0;
}

int kwg_storage_object_size(struct kwg_storage_reader *rd, const char *upath, int64_t *ret_size)
{
	char file[PATH_MAX];
	const char *data;
	struct stat st;
	size_t len;
	int r = via_source(rd, upath, &data, &len);

	if (r <= 0) {
		if (r == 0)
			*ret_size = (int64_t)len;
		return r;
	}
	if (rd->local_base) {
		r = local_file(rd, upath, file);
		if (r < 0)
			return r;
		if (stat(file, &st) < 0)
			return errno == ENOTDIR ? -ENOENT : -errno;
		if (!S_ISREG(st.st_mode))
			return -ENOENT;
		*ret_size = (int64_t)st.st_size;
		return 0;
	}
	if (!rd->fetch)
		return -EOPNOTSUPP;
	r = kwg_storage_fetch_lookup(rd->fetch, upath, &data, &len);
	if (r == 0)
		*ret_size = (int64_t)len;
	return r;
}

/* The storage path behind fn(path): a namespace file (path relative to the flow's namespace) or
 * a kestra:// object, if the task may reach it. 0 and *ret_upath (new), or an error naming fn
 * and path. */
static int resolve(const struct kwg_storage_reader *rd, const char *fn, const char *path,
                   char **ret_upath, struct kwg_err *err)
{
	cleanup_free char *uri = NULL;
	const char *upath;
	int r;

	if (!rd->local_base && !kwg_storage_fetch_has_storage(rd->fetch) &&
	    !kwg_storage_fetch_reads(rd->fetch, KWG_META_NSFILE))
		return kwg_err_set(err, -EOPNOTSUPP,
		                   "%s('%.100s'): this worker has no internal storage configured",
		                   fn, path);
	if (strncmp(path, "kestra://", 9) == 0) {
		uri = strdup(path);
	} else {
		cleanup_free char *prefix = kwg_storage_namespace_prefix(rd->namespace_);
		while (*path == '/')
			path++;
		if (prefix && asprintf(&uri, "%s/%s", prefix, path) < 0)
			uri = NULL;
	}
	if (!uri)
		return -ENOMEM;
	r = kwg_storage_uri_path(uri, &upath, err);
	if (r < 0)
		return r;
	if (!kwg_storage_read_allowed(rd->namespace_, rd->flow_id, rd->execution_id, upath))
		return kwg_err_set(err, -EINVAL,
		                   "%s('%.100s'): not a file of this flow's namespace or execution",
		                   fn, path);
	*ret_upath = strdup(upath);
	return *ret_upath ? 0 : -ENOMEM;
}

/* The message of a failed object read or size. */
static int object_err(int r, const char *fn, const char *path, struct kwg_err *err)
{
	switch (r) {
	case -ENOMEM:
	case -EAGAIN:
		return r;
	case -ENOENT:
		return kwg_err_set(err, -ENOENT, "%s('%.100s'): no such file", fn, path);
	case -EMSGSIZE:
		return kwg_err_set(err, -EINVAL,
		                   "%s('%.100s'): past 16 MiB, or 64 MiB read by the task", fn,
		                   path);
	case -E2BIG:
		return kwg_err_set(err, -EINVAL,
		                   "%s('%.100s'): the task's templates read more than %d files", fn,
		                   path, KWG_STORAGE_FETCH_MAX_OBJECTS);
	case -EOPNOTSUPP:
		/* Namespace files through the controller, a kestra:// file without a storage. */
		return kwg_err_set(err, -EOPNOTSUPP,
		                   "%s('%.100s'): this worker has no internal storage configured",
		                   fn, path);
	default:
		return kwg_err_set(err, r, "%s('%.100s'): %s", fn, path, strerror(-r));
	}
}

/* The path of upath in the flow's namespace files ("/scripts/a.py"), or NULL when upath is
 * not one of them (a kestra:// URI of the execution's files). */
static const char *ns_file_rel(const struct kwg_storage_reader *rd, const char *upath)
{
	cleanup_free char *prefix = kwg_storage_namespace_prefix(rd->namespace_);
	size_t n;

	if (!prefix || strncmp(prefix, "kestra://", 9) != 0)
		return NULL;
	n = strlen(prefix + 9);
	return strncmp(upath, prefix + 9, n) == 0 && upath[n] == '/' ? upath + n : NULL;
}

/* The storage path of the current revision of upath, new in *ret_obj. KESTRA 1.2+: a namespace
 * file's current revision is in namespace_file_metadata (Namespace.getFileContent: no row, or a
 * deleted one, is no file), revision N >= 2 stored as <path>.vN. On a database without that
 * table, the file itself, refused when a second revision stands beside it (which one is current
 * cannot be told). -EAGAIN when the answer is not fetched yet (*ret_obj may then be set: the
 * object to want meanwhile, so that one round brings both). */
static int locate(struct kwg_storage_reader *rd, const char *fn, const char *path,
                  const char *upath, char **ret_obj, struct kwg_err *err)
{
	const char *rel = ns_file_rel(rd, upath);
	const struct kwg_meta_row *row;
	char v2[PATH_MAX];
	int64_t size;
	int r = 0;

	*ret_obj = NULL;
	if (rel && rd->fetch && kwg_storage_fetch_has_meta(rd->fetch)) {
		r = kwg_storage_fetch_meta(rd->fetch, KWG_META_NSFILE, rd->namespace_, rel, &row);
		if (r < 0)
			return r;
		if (row->table) {
			if (!row->found || row->deleted || row->directory)
				return -ENOENT;
			r = row->version > 1 ? asprintf(ret_obj, "%s.v%lld", upath, row->version)
			                     : asprintf(ret_obj, "%s", upath);
			if (r < 0)
				*ret_obj = NULL;
			return *ret_obj ? 0 : -ENOMEM;
		}
	}
	if (rel && snprintf(v2, sizeof(v2), "%s.v2", upath) < (int)sizeof(v2)) {
		r = kwg_storage_object_size(rd, v2, &size);
		if (r == 0)
			return kwg_err_set(
			    err, -EOPNOTSUPP,
			    "%s('%.100s'): the namespace file has several revisions and "
			    "this database has no namespace_file_metadata table to say "
			    "which is current",
			    fn, path);
		if (r == -ENOENT || r == -EMSGSIZE)
			r = 0;
	}
	*ret_obj = strdup(upath);
	return !*ret_obj ? -ENOMEM : r;
}

int kwg_storage_read(struct kwg_storage_reader *rd, const char *path, char **ret, size_t *ret_len,
                     struct kwg_err *err)
{
	cleanup_free char *upath = NULL, *obj = NULL;
	int r = resolve(rd, "read", path, &upath, err);

	if (r == 0)
		r = locate(rd, "read", path, upath, &obj, err);
	if (r == -EOPNOTSUPP)
		return r;
	/* The object is looked up even while the revision is not known, so that a fetch round
	 * brings both. */
	if (obj && (r == 0 || r == -EAGAIN)) {
		int r2 = kwg_storage_read_object(rd, obj, ret, ret_len);
		if (r == 0)
			r = r2;
		else if (r2 == 0)
			free(steal_ptr(ret));
	}
	/* KESTRA: a missing file fails read() like any other error. */
	if (r == -ENOENT)
		return kwg_err_set(err, -EINVAL, "read('%.100s'): no such file", path);
	return r < 0 && upath ? object_err(r, "read", path, err) : r;
}

int kwg_storage_stat(struct kwg_storage_reader *rd, const char *fn, const char *path,
                     int64_t *ret_size, struct kwg_err *err)
{
	cleanup_free char *upath = NULL, *obj = NULL;
	int r = resolve(rd, fn, path, &upath, err);

	if (r == 0)
		r = locate(rd, fn, path, upath, &obj, err);
	if (r == -EOPNOTSUPP)
		return r;
	if (obj && (r == 0 || r == -EAGAIN)) {
		int r2 = kwg_storage_object_size(rd, obj, ret_size);
		if (r == 0)
			r = r2;
	}
	return r < 0 && upath ? object_err(r, fn, path, err) : r;
}

char *kwg_storage_file_uri(const char *ns, const char *path)
{
	cleanup_free char *prefix = kwg_storage_namespace_prefix(ns);
	char *uri;

	while (*path == '/')
		path++;
	if (!prefix || asprintf(&uri, "%s/%s", prefix, path) < 0)
		return NULL;
	return uri;
}
