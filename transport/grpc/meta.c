/* SPDX-License-Identifier: Apache-2.0 */
/* The metadata questions of a Kestra 2.x worker (meta.h). Every answer, retry and deadline is
 * handled in one timer callback, so that nothing is answered inside a call of the channel's or of
 * the asker's. */
#define KWG_LOG_MODULE "grpc"
#include "transport/grpc/meta.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/clock.h"
#include "common/log.h"
#include "protocol/controller_meta.h"
#include "transport/grpc/chan.h"

/* KESTRA 2.x: read-only metadata calls are retried on UNAVAILABLE (§6.2); kwg's pace and limit. */
#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 4000
#define DEADLINE_MS 30000

/* Q_KV_VALUE and Q_NSFILE_CONTENT are server-streaming (StreamChunks into a sink). */
enum what { Q_KV, Q_NSFILE, Q_LIST, Q_KV_VALUE, Q_NSFILE_CONTENT };
enum state { Q_WAITING, Q_CALLING, Q_ANSWERED };

static const char *const methods[] = {
    "/KVMetadataService/findByName",         "/NamespaceFileMetadataService/findByPath",
    "/NamespaceFileMetadataService/findAll", "/KVStoreService/getRawValue",
    "/NamespaceFileContentService/get",
};

struct question {
	struct question *next;
	struct kwg_grpc_meta *m;
	enum what what;
	enum state state;
	char *label; /* what was asked, for the logs: "kv('k') in 'ns'" (the askers name it in
	              * their errors) */
	uint8_t *msg;
	size_t len;
	struct kwg_grpc_call *call;
	struct kwg_grpc_chan *ch; /* the call's */
	uint64_t deadline_ms, next_ms, backoff_ms;
	int last_status; /* the last failure retried (KWG_GRPC_OK: none) */
	char *reply;     /* the OpaqueData's JSON */
	size_t reply_len;
	char *error; /* set: the question failed */
	kwg_meta_done_fn *done;
	const struct kwg_content_sink *sink; /* content questions */
	size_t got;                          /* bytes handed to the sink by this call */
	int status; /* content: 0, -ENOENT, -ESTALE, or the sink's error (it stopped the read) */
	void (*list_done)(void *userdata, const char *error, bool table,
	                  const struct kwg_meta_file *files, size_t n);
	void *userdata;
};

struct kwg_grpc_meta {
	struct kwg_grpc_meta_env env;
	uv_timer_t timer;
	struct question *head;
	bool closing;
	bool unimplemented_logged[4]; /* by service_of[what] */
};

/* The controller's service each question goes to: one ERROR per service that answers
 * UNIMPLEMENTED. */
static const unsigned char service_of[] = {
    [Q_KV] = 0, [Q_NSFILE] = 1, [Q_LIST] = 1, [Q_KV_VALUE] = 2, [Q_NSFILE_CONTENT] = 3};

static void schedule(struct kwg_grpc_meta *m);

static uint64_t now_ms(const struct kwg_grpc_meta *m)
{
	return uv_now(m->env.loop);
}

static void question_free(struct question *q)
{
	if (q->call)
		kwg_grpc_call_cancel(q->call);
	free(q->label);
	free(q->msg);
	free(q->reply);
	free(q->error);
	free(q);
}

static void unlink_question(struct kwg_grpc_meta *m, struct question *q)
{
	for (struct question **pp = &m->head; *pp; pp = &(*pp)->next)
		if (*pp == q) {
			*pp = q->next;
			return;
		}
}

/* The question ends with an error (printf-like; kept when one is set already). */
static void fail(struct question *q, const char *fmt, ...) KWG_PRINTF(2, 3);
static void fail(struct question *q, const char *fmt, ...)
{
	va_list ap;

	q->state = Q_ANSWERED;
	if (q->error)
		return;
	va_start(ap, fmt);
	if (vasprintf(&q->error, fmt, ap) < 0)
		q->error = NULL;
	va_end(ap);
	if (!q->error)
		q->error = strdup("out of memory");
}

static bool is_content(const struct question *q)
{
	return q->what == Q_KV_VALUE || q->what == Q_NSFILE_CONTENT;
}

static int to_sink(void *ctx, const uint8_t *data, size_t len)
{
	struct question *q = ctx;
	int r = len ? q->sink->chunk(q->userdata, data, len) : 0;

	q->got += len;
	kwg_log_debug("%s: %zu bytes so far", q->label, q->got);
	return r;
}

static void on_call_message(void *ctx, const uint8_t *msg, size_t len)
{
	struct question *q = ctx;

	if (is_content(q)) {
		int r;
		if (q->state == Q_ANSWERED)
			return; /* the sink stopped the read: the rest is dropped */
		r = kwg_grpc_unpack_chunk(msg, len, to_sink, q);
		if (r == -EBADMSG)
			fail(q, "the controller's answer to %s is not a StreamChunk",
			     methods[q->what] + 1);
		else if (r < 0)
			q->status = r;
		if (r < 0) {
			/* Answered from the timer, which cancels the call. */
			q->state = Q_ANSWERED;
			schedule(q->m);
		}
		return;
	}
	if (q->reply || q->error)
		return; /* a unary call answers once */
	if (kwg_grpc_unpack_opaque(msg, len, &q->reply, &q->reply_len) < 0) {
		q->reply = NULL;
		fail(q, "the controller's answer to %s is not an OpaqueData", methods[q->what] + 1);
	}
}

static void retry_later(struct question *q, int status)
{
	struct kwg_grpc_meta *m = q->m;

	free(steal_ptr(&q->reply));
	if (q->got && q->sink) {
		kwg_log_debug("%s: %zu bytes received before %s; starting over", q->label, q->got,
		              kwg_grpc_status_name(status));
		q->sink->restart(q->userdata);
	}
	q->got = 0;
	q->state = Q_WAITING;
	q->last_status = status;
	q->next_ms = now_ms(m) + q->backoff_ms;
	q->backoff_ms = q->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : q->backoff_ms * 2;
	kwg_log_debug("%s: %s %s; asking again in %llu ms", q->label, methods[q->what] + 1,
	              kwg_grpc_status_name(status), (unsigned long long)(q->next_ms - now_ms(m)));
}

static void on_call_end(void *ctx, int status, const char *message)
{
	struct question *q = ctx;
	struct kwg_grpc_meta *m = q->m;
	bool *logged = &m->unimplemented_logged[service_of[q->what]];

	q->call = NULL;
	if (q->state == Q_ANSWERED) {
		/* A content read the sink stopped, or an unreadable chunk: already answered. */
	} else if (is_content(q) && status == KWG_GRPC_NOT_FOUND) {
		q->status = -ENOENT;
		q->state = Q_ANSWERED;
	} else if (q->what == Q_KV_VALUE && status == KWG_GRPC_FAILED_PRECONDITION) {
		/* KESTRA 2.x: KVStoreService.getRawValue of an expired value. */
		q->status = -ESTALE;
		q->state = Q_ANSWERED;
	} else if (is_content(q) && status == KWG_GRPC_OK) {
		q->state = Q_ANSWERED;
	} else if (is_content(q) && status == KWG_GRPC_UNIMPLEMENTED) {
		bool kv = q->what == Q_KV_VALUE;
		const char *what = kv ? "KV values" : "namespace-file contents";
		const char *set = kv ? "kv_worker_access" : "namespace_files_worker_access";
		fail(q,
		     "%s not available through this controller (%s UNIMPLEMENTED); set %s=storage",
		     what, methods[q->what] + 1, set);
		if (!*logged) {
			*logged = true;
			kwg_log_error("%s", q->error);
		}
	} else if (status == KWG_GRPC_OK) {
		if (!q->reply && !q->error)
			fail(q, "the controller answered %s without a message",
			     methods[q->what] + 1);
		q->state = Q_ANSWERED;
	} else if (status == KWG_GRPC_UNAVAILABLE || status == KWG_GRPC_DEADLINE_EXCEEDED) {
		retry_later(q, status);
	} else if (status == KWG_GRPC_UNIMPLEMENTED) {
		if (!*logged) {
			*logged = true;
			kwg_log_error("the controller does not implement %s (UNIMPLEMENTED): %s "
			              "through this controller fail their tasks",
			              q->what == Q_KV ? "KVMetadataService"
			                              : "NamespaceFileMetadataService",
			              q->what == Q_KV ? "kv() and KV reads" : "namespace files");
		}
		fail(q,
		     "%s not available through this controller: %s answered UNIMPLEMENTED "
		     "(a controller without Kestra 2.x's metadata services)",
		     q->what == Q_KV ? "KV store" : "namespace files", methods[q->what] + 1);
	} else {
		fail(q, "%s: the controller answered %s%s%.200s", methods[q->what] + 1,
		     kwg_grpc_status_name(status), *message ? ": " : "", message);
	}
	schedule(m);
}

static const struct kwg_grpc_call_ops call_ops = {
    .on_message = on_call_message,
    .on_end = on_call_end,
};

/* Asks on the channel, or leaves the question waiting (for a channel, or for a retry). */
static void ask(struct question *q)
{
	struct kwg_grpc_meta *m = q->m;
	struct kwg_grpc_chan *ch = m->env.chan(m->env.ctx);
	struct kwg_grpc_call *call;
	int r;

	if (!ch) {
		q->next_ms = q->deadline_ms; /* until kwg_grpc_meta_kick */
		return;
	}
	r = kwg_grpc_call_new(ch, methods[q->what], &call_ops, q, &call);
	if (r < 0) {
		retry_later(q, KWG_GRPC_UNAVAILABLE);
		return;
	}
	q->call = call;
	q->ch = ch;
	q->state = Q_CALLING;
	r = kwg_grpc_call_send(call, q->msg, q->len, true);
	if (r < 0 && q->call) {
		kwg_grpc_call_cancel(steal_ptr(&q->call));
		retry_later(q, KWG_GRPC_UNAVAILABLE);
	}
}

/* Hands the answer (or the error) to the asker. */
static void deliver(struct question *q)
{
	struct kwg_controller_meta cm;
	struct kwg_meta_row row = {0};
	struct kwg_controller_nsfile *files = NULL;
	struct kwg_meta_file *out = NULL;
	struct kwg_err err = {{0}};
	size_t n = 0;
	int r = 0;

	if (is_content(q)) {
		q->sink->done(q->userdata, q->error, q->error ? -EIO : q->status);
		return;
	}
	if (!q->error && q->what == Q_KV)
		r = kwg_controller_kv_meta_decode(q->reply, q->reply_len, kwg_clock_now_us(), &cm,
		                                  &err);
	else if (!q->error && q->what == Q_NSFILE)
		r = kwg_controller_nsfile_meta_decode(q->reply, q->reply_len, &cm, &err);
	else if (!q->error)
		r = kwg_controller_nsfile_list_decode(q->reply, q->reply_len, &files, &n, &err);
	if (r < 0)
		fail(q, "the controller's answer to %s cannot be read: %s", methods[q->what] + 1,
		     r == -ENOMEM ? "out of memory" : err.msg);
	if (q->what == Q_LIST) {
		if (!q->error && !(out = calloc(n + 1, sizeof(*out))))
			fail(q, "out of memory");
		for (size_t i = 0; out && i < n; i++)
			out[i] = (struct kwg_meta_file){files[i].path, files[i].version};
		q->list_done(q->userdata, q->error, !q->error, q->error ? NULL : out,
		             q->error ? 0 : n);
		free(out);
		kwg_controller_nsfiles_free(files, n);
		return;
	}
	if (!q->error)
		row = (struct kwg_meta_row){.table = true,
		                            .found = cm.found,
		                            .version = cm.version,
		                            .deleted = cm.deleted,
		                            .expired = cm.expired,
		                            .directory = cm.directory};
	q->done(q->userdata, q->error, q->error ? NULL : &row);
}

static void on_timer(uv_timer_t *timer)
{
	struct kwg_grpc_meta *m = timer->data;
	uint64_t now = now_ms(m);
	struct question *q;

again:
	for (q = m->head; q && !m->closing; q = q->next) {
		if (q->state != Q_ANSWERED && now >= q->deadline_ms) {
			if (q->call)
				kwg_grpc_call_cancel(steal_ptr(&q->call));
			fail(q, "%s: no answer from the controller within %d s%s%s",
			     methods[q->what] + 1, DEADLINE_MS / 1000,
			     q->last_status ? ", last " : "",
			     q->last_status ? kwg_grpc_status_name(q->last_status) : "");
		}
		if (q->state == Q_ANSWERED) {
			/* The asker may cancel or ask anything from its callback. */
			unlink_question(m, q);
			deliver(q);
			question_free(q);
			goto again;
		}
		if (q->state == Q_WAITING && now >= q->next_ms)
			ask(q);
	}
	if (!m->closing)
		schedule(m);
}

/* The timer at the next thing due. */
static void schedule(struct kwg_grpc_meta *m)
{
	uint64_t now = now_ms(m), due = UINT64_MAX;

	for (struct question *q = m->head; q; q = q->next) {
		uint64_t at = q->state == Q_ANSWERED ? now
		              : q->state == Q_WAITING && q->next_ms < q->deadline_ms
		                  ? q->next_ms
		                  : q->deadline_ms;
		if (at < due)
			due = at;
	}
	if (due == UINT64_MAX)
		uv_timer_stop(&m->timer);
	else
		uv_timer_start(&m->timer, on_timer, due > now ? due - now : 0, 0);
}

int kwg_grpc_meta_new(const struct kwg_grpc_meta_env *env, struct kwg_grpc_meta **ret)
{
	struct kwg_grpc_meta *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->env = *env;
	uv_timer_init(env->loop, &m->timer);
	m->timer.data = m;
	*ret = m;
	return 0;
}

void kwg_grpc_meta_drop_chan(struct kwg_grpc_meta *m, struct kwg_grpc_chan *ch)
{
	bool any = false;

	if (!m || !ch)
		return;
	for (struct question *q = m->head; q; q = q->next)
		if (q->call && q->ch == ch) {
			q->call = NULL; /* freed with the channel */
			retry_later(q, KWG_GRPC_UNAVAILABLE);
			any = true;
		}
	if (any)
		schedule(m);
}

void kwg_grpc_meta_kick(struct kwg_grpc_meta *m)
{
	bool any = false;

	for (struct question *q = m->head; q; q = q->next)
		if (q->state == Q_WAITING && q->next_ms >= q->deadline_ms) {
			q->next_ms = now_ms(m);
			any = true;
		}
	if (any)
		schedule(m);
}

/* A new question, asked from the timer. */
static struct question *question_new(struct kwg_grpc_meta *m, enum what what, uint8_t *msg,
                                     size_t len, char *label)
{
	struct question *q = msg && label ? calloc(1, sizeof(*q)) : NULL;

	if (!q) {
		free(msg);
		free(label);
		return NULL;
	}
	*q = (struct question){.m = m,
	                       .what = what,
	                       .label = label,
	                       .msg = msg,
	                       .len = len,
	                       .deadline_ms = now_ms(m) + DEADLINE_MS,
	                       .next_ms = now_ms(m),
	                       .backoff_ms = RETRY_MIN_MS};
	q->next = m->head;
	m->head = q;
	schedule(m);
	return q;
}

/* What a question asks, for its errors. */
static char *label_of(enum what what, const char *name, const char *ns)
{
	char *s = NULL;
	int r = what == Q_KV || what == Q_KV_VALUE
	            ? asprintf(&s, "kv('%.100s') in '%.200s'", name, ns)
	        : what == Q_NSFILE || what == Q_NSFILE_CONTENT
	            ? asprintf(&s, "namespace file '%.200s' in '%.200s'", name, ns)
	            : asprintf(&s, "the namespace files of '%.200s'", ns);

	return r < 0 ? NULL : s;
}

void *kwg_grpc_meta_lookup(struct kwg_grpc_meta *m, enum kwg_meta_kind kind, const char *tenant,
                           const char *ns, const char *name, kwg_meta_done_fn *done, void *userdata)
{
	size_t len = 0;
	bool kv = kind == KWG_META_KV;
	uint8_t *msg = kv ? kwg_grpc_pack_kv_meta(m->env.who, tenant, ns, name, &len)
	                  : kwg_grpc_pack_nsfile_meta(m->env.who, tenant, ns, name, &len);
	struct question *q = question_new(m, kv ? Q_KV : Q_NSFILE, msg, len,
	                                  label_of(kv ? Q_KV : Q_NSFILE, name, ns));

	if (q) {
		q->done = done;
		q->userdata = userdata;
	}
	return q;
}

void *kwg_grpc_meta_list_files(struct kwg_grpc_meta *m, const char *tenant, const char *ns,
                               void (*done)(void *userdata, const char *error, bool table,
                                            const struct kwg_meta_file *files, size_t n),
                               void *userdata)
{
	size_t len = 0;
	uint8_t *msg = kwg_grpc_pack_nsfile_all(m->env.who, tenant, ns, &len);
	struct question *q = question_new(m, Q_LIST, msg, len, label_of(Q_LIST, NULL, ns));

	if (q) {
		q->list_done = done;
		q->userdata = userdata;
	}
	return q;
}

void *kwg_grpc_meta_read(struct kwg_grpc_meta *m, enum kwg_meta_kind kind, const char *tenant,
                         const char *ns, const char *name, const struct kwg_content_sink *sink,
                         void *userdata)
{
	size_t len = 0;
	bool kv = kind == KWG_META_KV;
	enum what what = kv ? Q_KV_VALUE : Q_NSFILE_CONTENT;
	uint8_t *msg = kv ? kwg_grpc_pack_kv_key(m->env.who, tenant, ns, name, &len)
	                  : kwg_grpc_pack_nsfile_object(m->env.who, tenant, ns, name, &len);
	struct question *q = question_new(m, what, msg, len, label_of(what, name, ns));

	if (q) {
		q->sink = sink;
		q->userdata = userdata;
	}
	return q;
}

void kwg_grpc_meta_cancel(struct kwg_grpc_meta *m, void *handle)
{
	struct question *q = handle;

	unlink_question(m, q);
	question_free(q);
	schedule(m);
}

static void on_closed(uv_handle_t *h)
{
	free(h->data);
}

void kwg_grpc_meta_close(struct kwg_grpc_meta *m)
{
	if (!m)
		return;
	m->closing = true;
	while (m->head) {
		struct question *q = m->head;
		m->head = q->next;
		question_free(q);
	}
	uv_timer_stop(&m->timer);
	uv_close((uv_handle_t *)&m->timer, on_closed);
}
