/* SPDX-License-Identifier: Apache-2.0 */
/* storage/meta.h's questions asked of a Kestra 2.x controller (kestra-2x-protocol.md §2.6, §6.2):
 * a KV key's row by KVMetadataService.findByName, a namespace file's by
 * NamespaceFileMetadataService.findByPath, a namespace's current files by findAll. Each is a
 * unary call on the transport's channel; UNAVAILABLE (the connection dropped, the controller
 * restarting) is retried after 250 ms doubling to 4 s, and a question not answered within 30 s
 * fails. UNIMPLEMENTED (a controller without the service) fails the question with a clear error,
 * logged once per service. Answers come on the loop, never inside the call that asked. The
 * CONTROLLER worker access's content reads (KV values, namespace-file contents) are questions
 * too, server-streaming, under the same discipline. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "storage/meta.h"
#include "transport/grpc/wire.h"

struct kwg_grpc_chan;
struct kwg_grpc_meta;

struct kwg_grpc_meta_env {
	uv_loop_t *loop;
	const struct kwg_grpc_who *who; /* borrowed for the module's life */
	/* The channel to call on now, or NULL while none is ready. */
	struct kwg_grpc_chan *(*chan)(void *ctx);
	void *ctx;
};

/* 0 and *ret, or -ENOMEM. */
int kwg_grpc_meta_new(const struct kwg_grpc_meta_env *env, struct kwg_grpc_meta **ret);
/* A channel is ready: the questions waiting for one are asked now. */
void kwg_grpc_meta_kick(struct kwg_grpc_meta *m);
/* ch is about to be freed (its calls dropped without a callback): the questions on it are asked
 * again on the next channel. Accepts NULL. */
void kwg_grpc_meta_drop_chan(struct kwg_grpc_meta *m, struct kwg_grpc_chan *ch);
/* storage/meta.h's lookup, list_files and cancel. */
void *kwg_grpc_meta_lookup(struct kwg_grpc_meta *m, enum kwg_meta_kind kind, const char *tenant,
                           const char *ns, const char *name, kwg_meta_done_fn *done,
                           void *userdata);
void *kwg_grpc_meta_list_files(struct kwg_grpc_meta *m, const char *tenant, const char *ns,
                               void (*done)(void *userdata, const char *error, bool table,
                                            const struct kwg_meta_file *files, size_t n),
                               void *userdata);
/* storage/meta.h's read: KVStoreService.getRawValue (KWG_META_KV) or
 * NamespaceFileContentService.get (KWG_META_NSFILE, name the object), server-streaming, the
 * chunks handed to sink as they come (restarted when the call is asked again). Cancelled by
 * kwg_grpc_meta_cancel. */
void *kwg_grpc_meta_read(struct kwg_grpc_meta *m, enum kwg_meta_kind kind, const char *tenant,
                         const char *ns, const char *name, const struct kwg_content_sink *sink,
                         void *userdata);
void kwg_grpc_meta_cancel(struct kwg_grpc_meta *m, void *handle);
/* Drops every question (no answer comes) and cancels their calls, while the channel is still
 * there; freed once libuv lets go of its timer. Accepts NULL. */
void kwg_grpc_meta_close(struct kwg_grpc_meta *m);
