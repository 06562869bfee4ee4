/* SPDX-License-Identifier: Apache-2.0 */
/* Where Kestra 1.1 and later say which revision of a KV value or a namespace file is current:
 * its kv_metadata and namespace_file_metadata tables (the revisions themselves are storage
 * objects <name>.vN beside revision 1). Storage asks; the transport, which reaches Kestra's
 * database, answers. Each question is answered once, later, never inside the call. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

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
};
