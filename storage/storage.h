/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's internal storage from the worker (kestra-script-tasks.md §7): put a local file under a
 * kestra:// URI, get one into a local file, list a prefix. Backends: local (Kestra's basePath
 * layout, synchronous file I/O) and S3-compatible (AWS SigV4 through libcurl's multi interface on
 * the loop; S3 or MinIO key layout, path-style addressing for MinIO and other self-hosted
 * servers). Every call completes through its callback, never inside the call. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "storage/storage_path.h"

struct kwg_storage;
struct kwg_storage_op;

struct kwg_storage_config {
	const char *type; /* "local", "s3" or "minio" */
	/* local */
	const char *base_path;
	/* s3 / minio */
	/* "http://127.0.0.1:9000"; NULL for AWS (virtual-host
	 * https://<bucket>.s3.<region>.amazonaws.com) */
	const char *endpoint;
	const char *region; /* "us-east-1" when NULL */
	const char *bucket;
	const char *access_key, *secret_key;
	bool path_style; /* true for self-hosted endpoints (always so for type "minio") */
};

/* Checks cfg and creates the client. 0 and *ret, -EINVAL with err naming the setting, -ENOMEM. */
int kwg_storage_new(uv_loop_t *loop, const struct kwg_storage_config *cfg, struct kwg_storage **ret,
                    struct kwg_err *err);
/* Cancels every operation (their callbacks never fire) and frees once handles are closed.
 * Accepts NULL. */
void kwg_storage_free(struct kwg_storage *s);

/* error NULL on success, else a message naming the URI and the cause ("not found" gives
 * not_found true). */
typedef void kwg_storage_done_fn(void *userdata, const char *error, bool not_found);
/* For list: each entry's URI (borrowed) then done once. */
typedef void kwg_storage_entry_fn(void *userdata, const char *uri);

/* Uploads local_path (a regular file, not a symlink) to uri for tenant, replacing any object
 * there. S3/MinIO: writes the directory markers first when the parent's is missing (§7.4). A
 * refused URI (kwg_storage_uri_path) is reported through done like any error. NULL on OOM
 * (nothing started). */
struct kwg_storage_op *kwg_storage_put(struct kwg_storage *s, const char *tenant, const char *uri,
                                       const char *local_path, kwg_storage_done_fn *done,
                                       void *userdata);
/* Downloads uri into local_path (created 0600, replaced). */
struct kwg_storage_op *kwg_storage_get(struct kwg_storage *s, const char *tenant, const char *uri,
                                       const char *local_path, kwg_storage_done_fn *done,
                                       void *userdata);
/* Every file under the URI prefix (recursive, no directory markers), in any order. The prefix is
 * a directory on every backend: "kestra:///a/b" lists "kestra:///a/b/…", never "…/a/bc". A
 * missing prefix lists nothing (no error). An entry callback may cancel the op or free s. */
struct kwg_storage_op *kwg_storage_list(struct kwg_storage *s, const char *tenant,
                                        const char *uri_prefix, kwg_storage_entry_fn *entry,
                                        kwg_storage_done_fn *done, void *userdata);
/* Drops an operation; its callbacks never fire. Accepts NULL. */
void kwg_storage_cancel(struct kwg_storage_op *op);
