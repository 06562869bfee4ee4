/* SPDX-License-Identifier: Apache-2.0 */
/* kv() of templates: Kestra's KV store in the local internal storage (Ion values beside Ion
 * metadata with the expiry, namespace inheritance, Kestra's messages). Like read() (read.h) these
 * are synchronous file reads on the loop thread while a task renders; with S3 or MinIO storage
 * kv() fails naming the key. */
#pragma once
#include <jansson.h>

#include "common/err.h"
#include "storage/read.h"

/* The value of key in namespace ns, or with ns NULL in the flow's namespace (rd->namespace_)
 * then each parent (KESTRA: KvFunction's inheritance). 0 with *ret (new); -ENOENT when missing,
 * -ESTALE when expired (the search stops there, as Kestra's does), both without err; -EINVAL
 * (bad key or namespace, unreadable value), -EOPNOTSUPP (storage not local, or a key with several
 * revisions), -ENOMEM or another -errno with err naming the key. Reads count in rd's budget. */
int kwg_storage_kv_get(struct kwg_storage_reader *rd, const char *key, const char *ns, json_t **ret,
                       struct kwg_err *err);
