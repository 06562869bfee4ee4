/* SPDX-License-Identifier: Apache-2.0 */
/* The transport for Kestra 1.x's PostgreSQL queue (transport/transport.h): jobs claimed from
 * `queues` (dispatch.c), messages written to it (outbox.c), liveness in `service_instance`
 * (heartbeat.c), kills, Kestra's cluster events and kwg's pause flags (control.c), and the jobs
 * kwg routing holds (route.c). Each part owns its own connection. */
#define KWG_LOG_MODULE "pg"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "protocol/queue.h"
#include "protocol/sql.h"
#include "protocol/sql_table.h"
#include "protocol/worker_job.h"
#include "transport/pg/control.h"
#include "transport/pg/dispatch.h"
#include "transport/pg/heartbeat.h"
#include "transport/pg/outbox.h"
#include "transport/pg/pg.h"
#include "transport/pg/route.h"
#include "transport/transport.h"

struct pg_transport {
	struct kwg_transport base;
	struct kwg_transport_params p; /* a copy: the parts borrow it */
	struct kwg_outbox *outbox;
	struct kwg_dispatch *dispatch;
	struct kwg_heartbeat *heartbeat;
	struct kwg_control *control;
	struct kwg_route *route;
	struct kwg_sql_table *sql; /* the statements for the queue table; the parts borrow it */
	bool claim_started;
	int gen; /* the Kestra generation (control's verdict); 0 before it */
	/* storage/meta.h's questions: one connection, opened at the first. */
	struct kwg_pg *meta_pg;
	/* kwg_transport_workers: one connection per question. */
	struct kwg_pg *workers_pg;
	kwg_transport_workers_fn *workers_cb;
	void *workers_userdata;
};

static struct pg_transport *pgt(struct kwg_transport *t)
{
	return (struct pg_transport *)t;
}

static const struct pg_transport *cpgt(const struct kwg_transport *t)
{
	return (const struct pg_transport *)t;
}

static unsigned free_slots(void *ctx)
{
	struct pg_transport *t = ctx;

	if (kwg_outbox_congested(t->outbox))
		return 0;
	return t->p.ops->free_slots(t->p.ctx);
}

static void on_job(void *ctx, struct kwg_job *job)
{
	struct pg_transport *t = ctx;

	t->p.ops->on_job(t->p.ctx, job);
}

static const struct kwg_dispatch_ops dispatch_ops = {
    .free_slots = free_slots,
    .on_job = on_job,
};

static void on_kill(void *ctx, const char *execution_id, const char *tenant_id)
{
	struct pg_transport *t = ctx;

	t->p.ops->on_kill(t->p.ctx, execution_id, tenant_id);
}

static void on_flags(void *ctx, const struct kwg_transport_flags *f)
{
	struct pg_transport *t = ctx;

	t->p.ops->on_flags(t->p.ctx, f);
}

/* kwg notify's trigger: WorkerJob rows were inserted; claim now rather than at the next poll. */
static void on_jobs_queued(void *ctx)
{
	struct pg_transport *t = ctx;

	kwg_log_debug("woken by a WorkerJob insert");
	kwg_dispatch_wake(t->dispatch);
}

static void on_refused(void *ctx, const char *why)
{
	struct pg_transport *t = ctx;

	t->p.ops->on_refused(t->p.ctx, why);
}

/* Before the first flags: each part takes the generation's statements and shapes. */
static void on_generation(void *ctx, int gen)
{
	struct pg_transport *t = ctx;
	char job_queue[KWG_QUEUE_NAME_MAX + 1], key[KWG_QUEUE_NAME_MAX + 1];
	int r = 0;

	t->gen = gen;
	if (gen == 2) {
		r = kwg_queue_name2(KWG_QUEUE_WORKER_JOB, t->p.queue_prefix, job_queue,
		                    sizeof(job_queue));
		(void)snprintf(key, sizeof(key), "kwg:%s",
		               t->p.info->group ? t->p.info->group : "");
		if (r >= 0)
			r = kwg_dispatch_set_gen2(t->dispatch, job_queue, key);
		if (r >= 0)
			r = kwg_outbox_set_gen2(t->outbox, t->p.queue_prefix);
		if (r >= 0)
			r = kwg_route_set_gen2(t->route, job_queue);
		if (r < 0) {
			t->p.ops->on_refused(t->p.ctx, "the Kestra 2.x queue names are too long "
			                               "(kestra_queue_prefix)");
			return;
		}
		kwg_log_notice("serving Kestra 2.x: claiming %s rows with routing key '%s'",
		               job_queue, key);
	}
	/* The routing part starts with the first claim (pg_pause): its connection and first
	 * statements would compete with the first flags and claim for the server's CPUs. */
}

static const struct kwg_control_ops control_ops = {
    .on_generation = on_generation,
    .on_kill = on_kill,
    .on_flags = on_flags,
    .on_jobs_queued = on_jobs_queued,
    .on_refused = on_refused,
};

static void on_heartbeat_lost(void *ctx, enum kwg_service_state stored, const char *why)
{
	struct pg_transport *t = ctx;

	(void)stored;
	t->p.ops->on_lost(t->p.ctx, why);
}

static void on_heartbeat_written(void *ctx, enum kwg_service_state state)
{
	struct pg_transport *t = ctx;

	t->p.ops->on_state_written(t->p.ctx, state);
}

static void on_outbox_drained(void *ctx)
{
	struct pg_transport *t = ctx;

	t->p.ops->on_drained(t->p.ctx);
	kwg_dispatch_wake(t->dispatch);
}

static void pg_close(struct kwg_transport *base);

static int pg_create(const struct kwg_transport_params *p, struct kwg_transport **ret)
{
	struct pg_transport *t = calloc(1, sizeof(*t));
	struct kwg_err err = {{0}};
	int r;

	if (!t)
		return -ENOMEM;
	t->base.cls = &kwg_transport_pg;
	t->p = *p;
	r = kwg_sql_table_new(p->queue_table ? p->queue_table : KWG_SQL_TABLE_DEFAULT, &t->sql,
	                      &err);
	if (r == -EINVAL)
		kwg_log_error("kestra_queue_table: %s", err.msg);
	if (r >= 0)
		r = kwg_outbox_new(p->loop, p->url, t->sql, p->spill_dir, on_outbox_drained, t,
		                   &t->outbox);
	if (r >= 0)
		r = kwg_dispatch_new(&t->p, t->sql, &dispatch_ops, t, &t->dispatch);
	if (r >= 0)
		r = kwg_heartbeat_new(&t->p, on_heartbeat_lost, on_heartbeat_written, t,
		                      &t->heartbeat);
	if (r >= 0)
		r = kwg_control_new(&t->p, t->sql, &control_ops, t, &t->control);
	if (r >= 0)
		r = kwg_route_new(&t->p, t->sql, &t->route);
	if (r < 0) {
		pg_close(&t->base);
		return r;
	}
	/* The two connections the first claim waits for are opened at once: the server starts
	 * their sessions while the worker sets the rest up (the sandbox probe); nothing is sent on
	 * them before the loop runs, after start. */
	kwg_control_connect(t->control);
	kwg_dispatch_connect(t->dispatch);
	*ret = &t->base;
	return 0;
}

static void pg_start(struct kwg_transport *base)
{
	struct pg_transport *t = pgt(base);

	kwg_heartbeat_start(t->heartbeat);
	/* The claim connection opens now, beside the others, so the first claim does not wait for
	 * it. */
	kwg_dispatch_connect(t->dispatch);
	/* Claiming starts once the first control flags are read (a paused group or maintenance
	 * must hold from the first moment): the core calls pause() from on_flags. */
	kwg_control_start(t->control);
	/* The routing part starts with the first claim (pg_pause), after the generation is known
	 * (on_generation). */
}

static void pg_wake(struct kwg_transport *base)
{
	kwg_dispatch_wake(pgt(base)->dispatch);
}

static void pg_pause(struct kwg_transport *base, bool paused)
{
	struct pg_transport *t = pgt(base);

	/* The core says it first once the first flags are read: claiming starts then (unless they
	 * pause it: the pause is set first), and the routing part once the first claim is on its
	 * way, and the outbox's connection (nothing is sent before a task ran). */
	kwg_dispatch_pause(t->dispatch, paused);
	if (!t->claim_started) {
		t->claim_started = true;
		kwg_dispatch_start(t->dispatch);
		kwg_route_start(t->route);
		kwg_outbox_connect(t->outbox);
	}
}

static void pg_stop(struct kwg_transport *base)
{
	struct pg_transport *t = pgt(base);

	kwg_dispatch_stop(t->dispatch);
	kwg_route_stop(t->route);
}

static bool pg_idle(const struct kwg_transport *base)
{
	return kwg_dispatch_idle(cpgt(base)->dispatch);
}

static void pg_emit(struct kwg_transport *base, enum kwg_queue_type type, const char *key,
                    char *value)
{
	struct pg_transport *t = pgt(base);

	if (t->gen != 2) {
		kwg_outbox_push(t->outbox, type, key, value);
		return;
	}
	/* KESTRA 2.x: trigger results go to the scheduler's queues, which kwg does not write;
	 * kwg routing never routes trigger jobs (kestra-2x-queue.md §4.6 #9). */
	if (type == KWG_QUEUE_WORKER_TRIGGER_RESULT) {
		kwg_log_error("trigger '%s': kwg does not evaluate triggers on Kestra 2.x; the "
		              "trigger job is dropped (route only task jobs to kwg)",
		              key);
		free(value);
		return;
	}
	/* The controller's part for gRPC workers: a terminal result deletes the job's
	 * worker_job_running record, in the same transaction here. */
	kwg_outbox_push_ex(t->outbox, type, key, value,
	                   type == KWG_QUEUE_WORKER_TASK_RESULT &&
	                       kwg_task_result_is_terminal(value));
}

static bool pg_congested(const struct kwg_transport *base)
{
	return kwg_outbox_congested(cpgt(base)->outbox);
}

static bool pg_empty(const struct kwg_transport *base)
{
	return kwg_outbox_empty(cpgt(base)->outbox);
}

/* Nothing to say: the job's worker_job_running row goes when its terminal result is processed by
 * Kestra's executor. */
static void pg_job_done(struct kwg_transport *base, const struct kwg_job *job)
{
	(void)base;
	(void)job;
}

static void pg_set_state(struct kwg_transport *base, enum kwg_service_state state)
{
	kwg_heartbeat_set_state(pgt(base)->heartbeat, state);
}

static enum kwg_service_state pg_state(const struct kwg_transport *base)
{
	return kwg_heartbeat_state(cpgt(base)->heartbeat);
}

static void pg_poke(struct kwg_transport *base)
{
	kwg_heartbeat_poke(pgt(base)->heartbeat);
}

static bool pg_fresh(const struct kwg_transport *base)
{
	return kwg_heartbeat_fresh(cpgt(base)->heartbeat);
}

static uint64_t pg_heartbeat_age_ms(const struct kwg_transport *base)
{
	return kwg_heartbeat_age_ms(cpgt(base)->heartbeat);
}

static const struct kwg_transport_flags *pg_flags(const struct kwg_transport *base)
{
	return kwg_control_flags(cpgt(base)->control);
}

static void pg_stats(const struct kwg_transport *base, struct kwg_transport_stats *ret)
{
	const struct pg_transport *t = cpgt(base);

	*ret = (struct kwg_transport_stats){
	    .claimed = kwg_dispatch_claimed(t->dispatch),
	    .queued = kwg_control_queued(t->control),
	    .pending_bytes = kwg_outbox_bytes(t->outbox),
	    .reconnects = kwg_pg_reconnects_total(),
	};
}

static int pg_metrics(const struct kwg_transport *base, struct kwg_buf *out)
{
	const struct pg_transport *t = cpgt(base);
	int r = kwg_buf_printf(
	    out,
	    "# HELP kwg_routing_resolved_total Jobs held by kwg routing that this worker "
	    "resolved.\n"
	    "# TYPE kwg_routing_resolved_total counter\n"
	    "kwg_routing_resolved_total{outcome=\"rerouted\"} %llu\n"
	    "kwg_routing_resolved_total{outcome=\"ended\"} %llu\n",
	    kwg_route_rerouted(t->route), kwg_route_ended(t->route));

	return r < 0 ? r : kwg_route_metrics(t->route, out);
}

static void workers_done(struct pg_transport *t)
{
	if (t->workers_pg)
		kwg_pg_close(steal_ptr(&t->workers_pg), NULL, NULL);
	t->workers_cb = NULL;
}

static void on_workers(void *userdata, PGresult *res, const char *error)
{
	struct pg_transport *t = userdata;
	kwg_transport_workers_fn *cb = t->workers_cb;
	struct kwg_transport_worker *list = NULL;
	int n = 0;

	if (!cb)
		return;
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		n = PQntuples(res);
		list = calloc(n ? (size_t)n : 1, sizeof(*list));
		for (int row = 0; list && row < n; row++)
			list[row] = (struct kwg_transport_worker){
			    .id = PQgetvalue(res, row, 0),
			    .live = strcmp(PQgetvalue(res, row, 6), "t") == 0,
			};
		if (!list)
			error = "out of memory";
	} else if (res) {
		error = PQresultErrorMessage(res);
	}
	cb(t->workers_userdata, list, list ? (size_t)n : 0, list ? NULL : error);
	free(list);
	workers_done(t);
}

/* One short connection per question (asked every few minutes). */
static int pg_workers(struct kwg_transport *base, kwg_transport_workers_fn *cb, void *userdata)
{
	struct pg_transport *t = pgt(base);
	int r;

	if (t->workers_cb)
		return -EBUSY;
	r = kwg_pg_new(t->p.loop, t->p.url, "orphans", NULL, NULL, &t->workers_pg);
	if (r < 0)
		return r;
	t->workers_cb = cb;
	t->workers_userdata = userdata;
	kwg_pg_start(t->workers_pg);
	r = kwg_pg_query(t->workers_pg, KWG_SQL_WORKERS, 1, (const char *const[]){NULL}, on_workers,
	                 t);
	if (r < 0)
		workers_done(t);
	return r;
}

static void pg_cancel_workers(struct kwg_transport *base)
{
	workers_done(pgt(base));
}

/* A metadata question; done (or list_done) NULL once cancelled (freed when its answer comes). */
struct meta_req {
	enum kwg_meta_kind kind;
	kwg_meta_done_fn *done;
	void (*list_done)(void *userdata, const char *error, bool table,
	                  const struct kwg_meta_file *files, size_t n);
	void *userdata;
};

static void on_meta(void *userdata, PGresult *res, const char *error)
{
	struct meta_req *q = userdata;
	struct kwg_meta_row row = {0};
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (!q->done) {
		free(q);
		return;
	}
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		row.table = true;
		row.found = PQntuples(res) > 0;
		if (row.found) {
			row.version = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			row.deleted = PQgetvalue(res, 0, 1)[0] == 't';
			if (q->kind == KWG_META_KV)
				row.expired = PQgetvalue(res, 0, 2)[0] == 't';
			else
				row.directory = PQgetvalue(res, 0, 2)[0] == 't';
		}
		error = NULL;
	} else if (state && strcmp(state, "42P01") == 0) {
		/* undefined_table: a Kestra from before the table */
		error = NULL;
	} else if (res) {
		error = kwg_pg_result_error(res);
	}
	q->done(q->userdata, error, error ? NULL : &row);
	free(q);
}

static void on_meta_list(void *userdata, PGresult *res, const char *error)
{
	struct meta_req *q = userdata;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	struct kwg_meta_file *files = NULL;
	int n = 0;

	if (!q->list_done) {
		free(q);
		return;
	}
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		n = PQntuples(res);
		files = calloc(n ? (size_t)n : 1, sizeof(*files));
		for (int i = 0; files && i < n; i++)
			files[i] = (struct kwg_meta_file){PQgetvalue(res, i, 0),
			                                  strtoll(PQgetvalue(res, i, 1), NULL, 10)};
		error = files ? NULL : "out of memory";
		q->list_done(q->userdata, error, true, files, files ? (size_t)n : 0);
	} else if (state && strcmp(state, "42P01") == 0) {
		q->list_done(q->userdata, NULL, false, NULL, 0);
	} else {
		q->list_done(q->userdata, res ? kwg_pg_result_error(res) : error, false, NULL, 0);
	}
	free(files);
	free(q);
}

/* Sends a metadata question (a copy of proto) on the connection of its own, opened at the
 * first: its handle, or NULL on OOM (nothing asked). */
static struct meta_req *meta_ask(struct pg_transport *t, struct meta_req proto, const char *sql,
                                 int n_params, const char *const *params, kwg_pg_result_fn *cb)
{
	struct meta_req *q;

	if (!t->meta_pg) {
		if (kwg_pg_new(t->p.loop, t->p.url, "metadata", NULL, NULL, &t->meta_pg) < 0)
			return NULL;
		kwg_pg_start(t->meta_pg);
	}
	q = malloc(sizeof(*q));
	if (!q)
		return NULL;
	*q = proto;
	if (kwg_pg_query(t->meta_pg, sql, n_params, params, cb, q) < 0) {
		free(q);
		return NULL;
	}
	return q;
}

static void *pg_meta_list_files(struct kwg_transport *base, const char *tenant, const char *ns,
                                void (*done)(void *userdata, const char *error, bool table,
                                             const struct kwg_meta_file *files, size_t n),
                                void *userdata)
{
	return meta_ask(pgt(base), (struct meta_req){.list_done = done, .userdata = userdata},
	                KWG_SQL_NSFILE_LIST, 2,
	                (const char *const[]){tenant && *tenant ? tenant : NULL, ns}, on_meta_list);
}

static void *pg_meta_lookup(struct kwg_transport *base, enum kwg_meta_kind kind, const char *tenant,
                            const char *ns, const char *name, kwg_meta_done_fn *done,
                            void *userdata)
{
	return meta_ask(
	    pgt(base), (struct meta_req){.kind = kind, .done = done, .userdata = userdata},
	    kind == KWG_META_KV ? KWG_SQL_KV_META : KWG_SQL_NSFILE_META, 3,
	    (const char *const[]){tenant && *tenant ? tenant : NULL, ns, name}, on_meta);
}

static void pg_meta_cancel(struct kwg_transport *base, void *handle)
{
	struct meta_req *q = handle;

	(void)base;
	q->done = NULL;
	q->list_done = NULL;
}

static void pg_close(struct kwg_transport *base)
{
	struct pg_transport *t = pgt(base);

	workers_done(t);
	if (t->meta_pg)
		kwg_pg_close(steal_ptr(&t->meta_pg), NULL, NULL);
	kwg_dispatch_close(t->dispatch);
	kwg_outbox_close(t->outbox);
	kwg_heartbeat_close(t->heartbeat);
	kwg_control_close(t->control);
	kwg_route_close(t->route);
	/* The parts' connections dropped their queued statements when they closed. */
	kwg_sql_table_free(t->sql);
	free(t);
}

const struct kwg_transport_class kwg_transport_pg = {
    .name = "pg",
    .create = pg_create,
    .start = pg_start,
    .wake = pg_wake,
    .pause = pg_pause,
    .stop = pg_stop,
    .idle = pg_idle,
    .emit = pg_emit,
    .congested = pg_congested,
    .empty = pg_empty,
    .job_done = pg_job_done,
    .set_state = pg_set_state,
    .state = pg_state,
    .poke = pg_poke,
    .fresh = pg_fresh,
    .heartbeat_age_ms = pg_heartbeat_age_ms,
    .flags = pg_flags,
    .stats = pg_stats,
    .metrics = pg_metrics,
    .workers = pg_workers,
    .cancel_workers = pg_cancel_workers,
    .meta_lookup = pg_meta_lookup,
    .meta_list_files = pg_meta_list_files,
    .meta_cancel = pg_meta_cancel,
    .close = pg_close,
};
