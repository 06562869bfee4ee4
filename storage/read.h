/* SPDX-License-Identifier: Apache-2.0 */
/* What templates read from the internal storage while a task renders: read() of a namespace file
 * or a kestra:// object (Kestra's allowed paths, a bounded read counted in the task's budget), the
 * file functions and the URI of fileURI(). Rendering is one synchronous call with hooks: the
 * local storage is read in the call (file reads on the loop thread); S3 and MinIO objects come
 * from the task's storage/fetch.h cache, filled between renders (-EAGAIN: not fetched yet). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct kwg_storage_fetch;

/* One task's view of the storage while it renders: the strings are borrowed from the task run,
 * read_bytes is the task's running total, which every read counts against. */
struct kwg_storage_reader {
	const char *local_base; /* the local storage's base path; NULL when storage is not local */
	const char *tenant;     /* NULL or "" for none */
	const char *namespace_; /* the flow's namespace */
	const char *flow_id;    /* the flow's id, not slugified */
	const char *execution_id; /* the current execution */
	size_t read_bytes;        /* bytes read so far by read() and kv() */
	/* Remote storage (local_base NULL): the objects fetched so far; NULL for none. */
	struct kwg_storage_fetch *fetch;
};

/* Largest file read() hands to a template, and most bytes all reads of one task read. */
#define KWG_STORAGE_READ_MAX_BYTES (16u << 20)
#define KWG_STORAGE_READ_TOTAL_BYTES (64u << 20)

/* Whether upath (a kestra:// URI's path) is one read() may reach from a task of flow_id in ns
 * during execution_id: the namespace's files, that execution's files, task outputs of the
 * namespace (KESTRA: AbstractFileFunction). */
bool kwg_storage_read_allowed(const char *ns, const char *flow_id, const char *execution_id,
                              const char *upath);

/* Reads a whole local file into *ret (new, NUL added) and *ret_len, counted in rd's read
 * budget: 0, -ENOENT, -EMSGSIZE (past 16 MiB, or the task's 64 MiB), another -errno. */
int kwg_storage_read_bounded(struct kwg_storage_reader *rd, const char *file, char **ret,
                             size_t *ret_len);

/* The object at upath (a storage path, "/company/team/_files/a.txt") read whole and counted in
 * rd's budget: the local file, or with rd->fetch its fetched copy. 0 with *ret (new, NUL added)
 * and *ret_len; -ENOENT, -EAGAIN (not fetched yet: now wanted), -EMSGSIZE (past 16 MiB, or the
 * task's 64 MiB), -E2BIG (too many objects), -EOPNOTSUPP (no storage), -ENOMEM or -errno. */
int kwg_storage_read_object(struct kwg_storage_reader *rd, const char *upath, char **ret,
                            size_t *ret_len);
/* Its size, not read and not counted: 0 and *ret_size, or the errors above. */
int kwg_storage_object_size(struct kwg_storage_reader *rd, const char *upath, int64_t *ret_size);

/* read('path' or 'kestra:///…'): a namespace file (path relative to the flow's namespace) or an
 * internal-storage object. 0 with *ret (new, NUL added) and *ret_len; -EAGAIN (not fetched yet),
 * -EOPNOTSUPP when the worker has no storage, -EINVAL (not allowed, no such file, too big, bad
 * URI), -ENAMETOOLONG, -ENOMEM or another -errno; err names the path. */
int kwg_storage_read(struct kwg_storage_reader *rd, const char *path, char **ret, size_t *ret_len,
                     struct kwg_err *err);

/* fileSize, fileExists, isFileEmpty (fn names the function in errors): the size of the file
 * read() would read for path, without reading it. 0 and *ret_size; -ENOENT (no such file), or
 * kwg_storage_read's other errors (-EAGAIN too); err names fn and the path. */
int kwg_storage_stat(struct kwg_storage_reader *rd, const char *fn, const char *path,
                     int64_t *ret_size, struct kwg_err *err);

/* fileURI('path'): the kestra:// URI of a file of namespace ns. New string, NULL on OOM. */
char *kwg_storage_file_uri(const char *ns, const char *path);
