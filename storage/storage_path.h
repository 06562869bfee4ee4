/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's internal-storage names (kestra-script-tasks.md §7.1, §7.3, §7.4): slugify, kestra://
 * URIs of task outputs and namespace files, their validation, and the object key each backend
 * stores a URI under. Pure. */
#pragma once
#include <stddef.h>

#include "common/err.h"
#include "template/unicode.h" /* kwg_slugify */

enum kwg_storage_layout {
	KWG_STORAGE_LOCAL, /* <basePath>[/<tenant>]<path> */
	KWG_STORAGE_S3,    /* key "/" + tenant + path, or path with its leading "/" */
	KWG_STORAGE_MINIO, /* key [tenant "/"] + path without its leading "/" */
};

/* The URI prefix of a task run's outputs:
 * kestra:///<ns with dots as "/">/<slug(flow)>/executions/<exec>/tasks/<slug(task)>/<taskrun>.
 * New string, NULL on OOM. */
char *kwg_storage_task_prefix(const char *ns, const char *flow_id, const char *execution_id,
                              const char *task_id, const char *task_run_id);
/* kestra:///<ns path>/_files: the prefix of a namespace's files. New, NULL on OOM. */
char *kwg_storage_namespace_prefix(const char *ns);

/* Checks a kestra:// URI (scheme kestra, empty authority, absolute path, no "." or ".." segment,
 * no NUL/control characters) and returns its path ("/company/team/…", borrowed from uri) in
 * *ret_path. 0 or -EINVAL with err naming the URI. */
int kwg_storage_uri_path(const char *uri, const char **ret_path, struct kwg_err *err);

/* The object key (S3, MinIO) or the path under basePath (local) of a URI path for a tenant (NULL
 * or "" for none). New string, NULL on OOM. */
char *kwg_storage_key(enum kwg_storage_layout layout, const char *tenant, const char *path);
/* The directory-marker keys S3 and MinIO write before a put (§7.4): "/", "/company/", … for S3;
 * "company/", … for MinIO; each including the tenant part. NULL-terminated array of new strings
 * (free each and the array), NULL on OOM. None for local. */
char **kwg_storage_marker_keys(enum kwg_storage_layout layout, const char *tenant,
                               const char *path);

/* One page of an S3 ListObjectsV2 answer (XML): each <Key> of <Contents>, entities decoded, is
 * handed to key (which returns 0 or a negative errno that stops the parse), then the
 * <NextContinuationToken> goes in *ret_token (new) when <IsTruncated> is true, else NULL.
 * 0; -EINVAL with err for a body that is not a ListBucketResult, an unterminated element, an
 * unknown entity or a key over 4 KiB; -ENOMEM; key's error. */
typedef int kwg_storage_key_fn(void *userdata, const char *key);
int kwg_storage_list_parse(const char *xml, size_t len, kwg_storage_key_fn *key, void *userdata,
                           char **ret_token, struct kwg_err *err);
/* The text of the first <name> element of an S3 error body (entities decoded), into buf; ""
 * when there is none. Returns buf. */
const char *kwg_storage_xml_text(const char *xml, size_t len, const char *name, char *buf,
                                 size_t size);
