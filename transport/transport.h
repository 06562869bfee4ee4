/* SPDX-License-Identifier: Apache-2.0 */
/* The seam between the worker core and Kestra. A transport brings jobs in and takes what the
 * tasks produce out; the core (worker/worker.c) and the runners never know which one they run on.
 *
 * In:  jobs (on_job, as many as free_slots says the worker can take), kills (on_kill), the pause
 *      flags (on_flags: maintenance, a paused or draining group), a refusal (on_refused: this is
 *      not a Kestra kwg can work with), the loss of liveness (on_lost), the encryption key a
 *      2.x controller pushes (on_encryption_key).
 * Out: messages (emit: WorkerTaskResult, LogEntry, MetricEntry, WorkerTriggerResult, in the order
 *      emitted), the end of a job (job_done), the worker's service state and gauges (set_state,
 *      poke), and on stop: claim nothing more (stop), then deliver what is queued (empty).
 *
 * The 1.x PostgreSQL queue is transport/pg/ (kwg_transport_pg). A transport is a struct whose
 * first member is struct kwg_transport; the core calls it only through the functions below.
 * Every callback runs on the loop, never inside the call that caused it. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/instance.h"
#include "protocol/queue.h"
#include "protocol/script_task.h"
#include "protocol/worker_job.h"
#include "storage/meta.h"

struct kwg_buf;
struct kwg_transport;

/* What Kestra and the operators say about claiming. */
struct kwg_transport_flags {
	bool maintenance;         /* kwg maintenance enter */
	bool cluster_maintenance; /* Kestra's own maintenance mode */
	bool paused, draining;    /* this worker's group */
	bool schema;              /* kwg's control schema exists (PostgreSQL) */
};

/* The core's side. */
struct kwg_transport_ops {
	/* Task slots free now; no job is taken while it is 0. */
	unsigned (*free_slots)(void *ctx);
	/* A job, now the worker's to run and report; steals job. */
	void (*on_job)(void *ctx, struct kwg_job *job);
	/* An execution was killed (tenant "" when the message has none). */
	void (*on_kill)(void *ctx, const char *execution_id, const char *tenant_id);
	/* The flags changed; also once after the first read, before any job. */
	void (*on_flags)(void *ctx, const struct kwg_transport_flags *flags);
	/* This Kestra is not one kwg can work with: why. No flags and no job ever come. */
	void (*on_refused)(void *ctx, const char *why);
	/* Liveness lost (Kestra considers the worker gone, or it could not say it is alive for
	 * longer than the liveness timeout): the worker must stop at once, emitting nothing more.
	 */
	void (*on_lost)(void *ctx, const char *why);
	/* The service state `state` was recorded by Kestra. */
	void (*on_state_written)(void *ctx, enum kwg_service_state state);
	/* Messages drained below the low-water mark after a congestion, or all delivered. */
	void (*on_drained)(void *ctx);
	/* Kestra 2.x: what the controller's connect reply pushed as kestra.encryption.secret-key
	 * (worker_configs), key borrowed (SECRET: never logged), NULL when it pushed none. Once per
	 * process, before any job. NULL op: not wanted. */
	void (*on_encryption_key)(void *ctx, const char *key);
};

struct kwg_transport_params {
	uv_loop_t *loop;
	const char *url; /* where Kestra is: a libpq URL or conninfo (SECRET: never logged) */
	/* Who the worker is (its id and group) and its liveness settings; read at each heartbeat,
	 * so the gauges may change. */
	const struct kwg_instance_info *info;
	enum kwg_runner_kind default_runner; /* which task types the worker can run */
	const char *spill_dir;               /* where messages spill when memory fills */
	/* Kestra 2.x: kestra.queue.prefix, as Kestra is configured (NULL or "": none). */
	const char *queue_prefix;
	/* Kestra's queue table: TABLE or SCHEMA.TABLE (1.x kestra.jdbc.tables.queues.table, 2.x
	 * kestra.queue.jdbc.table); NULL: queues. Checked before: kwg_sql_table_check. */
	const char *queue_table;
	/* gRPC: USERNAME:PASSWORD sent as HTTP Basic on every call (SECRET), NULL or "": none. */
	const char *auth;
	/* gRPC: TLS (false: plaintext h2c); the CA file (NULL: the system's store), the client
	 * certificate and key files (both or neither); the authority sent and verified (NULL: the
	 * url's HOST:PORT). */
	bool tls;
	const char *tls_ca_file, *tls_cert_file, *tls_key_file;
	const char *authority;
	const struct kwg_transport_ops *ops;
	void *ctx;
};

/* Generic counters for /metrics. */
struct kwg_transport_stats {
	unsigned long long claimed;    /* jobs received */
	long long queued;              /* jobs of the worker's group waiting (-1: unknown) */
	size_t pending_bytes;          /* messages emitted and not yet delivered */
	unsigned long long reconnects; /* connections to Kestra lost and retried */
};

/* The workers Kestra knows (any group), for the sweep of orphaned containers: live false for
 * those that are gone. error non-NULL when it cannot tell (then ids is empty). */
struct kwg_transport_worker {
	const char *id;
	bool live;
};
typedef void kwg_transport_workers_fn(void *userdata, const struct kwg_transport_worker *workers,
                                      size_t n, const char *error);

struct kwg_transport_class {
	const char *name;
	/* 0 and *ret, or a negative errno (logged). */
	int (*create)(const struct kwg_transport_params *p, struct kwg_transport **ret);
	void (*start)(struct kwg_transport *t);
	void (*wake)(struct kwg_transport *t);
	void (*pause)(struct kwg_transport *t, bool paused);
	void (*stop)(struct kwg_transport *t);
	bool (*idle)(const struct kwg_transport *t);
	void (*emit)(struct kwg_transport *t, enum kwg_queue_type type, const char *key,
	             char *value);
	bool (*congested)(const struct kwg_transport *t);
	bool (*empty)(const struct kwg_transport *t);
	void (*job_done)(struct kwg_transport *t, const struct kwg_job *job);
	void (*set_state)(struct kwg_transport *t, enum kwg_service_state state);
	enum kwg_service_state (*state)(const struct kwg_transport *t);
	void (*poke)(struct kwg_transport *t);
	uint64_t (*heartbeat_age_ms)(const struct kwg_transport *t);
	bool (*fresh)(const struct kwg_transport *t);
	const struct kwg_transport_flags *(*flags)(const struct kwg_transport *t);
	void (*stats)(const struct kwg_transport *t, struct kwg_transport_stats *ret);
	int (*metrics)(const struct kwg_transport *t, struct kwg_buf *out);
	int (*workers)(struct kwg_transport *t, kwg_transport_workers_fn *cb, void *userdata);
	void (*cancel_workers)(struct kwg_transport *t);
	/* storage/meta.h's questions (NULL: this transport cannot answer them). */
	void *(*meta_lookup)(struct kwg_transport *t, enum kwg_meta_kind kind, const char *tenant,
	                     const char *ns, const char *name, kwg_meta_done_fn *done,
	                     void *userdata);
	void *(*meta_list_files)(struct kwg_transport *t, const char *tenant, const char *ns,
	                         void (*done)(void *userdata, const char *error, bool table,
	                                      const struct kwg_meta_file *files, size_t n),
	                         void *userdata);
	void (*meta_cancel)(struct kwg_transport *t, void *handle);
	/* storage/meta.h's content read (Kestra 2.x CONTROLLER worker access; NULL: none), a
	 * handle for meta_cancel. */
	void *(*content_read)(struct kwg_transport *t, enum kwg_meta_kind kind, const char *tenant,
	                      const char *ns, const char *name, const struct kwg_content_sink *sink,
	                      void *userdata);
	void (*close)(struct kwg_transport *t);
};

struct kwg_transport {
	const struct kwg_transport_class *cls;
};

/* The 1.x PostgreSQL queue (transport/pg/). */
extern const struct kwg_transport_class kwg_transport_pg;
/* Kestra 2.x's worker controller over gRPC (transport/grpc/): url is HOST:PORT. */
extern const struct kwg_transport_class kwg_transport_grpc;

static inline int kwg_transport_new(const struct kwg_transport_class *cls,
                                    const struct kwg_transport_params *p,
                                    struct kwg_transport **ret)
{
	return cls->create(p, ret);
}
/* Connects, says the worker is alive, reads the flags; jobs come after the first on_flags. */
static inline void kwg_transport_start(struct kwg_transport *t)
{
	t->cls->start(t);
}
/* A slot was freed, or the messages drained: take jobs now if some wait. */
static inline void kwg_transport_wake(struct kwg_transport *t)
{
	t->cls->wake(t);
}
/* Takes no job while paused (running tasks go on). */
static inline void kwg_transport_pause(struct kwg_transport *t, bool paused)
{
	t->cls->pause(t, paused);
}
/* The worker stops: no job is taken any more; one being taken still arrives. */
static inline void kwg_transport_stop(struct kwg_transport *t)
{
	t->cls->stop(t);
}
/* No job is being taken. */
static inline bool kwg_transport_idle(const struct kwg_transport *t)
{
	return t->cls->idle(t);
}
/* Queues a message for Kestra; steals value, key borrowed. Never fails: on OOM the message is
 * logged as lost (an error, never silent). Delivered in the order emitted. */
static inline void kwg_transport_emit(struct kwg_transport *t, enum kwg_queue_type type,
                                      const char *key, char *value)
{
	t->cls->emit(t, type, key, value);
}
/* Messages wait beyond what memory and spill can hold: producers should pause. */
static inline bool kwg_transport_congested(const struct kwg_transport *t)
{
	return t->cls->congested(t);
}
/* Every message emitted was delivered. */
static inline bool kwg_transport_empty(const struct kwg_transport *t)
{
	return t->cls->empty(t);
}
/* The job ended here (its last message emitted, or it was abandoned). */
static inline void kwg_transport_job_done(struct kwg_transport *t, const struct kwg_job *job)
{
	t->cls->job_done(t, job);
}
/* The worker's service state (kestra-protocol.md §7): recorded as soon as possible. */
static inline void kwg_transport_set_state(struct kwg_transport *t, enum kwg_service_state state)
{
	t->cls->set_state(t, state);
}
static inline enum kwg_service_state kwg_transport_state(const struct kwg_transport *t)
{
	return t->cls->state(t);
}
/* The gauges changed: say so soon. */
static inline void kwg_transport_poke(struct kwg_transport *t)
{
	t->cls->poke(t);
}
/* Liveness recorded within two heartbeat intervals. */
static inline bool kwg_transport_fresh(const struct kwg_transport *t)
{
	return t->cls->fresh(t);
}
/* Milliseconds since liveness was last recorded (UINT64_MAX before the first). */
static inline uint64_t kwg_transport_heartbeat_age_ms(const struct kwg_transport *t)
{
	return t->cls->heartbeat_age_ms(t);
}
static inline const struct kwg_transport_flags *kwg_transport_flags(const struct kwg_transport *t)
{
	return t->cls->flags(t);
}
static inline void kwg_transport_stats(const struct kwg_transport *t,
                                       struct kwg_transport_stats *ret)
{
	t->cls->stats(t, ret);
}
/* Appends the transport's own Prometheus lines. */
static inline int kwg_transport_metrics(const struct kwg_transport *t, struct kwg_buf *out)
{
	return t->cls->metrics(t, out);
}
/* Asks which workers Kestra knows; cb once, later. 0 or a negative errno. */
static inline int kwg_transport_workers(struct kwg_transport *t, kwg_transport_workers_fn *cb,
                                        void *userdata)
{
	return t->cls->workers(t, cb, userdata);
}
/* Drops a workers question in flight: its callback never comes. */
static inline void kwg_transport_cancel_workers(struct kwg_transport *t)
{
	t->cls->cancel_workers(t);
}
/* A storage/meta.h source answered by this transport (NULL when it has none). */
static inline void *kwg_transport_meta_lookup(void *ctx, enum kwg_meta_kind kind,
                                              const char *tenant, const char *ns, const char *name,
                                              kwg_meta_done_fn *done, void *userdata)
{
	struct kwg_transport *t = ctx;
	return t->cls->meta_lookup(t, kind, tenant, ns, name, done, userdata);
}
static inline void *
kwg_transport_meta_list_files(void *ctx, const char *tenant, const char *ns,
                              void (*done)(void *userdata, const char *error, bool table,
                                           const struct kwg_meta_file *files, size_t n),
                              void *userdata)
{
	struct kwg_transport *t = ctx;
	return t->cls->meta_list_files(t, tenant, ns, done, userdata);
}
static inline void kwg_transport_meta_cancel(void *ctx, void *handle)
{
	struct kwg_transport *t = ctx;
	t->cls->meta_cancel(t, handle);
}
static inline void *kwg_transport_content_read(void *ctx, enum kwg_meta_kind kind,
                                               const char *tenant, const char *ns, const char *name,
                                               const struct kwg_content_sink *sink, void *userdata)
{
	struct kwg_transport *t = ctx;
	return t->cls->content_read(t, kind, tenant, ns, name, sink, userdata);
}
/* read is set when the transport can read contents; the caller says which kinds it reads so
 * (kv_content, nsfile_content). */
static inline struct kwg_meta_source kwg_transport_meta_source(struct kwg_transport *t)
{
	return t->cls->meta_lookup
	           ? (struct kwg_meta_source){.ctx = t,
	                                      .lookup = kwg_transport_meta_lookup,
	                                      .list_files = kwg_transport_meta_list_files,
	                                      .cancel = kwg_transport_meta_cancel,
	                                      .read = t->cls->content_read
	                                                  ? kwg_transport_content_read
	                                                  : NULL}
	           : (struct kwg_meta_source){0};
}
/* Closes every connection; messages still queued are reported as lost. Accepts NULL. */
static inline void kwg_transport_close(struct kwg_transport *t)
{
	if (t)
		t->cls->close(t);
}
