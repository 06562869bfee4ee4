/* SPDX-License-Identifier: Apache-2.0 */
/* gRPC's message framing (a 5-byte prefix: compressed flag, big-endian length) and the protobuf
 * messages of the worker-controller protocol (transport/grpc/proto, kestra-2x-protocol.md §2),
 * packed and unpacked by protobuf-c. No I/O. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

struct kwg_buf;

/* gRPC status codes (the ones kwg names). */
enum {
	KWG_GRPC_OK = 0,
	KWG_GRPC_CANCELLED = 1,
	KWG_GRPC_UNKNOWN = 2,
	KWG_GRPC_INVALID_ARGUMENT = 3,
	KWG_GRPC_DEADLINE_EXCEEDED = 4,
	KWG_GRPC_NOT_FOUND = 5,
	KWG_GRPC_RESOURCE_EXHAUSTED = 8,
	KWG_GRPC_FAILED_PRECONDITION = 9,
	KWG_GRPC_UNIMPLEMENTED = 12,
	KWG_GRPC_INTERNAL = 13,
	KWG_GRPC_UNAVAILABLE = 14,
	KWG_GRPC_UNAUTHENTICATED = 16,
};
const char *kwg_grpc_status_name(int status);

/* Takes the first whole message out of in (consumed from it): 1 and *ret_msg, *ret_len (a copy,
 * new), 0 when more bytes are needed, -EMSGSIZE when the message is larger than max, -EPROTO for
 * a compressed message (kwg asks for none). */
int kwg_grpc_deframe(struct kwg_buf *in, size_t max, uint8_t **ret_msg, size_t *ret_len);
/* Appends the 5-byte prefix and msg to out. 0; -EMSGSIZE; -ENOMEM. */
int kwg_grpc_frame(struct kwg_buf *out, const uint8_t *msg, size_t len);

/* Who sends: the request header of every message (RequestOrResponseHeader). Strings borrowed. */
struct kwg_grpc_who {
	const char *client_id;
	const char *client_version;
};

/* Each packer returns the encoded message (new, *ret_len) or NULL on OOM. */
uint8_t *kwg_grpc_pack_connect(const struct kwg_grpc_who *who, int32_t threads, size_t *ret_len);
/* OpaqueData{header, message}; also HeartbeatRequest (the same fields). */
uint8_t *kwg_grpc_pack_opaque(const struct kwg_grpc_who *who, const char *json, size_t json_len,
                              size_t *ret_len);
/* A WorkerJobRequest; info (connectionInfo) only when worker_id is not NULL. */
struct kwg_grpc_job_request {
	int32_t permits;
	const char *const *completed; /* n_completed ids */
	size_t n_completed;
	const char *worker_id; /* non-NULL: connectionInfo */
	const char *group_id;
	int32_t max_concurrency;
	int32_t max_inbound;
};
uint8_t *kwg_grpc_pack_job_request(const struct kwg_grpc_who *who,
                                   const struct kwg_grpc_job_request *req, size_t *ret_len);

/* The metadata questions (metastore.proto): KVMetadataRequest {tenant, namespace, name},
 * NamespaceFileMetadataPathRequest {tenant, namespace, path} (the current revision, deleted ones
 * too), NamespaceFileMetadataFindAllRequest {tenant, namespace}. tenant may be NULL. */
uint8_t *kwg_grpc_pack_kv_meta(const struct kwg_grpc_who *who, const char *tenant, const char *ns,
                               const char *name, size_t *ret_len);
uint8_t *kwg_grpc_pack_nsfile_meta(const struct kwg_grpc_who *who, const char *tenant,
                                   const char *ns, const char *path, size_t *ret_len);
uint8_t *kwg_grpc_pack_nsfile_all(const struct kwg_grpc_who *who, const char *tenant,
                                  const char *ns, size_t *ret_len);
/* The content questions (kv_store.proto, namespace_file_content.proto): KVKeyRequest {tenant,
 * namespace, key}, NamespaceFileObjectRequest {tenant, namespace, object}. tenant may be NULL. */
uint8_t *kwg_grpc_pack_kv_key(const struct kwg_grpc_who *who, const char *tenant, const char *ns,
                              const char *key, size_t *ret_len);
uint8_t *kwg_grpc_pack_nsfile_object(const struct kwg_grpc_who *who, const char *tenant,
                                     const char *ns, const char *object, size_t *ret_len);

/* ConnectResponse: *ret_group (new; "default" when empty) and *ret_configs (new, may be "").
 * -EBADMSG when undecodable. */
int kwg_grpc_unpack_connect(const uint8_t *msg, size_t len, char **ret_group, char **ret_configs,
                            size_t *ret_configs_len);
/* OpaqueData / HeartbeatResponse: *ret_json (new, NUL-terminated; "" when empty). */
int kwg_grpc_unpack_opaque(const uint8_t *msg, size_t len, char **ret_json, size_t *ret_len);

/* A WorkerJobResponse, walked: job(ctx, id, data, len) for each job, event(ctx, data, len) for each
 * event (borrowed for the call). -EBADMSG when undecodable. */
typedef void kwg_grpc_job_fn(void *ctx, const char *job_id, const char *data, size_t len);
typedef void kwg_grpc_event_fn(void *ctx, const char *data, size_t len);
int kwg_grpc_unpack_jobs(const uint8_t *msg, size_t len, kwg_grpc_job_fn *job,
                         kwg_grpc_event_fn *event, void *ctx);

/* A StreamChunk: fn(ctx, content, len) (content borrowed for the call; may be NULL when len is
 * 0); fn's result, or -EBADMSG when undecodable. */
typedef int kwg_grpc_chunk_fn(void *ctx, const uint8_t *data, size_t len);
int kwg_grpc_unpack_chunk(const uint8_t *msg, size_t len, kwg_grpc_chunk_fn *fn, void *ctx);
