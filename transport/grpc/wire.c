/* SPDX-License-Identifier: Apache-2.0 */
#include "transport/grpc/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/id.h"
#include "connect_controller.pb-c.h"
#include "kv_store.pb-c.h"
#include "liveness_controller.pb-c.h"
#include "metastore.pb-c.h"
#include "namespace_file_content.pb-c.h"
#include "request.pb-c.h"
#include "worker_controller.pb-c.h"

const char *kwg_grpc_status_name(int status)
{
	static const char *const names[] = {"OK",
	                                    "CANCELLED",
	                                    "UNKNOWN",
	                                    "INVALID_ARGUMENT",
	                                    "DEADLINE_EXCEEDED",
	                                    "NOT_FOUND",
	                                    "ALREADY_EXISTS",
	                                    "PERMISSION_DENIED",
	                                    "RESOURCE_EXHAUSTED",
	                                    "FAILED_PRECONDITION",
	                                    "ABORTED",
	                                    "OUT_OF_RANGE",
	                                    "UNIMPLEMENTED",
	                                    "INTERNAL",
	                                    "UNAVAILABLE",
	                                    "DATA_LOSS",
	                                    "UNAUTHENTICATED"};

	return status >= 0 && (size_t)status < sizeof(names) / sizeof(names[0]) ? names[status]
	                                                                        : "UNKNOWN";
}

int kwg_grpc_deframe(struct kwg_buf *in, size_t max, uint8_t **ret_msg, size_t *ret_len)
{
	const uint8_t *p = (const uint8_t *)in->data;
	size_t len;
	uint8_t *msg;

	if (in->len < 5)
		return 0;
	if (p[0] != 0)
		return -EPROTO;
	len = (size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | (size_t)p[4];
	if (len > max)
		return -EMSGSIZE;
	if (in->len - 5 < len)
		return 0;
	msg = malloc(len ? len : 1);
	if (!msg)
		return -ENOMEM;
	memcpy(msg, p + 5, len);
	kwg_buf_consume(in, 5 + len);
	*ret_msg = msg;
	*ret_len = len;
	return 1;
}

int kwg_grpc_frame(struct kwg_buf *out, const uint8_t *msg, size_t len)
{
	uint8_t prefix[5] = {0, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
	                     (uint8_t)len};
	int r;

	if (len > UINT32_MAX)
		return -EMSGSIZE;
	r = kwg_buf_append(out, prefix, sizeof(prefix));
	if (r >= 0 && len)
		r = kwg_buf_append(out, msg, len);
	return r;
}

/* The header of one message; corr is the caller's storage for the correlation id. */
static void header_init(RequestOrResponseHeader *h, const struct kwg_grpc_who *who,
                        char corr[KWG_UUID_LEN])
{
	request_or_response_header__init(h);
	kwg_id_uuid4(corr);
	h->clientid = (char *)who->client_id;
	h->clientversion = (char *)who->client_version;
	h->correlationid = corr;
	h->messageformat = (char *)"JSON";
	h->edition = REQUEST_OR_RESPONSE_HEADER__EDITION__EDITION_OSS;
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *ret_len)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *out = malloc(n ? n : 1);

	if (!out)
		return NULL;
	*ret_len = protobuf_c_message_pack(m, out);
	return out;
}

uint8_t *kwg_grpc_pack_connect(const struct kwg_grpc_who *who, int32_t threads, size_t *ret_len)
{
	RequestOrResponseHeader h;
	ConnectRequest req;
	char corr[KWG_UUID_LEN];

	header_init(&h, who, corr);
	connect_request__init(&req);
	req.header = &h;
	req.worker_num_threads = threads;
	return pack(&req.base, ret_len);
}

uint8_t *kwg_grpc_pack_opaque(const struct kwg_grpc_who *who, const char *json, size_t json_len,
                              size_t *ret_len)
{
	RequestOrResponseHeader h;
	OpaqueData d;
	char corr[KWG_UUID_LEN];

	header_init(&h, who, corr);
	opaque_data__init(&d);
	d.header = &h;
	d.message.data = (uint8_t *)json;
	d.message.len = json_len;
	return pack(&d.base, ret_len);
}

uint8_t *kwg_grpc_pack_job_request(const struct kwg_grpc_who *who,
                                   const struct kwg_grpc_job_request *req, size_t *ret_len)
{
	RequestOrResponseHeader h;
	WorkerJobRequest m;
	WorkerConnectionInfo info;
	char corr[KWG_UUID_LEN];

	header_init(&h, who, corr);
	worker_job_request__init(&m);
	m.header = &h;
	m.permits = req->permits;
	m.n_completed_job_ids = req->n_completed;
	m.completed_job_ids = (char **)req->completed;
	if (req->worker_id) {
		worker_connection_info__init(&info);
		info.workerid = (char *)req->worker_id;
		info.worker_group_id = (char *)req->group_id;
		info.maxconcurrency = req->max_concurrency;
		info.max_inbound_message_size = req->max_inbound;
		m.connectioninfo = &info;
	}
	return pack(&m.base, ret_len);
}

uint8_t *kwg_grpc_pack_kv_meta(const struct kwg_grpc_who *who, const char *tenant, const char *ns,
                               const char *name, size_t *ret_len)
{
	RequestOrResponseHeader h;
	KVMetadataRequest m;
	char corr[KWG_UUID_LEN];

	header_init(&h, who, corr);
	kvmetadata_request__init(&m);
	m.header = &h;
	m.tenant_id = (char *)(tenant ? tenant : "");
	m.namespace_ = (char *)ns;
	m.name = (char *)name;
	return pack(&m.base, ret_len);
}

uint8_t *kwg_grpc_pack_nsfile_meta(const struct kwg_grpc_who *who, const char *tenant,
                                   const char *ns, const char *path, size_t *ret_len)
{
	RequestOrResponseHeader h;
	NamespaceFileMetadataPathRequest m;
	char corr[KWG_UUID_LEN];

	header_init(&h, who, corr);
	namespace_file_metadata_path_request__init(&m);
	m.header = &h;
	m.tenant_id = (char *)(tenant ? tenant : "");
	m.namespace_ = (char *)ns;
	m.path = (char *)path;
	/* KESTRA 1.2+: findByPath as the 1.x query reads it: the last row, deleted or not. */
	m.allow_deleted = true;
	return pack(&m.base, ret_len);
}

uint8_t *kwg_grpc_pack_nsfile_all(const struct kwg_grpc_who *who, const char *tenant,
                                  const char *ns, size_t *ret_len)
{
	RequestOrResponseHeader h;
	NamespaceFileMetadataFindAllRequest m;
	char corr[KWG_UUID_LEN];

	header_init(&h, who, corr);
	namespace_file_metadata_find_all_request__init(&m);
	m.header = &h;
	m.tenant_id = (char *)(tenant ? tenant : "");
	m.namespace_ = (char *)ns;
	return pack(&m.base, ret_len);
}

uint8_t *kwg_grpc_pack_kv_key(const struct kwg_grpc_who *who, const char *tenant, const char *ns,
                              const char *key, size_t *ret_len)
{
	RequestOrResponseHeader h;
	KVKeyRequest m;
	char corr[KWG_UUID_LEN];

	header_init(&h, who, corr);
	kvkey_request__init(&m);
	m.header = &h;
	m.tenant_id = (char *)(tenant ? tenant : "");
	m.namespace_ = (char *)ns;
	m.key = (char *)key;
	return pack(&m.base, ret_len);
}

uint8_t *kwg_grpc_pack_nsfile_object(const struct kwg_grpc_who *who, const char *tenant,
                                     const char *ns, const char *object, size_t *ret_len)
{
	RequestOrResponseHeader h;
	NamespaceFileObjectRequest m;
	char corr[KWG_UUID_LEN];

	header_init(&h, who, corr);
	namespace_file_object_request__init(&m);
	m.header = &h;
	m.tenant_id = (char *)(tenant ? tenant : "");
	m.namespace_ = (char *)ns;
	m.object = (char *)object;
	return pack(&m.base, ret_len);
}

static char *dup_bytes(const uint8_t *data, size_t len)
{
	char *s = malloc(len + 1);

	if (s) {
		if (len)
			memcpy(s, data, len);
		s[len] = '\0';
	}
	return s;
}

int kwg_grpc_unpack_connect(const uint8_t *msg, size_t len, char **ret_group, char **ret_configs,
                            size_t *ret_configs_len)
{
	ConnectResponse *m = connect_response__unpack(NULL, len, msg);
	char *group, *configs;

	if (!m)
		return -EBADMSG;
	group = strdup(m->worker_group_id && *m->worker_group_id ? m->worker_group_id : "default");
	configs = dup_bytes(m->worker_configs.data, m->worker_configs.len);
	*ret_configs_len = m->worker_configs.len;
	connect_response__free_unpacked(m, NULL);
	if (!group || !configs) {
		free(group);
		free(configs);
		return -ENOMEM;
	}
	*ret_group = group;
	*ret_configs = configs;
	return 0;
}

int kwg_grpc_unpack_opaque(const uint8_t *msg, size_t len, char **ret_json, size_t *ret_len)
{
	/* OpaqueData and HeartbeatResponse share their fields and numbers. */
	OpaqueData *m = opaque_data__unpack(NULL, len, msg);
	char *s;

	if (!m)
		return -EBADMSG;
	s = dup_bytes(m->message.data, m->message.len);
	*ret_len = m->message.len;
	opaque_data__free_unpacked(m, NULL);
	if (!s)
		return -ENOMEM;
	*ret_json = s;
	return 0;
}

int kwg_grpc_unpack_jobs(const uint8_t *msg, size_t len, kwg_grpc_job_fn *job,
                         kwg_grpc_event_fn *event, void *ctx)
{
	WorkerJobResponse *m = worker_job_response__unpack(NULL, len, msg);

	if (!m)
		return -EBADMSG;
	for (size_t i = 0; i < m->n_jobs; i++)
		job(ctx, m->jobs[i]->jobid ? m->jobs[i]->jobid : "",
		    (const char *)m->jobs[i]->jobdata.data, m->jobs[i]->jobdata.len);
	for (size_t i = 0; i < m->n_events; i++)
		event(ctx, (const char *)m->events[i].data, m->events[i].len);
	worker_job_response__free_unpacked(m, NULL);
	return 0;
}

int kwg_grpc_unpack_chunk(const uint8_t *msg, size_t len, kwg_grpc_chunk_fn *fn, void *ctx)
{
	StreamChunk *m = stream_chunk__unpack(NULL, len, msg);
	int r;

	if (!m)
		return -EBADMSG;
	r = fn(ctx, m->content.data, m->content.len);
	stream_chunk__free_unpacked(m, NULL);
	return r;
}
