/* SPDX-License-Identifier: Apache-2.0 */
/* kv() of templates: Kestra's KV store in the internal storage (Ion values beside Ion metadata
 * with the expiry, namespace inheritance, Kestra's messages), read as read() reads (read.h): the
 * local files in the call, S3 and MinIO objects from the task's fetched copies. */
#pragma once
#include <jansson.h>

#include "common/err.h"
#include "storage/read.h"

/* The value of key in namespace ns, or with ns NULL in the flow's namespace (rd->namespace_)
 * then each parent (KESTRA: KvFunction's inheritance). 0 with *ret (new); -ENOENT when missing,
 * -ESTALE when expired (the search stops there, as Kestra's does), -EAGAIN when objects are not
 * fetched yet (all the search may need are then wanted), all without err; -EINVAL (bad key or
 * namespace, unreadable value), -EOPNOTSUPP (no storage, or a key with several revisions),
 * -ENOMEM or another -errno with err naming the key. Reads count in rd's budget. */
int kwg_storage_kv_get(struct kwg_storage_reader *rd, const char *key, const char *ns, json_t **ret,
                       struct kwg_err *err);
