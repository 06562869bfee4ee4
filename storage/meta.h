/* SPDX-License-Identifier: Apache-2.0 */
/* Where Kestra 1.1 and later say which revision of a KV value or a namespace file is current:
 * its kv_metadata and namespace_file_metadata tables (the revisions themselves are storage
 * objects <name>.vN beside revision 1). Storage asks; the transport, which reaches Kestra's
 * database, answers. Each question is answered once, later, never inside the call. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum kwg_meta_kind {
	KWG_META_KV,     /* name: the key */
	KWG_META_NSFILE, /* name: the file's path in the namespace, with a leading "/" */
};

struct kwg_meta_row {
	bool table; /* the table exists (false: a Kestra before it; nothing else is set) */
	bool found; /* a current row */
	long long version;
	bool deleted;
	bool expired;   /* KV: its expiration date has passed */
	bool directory; /* namespace files: the row is a directory's */
};

/* A namespace's current file (list_files): its path with a leading "/" and its revision. */
struct kwg_meta_file {
	const char *path;
	long long version;
};

/* error non-NULL (the row then unset) when the database could not answer. */
typedef void kwg_meta_done_fn(void *userdata, const char *error, const struct kwg_meta_row *row);

/* Where the bytes of a content read go (kwg_meta_source.read). chunk: the next piece (a negative
 * errno stops the read: done then gets it as status); restart: the read starts over from the
 * first byte (asked again after the connection dropped); done, once: error NULL and status 0
 * (all delivered), -ENOENT (no value, no content), -ESTALE (a KV value expired) or chunk's error;
 * error non-NULL (status then -EIO) when the source could not answer. */
struct kwg_content_sink {
	int (*chunk)(void *userdata, const uint8_t *data, size_t len);
	void (*restart)(void *userdata);
	void (*done)(void *userdata, const char *error, int status);
};

struct kwg_meta_source {
	void *ctx;
	/* Asks for the current row of (tenant, namespace, name); tenant NULL for none. A handle
	 * for cancel, or NULL on OOM (nothing asked). */
	void *(*lookup)(void *ctx, enum kwg_meta_kind kind, const char *tenant, const char *ns,
	                const char *name, kwg_meta_done_fn *done, void *userdata);
	/* Every current, not deleted file of a namespace (no directories); done gets table false
	 * (and no files) on a Kestra before the table. A handle for cancel, or NULL on OOM. */
	void *(*list_files)(void *ctx, const char *tenant, const char *ns,
	                    void (*done)(void *userdata, const char *error, bool table,
	                                 const struct kwg_meta_file *files, size_t n),
	                    void *userdata);
	/* The answer of a question not answered yet will not be delivered. */
	void (*cancel)(void *ctx, void *handle);
	/* Kestra 2.x's CONTROLLER worker access: KV values (kv_content: KWG_META_KV, name the key)
	 * and namespace-file contents (nsfile_content: KWG_META_NSFILE, name the revision's object
	 * relative to the namespace-files root, "scripts/main.py.v2") are read through the source
	 * instead of the storage. A handle for cancel, or NULL on OOM. NULL: never. */
	bool kv_content, nsfile_content;
	void *(*read)(void *ctx, enum kwg_meta_kind kind, const char *tenant, const char *ns,
	              const char *name, const struct kwg_content_sink *sink, void *userdata);
};
