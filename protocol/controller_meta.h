/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON replies of a Kestra 2.x controller's metadata services (kestra-2x-protocol.md §2.6,
 * §6.2), carried in OpaqueData.message: KVMetadataService.findByName (a PersistedKvMetadata, or
 * nothing when there is no row), NamespaceFileMetadataService.findByPath (a
 * NamespaceFileMetadata, or nothing) and findAll (an array of them). Pure: no I/O, no libuv. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Largest metadata reply kwg decodes. */
#define KWG_CONTROLLER_META_MAX_BYTES (8u << 20)

/* One row: found false when the reply is empty or JSON null (nothing else is set then). */
struct kwg_controller_meta {
	bool found;
	long long version; /* >= 1 */
	bool deleted;
	bool expired;   /* KV: its expirationDate is not after now */
	bool directory; /* namespace files: the path ends with "/" */
};

/* A KV row (PersistedKvMetadata {name, version, deleted, expirationDate, …}), expired judged at
 * now_us. 0 and *ret; -EBADMSG (err names the JSON path), -EMSGSIZE, -ENOMEM. */
int kwg_controller_kv_meta_decode(const char *json, size_t len, int64_t now_us,
                                  struct kwg_controller_meta *ret, struct kwg_err *err);
/* A namespace file's row (NamespaceFileMetadata {path, version, deleted, …}). Same returns. */
int kwg_controller_nsfile_meta_decode(const char *json, size_t len, struct kwg_controller_meta *ret,
                                      struct kwg_err *err);

/* A current namespace file: its path with a leading "/" and its revision. */
struct kwg_controller_nsfile {
	char *path;
	long long version;
};
/* findAll's array: the current (last not false), not deleted files, directories left out, sorted
 * by path; a path that is not absolute or has an empty, "." or ".." segment is refused. An empty
 * reply is no file. 0 and *ret (new array, free with kwg_controller_nsfiles_free), *ret_n;
 * -EBADMSG (err names the JSON path), -EMSGSIZE, -ENOMEM. */
int kwg_controller_nsfile_list_decode(const char *json, size_t len,
                                      struct kwg_controller_nsfile **ret, size_t *ret_n,
                                      struct kwg_err *err);
void kwg_controller_nsfiles_free(struct kwg_controller_nsfile *files, size_t n);
