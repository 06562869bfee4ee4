/* SPDX-License-Identifier: Apache-2.0 */
/* The transport for Kestra 2.x's worker controller over gRPC (transport/transport.h,
 * kestra-2x-protocol.md): connect once, liveness by heartbeat, the job stream (connectionInfo
 * first, permits as a level equal to the free slots, completed job ids), and the messages sent by
 * unary calls (one WorkerTaskResult a call, logs and metrics in batches of up to 100). Everything
 * shares one HTTP/2 connection (chan.c); when it drops, it is opened again (at once after a
 * GOAWAY, else after 0.5 s doubling to 30 s) and the messages waiting in memory are sent then.
 * A running job is never stopped because the connection dropped. */
#define KWG_LOG_MODULE "grpc"
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/parse.h"
#include "protocol/controller.h"
#include "protocol/worker_job.h"
#include "transport/grpc/chan.h"
#include "transport/grpc/meta.h"
#include "transport/grpc/tls.h"
#include "transport/grpc/wire.h"
#include "transport/transport.h"

/* KESTRA 2.x: the controller's own version string is what a worker should send (§1.4). */
#define CLIENT_VERSION "2.0.0"
/* The inbound limit kwg advertises and enforces (Kestra's default is 10 MiB). */
#define MAX_INBOUND (16u << 20)
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 30000
#define RETRY_SEND_MS 1000
/* Messages waiting for the controller: producers pause past CONGESTED, and past MAX a message is
 * lost (logged). */
#define PENDING_CONGESTED (16u << 20)
#define PENDING_MAX (256u << 20)
/* Kestra's senders batch logs and metrics by 100 (§3.5). */
#define BATCH_MAX 100

struct item {
	struct item *next;
	char *value; /* JSON text */
	size_t len;
	bool refused; /* a result already rewritten after RESOURCE_EXHAUSTED */
};

/* One kind of message and its unary method: FIFO, at most one call in flight. */
struct sender {
	const char *path;
	const char *what;
	size_t batch; /* records per call */
	struct item *head, **tail;
	size_t n;
	struct kwg_grpc_call *call;
	size_t in_flight; /* items of head sent by call */
	bool retry_wait;  /* a retry timer is set */
	unsigned long long sent, lost;
};

enum sender_kind { S_RESULT, S_TRIGGER, S_LOG, S_METRIC, S__COUNT };

struct inflight_job {
	struct inflight_job *next;
	const struct kwg_job *job;
	char id[];
};

struct grpc_transport {
	struct kwg_transport base;
	struct kwg_transport_params p;
	char *host, *port;
	char *where; /* HOST:PORT as given ([V6]:PORT), for the logs */
	struct kwg_grpc_who who;
	char *authorization;          /* "Basic …" (SECRET: never logged), NULL: none */
	struct kwg_grpc_tls_ctx *tls; /* NULL: plaintext h2c */
	char *authority;              /* NULL: HOST:PORT */
	char last_why[256];           /* the last connection failure logged as a warning */
	struct kwg_grpc_chan *ch;
	struct kwg_grpc_chan *old_ch; /* after a GOAWAY: finishing its calls */
	bool chan_ready, connected;   /* connect done once (per process) */
	char *group_id;
	uint64_t backoff_ms;
	/* timers; the transport is freed when the last one closed */
	uv_timer_t reconnect_timer, tick_timer, permits_timer, retry_timer;
	int open_handles;
	bool closing;
	/* the job stream */
	struct kwg_grpc_call *stream;
	bool stream_first_sent, permits_force;
	int32_t permits_sent;
	bool paused, stopped, claim_started;
	char **completed;
	size_t n_completed, cap_completed;
	struct inflight_job *jobs;
	/* messages */
	struct sender senders[S__COUNT];
	size_t pending_bytes;
	bool was_congested;
	/* The controller refuses the senders' credentials (UNAUTHENTICATED): logged once a streak,
	 * retried after retry_ms (doubling to BACKOFF_MAX_MS); unauth_calls: refused calls. */
	bool unauthenticated;
	uint64_t retry_ms;
	unsigned long long unauth_calls;
	/* liveness */
	struct kwg_grpc_call *hb_call;
	bool registered, flags_sent, hb_again;
	enum kwg_service_state wanted, hb_state, recorded;
	/* A state set while wanted still waited to be sent: sent once wanted is recorded, so that
	 * no transition is skipped (TERMINATING before TERMINATED_GRACEFULLY). */
	enum kwg_service_state then_state;
	bool has_then;
	char *stored; /* the instance the controller stored */
	uint64_t last_hb_ok_ms, started_ms;
	bool fenced;
	struct kwg_transport_flags flags;
	/* storage/meta.h's questions (meta.c) */
	struct kwg_grpc_meta *meta;
	unsigned long long claimed, reconnects;
};

static struct grpc_transport *gt(struct kwg_transport *t)
{
	return (struct grpc_transport *)t;
}

static const struct grpc_transport *cgt(const struct kwg_transport *t)
{
	return (const struct grpc_transport *)t;
}

static void chan_open(struct grpc_transport *t);
static void stream_open(struct grpc_transport *t);
static void pump(struct grpc_transport *t);
static void heartbeat_send(struct grpc_transport *t);
static void permits_schedule(struct grpc_transport *t, bool force);

static uint64_t now_ms(const struct grpc_transport *t)
{
	return uv_now(t->p.loop);
}

/* ---------------------------------------------------------------- connection */

/* Frees a channel; the metadata questions on it are asked again on the next. */
static void chan_free(struct grpc_transport *t, struct kwg_grpc_chan *ch)
{
	kwg_grpc_meta_drop_chan(t->meta, ch);
	kwg_grpc_chan_free(ch);
}

static void on_reconnect(uv_timer_t *timer)
{
	struct grpc_transport *t = timer->data;

	chan_open(t);
}

/* The connection is gone: open it again at once (routine end) or after the backoff. */
static void reconnect_later(struct grpc_transport *t, bool at_once, const char *why)
{
	uint64_t delay = at_once ? 0 : t->backoff_ms;

	if (t->closing)
		return;
	t->reconnects++;
	if (!at_once) {
		/* The same failure again (a certificate refused at each attempt) is logged once as
		 * a warning, then at info until something else happens. */
		if (strcmp(why, t->last_why) != 0)
			kwg_log_warning("controller %s: %s; reconnecting in %llu ms", t->where, why,
			                (unsigned long long)delay);
		else
			kwg_log_info("controller %s: %s again; reconnecting in %llu ms", t->where,
			             why, (unsigned long long)delay);
		(void)snprintf(t->last_why, sizeof(t->last_why), "%s", why);
		t->backoff_ms =
		    t->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff_ms * 2;
	} else {
		kwg_log_info("controller %s: %s; reconnecting now", t->where, why);
	}
	uv_timer_start(&t->reconnect_timer, on_reconnect, delay, 0);
}

static void on_chan_closed(void *ctx, struct kwg_grpc_chan *ch, bool goaway, const char *why)
{
	struct grpc_transport *t = ctx;

	if (ch == t->old_ch) {
		/* The connection left after a GOAWAY: a new one took over already. */
		chan_free(t, steal_ptr(&t->old_ch));
		return;
	}

	/* Every call on it has ended already (UNAVAILABLE): their items wait for the next one. */
	chan_free(t, steal_ptr(&t->ch));
	t->chan_ready = false;
	reconnect_later(t, goaway, goaway ? "the controller ended the connection (GOAWAY)" : why);
}

static void connect_done(struct grpc_transport *t);

static void on_connect_message(void *ctx, const uint8_t *msg, size_t len)
{
	struct grpc_transport *t = ctx;
	struct kwg_err err = {{0}};
	char *group = NULL, *configs = NULL, *key = NULL;
	size_t n = 0;

	if (t->connected)
		return;
	if (kwg_grpc_unpack_connect(msg, len, &group, &configs, &n) < 0) {
		kwg_log_error("connect: the controller's ConnectResponse cannot be decoded");
		return;
	}
	if (kwg_controller_configs_decode(configs, n, &key, &err) < 0)
		kwg_log_warning("connect: worker_configs ignored: %s", err.msg);
	/* KESTRA 2.x: the worker applies encryption.secret-key from worker_configs (§1.3); the
	 * core decides whether it is used. The key itself is never logged. */
	if (t->p.ops->on_encryption_key)
		t->p.ops->on_encryption_key(t->p.ctx, key);
	if (key)
		OPENSSL_cleanse(key, strlen(key));
	if (configs)
		OPENSSL_cleanse(configs, n);
	free(key);
	free(configs);
	free(t->group_id);
	t->group_id = group;
	t->connected = true;
}

static void on_connect_end(void *ctx, int status, const char *message)
{
	struct grpc_transport *t = ctx;
	char why[400];

	t->hb_call = NULL;
	if (status == KWG_GRPC_OK && t->connected) {
		kwg_log_notice("connected to the controller %s: worker group '%s'", t->where,
		               t->group_id);
		connect_done(t);
		return;
	}
	if (status == KWG_GRPC_OK)
		status = KWG_GRPC_INTERNAL;
	(void)snprintf(why, sizeof(why), "connect: %s%s%s", kwg_grpc_status_name(status),
	               *message ? ": " : "", message);
	if (status == KWG_GRPC_UNAVAILABLE || status == KWG_GRPC_DEADLINE_EXCEEDED) {
		if (t->ch) {
			chan_free(t, steal_ptr(&t->ch));
			t->chan_ready = false;
			reconnect_later(t, false, why);
		}
		return;
	}
	/* KESTRA: any connect error is fatal to the Java worker; so here, once the controller
	 * answered (wrong credentials, a refused worker, not a controller). */
	t->p.ops->on_refused(t->p.ctx, why);
}

static const struct kwg_grpc_call_ops connect_ops = {
    .on_message = on_connect_message,
    .on_end = on_connect_end,
};

static void on_chan_ready(void *ctx)
{
	struct grpc_transport *t = ctx;
	struct kwg_grpc_call *call;
	size_t len = 0;
	uint8_t *msg;
	int r;

	t->chan_ready = true;
	t->last_why[0] = '\0';
	if (t->connected) {
		connect_done(t);
		return;
	}
	/* KESTRA: connect once per process (§1.3), worker_num_threads = the slots. */
	msg = kwg_grpc_pack_connect(&t->who, (int32_t)t->p.info->slots, &len);
	r = msg ? kwg_grpc_call_new(t->ch, "/ConnectControllerService/connect", &connect_ops, t,
	                            &call)
	        : -ENOMEM;
	if (r >= 0)
		r = kwg_grpc_call_send(call, msg, len, true);
	free(msg);
	if (r < 0) {
		chan_free(t, steal_ptr(&t->ch));
		t->chan_ready = false;
		reconnect_later(t, false, "cannot send connect");
		return;
	}
	t->hb_call = call; /* the one call in flight now; cancelled on close */
}

/* KESTRA: GOAWAY after max-connection-age is routine: a new connection at once for everything new,
 * the stream moved to it; calls in flight finish on the old one. */
static void on_chan_goaway(void *ctx, struct kwg_grpc_chan *ch)
{
	struct grpc_transport *t = ctx;

	if (ch != t->ch || t->closing)
		return;
	kwg_log_info("controller %s: GOAWAY; opening a new connection", t->where);
	chan_free(t, t->old_ch); /* a second GOAWAY before the first connection left */
	t->old_ch = steal_ptr(&t->ch);
	t->chan_ready = false;
	if (t->stream) {
		kwg_grpc_call_cancel(t->stream);
		t->stream = NULL;
	}
	t->reconnects++;
	chan_open(t);
}

static const struct kwg_grpc_chan_ops chan_ops = {
    .on_ready = on_chan_ready,
    .on_goaway = on_chan_goaway,
    .on_closed = on_chan_closed,
};

static void chan_open(struct grpc_transport *t)
{
	int r;

	if (t->closing || t->ch)
		return;
	r = kwg_grpc_chan_new(t->p.loop,
	                      &(struct kwg_grpc_chan_opts){.host = t->host,
	                                                   .port = t->port,
	                                                   .tls = t->tls,
	                                                   .authority = t->authority,
	                                                   .authorization = t->authorization,
	                                                   .max_msg = MAX_INBOUND},
	                      &chan_ops, t, &t->ch);
	if (r < 0)
		reconnect_later(t, false,
		                r == -ENOMEM   ? "out of memory"
		                : r == -EINVAL ? "the authority is not a name TLS can verify"
		                               : strerror(-r));
}

/* The channel is up and connect was answered: liveness, then the stream and the senders. */
static void connect_done(struct grpc_transport *t)
{
	kwg_grpc_meta_kick(t->meta);
	heartbeat_send(t);
	if (t->flags_sent)
		stream_open(t);
	pump(t);
}

/* ---------------------------------------------------------------- liveness */

static void heartbeat_reply(struct grpc_transport *t, const char *json, size_t len)
{
	struct kwg_controller_reply reply;
	struct kwg_err err = {{0}};
	bool maintenance;

	if (kwg_controller_reply_decode(json, len, &reply, &err) < 0) {
		kwg_log_warning("heartbeat: the controller's reply cannot be read: %s", err.msg);
		return;
	}
	if (reply.result == KWG_CONTROLLER_FAILED) {
		char why[200];
		(void)snprintf(why, sizeof(why),
		               "the controller refused the transition to %s (stored state %s)",
		               kwg_service_state_name(t->hb_state),
		               kwg_service_state_name(reply.state));
		kwg_controller_reply_done(&reply);
		t->fenced = true;
		t->p.ops->on_lost(t->p.ctx, why);
		return;
	}
	if (reply.result == KWG_CONTROLLER_ABORTED) {
		/* KESTRA: the controller does not know this instance (it restarted without it):
		 * register again. */
		kwg_log_info("heartbeat: the controller does not know this worker; registering");
		t->registered = false;
		t->hb_again = true;
		kwg_controller_reply_done(&reply);
		return;
	}
	t->last_hb_ok_ms = now_ms(t);
	t->backoff_ms = BACKOFF_MIN_MS;
	free(t->stored);
	t->stored = steal_ptr(&reply.instance);
	maintenance = reply.maintenance;
	kwg_controller_reply_done(&reply);
	if (!t->registered) {
		t->registered = true;
		t->hb_again = true; /* now the wanted state */
	} else if (t->hb_state != t->recorded) {
		t->recorded = t->hb_state;
		t->p.ops->on_state_written(t->p.ctx, t->hb_state);
		if (t->closing)
			return;
	}
	if (t->registered && t->has_then && t->recorded == t->wanted) {
		t->wanted = t->then_state;
		t->has_then = false;
		t->hb_again = true;
	}
	if (!t->flags_sent || maintenance != t->flags.cluster_maintenance) {
		if (t->flags_sent)
			kwg_log_notice("the controller says maintenance is %s",
			               maintenance ? "on" : "off");
		t->flags.cluster_maintenance = maintenance;
		t->flags_sent = true;
		t->p.ops->on_flags(t->p.ctx, &t->flags);
		if (t->closing)
			return;
		stream_open(t);
	}
}

static void on_hb_message(void *ctx, const uint8_t *msg, size_t len)
{
	struct grpc_transport *t = ctx;
	char *json = NULL;
	size_t n = 0;

	if (kwg_grpc_unpack_opaque(msg, len, &json, &n) < 0) {
		kwg_log_warning("heartbeat: the controller's reply cannot be decoded");
		return;
	}
	heartbeat_reply(t, json, n);
	free(json);
}

static void on_hb_end(void *ctx, int status, const char *message)
{
	struct grpc_transport *t = ctx;

	t->hb_call = NULL;
	if (status != KWG_GRPC_OK)
		kwg_log_warning("heartbeat: %s%s%s; next try at the next tick",
		                kwg_grpc_status_name(status), *message ? ": " : "", message);
	else if (t->hb_again && !t->closing)
		heartbeat_send(t);
}

static const struct kwg_grpc_call_ops hb_ops = {
    .on_message = on_hb_message,
    .on_end = on_hb_end,
};

static void heartbeat_send(struct grpc_transport *t)
{
	struct kwg_grpc_call *call;
	char *json;
	uint8_t *msg = NULL;
	size_t len = 0;
	int r;

	if (!t->ch || !t->connected || t->hb_call || t->closing || t->fenced)
		return;
	t->hb_again = false;
	t->hb_state = t->wanted;
	json = kwg_controller_heartbeat(t->p.info, t->group_id, !t->registered, t->wanted,
	                                t->stored, kwg_clock_now_us());
	if (json)
		msg = kwg_grpc_pack_opaque(&t->who, json, strlen(json), &len);
	free(json);
	r = msg ? kwg_grpc_call_new(t->ch, "/LivenessControllerService/heartbeat", &hb_ops, t,
	                            &call)
	        : -ENOMEM;
	if (r >= 0)
		r = kwg_grpc_call_send(call, msg, len, true);
	free(msg);
	if (r >= 0)
		t->hb_call = call;
}

/* A worker the controller never accepted a heartbeat of is unknown to it: its last state has
 * nobody to go to, and stopping does not wait for a controller that may never answer. */
static bool unknown_to_controller(const struct grpc_transport *t)
{
	return !t->last_hb_ok_ms && !t->hb_call;
}

static bool terminal_state(enum kwg_service_state state)
{
	return state == KWG_SERVICE_TERMINATED_GRACEFULLY || state == KWG_SERVICE_TERMINATED_FORCED;
}

static void on_tick(uv_timer_t *timer)
{
	struct grpc_transport *t = timer->data;
	uint64_t since = t->last_hb_ok_ms ? t->last_hb_ok_ms : t->started_ms;

	if (terminal_state(t->wanted) && t->recorded != t->wanted && unknown_to_controller(t)) {
		kwg_log_info("controller %s: never reached; %s is not sent", t->where,
		             kwg_service_state_name(t->wanted));
		t->recorded = t->wanted;
		t->p.ops->on_state_written(t->p.ctx, t->wanted);
		return;
	}

	/* KESTRA: self-fencing (ServiceLivenessManager): no heartbeat accepted for longer than
	 * the liveness timeout, the controller's side has declared the worker gone. Only once it
	 * was registered: before that nothing ran. */
	if (t->last_hb_ok_ms && now_ms(t) - since > (uint64_t)t->p.info->liveness_timeout_ms &&
	    !t->fenced) {
		char why[160];
		(void)snprintf(why, sizeof(why),
		               "no heartbeat accepted by the controller for %llu ms",
		               (unsigned long long)(now_ms(t) - since));
		t->fenced = true;
		t->p.ops->on_lost(t->p.ctx, why);
		return;
	}
	heartbeat_send(t);
	permits_schedule(t, false);
}

/* ---------------------------------------------------------------- the job stream */

static int32_t permits_level(struct grpc_transport *t)
{
	unsigned n;

	if (t->paused || t->stopped || !t->claim_started || t->closing ||
	    t->pending_bytes >= PENDING_CONGESTED)
		return 0;
	n = t->p.ops->free_slots(t->p.ctx);
	return n > INT32_MAX ? INT32_MAX : (int32_t)n;
}

static void stream_send(struct grpc_transport *t)
{
	struct kwg_grpc_job_request req = {
	    .permits = permits_level(t),
	    .completed = (const char *const *)t->completed,
	    .n_completed = t->n_completed,
	};
	uint8_t *msg;
	size_t len = 0;
	int r;

	if (!t->stream)
		return;
	if (!t->stream_first_sent) {
		/* KESTRA: connectionInfo in the first message of every stream (§2.2). */
		req.worker_id = t->p.info->id;
		req.group_id = t->group_id;
		req.max_concurrency = (int32_t)t->p.info->slots;
		req.max_inbound = MAX_INBOUND;
	} else if (req.permits == t->permits_sent && !t->n_completed && !t->permits_force) {
		return;
	}
	msg = kwg_grpc_pack_job_request(&t->who, &req, &len);
	r = msg ? kwg_grpc_call_send(t->stream, msg, len, false) : -ENOMEM;
	free(msg);
	if (r < 0) {
		kwg_log_warning("job stream: cannot send permits: %s", strerror(-r));
		return;
	}
	kwg_log_debug("job stream: permits %d, %zu completion(s)", req.permits, t->n_completed);
	t->stream_first_sent = true;
	t->permits_sent = req.permits;
	t->permits_force = false;
	for (size_t i = 0; i < t->n_completed; i++)
		free(t->completed[i]);
	t->n_completed = 0;
}

static void on_permits_timer(uv_timer_t *timer)
{
	stream_send(timer->data);
}

/* Sends permits and completions on the next loop turn (coalesced); force: even when the level
 * did not change (§11.2: the controller counts down by itself). */
static void permits_schedule(struct grpc_transport *t, bool force)
{
	if (t->closing)
		return;
	t->permits_force = t->permits_force || force;
	if (!uv_is_active((uv_handle_t *)&t->permits_timer))
		uv_timer_start(&t->permits_timer, on_permits_timer, 0, 0);
}

static void completed_add(struct grpc_transport *t, const char *id)
{
	char *copy = strdup(id);

	if (copy && t->n_completed == t->cap_completed) {
		size_t cap = t->cap_completed ? t->cap_completed * 2 : 16;
		char **p = realloc(t->completed, cap * sizeof(*p));
		if (!p) {
			free(copy);
			copy = NULL;
		} else {
			t->completed = p;
			t->cap_completed = cap;
		}
	}
	if (!copy) {
		kwg_log_error("out of memory: the completion of job '%s' is not reported", id);
		return;
	}
	t->completed[t->n_completed++] = copy;
	permits_schedule(t, true);
}

static void on_stream_job(void *ctx, const char *job_id, const char *data, size_t len)
{
	struct grpc_transport *t = ctx;
	struct kwg_err err = {{0}};
	struct kwg_job *job = NULL;
	struct inflight_job *in;
	int r;

	r = kwg_job_decode2(data, len, &job, &err);
	if (r < 0 && !job) {
		/* §11.4: no task run to fail; the id is reported so the controller frees the
		 * slot. */
		kwg_log_error("job '%s' cannot be read and is dropped: %s", job_id,
		              r == -ENOMEM ? "out of memory" : err.msg);
		completed_add(t, job_id);
		return;
	}
	if (r < 0)
		kwg_log_warning("job '%s' (task run '%s') is malformed: %s", job_id,
		                kwg_job_task_run_id(job), err.msg);
	in = malloc(sizeof(*in) + strlen(job_id) + 1);
	if (!in) {
		kwg_log_error("out of memory: job '%s' dropped", job_id);
		kwg_job_free(job);
		completed_add(t, job_id);
		return;
	}
	memcpy(in->id, job_id, strlen(job_id) + 1);
	in->job = job;
	in->next = t->jobs;
	t->jobs = in;
	t->claimed++;
	t->p.ops->on_job(t->p.ctx, job);
}

static void on_stream_event(void *ctx, const char *data, size_t len)
{
	struct grpc_transport *t = ctx;
	struct kwg_err err = {{0}};
	struct kwg_kill kill;
	int r = kwg_controller_event_decode(data, len, &kill, &err);

	if (r < 0)
		kwg_log_warning("job stream: an event cannot be read: %s", err.msg);
	else if (r == 1 && kill.act)
		t->p.ops->on_kill(t->p.ctx, kill.execution_id, kill.tenant_id);
}

static void on_stream_message(void *ctx, const uint8_t *msg, size_t len)
{
	struct grpc_transport *t = ctx;

	if (kwg_grpc_unpack_jobs(msg, len, on_stream_job, on_stream_event, t) < 0) {
		kwg_log_warning("job stream: a WorkerJobResponse cannot be decoded; ignored");
		return;
	}
	permits_schedule(t, true);
}

static void on_stream_retry(uv_timer_t *timer)
{
	stream_open(timer->data);
}

static void on_stream_end(void *ctx, int status, const char *message)
{
	struct grpc_transport *t = ctx;

	t->stream = NULL;
	if (t->closing || !t->ch)
		return; /* the connection's end reconnects everything */
	if (status == KWG_GRPC_OK) {
		/* KESTRA: a clean end (max connection age) is routine: open it again at once. */
		kwg_log_info("job stream ended by the controller; reopening");
		stream_open(t);
		return;
	}
	kwg_log_warning("job stream: %s%s%s; reopening in %llu ms", kwg_grpc_status_name(status),
	                *message ? ": " : "", message, (unsigned long long)t->backoff_ms);
	uv_timer_start(&t->reconnect_timer, on_stream_retry, t->backoff_ms, 0);
	t->backoff_ms = t->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->backoff_ms * 2;
}

static const struct kwg_grpc_call_ops stream_ops = {
    .on_message = on_stream_message,
    .on_end = on_stream_end,
};

static void stream_open(struct grpc_transport *t)
{
	int r;

	if (t->stream || !t->ch || !t->chan_ready || !t->connected || !t->flags_sent || t->closing)
		return;
	r = kwg_grpc_call_new(t->ch, "/WorkerControllerService/streamWorkerJobs", &stream_ops, t,
	                      &t->stream);
	if (r < 0) {
		t->stream = NULL;
		return; /* the connection is going: its end opens everything again */
	}
	t->stream_first_sent = false;
	kwg_log_info("job stream open");
	stream_send(t);
}

/* ---------------------------------------------------------------- messages */

static struct sender *sender_of(struct grpc_transport *t, enum kwg_queue_type type)
{
	switch (type) {
	case KWG_QUEUE_WORKER_TASK_RESULT:
		return &t->senders[S_RESULT];
	case KWG_QUEUE_WORKER_TRIGGER_RESULT:
		return &t->senders[S_TRIGGER];
	case KWG_QUEUE_LOG_ENTRY:
		return &t->senders[S_LOG];
	case KWG_QUEUE_METRIC_ENTRY:
		return &t->senders[S_METRIC];
	default:
		return NULL;
	}
}

static void sender_drop(struct grpc_transport *t, struct sender *s, size_t n)
{
	for (size_t i = 0; i < n && s->head; i++) {
		struct item *it = s->head;
		s->head = it->next;
		if (!s->head)
			s->tail = &s->head;
		s->n--;
		t->pending_bytes -= it->len;
		free(it->value);
		free(it);
	}
}

static void on_retry(uv_timer_t *timer)
{
	struct grpc_transport *t = timer->data;

	for (size_t i = 0; i < S__COUNT; i++)
		t->senders[i].retry_wait = false;
	pump(t);
}

static void on_send_message(void *ctx, const uint8_t *msg, size_t len)
{
	(void)ctx;
	(void)msg;
	(void)len;
}

/* Rewrites the item as its refused form; false when it cannot. */
static bool result_refused(struct grpc_transport *t, struct item *it)
{
	char *v = kwg_task_result_refused(it->value, kwg_clock_now_us());

	if (!v)
		return false;
	t->pending_bytes -= it->len;
	free(it->value);
	it->value = v;
	it->len = strlen(v);
	it->refused = true;
	t->pending_bytes += it->len;
	return true;
}

static size_t records_waiting(const struct grpc_transport *t)
{
	size_t n = 0;

	for (int k = 0; k < S__COUNT; k++)
		n += t->senders[k].n;
	return n;
}

/* The sender waits for the retry timer: RETRY_SEND_MS, or the backoff while the credentials are
 * refused. */
static void retry_later(struct grpc_transport *t, struct sender *s)
{
	s->retry_wait = true;
	if (!uv_is_active((uv_handle_t *)&t->retry_timer))
		uv_timer_start(&t->retry_timer, on_retry,
		               t->unauthenticated ? t->retry_ms : RETRY_SEND_MS, 0);
}

/* KESTRA: the Java senders retry once on UNAUTHENTICATED (an Enterprise access token that
 * expired). kwg never drops the records for it: they wait, and the calls are retried with a
 * backoff; one ERROR a streak, not one a call. */
static void unauthenticated(struct grpc_transport *t, struct sender *s, const char *message)
{
	t->unauth_calls++;
	if (t->unauthenticated) {
		/* Once a round of retries (the first refused call of it sets the timer). */
		if (!uv_is_active((uv_handle_t *)&t->retry_timer))
			t->retry_ms =
			    t->retry_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : t->retry_ms * 2;
		kwg_log_debug("%s: UNAUTHENTICATED again; retrying in %llu ms", s->what,
		              (unsigned long long)t->retry_ms);
		return;
	}
	t->unauthenticated = true;
	t->retry_ms = RETRY_SEND_MS;
	kwg_log_error("controller %s refused the worker's credentials (UNAUTHENTICATED%s%s) "
	              "for %s; the %zu record(s) waiting are kept and sent again with a backoff "
	              "(%d ms doubling to %d s) until it accepts them",
	              t->where, *message ? ": " : "", message, s->what, records_waiting(t),
	              RETRY_SEND_MS, BACKOFF_MAX_MS / 1000);
}

/* A call succeeded: if the credentials were refused, they are accepted again. */
static void unauthenticated_end(struct grpc_transport *t)
{
	if (!t->unauthenticated)
		return;
	t->unauthenticated = false;
	kwg_log_info("controller %s accepts the worker's credentials again after %llu refused "
	             "call(s); sending the %zu record(s) waiting",
	             t->where, t->unauth_calls, records_waiting(t));
	t->unauth_calls = 0;
	/* The other senders waiting on the backoff go now. */
	if (uv_is_active((uv_handle_t *)&t->retry_timer)) {
		uv_timer_stop(&t->retry_timer);
		for (int k = 0; k < S__COUNT; k++)
			t->senders[k].retry_wait = false;
	}
}

static void sender_end(struct grpc_transport *t, struct sender *s, int status, const char *message)
{
	size_t n = s->in_flight;

	s->call = NULL;
	s->in_flight = 0;
	if (status == KWG_GRPC_OK) {
		s->sent += n;
		sender_drop(t, s, n);
		unauthenticated_end(t);
	} else if (status == KWG_GRPC_UNAUTHENTICATED) {
		unauthenticated(t, s, message);
		retry_later(t, s);
	} else if (status == KWG_GRPC_UNAVAILABLE || status == KWG_GRPC_DEADLINE_EXCEEDED) {
		/* KESTRA: retried (the Java senders re-queue on UNAVAILABLE/DEADLINE_EXCEEDED).
		 * Kept in memory, in order, until the controller takes them. */
		kwg_log_debug("%s: %s; kept for a retry", s->what, kwg_grpc_status_name(status));
		retry_later(t, s);
	} else if (status == KWG_GRPC_RESOURCE_EXHAUSTED && s == &t->senders[S_RESULT] &&
	           !s->head->refused && result_refused(t, s->head)) {
		/* KESTRA 2.x: a result too large for the controller is sent again FAILED without
		 * outputs (GrpcWorkerIOSender). */
		kwg_log_error(
		    "WorkerTaskResult: the controller refused it (RESOURCE_EXHAUSTED%s%s); "
		    "sending it again FAILED without outputs",
		    *message ? ": " : "", message);
	} else {
		kwg_log_error("%s: the controller refused %zu record(s): %s%s%s; they are lost",
		              s->what, n, kwg_grpc_status_name(status), *message ? ": " : "",
		              message);
		s->lost += n;
		sender_drop(t, s, n);
	}
	if (t->was_congested && t->pending_bytes < PENDING_CONGESTED / 2) {
		t->was_congested = false;
		t->p.ops->on_drained(t->p.ctx);
		permits_schedule(t, false);
	} else if (t->pending_bytes == 0) {
		t->p.ops->on_drained(t->p.ctx);
	}
}

#define SENDER_END(kind)                                                                           \
	static void on_##kind##_end(void *ctx, int status, const char *message)                    \
	{                                                                                          \
		struct grpc_transport *t = ctx;                                                    \
		sender_end(t, &t->senders[kind], status, message);                                 \
		if (!t->closing)                                                                   \
			pump(t);                                                                   \
	}                                                                                          \
	static const struct kwg_grpc_call_ops kind##_ops = {.on_message = on_send_message,         \
	                                                    .on_end = on_##kind##_end}
SENDER_END(S_RESULT);
SENDER_END(S_TRIGGER);
SENDER_END(S_LOG);
SENDER_END(S_METRIC);
static const struct kwg_grpc_call_ops *const sender_ops[S__COUNT] = {&S_RESULT_ops, &S_TRIGGER_ops,
                                                                     &S_LOG_ops, &S_METRIC_ops};

/* {"records":[…]} of the first items (at most batch). */
static int batch_build(const struct sender *s, struct kwg_buf *b, size_t *ret_n)
{
	size_t n = 0;
	int r = kwg_buf_puts(b, "{\"records\":[");

	for (const struct item *it = s->head; r >= 0 && it && n < s->batch; it = it->next, n++) {
		if (n)
			r = kwg_buf_putc(b, ',');
		if (r >= 0)
			r = kwg_buf_append(b, it->value, it->len);
	}
	if (r >= 0)
		r = kwg_buf_puts(b, "]}");
	*ret_n = n;
	return r;
}

static void sender_pump(struct grpc_transport *t, enum sender_kind k)
{
	struct sender *s = &t->senders[k];
	struct kwg_grpc_call *call;
	struct kwg_buf b;
	uint8_t *msg = NULL;
	size_t len = 0, n = 0;
	int r;

	if (s->call || !s->head || s->retry_wait || !t->ch || !t->chan_ready || !t->connected)
		return;
	kwg_buf_init(&b, SIZE_MAX / 2);
	r = batch_build(s, &b, &n);
	if (r >= 0)
		msg = kwg_grpc_pack_opaque(&t->who, b.data, b.len, &len);
	kwg_buf_done(&b);
	r = msg ? kwg_grpc_call_new(t->ch, s->path, sender_ops[k], t, &call) : -ENOMEM;
	if (r >= 0)
		r = kwg_grpc_call_send(call, msg, len, true);
	free(msg);
	if (r < 0)
		return; /* the connection is going, or out of memory: the next pump tries again */
	s->call = call;
	s->in_flight = n;
}

static void pump(struct grpc_transport *t)
{
	for (int k = 0; k < S__COUNT && !t->closing; k++)
		sender_pump(t, (enum sender_kind)k);
}

/* ---------------------------------------------------------------- the class */

static void grpc_close(struct kwg_transport *base);

/* The channel metadata questions go on: the current one, once connect was answered. */
static struct kwg_grpc_chan *meta_chan(void *ctx)
{
	struct grpc_transport *t = ctx;

	return t->ch && t->chan_ready && t->connected && !t->closing ? t->ch : NULL;
}

static int grpc_create(const struct kwg_transport_params *p, struct kwg_transport **ret)
{
	static const char *const paths[S__COUNT] = {
	    "/WorkerControllerService/sendWorkerTaskResults",
	    "/WorkerControllerService/sendWorkerTriggerResults",
	    "/WorkerControllerService/sendWorkerLogEntries",
	    "/WorkerControllerService/sendWorkerMetricEntries"};
	static const char *const whats[S__COUNT] = {"WorkerTaskResult", "WorkerTriggerResult",
	                                            "LogEntry", "MetricEntry"};
	static const size_t batches[S__COUNT] = {1, 1, BATCH_MAX, BATCH_MAX};
	struct grpc_transport *t = calloc(1, sizeof(*t));
	const char *why;
	int r;

	if (!t)
		return -ENOMEM;
	t->base.cls = &kwg_transport_grpc;
	t->p = *p;
	r = kwg_parse_host_port(p->url, &t->host, &t->port, &why);
	if (r >= 0) {
		t->where = strdup(p->url);
		if (!t->where)
			r = -ENOMEM;
	}
	if (r == -EINVAL)
		kwg_log_error("controller: '%s' is not HOST:PORT: %s", p->url, why);
	t->group_id = r >= 0 ? strdup("default") : NULL;
	if (r >= 0 && !t->group_id)
		r = -ENOMEM;
	if (r >= 0 && p->auth && *p->auth) {
		/* KESTRA 2.x: BasicAuthClientInterceptor, "authorization: Basic base64(user:pass)"
		 * on every call (kestra-2x-protocol.md §7.3). */
		size_t n = strlen(p->auth);
		t->authorization = malloc(6 + 4 * ((n + 2) / 3) + 1);
		if (t->authorization) {
			memcpy(t->authorization, "Basic ", 6);
			(void)EVP_EncodeBlock((unsigned char *)t->authorization + 6,
			                      (const unsigned char *)p->auth, (int)n);
		} else {
			r = -ENOMEM;
		}
	}
	if (r >= 0 && p->authority && *p->authority) {
		t->authority = strdup(p->authority);
		if (!t->authority)
			r = -ENOMEM;
	}
	if (r >= 0 && p->tls) {
		struct kwg_err err = {{0}};
		r = kwg_grpc_tls_ctx_new(&(struct kwg_grpc_tls_opts){.ca_file = p->tls_ca_file,
		                                                     .cert_file = p->tls_cert_file,
		                                                     .key_file = p->tls_key_file},
		                         &t->tls, &err);
		if (r == -EINVAL)
			kwg_log_error("controller TLS: %s", err.msg);
	}
	t->who = (struct kwg_grpc_who){.client_id = p->info->id, .client_version = CLIENT_VERSION};
	if (r >= 0)
		r = kwg_grpc_meta_new(
		    &(struct kwg_grpc_meta_env){
		        .loop = p->loop, .who = &t->who, .chan = meta_chan, .ctx = t},
		    &t->meta);
	if (r < 0) {
		kwg_grpc_tls_ctx_free(t->tls);
		free(t->authority);
		free(t->authorization);
		free(t->group_id);
		free(t->where);
		free(t->host);
		free(t->port);
		free(t);
		return r;
	}
	t->backoff_ms = BACKOFF_MIN_MS;
	t->wanted = t->recorded = t->hb_state = KWG_SERVICE_CREATED;
	t->paused = true;
	for (int k = 0; k < S__COUNT; k++)
		t->senders[k] = (struct sender){.path = paths[k],
		                                .what = whats[k],
		                                .batch = batches[k],
		                                .tail = &t->senders[k].head};
	uv_timer_t *timers[] = {&t->reconnect_timer, &t->tick_timer, &t->permits_timer,
	                        &t->retry_timer};
	for (size_t i = 0; i < ARRAY_SIZE(timers); i++) {
		uv_timer_init(p->loop, timers[i]);
		timers[i]->data = t;
		t->open_handles++;
	}
	*ret = &t->base;
	return 0;
}

static void grpc_start(struct kwg_transport *base)
{
	struct grpc_transport *t = gt(base);

	t->started_ms = now_ms(t);
	kwg_log_notice("Kestra 2.x worker controller %s (gRPC%s%s%s)", t->where,
	               t->tls ? " over TLS" : ", plaintext", t->authority ? ", authority " : "",
	               t->authority ? t->authority : "");
	uv_timer_start(&t->tick_timer, on_tick, (uint64_t)t->p.info->heartbeat_interval_ms,
	               (uint64_t)t->p.info->heartbeat_interval_ms);
	chan_open(t);
}

static void grpc_wake(struct kwg_transport *base)
{
	permits_schedule(gt(base), false);
}

static void grpc_pause(struct kwg_transport *base, bool paused)
{
	struct grpc_transport *t = gt(base);

	t->claim_started = true;
	t->paused = paused;
	permits_schedule(t, true);
}

static void grpc_stop(struct kwg_transport *base)
{
	struct grpc_transport *t = gt(base);

	t->stopped = true;
	permits_schedule(t, true);
}

static bool grpc_idle(const struct kwg_transport *base)
{
	(void)base;
	return true; /* jobs arrive whole on the stream: none is ever half-taken */
}

static void grpc_emit(struct kwg_transport *base, enum kwg_queue_type type, const char *key,
                      char *value)
{
	struct grpc_transport *t = gt(base);
	struct sender *s = sender_of(t, type);
	struct item *it;
	size_t len = value ? strlen(value) : 0;

	if (!s || !value) {
		free(value);
		return; /* no such message in the gRPC protocol */
	}
	if (t->pending_bytes + len > PENDING_MAX || !(it = malloc(sizeof(*it)))) {
		kwg_log_error("%s for '%s' is lost: %zu bytes already wait for the controller",
		              s->what, key ? key : "", t->pending_bytes);
		s->lost++;
		free(value);
		return;
	}
	*it = (struct item){.value = value, .len = len};
	*s->tail = it;
	s->tail = &it->next;
	s->n++;
	t->pending_bytes += len;
	if (t->pending_bytes >= PENDING_CONGESTED)
		t->was_congested = true;
	sender_pump(t, (enum sender_kind)(s - t->senders));
}

static bool grpc_congested(const struct kwg_transport *base)
{
	return cgt(base)->pending_bytes >= PENDING_CONGESTED;
}

static bool grpc_empty(const struct kwg_transport *base)
{
	return cgt(base)->pending_bytes == 0;
}

static void grpc_job_done(struct kwg_transport *base, const struct kwg_job *job)
{
	struct grpc_transport *t = gt(base);

	for (struct inflight_job **pp = &t->jobs; *pp; pp = &(*pp)->next) {
		struct inflight_job *in = *pp;
		if (in->job != job)
			continue;
		*pp = in->next;
		/* KESTRA: the completion frees the controller's in-flight slot (§3.2). */
		completed_add(t, in->id);
		free(in);
		return;
	}
}

static void grpc_set_state(struct kwg_transport *base, enum kwg_service_state state)
{
	struct grpc_transport *t = gt(base);

	if (t->has_then) {
		t->has_then = state != t->wanted;
		t->then_state = state;
		return;
	}
	if (t->wanted == state)
		return;
	if (t->hb_call && t->hb_again && t->wanted != t->hb_state) {
		/* wanted is not sent yet: it goes first, then state. */
		t->then_state = state;
		t->has_then = true;
		return;
	}
	t->wanted = state;
	if (terminal_state(state) && unknown_to_controller(t))
		uv_timer_start(&t->tick_timer, on_tick, 0,
		               (uint64_t)t->p.info->heartbeat_interval_ms); /* on_tick ends it */
	else if (t->hb_call)
		t->hb_again = true;
	else
		heartbeat_send(t);
}

static enum kwg_service_state grpc_state(const struct kwg_transport *base)
{
	return cgt(base)->recorded;
}

static void grpc_poke(struct kwg_transport *base)
{
	(void)base; /* the gauges go with the next heartbeat */
}

static uint64_t grpc_heartbeat_age_ms(const struct kwg_transport *base)
{
	const struct grpc_transport *t = cgt(base);

	return t->last_hb_ok_ms ? uv_now(t->p.loop) - t->last_hb_ok_ms : UINT64_MAX;
}

static bool grpc_fresh(const struct kwg_transport *base)
{
	const struct grpc_transport *t = cgt(base);

	return grpc_heartbeat_age_ms(base) <= 2 * (uint64_t)t->p.info->heartbeat_interval_ms;
}

static const struct kwg_transport_flags *grpc_flags(const struct kwg_transport *base)
{
	return &cgt(base)->flags;
}

static void grpc_stats(const struct kwg_transport *base, struct kwg_transport_stats *ret)
{
	const struct grpc_transport *t = cgt(base);

	*ret = (struct kwg_transport_stats){
	    .claimed = t->claimed,
	    .queued = -1,
	    .pending_bytes = t->pending_bytes,
	    .reconnects = t->reconnects,
	};
}

static int grpc_metrics(const struct kwg_transport *base, struct kwg_buf *out)
{
	const struct grpc_transport *t = cgt(base);
	int r = kwg_buf_puts(out, "# HELP kwg_controller_records_total Records sent to the "
	                          "controller, or lost.\n"
	                          "# TYPE kwg_controller_records_total counter\n");

	for (int k = 0; r >= 0 && k < S__COUNT; k++)
		r = kwg_buf_printf(
		    out,
		    "kwg_controller_records_total{type=\"%s\",outcome=\"sent\"} %llu\n"
		    "kwg_controller_records_total{type=\"%s\",outcome=\"lost\"} %llu\n",
		    t->senders[k].what, t->senders[k].sent, t->senders[k].what, t->senders[k].lost);
	return r;
}

static int grpc_workers(struct kwg_transport *base, kwg_transport_workers_fn *cb, void *userdata)
{
	(void)base;
	(void)cb;
	(void)userdata;
	return -ENOTSUP; /* the controller does not list workers: no sweep of orphans */
}

static void grpc_cancel_workers(struct kwg_transport *base)
{
	(void)base;
}

static void *grpc_meta_lookup(struct kwg_transport *base, enum kwg_meta_kind kind,
                              const char *tenant, const char *ns, const char *name,
                              kwg_meta_done_fn *done, void *userdata)
{
	return kwg_grpc_meta_lookup(gt(base)->meta, kind, tenant, ns, name, done, userdata);
}

static void *grpc_meta_list_files(struct kwg_transport *base, const char *tenant, const char *ns,
                                  void (*done)(void *userdata, const char *error, bool table,
                                               const struct kwg_meta_file *files, size_t n),
                                  void *userdata)
{
	return kwg_grpc_meta_list_files(gt(base)->meta, tenant, ns, done, userdata);
}

static void *grpc_content_read(struct kwg_transport *base, enum kwg_meta_kind kind,
                               const char *tenant, const char *ns, const char *name,
                               const struct kwg_content_sink *sink, void *userdata)
{
	return kwg_grpc_meta_read(gt(base)->meta, kind, tenant, ns, name, sink, userdata);
}

static void grpc_meta_cancel(struct kwg_transport *base, void *handle)
{
	kwg_grpc_meta_cancel(gt(base)->meta, handle);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct grpc_transport *t = h->data;

	if (--t->open_handles > 0)
		return;
	free(t);
}

static void grpc_close(struct kwg_transport *base)
{
	struct grpc_transport *t = gt(base);
	unsigned long long lost = 0;

	t->closing = true;
	/* Its calls are cancelled while the channel is still there. */
	kwg_grpc_meta_close(steal_ptr(&t->meta));
	for (int k = 0; k < S__COUNT; k++) {
		lost += t->senders[k].n;
		sender_drop(t, &t->senders[k], t->senders[k].n);
	}
	if (lost)
		kwg_log_error("%llu message(s) never reached the controller", lost);
	/* Dropping the channel drops its calls without callbacks. */
	kwg_grpc_chan_free(steal_ptr(&t->ch));
	kwg_grpc_chan_free(steal_ptr(&t->old_ch));
	while (t->jobs) {
		struct inflight_job *in = t->jobs;
		t->jobs = in->next;
		free(in);
	}
	for (size_t i = 0; i < t->n_completed; i++)
		free(t->completed[i]);
	free(t->completed);
	free(t->stored);
	free(t->group_id);
	free(t->where);
	free(t->host);
	free(t->port);
	free(t->authorization);
	free(t->authority);
	t->tls = kwg_grpc_tls_ctx_free(t->tls);
	uv_close((uv_handle_t *)&t->reconnect_timer, on_timer_closed);
	uv_close((uv_handle_t *)&t->tick_timer, on_timer_closed);
	uv_close((uv_handle_t *)&t->permits_timer, on_timer_closed);
	uv_close((uv_handle_t *)&t->retry_timer, on_timer_closed);
}

const struct kwg_transport_class kwg_transport_grpc = {
    .name = "grpc",
    .create = grpc_create,
    .start = grpc_start,
    .wake = grpc_wake,
    .pause = grpc_pause,
    .stop = grpc_stop,
    .idle = grpc_idle,
    .emit = grpc_emit,
    .congested = grpc_congested,
    .empty = grpc_empty,
    .job_done = grpc_job_done,
    .set_state = grpc_set_state,
    .state = grpc_state,
    .poke = grpc_poke,
    .fresh = grpc_fresh,
    .heartbeat_age_ms = grpc_heartbeat_age_ms,
    .flags = grpc_flags,
    .stats = grpc_stats,
    .metrics = grpc_metrics,
    .workers = grpc_workers,
    .cancel_workers = grpc_cancel_workers,
    .meta_lookup = grpc_meta_lookup,
    .meta_list_files = grpc_meta_list_files,
    .meta_cancel = grpc_meta_cancel,
    .content_read = grpc_content_read,
    .close = grpc_close,
};
