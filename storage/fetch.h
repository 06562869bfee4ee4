/* SPDX-License-Identifier: Apache-2.0 */
/* The objects one task's templates read from an S3 or MinIO internal storage (read(), kv(), the
 * file functions): rendering is one synchronous call, so the storage cannot be read inside it.
 * Instead a render looks objects up here; an object not fetched yet is noted as wanted
 * (-EAGAIN), the caller fetches every wanted object asynchronously, then renders again, until a
 * render wants nothing new. Objects are keyed by their storage path ("/company/team/_files/a"). */
#pragma once
#include <stddef.h>

#include "storage/meta.h"
#include "storage/storage.h"

struct kwg_storage_fetch;

/* Most objects one task may fetch, and the largest one kept (a larger one reads as -EMSGSIZE). */
#define KWG_STORAGE_FETCH_MAX_OBJECTS 256
#define KWG_STORAGE_FETCH_MAX_BYTES (16u << 20)

/* meta (copied; NULL or without lookup: none) answers the metadata questions. NULL on OOM. */
struct kwg_storage_fetch *kwg_storage_fetch_new(const struct kwg_meta_source *meta);
/* Cancels a fetch under way (its callback never fires). Accepts NULL. */
void kwg_storage_fetch_free(struct kwg_storage_fetch *f);

/* The object at upath: 0 with *data (borrowed, NUL-terminated, valid until f is freed) and *len;
 * -ENOENT (no such object), -EMSGSIZE (past KWG_STORAGE_FETCH_MAX_BYTES), -EAGAIN (not fetched
 * yet: it is now wanted), -E2BIG (past KWG_STORAGE_FETCH_MAX_OBJECTS), -ENOMEM. */
int kwg_storage_fetch_lookup(struct kwg_storage_fetch *f, const char *upath, const char **data,
                             size_t *len);

/* A fetch without a storage (only contents through the meta source, kwg_storage_fetch_reads):
 * kwg_storage_fetch_lookup answers -EOPNOTSUPP. has_storage: false for it, and for NULL. */
void kwg_storage_fetch_without_storage(struct kwg_storage_fetch *f);
bool kwg_storage_fetch_has_storage(const struct kwg_storage_fetch *f);

/* Whether metadata questions can be asked (a source was given). */
bool kwg_storage_fetch_has_meta(const struct kwg_storage_fetch *f);

/* The current metadata row of (kind, ns, name): 0 and *ret (borrowed, valid until f is freed);
 * -EAGAIN (not asked yet: now wanted), -E2BIG (past KWG_STORAGE_FETCH_MAX_OBJECTS questions),
 * -ENOMEM. */
int kwg_storage_fetch_meta(struct kwg_storage_fetch *f, enum kwg_meta_kind kind, const char *ns,
                           const char *name, const struct kwg_meta_row **ret);

/* Whether the meta source reads kind's contents (Kestra 2.x CONTROLLER worker access: KV values,
 * namespace-file contents) instead of the storage. Accepts NULL. */
bool kwg_storage_fetch_reads(const struct kwg_storage_fetch *f, enum kwg_meta_kind kind);
/* The content of (kind, ns, name) read through the meta source (name: the KV key, or the
 * namespace file's object relative to the namespace-files root): 0 with *data (borrowed,
 * NUL-terminated, valid until f is freed) and *len; -ENOENT (none), -ESTALE (an expired KV
 * value), -EMSGSIZE (past KWG_STORAGE_FETCH_MAX_BYTES), -EAGAIN (not read yet: now wanted),
 * -E2BIG, -ENOMEM. */
int kwg_storage_fetch_content(struct kwg_storage_fetch *f, enum kwg_meta_kind kind, const char *ns,
                              const char *name, const char **data, size_t *len);

/* How many objects and metadata rows are wanted and not fetched yet. */
size_t kwg_storage_fetch_wanted(const struct kwg_storage_fetch *f);

/* error NULL when every wanted object was fetched (or found missing), else a message naming the
 * object and the cause; the wanted objects then stay unfetched. */
typedef void kwg_storage_fetch_done_fn(void *userdata, const char *error);

/* Fetches every wanted object of tenant from s at once, through temporary files in dir (removed
 * once read), and asks every wanted metadata row, then calls done once, never inside this call.
 * 0, or -ENOMEM (nothing started). */
int kwg_storage_fetch_start(struct kwg_storage_fetch *f, struct kwg_storage *s, const char *tenant,
                            const char *dir, kwg_storage_fetch_done_fn *done, void *userdata);
