/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "dispatch"
#include "transport/pg/dispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/compat.h"
#include "common/log.h"
#include "protocol/instance.h"
#include "protocol/queue.h"
#include "protocol/script_task.h"
#include "protocol/sql.h"
#include "protocol/sql2.h"
#include "protocol/sql_table.h"
#include "transport/pg/pg.h"

/* After a failed claim, wait this long before the next (the error is logged each time). */
#define ERROR_BACKOFF_MS 1000
/* A claim whose answer was lost may still be running in its old session: look again after this
 * long, and cancel it once it has run this long after the loss. */
#define LOST_RECHECK_MS 20
#define LOST_CANCEL_MS 1000

struct claimed {
	struct kwg_job *job; /* NULL when the row could not be decoded at all */
	long long offset;
};

struct kwg_dispatch {
	uv_loop_t *loop;
	const struct kwg_transport_params *p;
	const struct kwg_sql_table *sql; /* the statements for the queue table: borrowed */
	struct kwg_dispatch_ops ops;
	void *ctx;
	struct kwg_pg *pg;
	uv_timer_t timer;
	bool running;      /* claiming enabled */
	bool claiming;     /* a claim transaction is in flight */
	bool wake_pending; /* woken during it: claim again at once */
	/* The claim's statements go out in two pipelined rounds (pg.h): BEGIN with the SELECT, then
	 * the worker_job_running upsert, the mark and COMMIT. The first error of a round is kept
	 * here (step and message) until its last statement has answered. */
	const char *failed_step;
	char failed_msg[256];
	bool paused;
	unsigned long long claimed;
	uint64_t last_hit_ms;
	struct claimed *rows;
	size_t n_rows;
	/* A claim whose COMMIT got no answer: resolved after reconnecting (see resolve_limbo). */
	struct claimed *limbo;
	size_t n_limbo;
	/* Kestra 1.x: the claim is one statement (KWG_SQL_CLAIM_ONE_*), one round trip. When its
	 * answer is lost, lost is set and the records it may have written are looked for after
	 * reconnecting (resolve_lost): those written after the last claim that answered with rows,
	 * whose transaction id is last_xid ("" for none). */
	bool one_statement;
	/* This worker's service_instance record is committed. Until then each claim is the
	 * two-round transaction and registers it first (KWG_SQL_INSTANCE_REGISTER): no job is ever
	 * held by a worker Kestra does not know, whose jobs it would never resubmit (§7.5). */
	bool registered;
	bool lost;
	int claim_pid, lost_pid; /* the server process of the claim in flight, of the lost one */
	uint64_t lost_ms;
	char last_xid[24];
	char runnerless[256], scripts[1024]; /* text-array literals for the default group */
	/* Kestra 2.x: the worker_job_event queue's name and the group's routing key. */
	bool gen2;
	char job_queue[KWG_QUEUE_NAME_MAX + 1], routing_key[KWG_QUEUE_NAME_MAX + 1];
};

static void claim(struct kwg_dispatch *d);

static void on_timer(uv_timer_t *t)
{
	claim(t->data);
}

/* KESTRA: JdbcQueue poll ladder (1.0 defaults): 25 ms while the last hit is recent, doubling
 * with idle time up to 500 ms. */
static uint64_t idle_delay_ms(struct kwg_dispatch *d)
{
	uint64_t idle = uv_now(d->loop) - d->last_hit_ms;

	if (idle < 3750)
		return 25;
	if (idle < 7500)
		return 31;
	if (idle < 15000)
		return 62;
	if (idle < 30000)
		return 125;
	if (idle < 60000)
		return 250;
	return 500;
}

static void rows_clear(struct kwg_dispatch *d)
{
	for (size_t i = 0; i < d->n_rows; i++)
		kwg_job_free(d->rows[i].job);
	free(d->rows);
	d->rows = NULL;
	d->n_rows = 0;
}

enum claim_outcome {
	CLAIM_HIT,   /* rows claimed: claim again at once (immediate re-poll) */
	CLAIM_EMPTY, /* nothing to claim: back off by idle time */
	CLAIM_ERROR,
};

static void claim_done(struct kwg_dispatch *d, enum claim_outcome outcome)
{
	uint64_t delay_ms = outcome == CLAIM_HIT || (outcome == CLAIM_EMPTY && d->wake_pending) ? 0
	                    : outcome == CLAIM_EMPTY ? idle_delay_ms(d)
	                                             : ERROR_BACKOFF_MS;

	d->claiming = false;
	d->wake_pending = false;
	if (outcome == CLAIM_HIT)
		d->last_hit_ms = uv_now(d->loop);
	if (d->running)
		uv_timer_start(&d->timer, on_timer, delay_ms, 0);
}

static void on_rolled_back(void *userdata, PGresult *res, const char *error)
{
	claim_done(userdata, CLAIM_ERROR);
}

/* A step failed: roll back (the rows return to the queue) and try again later. rollback: the
 * transaction is still open (a COMMIT that failed, or was answered ROLLBACK, has ended it). */
static void claim_failed(struct kwg_dispatch *d, const char *step, const char *error, bool rollback)
{
	if (d->running)
		kwg_log_warning("claim failed at %s: %s; retrying in %d ms", step, error,
		                ERROR_BACKOFF_MS);
	rows_clear(d);
	d->failed_step = NULL;
	if (!rollback || kwg_pg_query(d->pg, "ROLLBACK", 0, NULL, on_rolled_back, d) < 0)
		claim_done(d, CLAIM_ERROR);
}

/* Keeps the first failure of a pipelined round: the statements after it still answer (an
 * error, as the transaction is aborted) before the round ends. A lost connection (res NULL) is
 * not a failure the server reported: the round's outcome is then unknown. */
static void note_failure(struct kwg_dispatch *d, const char *step, PGresult *res, ExecStatusType ok)
{
	if (!res || PQresultStatus(res) == ok || d->failed_step)
		return;
	d->failed_step = step;
	(void)snprintf(d->failed_msg, sizeof(d->failed_msg), "%s", kwg_pg_result_error(res));
}

/* The claimed jobs go to the worker core, in the rows' order. */
static void hand_on(struct kwg_dispatch *d)
{
	for (size_t i = 0; i < d->n_rows; i++) {
		struct kwg_job *job = d->rows[i].job;
		d->rows[i].job = NULL;
		if (job) {
			kwg_log_latency("committed", kwg_job_task_run_id(job));
			d->claimed++;
			d->ops.on_job(d->ctx, job);
		}
	}
	rows_clear(d);
}

static void on_committed(void *userdata, PGresult *res, const char *error)
{
	struct kwg_dispatch *d = userdata;
	size_t n = d->n_rows;

	/* A step before COMMIT failed: the server ended the transaction with a ROLLBACK. */
	if (d->failed_step) {
		claim_failed(d, d->failed_step, d->failed_msg, false);
		return;
	}
	/* Lost with the last round in flight (its statements went together): the upsert, the mark
	 * and the COMMIT may all have run. */
	if (!res && n > 0 && !d->limbo) {
		/* The connection went during COMMIT: the claim may or may not have committed. Keep
		 * the jobs until a new connection tells which (resolve_limbo); never drop them. */
		kwg_log_warning("connection lost during the COMMIT of a claim of %zu job(s); "
		                "checking its outcome after reconnecting",
		                n);
		d->limbo = d->rows;
		d->n_limbo = n;
		d->rows = NULL;
		d->n_rows = 0;
		claim_done(d, CLAIM_ERROR);
		return;
	}
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		claim_failed(d, "COMMIT", res ? kwg_pg_result_error(res) : error, false);
		return;
	}
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		claim_failed(d, "COMMIT", "the transaction was rolled back", false);
		return;
	}
	d->registered = true;
	hand_on(d);
	claim_done(d, n > 0 ? CLAIM_HIT : CLAIM_EMPTY);
}

static void on_marked(void *userdata, PGresult *res, const char *error)
{
	note_failure(userdata, "mark consumed", res, PGRES_COMMAND_OK);
}

static void on_upserted(void *userdata, PGresult *res, const char *error)
{
	note_failure(userdata, "worker_job_running", res, PGRES_COMMAND_OK);
}

/* Queues the mark of the claimed rows and COMMIT, behind the upsert if there is one: the second
 * round. 0 or a negative errno (nothing of the round is then queued but what was before). */
static int mark_consumed(struct kwg_dispatch *d)
{
	struct kwg_buf offsets;
	const char *params[2];
	int r = 0;

	kwg_buf_init(&offsets, 1u << 20);
	r = kwg_buf_putc(&offsets, '{');
	for (size_t i = 0; r >= 0 && i < d->n_rows; i++)
		r = kwg_buf_printf(&offsets, "%s%lld", i ? "," : "", d->rows[i].offset);
	if (r >= 0)
		r = kwg_buf_putc(&offsets, '}');
	params[0] = kwg_buf_str(&offsets);
	params[1] = d->p->info->group;
	/* Kestra 2.x acknowledges a dispatch row by deleting it (kestra-2x-queue.md §2.4). */
	if (r >= 0)
		r = d->gen2
		        ? kwg_pg_query(d->pg, kwg_sql_table_text(d->sql, KWG_SQL2_DELETE_CLAIMED),
		                       1, params, on_marked, d)
		        : kwg_pg_query(d->pg, kwg_sql_table_text(d->sql, KWG_SQL_MARK_CONSUMED), 2,
		                       params, on_marked, d);
	kwg_buf_done(&offsets);
	return r;
}

/* Queues the upsert of worker_job_running for every task job that decoded, one statement for
 * the batch (none when no job needs a record); 0 or a negative errno. Keys must be distinct in
 * one INSERT … ON CONFLICT: a repeated task run keeps its last row. */
static int upsert_running(struct kwg_dispatch *d)
{
	const char **keys = calloc(d->n_rows + 1, sizeof(*keys));
	char **values = calloc(d->n_rows + 1, sizeof(*values));
	struct kwg_buf kbuf, vbuf;
	const char *params[2];
	size_t n = 0;
	int r = keys && values ? 0 : -ENOMEM;

	kwg_buf_init(&kbuf, SIZE_MAX / 4);
	kwg_buf_init(&vbuf, SIZE_MAX / 4);
	for (size_t i = d->n_rows; r >= 0 && i-- > 0;) {
		struct kwg_job *job = d->rows[i].job;
		bool dup = false;
		if (!job || kwg_job_is_broken(job) || kwg_job_kind(job) != KWG_JOB_TASK)
			continue;
		for (size_t j = 0; j < n; j++)
			dup |= strcmp(keys[j], kwg_job_task_run_id(job)) == 0;
		if (dup)
			continue;
		keys[n] = kwg_job_task_run_id(job);
		values[n] = kwg_job_running_record(job, d->p->info->id,
		                                   d->gen2 ? d->routing_key : d->p->info->group);
		r = values[n] ? 0 : -ENOMEM;
		n++;
	}
	if (r >= 0)
		r = kwg_sql_text_array(&kbuf, keys, n);
	if (r >= 0)
		r = kwg_sql_text_array(&vbuf, (const char *const *)values, n);
	params[0] = kwg_buf_str(&kbuf);
	params[1] = kwg_buf_str(&vbuf);
	if (r >= 0 && n > 0)
		r = kwg_pg_query(d->pg, KWG_SQL_RUNNING_UPSERT, 2, params, on_upserted, d);
	for (size_t i = 0; values && i < n; i++)
		free(values[i]);
	free(values);
	free(keys);
	kwg_buf_done(&kbuf);
	kwg_buf_done(&vbuf);
	return r;
}

/* The second round: upsert, mark, COMMIT, sent together. If one of them cannot be queued (out
 * of memory), those already queued still answer: a ROLLBACK queued behind them ends the claim. */
static void finish_claim(struct kwg_dispatch *d)
{
	int r = upsert_running(d);

	if (r >= 0)
		r = mark_consumed(d);
	if (r >= 0)
		r = kwg_pg_query(d->pg, "COMMIT", 0, NULL, on_committed, d);
	if (r < 0)
		claim_failed(d, "worker_job_running", strerror(-r), true);
}

static void decode_rows(struct kwg_dispatch *d, PGresult *res)
{
	int n = PQntuples(res);

	d->rows = calloc((size_t)n, sizeof(*d->rows));
	if (!d->rows)
		return;
	d->n_rows = (size_t)n;
	for (int i = 0; i < n; i++) {
		struct kwg_err err = {{0}};
		struct claimed *c = &d->rows[i];
		int r;
		c->offset = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		r = kwg_job_decode(PQgetvalue(res, i, 0), (size_t)PQgetlength(res, i, 0), &c->job,
		                   &err);
		if (r < 0 && !c->job)
			kwg_log_error("WorkerJob at offset %lld cannot be read and is skipped: %s",
			              c->offset, r == -ENOMEM ? "out of memory" : err.msg);
		else if (r < 0)
			kwg_log_warning("WorkerJob at offset %lld (task run '%s') is malformed: %s",
			                c->offset, kwg_job_task_run_id(c->job), err.msg);
	}
}

/* The end of the first round. Whatever went wrong, the rows return to the queue: the ROLLBACK
 * (when the connection is still there) ends the transaction BEGIN opened. */
static void on_selected(void *userdata, PGresult *res, const char *error)
{
	struct kwg_dispatch *d = userdata;

	note_failure(d, "SELECT", res, PGRES_TUPLES_OK);
	if (!res || d->failed_step) {
		claim_failed(d, d->failed_step ? d->failed_step : "SELECT",
		             d->failed_step ? d->failed_msg : error, res != NULL);
		return;
	}
	if (PQntuples(res) == 0) {
		if (kwg_pg_query(d->pg, "COMMIT", 0, NULL, on_committed, d) < 0)
			claim_failed(d, "COMMIT", "out of memory", true);
		return;
	}
	kwg_log_latency("rows", NULL);
	decode_rows(d, res);
	if (!d->rows) {
		claim_failed(d, "decode", "out of memory", true);
		return;
	}
	finish_claim(d);
}

/* Column 2 of the first row: the transaction that wrote the records of these jobs; records of
 * this worker written after it belong to a later claim. */
static void set_last_xid(struct kwg_dispatch *d, PGresult *res)
{
	(void)snprintf(d->last_xid, sizeof(d->last_xid), "%llu",
	               strtoull(PQgetvalue(res, 0, 2), NULL, 10) & 0xffffffffull);
}

/* The answer of the one-statement claim: the statement ran in a transaction of its own, so the
 * rows are claimed (committed) as they arrive, or not at all. */
static void on_claimed(void *userdata, PGresult *res, const char *error)
{
	struct kwg_dispatch *d = userdata;
	int n;

	if (!res) {
		/* Lost on the way: the claim may have committed; never drop what it took. */
		kwg_log_warning("connection lost with a claim in flight; after reconnecting, the "
		                "jobs it may have claimed are looked for and run");
		d->lost = true;
		d->lost_pid = d->claim_pid;
		d->lost_ms = uv_now(d->loop);
		claim_done(d, CLAIM_ERROR);
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		claim_failed(d, "claim", kwg_pg_result_error(res), false);
		return;
	}
	n = PQntuples(res);
	kwg_log_latency("rows", NULL);
	if (n == 0) {
		claim_done(d, CLAIM_EMPTY);
		return;
	}
	decode_rows(d, res);
	if (!d->rows) {
		/* Claimed but not read: its records are there, and are taken up as after a lost
		 * answer. */
		kwg_log_error("out of memory reading %d claimed job(s); trying again", n);
		d->lost = true;
		d->lost_pid = 0;
		d->lost_ms = uv_now(d->loop);
		claim_done(d, CLAIM_ERROR);
		return;
	}
	set_last_xid(d, res);
	hand_on(d);
	claim_done(d, CLAIM_HIT);
}

/* Sends the one-statement claim. 0 or -ENOMEM. */
static int claim_one(struct kwg_dispatch *d, const char *limit)
{
	d->claim_pid = kwg_pg_backend_pid(d->pg);
	if (d->p->info->group) {
		const char *params[] = {d->p->info->group, limit, d->p->info->id};
		return kwg_pg_query(d->pg, kwg_sql_table_text(d->sql, KWG_SQL_CLAIM_ONE_GROUP), 3,
		                    params, on_claimed, d);
	}
	const char *params[] = {limit, d->runnerless, d->scripts,
	                        d->p->default_runner == KWG_RUNNER_PROCESS ? "true" : "false",
	                        d->p->info->id};
	return kwg_pg_query(d->pg, kwg_sql_table_text(d->sql, KWG_SQL_CLAIM_ONE_DEFAULT), 5, params,
	                    on_claimed, d);
}

static void on_begun(void *userdata, PGresult *res, const char *error)
{
	note_failure(userdata, "BEGIN", res, PGRES_COMMAND_OK);
}

static void on_registered(void *userdata, PGresult *res, const char *error)
{
	note_failure(userdata, "service_instance", res, PGRES_COMMAND_OK);
}

/* Queues the insert of this worker's first service_instance record, as the heartbeat writes it
 * (CREATED), unless the heartbeat's is there. 0 or -ENOMEM. */
static int register_instance(struct kwg_dispatch *d)
{
	char *record =
	    kwg_instance_record(d->p->info, KWG_SERVICE_CREATED, NULL, kwg_clock_now_us());
	const char *params[] = {d->p->info->id, record};
	int r;

	if (!record)
		return -ENOMEM;
	r = kwg_pg_query(d->pg, KWG_SQL_INSTANCE_REGISTER, 2, params, on_registered, d);
	free(record);
	return r;
}

/* The first round: BEGIN, the registration while there is none, and the claim's SELECT, sent
 * together. */
static void claim_begin(struct kwg_dispatch *d)
{
	unsigned slots = d->ops.free_slots(d->ctx);
	char limit[16];
	int r;

	(void)snprintf(limit, sizeof(limit), "%u", slots ? slots : 1);
	if (d->one_statement && d->registered) {
		if (claim_one(d, limit) < 0)
			claim_done(d, CLAIM_ERROR);
		return;
	}
	r = kwg_pg_query(d->pg, "BEGIN", 0, NULL, on_begun, d);
	if (r < 0) {
		claim_done(d, CLAIM_ERROR);
		return;
	}
	if (!d->registered && register_instance(d) < 0) {
		claim_failed(d, "service_instance", "out of memory", true);
		return;
	}
	if (d->gen2) {
		const char *params[] = {d->job_queue, d->routing_key, limit};
		r = kwg_pg_query(d->pg, kwg_sql_table_text(d->sql, KWG_SQL2_CLAIM), 3, params,
		                 on_selected, d);
	} else if (d->p->info->group) {
		const char *params[] = {d->p->info->group, limit};
		r = kwg_pg_query(d->pg, kwg_sql_table_text(d->sql, KWG_SQL_CLAIM_GROUP), 2, params,
		                 on_selected, d);
	} else {
		const char *params[] = {limit, d->runnerless, d->scripts,
		                        d->p->default_runner == KWG_RUNNER_PROCESS ? "true"
		                                                                   : "false"};
		r = kwg_pg_query(d->pg, kwg_sql_table_text(d->sql, KWG_SQL_CLAIM_DEFAULT), 4,
		                 params, on_selected, d);
	}
	if (r < 0)
		claim_failed(d, "SELECT", "out of memory", true);
}

static void claim(struct kwg_dispatch *d)
{
	if (!d->running || d->paused || d->claiming || d->limbo || d->lost ||
	    !kwg_pg_is_connected(d->pg))
		return;
	/* No free slot: wait for kwg_dispatch_wake. */
	if (d->ops.free_slots(d->ctx) == 0)
		return;
	uv_timer_stop(&d->timer);
	d->claiming = true;
	d->failed_step = NULL;
	kwg_log_latency("claim-sent", NULL);
	claim_begin(d);
}

static void limbo_clear(struct kwg_dispatch *d)
{
	for (size_t i = 0; i < d->n_limbo; i++)
		kwg_job_free(d->limbo[i].job);
	free(d->limbo);
	d->limbo = NULL;
	d->n_limbo = 0;
}

static void on_resolved(void *userdata, PGresult *res, const char *error)
{
	struct kwg_dispatch *d = userdata;
	size_t run = 0;

	d->claiming = false;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res)
			kwg_log_warning("checking an unconfirmed claim failed: %s; trying again",
			                kwg_pg_result_error(res));
		return; /* tried again on the next connection */
	}
	/* The claim committed iff this worker's worker_job_running records are there. */
	for (size_t i = 0; i < d->n_limbo; i++) {
		struct kwg_job *job = d->limbo[i].job;
		bool held = false;
		if (!job || kwg_job_kind(job) != KWG_JOB_TASK || kwg_job_is_broken(job))
			continue;
		for (int j = 0; j < PQntuples(res) && !held; j++)
			held = strcmp(PQgetvalue(res, j, 0), kwg_job_task_run_id(job)) == 0;
		if (!held)
			continue;
		d->limbo[i].job = NULL;
		d->claimed++;
		run++;
		d->ops.on_job(d->ctx, job);
	}
	kwg_log_notice("unconfirmed claim resolved: %s; %zu job(s) run",
	               run ? "it had committed" : "it had been rolled back (the rows are queued)",
	               run);
	limbo_clear(d);
	claim(d);
}

/* Asks which jobs of the unconfirmed claim this worker holds. Malformed and trigger jobs of such
 * a claim have no record to look at; if the claim committed they are lost to this worker and the
 * warning above says so. */
static void resolve_limbo(struct kwg_dispatch *d)
{
	const char **keys = calloc(d->n_limbo + 1, sizeof(*keys));
	struct kwg_buf arr;
	const char *params[2];
	size_t n = 0;
	int r;

	if (!keys)
		return;
	for (size_t i = 0; i < d->n_limbo; i++)
		if (d->limbo[i].job && kwg_job_kind(d->limbo[i].job) == KWG_JOB_TASK &&
		    !kwg_job_is_broken(d->limbo[i].job))
			keys[n++] = kwg_job_task_run_id(d->limbo[i].job);
	kwg_buf_init(&arr, SIZE_MAX / 4);
	r = kwg_sql_text_array(&arr, keys, n);
	params[0] = d->p->info->id;
	params[1] = kwg_buf_str(&arr);
	if (r >= 0) {
		d->claiming = true;
		r = kwg_pg_query(d->pg, d->gen2 ? KWG_SQL2_CLAIM_RESOLVE : KWG_SQL_CLAIM_RESOLVE, 2,
		                 params, on_resolved, d);
		if (r < 0)
			d->claiming = false;
	}
	kwg_buf_done(&arr);
	free(keys);
}

static void resolve_lost(struct kwg_dispatch *d);

static void on_lost_timer(uv_timer_t *t)
{
	resolve_lost(t->data);
}

/* The records of the lost claim: each is the claimed WorkerTask plus this worker's instance
 * (§5.8), so the job decodes from it as from its queue row. */
static void on_adopted(void *userdata, PGresult *res, const char *error)
{
	struct kwg_dispatch *d = userdata;
	int n;

	d->claiming = false;
	if (!res)
		return; /* tried again on the next connection */
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		kwg_log_warning("looking for the jobs of a claim whose answer was lost failed: %s; "
		                "trying again in %d ms",
		                kwg_pg_result_error(res), ERROR_BACKOFF_MS);
		uv_timer_start(&d->timer, on_lost_timer, ERROR_BACKOFF_MS, 0);
		return;
	}
	n = PQntuples(res);
	if (n > 0) {
		decode_rows(d, res);
		if (!d->rows) {
			uv_timer_start(&d->timer, on_lost_timer, ERROR_BACKOFF_MS, 0);
			return;
		}
		/* The lost claim is now the last one with rows. */
		set_last_xid(d, res);
	}
	kwg_log_notice("claim whose answer was lost: %s; %d job(s) taken up",
	               n ? "it had committed" : "it had not committed (the rows are queued)", n);
	d->lost = false;
	hand_on(d);
	claim(d);
}

/* Still running in its old session: the claim may yet commit; look again soon. */
static void on_lost_busy(void *userdata, PGresult *res, const char *error)
{
	struct kwg_dispatch *d = userdata;
	const char *params[2] = {d->p->info->id, d->last_xid[0] ? d->last_xid : NULL};

	if (!res) {
		d->claiming = false;
		return;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) > 0) {
		d->claiming = false;
		uv_timer_start(&d->timer, on_lost_timer, LOST_RECHECK_MS, 0);
		return;
	}
	if (kwg_pg_query(d->pg, KWG_SQL_CLAIM_ADOPT, 2, params, on_adopted, d) < 0) {
		d->claiming = false;
		uv_timer_start(&d->timer, on_lost_timer, ERROR_BACKOFF_MS, 0);
	}
}

/* After a claim whose answer was lost: once its old session has ended it (committed or not),
 * the records written since the last claim that answered with rows are the lost claim's; their
 * jobs are taken up. */
static void resolve_lost(struct kwg_dispatch *d)
{
	char pid[16];
	bool cancel = uv_now(d->loop) - d->lost_ms >= LOST_CANCEL_MS;
	const char *params[2] = {pid, cancel ? "true" : "false"};

	if (d->claiming || !kwg_pg_is_connected(d->pg))
		return;
	(void)snprintf(pid, sizeof(pid), "%d", d->lost_pid);
	d->claiming = true;
	if (kwg_pg_query(d->pg, KWG_SQL_CLAIM_BUSY, 2, params, on_lost_busy, d) < 0) {
		d->claiming = false;
		uv_timer_start(&d->timer, on_lost_timer, ERROR_BACKOFF_MS, 0);
	}
}

static void on_pg_state(void *userdata, bool connected)
{
	struct kwg_dispatch *d = userdata;

	if (!connected)
		return;
	if (d->limbo && !d->claiming)
		resolve_limbo(d);
	else if (d->lost)
		resolve_lost(d);
	else
		claim(d);
}

static int text_array(char *out, size_t size, const char *const *list)
{
	struct kwg_buf b;
	size_t n = 0;
	int r;

	while (list[n])
		n++;
	kwg_buf_init(&b, size - 1);
	r = kwg_sql_text_array(&b, list, n);
	if (r >= 0)
		memcpy(out, kwg_buf_str(&b), b.len + 1);
	kwg_buf_done(&b);
	return r;
}

int kwg_dispatch_new(const struct kwg_transport_params *p, const struct kwg_sql_table *sql,
                     const struct kwg_dispatch_ops *ops, void *ctx, struct kwg_dispatch **ret)
{
	uv_loop_t *loop = p->loop;
	struct kwg_dispatch *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->p = p;
	d->sql = sql;
	d->ops = *ops;
	d->ctx = ctx;
	d->one_statement = true;
	r = text_array(d->runnerless, sizeof(d->runnerless), kwg_task_types_runnerless);
	if (r >= 0)
		r = text_array(d->scripts, sizeof(d->scripts), kwg_task_types_script);
	if (r >= 0)
		r = kwg_pg_new(p->loop, p->url, "claim", on_pg_state, d, &d->pg);
	if (r >= 0)
		kwg_pg_set_pipeline(d->pg);
	if (r < 0) {
		free(d);
		return r;
	}
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	*ret = d;
	return 0;
}

void kwg_dispatch_connect(struct kwg_dispatch *d)
{
	kwg_pg_start(d->pg);
}

int kwg_dispatch_set_gen2(struct kwg_dispatch *d, const char *job_queue, const char *routing_key)
{
	if (strlen(job_queue) >= sizeof(d->job_queue) ||
	    strlen(routing_key) >= sizeof(d->routing_key))
		return -ENAMETOOLONG;
	strcpy(d->job_queue, job_queue);
	strcpy(d->routing_key, routing_key);
	d->gen2 = true;
	d->one_statement = false;
	return 0;
}

void kwg_dispatch_start(struct kwg_dispatch *d)
{
	d->running = true;
	d->last_hit_ms = uv_now(d->loop);
	kwg_pg_start(d->pg);
	claim(d);
}

void kwg_dispatch_wake(struct kwg_dispatch *d)
{
	/* A claim already under way may have missed the new rows: the next one starts at once. */
	if (d->claiming)
		d->wake_pending = true;
	claim(d);
}

void kwg_dispatch_pause(struct kwg_dispatch *d, bool paused)
{
	d->paused = paused;
	if (paused)
		uv_timer_stop(&d->timer);
	else
		claim(d);
}

unsigned long long kwg_dispatch_claimed(const struct kwg_dispatch *d)
{
	return d->claimed;
}

void kwg_dispatch_stop(struct kwg_dispatch *d)
{
	d->running = false;
	uv_timer_stop(&d->timer);
}

bool kwg_dispatch_idle(const struct kwg_dispatch *d)
{
	return !d->claiming && !d->limbo && !d->lost;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void kwg_dispatch_close(struct kwg_dispatch *d)
{
	if (!d)
		return;
	d->running = false;
	kwg_pg_close(d->pg, NULL, NULL);
	rows_clear(d);
	limbo_clear(d);
	uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}
