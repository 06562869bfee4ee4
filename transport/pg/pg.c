/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "pg"
#include "transport/pg/pg.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/compat.h"
#include "common/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct query {
	struct query *next;
	char *sql; /* borrowed from the caller: statements are constants */
	int n_params;
	char **params; /* owned */
	char *copy;    /* owned: COPY … FROM STDIN data (kwg_pg_copy), or NULL */
	size_t copy_len;
	kwg_pg_result_fn *cb;
	void *userdata;
};

enum pg_state {
	PG_IDLE,       /* not connected, waiting to (re)connect */
	PG_CONNECTING, /* PQconnectPoll in progress */
	PG_READY,      /* connected */
	PG_CLOSING,
};

struct kwg_pg {
	uv_loop_t *loop;
	char *conninfo;
	char name[32];
	PGconn *conn;
	uv_poll_t *poll; /* owned; a new one per socket (a closing handle cannot be reused) */
	int poll_fd;
	uv_timer_t retry; /* reconnect backoff */
	enum pg_state state;
	PostgresPollingStatusType connect_wants;
	struct query *head, *tail; /* head is in flight when `busy` */
	bool busy;
	/* Pipeline mode (kwg_pg_set_pipeline): the first `in_flight` queries of the queue are sent,
	 * `unsent` is the first that is not (NULL: none); `busy` is unused. */
	bool pipeline;
	bool pumping; /* in pg_pump_pipeline: a callback's statements wait for its next turn */
	unsigned in_flight;
	struct query *unsent;
	PGresult *last; /* the newest result of the statement in flight */
	bool copying;   /* the statement in flight is a COPY taking its data: copy_off sent */
	size_t copy_off;
	unsigned pending;
	unsigned backoff_ms;
	kwg_pg_state_fn *on_state;
	void *userdata;
	kwg_pg_notify_fn *on_notify;
	void *notify_userdata;
	kwg_pg_closed_fn *on_closed;
	void *closed_userdata;
	int open_handles;
};

/* A statistic for /metrics; the loop is single-threaded. */
static unsigned long long reconnects_total;

unsigned long long kwg_pg_reconnects_total(void)
{
	return reconnects_total;
}

static void pg_connect(struct kwg_pg *pg);
static void pg_pump(struct kwg_pg *pg);

static void on_retry(uv_timer_t *t)
{
	pg_connect(t->data);
}

const char *kwg_pg_result_error(const PGresult *res)
{
	const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;

	return msg ? msg : (res ? PQresStatus(PQresultStatus(res)) : "no result");
}

static void query_free(struct query *q)
{
	for (int i = 0; i < q->n_params; i++)
		free(q->params[i]);
	free(q->params);
	free(q->copy);
	free(q);
}

static struct query *queue_pop(struct kwg_pg *pg)
{
	struct query *q = pg->head;

	pg->head = q->next;
	if (!pg->head)
		pg->tail = NULL;
	pg->pending--;
	return q;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct kwg_pg *pg = h->data;

	if (--pg->open_handles > 0)
		return;
	if (pg->on_closed)
		pg->on_closed(pg->closed_userdata);
	free(pg->conninfo);
	free(pg);
}

static void on_poll_closed(uv_handle_t *h)
{
	free(h);
}

static void poll_stop(struct kwg_pg *pg)
{
	if (pg->poll) {
		uv_close((uv_handle_t *)pg->poll, on_poll_closed);
		pg->poll = NULL;
	}
}

/* Drops the connection and whatever result was pending on it. */
static void pg_disconnect(struct kwg_pg *pg)
{
	poll_stop(pg);
	if (pg->conn) {
		PQfinish(pg->conn);
		pg->conn = NULL;
	}
	PQclear(pg->last);
	pg->last = NULL;
	pg->copying = false;
}

/* Loses the connection: the statements in flight fail, the queue waits for a new connection. */
static void pg_lost(struct kwg_pg *pg, const char *why)
{
	bool was_ready = pg->state == PG_READY;
	struct query *q = NULL, **last = &q;
	char msg[256];

	(void)snprintf(msg, sizeof(msg), "%s", why && *why ? why : "connection lost");
	msg[strcspn(msg, "\n")] = '\0';
	pg_disconnect(pg);
	if (pg->busy) {
		pg->busy = false;
		q = queue_pop(pg);
		q->next = NULL;
	}
	/* Pipeline mode: every statement sent may or may not have run; the unsent ones wait. */
	for (; pg->in_flight > 0; pg->in_flight--) {
		*last = queue_pop(pg);
		last = &(*last)->next;
		*last = NULL;
	}
	if (pg->state == PG_CLOSING)
		return;
	pg->state = PG_IDLE;
	reconnects_total++;
	kwg_log_warning("%s: %s, reconnecting in %u ms", pg->name, msg, pg->backoff_ms);
	uv_timer_start(&pg->retry, on_retry, pg->backoff_ms, 0);
	pg->backoff_ms = KWG_MIN(pg->backoff_ms * 2, BACKOFF_MAX_MS);
	/* The callbacks may queue new statements or close pg: call them last, in order. */
	while (q) {
		struct query *next = q->next;
		q->cb(q->userdata, NULL, msg);
		query_free(q);
		q = next;
	}
	if (was_ready && pg->on_state)
		pg->on_state(pg->userdata, false);
}

static void poll_update(struct kwg_pg *pg, int events);

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct kwg_pg *pg = h->data;

	/* While connecting, an error on the socket (libuv reports POLLERR as UV_EBADF) is the
	 * connect's own failure: PQconnectPoll reads it, says what it was, and tries the next
	 * address of the host if there is one. */
	if (pg->state == PG_CONNECTING) {
		pg_connect(pg);
		return;
	}
	/* An error on a connected socket (POLLERR: UV_EBADF, "bad file descriptor", which says
	 * nothing of the cause): libpq reads the socket and says what happened ("server closed the
	 * connection unexpectedly"). */
	if (status < 0) {
		pg_lost(pg,
		        !PQconsumeInput(pg->conn) ? PQerrorMessage(pg->conn) : uv_strerror(status));
		return;
	}
	if (events & UV_WRITABLE) {
		int r = PQflush(pg->conn);
		if (r < 0) {
			pg_lost(pg, PQerrorMessage(pg->conn));
			return;
		}
		poll_update(pg, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
		if (r == 0 && pg->copying)
			pg_pump(pg);
	}
	if (pg->conn && (events & UV_READABLE)) {
		PGnotify *n;
		if (!PQconsumeInput(pg->conn)) {
			pg_lost(pg, PQerrorMessage(pg->conn));
			return;
		}
		while (pg->conn && (n = PQnotifies(pg->conn))) {
			if (pg->on_notify)
				pg->on_notify(pg->notify_userdata, n->relname);
			PQfreemem(n);
		}
		pg_pump(pg);
	}
}

static void poll_update(struct kwg_pg *pg, int events)
{
	int r;

	if (pg->poll && pg->poll_fd != PQsocket(pg->conn))
		poll_stop(pg);
	if (!pg->poll) {
		pg->poll = malloc(sizeof(*pg->poll));
		if (!pg->poll) {
			pg_lost(pg, "out of memory");
			return;
		}
		pg->poll_fd = PQsocket(pg->conn);
		r = uv_poll_init(pg->loop, pg->poll, pg->poll_fd);
		if (r < 0) {
			free(pg->poll);
			pg->poll = NULL;
			pg_lost(pg, uv_strerror(r));
			return;
		}
		pg->poll->data = pg;
	}
	r = uv_poll_start(pg->poll, events, on_poll);
	if (r < 0)
		pg_lost(pg, uv_strerror(r));
}

/* Server notices (e.g. "… does not exist, skipping") are debug information, not output. */
static void on_notice(void *arg, const char *message)
{
	struct kwg_pg *pg = arg;

	kwg_log_debug("%s: %.*s", pg->name, (int)strcspn(message, "\n"), message);
}

/* Drives PQconnectPoll. */
static void pg_connect(struct kwg_pg *pg)
{
	PostgresPollingStatusType st;

	if (pg->state == PG_CLOSING)
		return;
	if (pg->state == PG_IDLE) {
		pg->conn = PQconnectStart(pg->conninfo);
		if (!pg->conn || PQstatus(pg->conn) == CONNECTION_BAD) {
			pg_lost(pg, pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
			return;
		}
		PQsetNoticeProcessor(pg->conn, on_notice, pg);
		pg->state = PG_CONNECTING;
	}
	st = PQconnectPoll(pg->conn);
	/* The socket can change during connection (a host list): poll_update follows it. */
	switch (st) {
	case PGRES_POLLING_READING:
		poll_update(pg, UV_READABLE);
		return;
	case PGRES_POLLING_WRITING:
		poll_update(pg, UV_WRITABLE);
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		pg_lost(pg, PQerrorMessage(pg->conn));
		return;
	}
	if (PQsetnonblocking(pg->conn, 1) < 0 || (pg->pipeline && !PQenterPipelineMode(pg->conn))) {
		pg_lost(pg, PQerrorMessage(pg->conn));
		return;
	}
	pg->state = PG_READY;
	pg->backoff_ms = BACKOFF_MIN_MS;
	kwg_log_debug("%s: connected (server %d)", pg->name, PQserverVersion(pg->conn));
	kwg_log_latency("connected", pg->name);
	poll_update(pg, UV_READABLE);
	if (pg->on_state)
		pg->on_state(pg->userdata, true);
	pg_pump(pg);
}

static void flush(struct kwg_pg *pg)
{
	int r = PQflush(pg->conn);

	if (r < 0)
		pg_lost(pg, PQerrorMessage(pg->conn));
	else
		poll_update(pg, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
}

/* Pipeline mode: sends every queued statement at once, each followed by its own sync point (so
 * that an error in one never aborts the next, as when they run one at a time), then completes
 * the statements in flight in order as their results come: a statement is complete at its sync
 * point, with the last result it had. A callback may queue more: they are sent in turn. */
static void pump_pipeline(struct kwg_pg *pg)
{
	bool ended = false; /* the last PQgetResult was the end of a statement's results */

	while (pg->state == PG_READY) {
		PGresult *res;
		struct query *q;
		if (pg->unsent) {
			for (q = pg->unsent; q; q = q->next, pg->in_flight++)
				if (!PQsendQueryParams(pg->conn, q->sql, q->n_params, NULL,
				                       (const char *const *)q->params, NULL, NULL,
				                       0) ||
				    !PQpipelineSync(pg->conn)) {
					pg->unsent = q;
					pg_lost(pg, PQerrorMessage(pg->conn));
					return;
				}
			pg->unsent = NULL;
			flush(pg);
			continue;
		}
		if (pg->in_flight == 0 || PQisBusy(pg->conn))
			return;
		res = PQgetResult(pg->conn);
		/* The end of a statement's results: its sync point follows (twice: not yet here).
		 */
		if (!res && ended)
			return;
		ended = !res;
		if (!res)
			continue;
		if (PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
			PQclear(pg->last);
			pg->last = res;
			continue;
		}
		PQclear(res);
		q = queue_pop(pg);
		pg->in_flight--;
		res = pg->last;
		pg->last = NULL;
		q->cb(q->userdata, res, NULL);
		PQclear(res);
		query_free(q);
	}
}

/* Sends the data of the COPY in flight, then its end; false when libpq's buffer is full (the
 * socket's writability resumes it) or the connection was lost. */
static bool copy_send(struct kwg_pg *pg)
{
	struct query *q = pg->head;
	int r = 1;

	while (r == 1 && pg->copy_off < q->copy_len) {
		size_t n = KWG_MIN(q->copy_len - pg->copy_off, (size_t)1 << 16);
		r = PQputCopyData(pg->conn, q->copy + pg->copy_off, (int)n);
		if (r == 1)
			pg->copy_off += n;
	}
	if (r == 1)
		r = PQputCopyEnd(pg->conn, NULL);
	if (r < 0) {
		pg_lost(pg, PQerrorMessage(pg->conn));
		return false;
	}
	if (r == 1)
		pg->copying = false;
	flush(pg);
	if (r == 0 && pg->state == PG_READY)
		poll_update(pg, UV_READABLE | UV_WRITABLE);
	return r == 1 && pg->state == PG_READY;
}

/* Collects results of the statement in flight, completes it, and sends the next one. */
static void pg_pump(struct kwg_pg *pg)
{
	if (pg->pipeline) {
		/* Not again from a callback: completions stay in order, one at a time. */
		if (!pg->pumping) {
			pg->pumping = true;
			pump_pipeline(pg);
			pg->pumping = false;
		}
		return;
	}
	while (pg->state == PG_READY) {
		if (pg->busy) {
			PGresult *res;
			struct query *q;
			if (pg->copying && !copy_send(pg))
				return;
			if (PQisBusy(pg->conn))
				return;
			res = PQgetResult(pg->conn);
			if (res && PQresultStatus(res) == PGRES_COPY_IN) {
				PQclear(res);
				pg->copying = true;
				pg->copy_off = 0;
				continue;
			}
			if (res) {
				PQclear(pg->last);
				pg->last = res;
				continue;
			}
			q = queue_pop(pg);
			res = pg->last;
			pg->last = NULL;
			pg->busy = false;
			q->cb(q->userdata, res, NULL);
			PQclear(res);
			query_free(q);
			continue;
		}
		if (!pg->head)
			return;
		if (!PQsendQueryParams(pg->conn, pg->head->sql, pg->head->n_params, NULL,
		                       (const char *const *)pg->head->params, NULL, NULL, 0)) {
			pg_lost(pg, PQerrorMessage(pg->conn));
			return;
		}
		pg->busy = true;
		int r = PQflush(pg->conn);
		if (r < 0) {
			pg_lost(pg, PQerrorMessage(pg->conn));
			return;
		}
		poll_update(pg, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE);
		return;
	}
}

int kwg_pg_new(uv_loop_t *loop, const char *conninfo, const char *name, kwg_pg_state_fn *on_state,
               void *userdata, struct kwg_pg **ret)
{
	struct kwg_pg *pg = calloc(1, sizeof(*pg));

	if (!pg)
		return -ENOMEM;
	pg->conninfo = strdup(conninfo);
	if (!pg->conninfo) {
		free(pg);
		return -ENOMEM;
	}
	pg->loop = loop;
	(void)snprintf(pg->name, sizeof(pg->name), "%s", name);
	pg->on_state = on_state;
	pg->userdata = userdata;
	pg->backoff_ms = BACKOFF_MIN_MS;
	uv_timer_init(loop, &pg->retry);
	pg->retry.data = pg;
	pg->open_handles = 1;
	*ret = pg;
	return 0;
}

void kwg_pg_set_pipeline(struct kwg_pg *pg)
{
	pg->pipeline = true;
}

void kwg_pg_start(struct kwg_pg *pg)
{
	if (pg->state == PG_IDLE)
		pg_connect(pg);
}

void kwg_pg_on_notify(struct kwg_pg *pg, kwg_pg_notify_fn *fn, void *userdata)
{
	pg->on_notify = fn;
	pg->notify_userdata = userdata;
}

bool kwg_pg_is_connected(const struct kwg_pg *pg)
{
	return pg->state == PG_READY;
}

int kwg_pg_backend_pid(const struct kwg_pg *pg)
{
	return pg->conn && pg->state == PG_READY ? PQbackendPID(pg->conn) : 0;
}

unsigned kwg_pg_pending(const struct kwg_pg *pg)
{
	return pg->pending;
}

static void enqueue(struct kwg_pg *pg, struct query *q)
{
	if (pg->tail)
		pg->tail->next = q;
	else
		pg->head = q;
	pg->tail = q;
	pg->pending++;
	if (pg->pipeline && !pg->unsent)
		pg->unsent = q;
	if (pg->state == PG_READY && !pg->busy)
		pg_pump(pg);
}

int kwg_pg_copy(struct kwg_pg *pg, const char *sql, char *data, size_t len, kwg_pg_result_fn *cb,
                void *userdata)
{
	struct query *q;

	if (pg->state == PG_CLOSING || pg->pipeline || len > INT_MAX) {
		free(data);
		return pg->state == PG_CLOSING ? -ESHUTDOWN : -EINVAL;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		free(data);
		return -ENOMEM;
	}
	q->sql = (char *)sql;
	q->copy = data;
	q->copy_len = len;
	q->cb = cb;
	q->userdata = userdata;
	enqueue(pg, q);
	return 0;
}

int kwg_pg_query(struct kwg_pg *pg, const char *sql, int n_params, const char *const *params,
                 kwg_pg_result_fn *cb, void *userdata)
{
	struct query *q;

	if (pg->state == PG_CLOSING)
		return -ESHUTDOWN;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->sql = (char *)sql;
	q->cb = cb;
	q->userdata = userdata;
	if (n_params > 0) {
		q->params = calloc((size_t)n_params, sizeof(char *));
		if (!q->params) {
			free(q);
			return -ENOMEM;
		}
		q->n_params = n_params;
		for (int i = 0; i < n_params; i++) {
			if (!params[i])
				continue;
			q->params[i] = strdup(params[i]);
			if (!q->params[i]) {
				query_free(q);
				return -ENOMEM;
			}
		}
	}
	enqueue(pg, q);
	return 0;
}

void kwg_pg_close(struct kwg_pg *pg, kwg_pg_closed_fn *on_closed, void *userdata)
{
	if (!pg || pg->state == PG_CLOSING)
		return;
	pg->state = PG_CLOSING;
	pg->on_closed = on_closed;
	pg->closed_userdata = userdata;
	pg_disconnect(pg);
	pg->busy = false;
	pg->in_flight = 0;
	pg->unsent = NULL;
	while (pg->head) {
		struct query *q = queue_pop(pg);
		q->cb(q->userdata, NULL, "connection closed");
		query_free(q);
	}
	uv_close((uv_handle_t *)&pg->retry, on_handle_closed);
}
