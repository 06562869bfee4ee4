/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "route"
#include "transport/pg/route.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "common/id.h"
#include "common/log.h"
#include "protocol/log_entry.h"
#include "protocol/queue.h"
#include "protocol/route.h"
#include "protocol/sql.h"
#include "protocol/sql2.h"
#include "protocol/sql_table.h"
#include "transport/pg/pg.h"

#define BATCH 100
#define POLL_MS 500
/* How often to look again whether routing is installed (and at first). */
#define CHECK_MS 10000
#define LOG_THREAD "kwg-route"
/* How often the jobs waiting per group are read for /metrics. */
#define WAITING_MS 5000
#define WAITING_MAX 100

struct waiting {
	char group[KWG_GROUP_KEY_MAX + 1]; /* "" the default group */
	long long jobs, oldest_s;
};

struct held {
	long long offset;
	struct kwg_job *job; /* NULL: the row cannot be read at all */
	struct kwg_route_decision d;
};

struct kwg_route {
	uv_loop_t *loop;
	const struct kwg_transport_params *p;
	const struct kwg_sql_table *sql; /* the statements for the queue table: borrowed */
	struct kwg_pg *pg;
	uv_timer_t timer;
	bool running, busy, installed, checked, warned;
	uint64_t last_check_ms;
	struct held *rows;
	size_t n_rows;
	unsigned long long rerouted, ended;
	uint64_t last_waiting_ms;
	bool waiting_read;
	struct waiting waiting[WAITING_MAX];
	size_t n_waiting;
	/* Kestra 2.x: the worker_job_event queue's name; no holding groups there, only the check
	 * that the routing trigger is in place (a Kestra migration that recreates queues drops
	 * it: kestra-2x-queue.md §4.6 #3). */
	bool gen2;
	char job_queue[KWG_QUEUE_NAME_MAX + 1];
};

static void tick(struct kwg_route *rt);

static void on_timer(uv_timer_t *t)
{
	tick(t->data);
}

static void rows_clear(struct kwg_route *rt)
{
	for (size_t i = 0; i < rt->n_rows; i++)
		kwg_job_free(rt->rows[i].job);
	free(rt->rows);
	rt->rows = NULL;
	rt->n_rows = 0;
}

static void done(struct kwg_route *rt, uint64_t delay_ms)
{
	rt->busy = false;
	rows_clear(rt);
	if (rt->running)
		uv_timer_start(&rt->timer, on_timer, delay_ms, 0);
}

static void on_rolled_back(void *userdata, PGresult *res, const char *error)
{
	done(userdata, POLL_MS * 2);
}

static void failed(struct kwg_route *rt, const char *step, PGresult *res, const char *error)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	/* 42883: kwg.job_worker_group is gone (routing uninstalled meanwhile). */
	if (state && strcmp(state, "42883") == 0)
		rt->installed = false;
	else if (rt->running)
		kwg_log_warning("resolving routed jobs failed at %s: %s", step,
		                res ? kwg_pg_result_error(res) : error);
	if (!res || kwg_pg_query(rt->pg, "ROLLBACK", 0, NULL, on_rolled_back, rt) < 0)
		done(rt, POLL_MS * 2);
}

static void on_committed(void *userdata, PGresult *res, const char *error)
{
	struct kwg_route *rt = userdata;
	size_t n = rt->n_rows;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		failed(rt, "COMMIT", res, error);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct held *h = &rt->rows[i];
		if (h->d.action == KWG_ROUTE_TO_GROUP) {
			rt->rerouted++;
			kwg_log_debug("task run '%s' routed to group '%s'",
			              kwg_job_task_run_id(h->job), h->d.group);
		} else if (h->job) {
			rt->ended++;
			kwg_log_warning("task run '%s' %s: %s", kwg_job_task_run_id(h->job),
			                h->d.state == KWG_STATE_CANCELLED ? "cancelled" : "failed",
			                h->d.message);
		}
	}
	done(rt, n == BATCH ? 0 : POLL_MS);
}

static void commit(struct kwg_route *rt)
{
	if (kwg_pg_query(rt->pg, "COMMIT", 0, NULL, on_committed, rt) < 0)
		failed(rt, "COMMIT", NULL, "out of memory");
}

static void on_consumed(void *userdata, PGresult *res, const char *error)
{
	struct kwg_route *rt = userdata;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		failed(rt, "mark consumed", res, error);
		return;
	}
	commit(rt);
}

static void consume(struct kwg_route *rt)
{
	struct kwg_buf offsets;
	const char *params[1];
	size_t n = 0;
	int r;

	kwg_buf_init(&offsets, 1u << 20);
	r = kwg_buf_putc(&offsets, '{');
	for (size_t i = 0; r >= 0 && i < rt->n_rows; i++)
		if (rt->rows[i].d.action == KWG_ROUTE_END)
			r = kwg_buf_printf(&offsets, "%s%lld", n++ ? "," : "", rt->rows[i].offset);
	if (r >= 0)
		r = kwg_buf_putc(&offsets, '}');
	params[0] = kwg_buf_str(&offsets);
	if (r >= 0 && n == 0)
		commit(rt);
	else if (r >= 0)
		r = kwg_pg_query(rt->pg, kwg_sql_table_text(rt->sql, KWG_SQL_ROUTE_CONSUME), 1,
		                 params, on_consumed, rt);
	kwg_buf_done(&offsets);
	if (r < 0)
		failed(rt, "mark consumed", NULL, strerror(-r));
}

static void on_emitted(void *userdata, PGresult *res, const char *error)
{
	struct kwg_route *rt = userdata;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		failed(rt, "results", res, error);
		return;
	}
	consume(rt);
}

/* The ERROR LogEntry and the WorkerTaskResult of one ended job, appended to the arrays. */
static int end_messages(struct kwg_route *rt, struct held *h, const char **types, const char **keys,
                        char **values, char (*ids)[KWG_ID_LEN], size_t *n)
{
	struct kwg_taskrun_ref ref;
	struct kwg_buf clean, entry;
	int64_t now = kwg_clock_now_us();
	int r;

	kwg_job_ref(h->job, &ref);
	kwg_buf_init(&clean, sizeof(h->d.message) * 3);
	kwg_buf_init(&entry, 64u << 10);
	r = kwg_utf8_sanitize(&clean, h->d.message, strlen(h->d.message));
	if (r >= 0)
		r = kwg_log_entry_encode(&entry, &ref, now, KWG_LEVEL_ERROR, LOG_THREAD,
		                         kwg_buf_str(&clean), clean.len);
	if (r >= 0) {
		kwg_id_friendly(ids[*n]);
		types[*n] = kwg_queue_type_label(KWG_QUEUE_LOG_ENTRY);
		keys[*n] = ids[*n];
		values[*n] = strdup(kwg_buf_str(&entry));
		r = values[*n] ? 0 : -ENOMEM;
		(*n)++;
	}
	if (r >= 0) {
		types[*n] = kwg_queue_type_label(KWG_QUEUE_WORKER_TASK_RESULT);
		keys[*n] = kwg_job_task_run_id(h->job);
		values[*n] = kwg_job_result_fail(h->job, h->d.state, rt->p->info->id, now + 1000);
		r = values[*n] ? 0 : -ENOMEM;
		(*n)++;
	}
	kwg_buf_done(&clean);
	kwg_buf_done(&entry);
	return r;
}

static void emit_results(struct kwg_route *rt)
{
	size_t cap = 2 * rt->n_rows + 1, n = 0;
	const char **types = calloc(cap, sizeof(*types)), **keys = calloc(cap, sizeof(*keys));
	char **values = calloc(cap, sizeof(*values));
	char(*ids)[KWG_ID_LEN] = calloc(cap, KWG_ID_LEN);
	struct kwg_buf tb, kb, vb;
	const char *params[3];
	int r = types && keys && values && ids ? 0 : -ENOMEM;

	kwg_buf_init(&tb, SIZE_MAX / 4);
	kwg_buf_init(&kb, SIZE_MAX / 4);
	kwg_buf_init(&vb, SIZE_MAX / 4);
	for (size_t i = 0; r >= 0 && i < rt->n_rows; i++) {
		struct held *h = &rt->rows[i];
		if (h->d.action == KWG_ROUTE_END && h->job)
			r = end_messages(rt, h, types, keys, values, ids, &n);
	}
	if (r >= 0)
		r = kwg_sql_text_array(&tb, types, n);
	if (r >= 0)
		r = kwg_sql_text_array(&kb, keys, n);
	if (r >= 0)
		r = kwg_sql_text_array(&vb, (const char *const *)values, n);
	params[0] = kwg_buf_str(&tb);
	params[1] = kwg_buf_str(&kb);
	params[2] = kwg_buf_str(&vb);
	if (r >= 0 && n == 0)
		consume(rt);
	else if (r >= 0)
		r = kwg_pg_query(rt->pg, kwg_sql_table_text(rt->sql, KWG_SQL_EMIT), 3, params,
		                 on_emitted, rt);
	for (size_t i = 0; values && i < n; i++)
		free(values[i]);
	free(values);
	free(types);
	free(keys);
	free(ids);
	kwg_buf_done(&tb);
	kwg_buf_done(&kb);
	kwg_buf_done(&vb);
	if (r < 0)
		failed(rt, "results", NULL, strerror(-r));
}

static void on_set(void *userdata, PGresult *res, const char *error)
{
	struct kwg_route *rt = userdata;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		failed(rt, "re-route", res, error);
		return;
	}
	/* A rendered group with no live worker, and fallback FAIL or CANCEL: end it now. */
	for (int j = 0; j < PQntuples(res); j++) {
		long long off = strtoll(PQgetvalue(res, j, 0), NULL, 10);
		if (strcmp(PQgetvalue(res, j, 1), KWG_ROUTE_HOLD_FALLBACK) != 0)
			continue;
		for (size_t i = 0; i < rt->n_rows; i++)
			if (rt->rows[i].offset == off)
				kwg_route_fallback_end(&rt->rows[i].d);
	}
	emit_results(rt);
}

static void reroute(struct kwg_route *rt)
{
	struct kwg_buf ob, gb, sb;
	const char **groups = calloc(rt->n_rows + 1, sizeof(*groups));
	const char *params[3];
	size_t n = 0;
	int r = groups ? 0 : -ENOMEM;

	kwg_buf_init(&ob, 1u << 20);
	kwg_buf_init(&gb, 1u << 20);
	kwg_buf_init(&sb, 1u << 20);
	if (r >= 0)
		r = kwg_buf_putc(&ob, '{');
	if (r >= 0)
		r = kwg_buf_putc(&sb, '{');
	for (size_t i = 0; r >= 0 && i < rt->n_rows; i++) {
		struct held *h = &rt->rows[i];
		if (h->d.action != KWG_ROUTE_TO_GROUP)
			continue;
		r = kwg_buf_printf(&ob, "%s%lld", n ? "," : "", h->offset);
		if (r >= 0)
			r = kwg_buf_printf(&sb, "%s%s", n ? "," : "", h->d.strict ? "t" : "f");
		groups[n++] = h->d.group;
	}
	if (r >= 0)
		r = kwg_buf_putc(&ob, '}');
	if (r >= 0)
		r = kwg_buf_putc(&sb, '}');
	if (r >= 0)
		r = kwg_sql_text_array(&gb, groups, n);
	params[0] = kwg_buf_str(&ob);
	params[1] = kwg_buf_str(&gb);
	params[2] = kwg_buf_str(&sb);
	if (r >= 0 && n == 0)
		emit_results(rt);
	else if (r >= 0)
		r = kwg_pg_query(rt->pg, kwg_sql_table_text(rt->sql, KWG_SQL_ROUTE_SET), 3, params,
		                 on_set, rt);
	free(groups);
	kwg_buf_done(&ob);
	kwg_buf_done(&gb);
	kwg_buf_done(&sb);
	if (r < 0)
		failed(rt, "re-route", NULL, strerror(-r));
}

static void on_held(void *userdata, PGresult *res, const char *error)
{
	struct kwg_route *rt = userdata;
	int n;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		failed(rt, "SELECT", res, error);
		return;
	}
	n = PQntuples(res);
	if (n == 0) {
		commit(rt);
		return;
	}
	rt->rows = calloc((size_t)n, sizeof(*rt->rows));
	if (!rt->rows) {
		failed(rt, "decode", NULL, "out of memory");
		return;
	}
	rt->n_rows = (size_t)n;
	for (int i = 0; i < n; i++) {
		struct held *h = &rt->rows[i];
		struct kwg_err err = {{0}};
		int r;
		h->offset = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		r = kwg_job_decode(PQgetvalue(res, i, 1), (size_t)PQgetlength(res, i, 1), &h->job,
		                   &err);
		if (r == -ENOMEM) {
			failed(rt, "decode", NULL, "out of memory");
			return;
		}
		if (!h->job) {
			/* As the claim does: nothing to answer to, so said loudly and consumed. */
			kwg_log_error(
			    "routed WorkerJob at offset %lld cannot be read and is skipped: %s",
			    h->offset, err.msg);
			h->d.action = KWG_ROUTE_END;
			continue;
		}
		r = kwg_route_decide(h->job, PQgetvalue(res, i, 2),
		                     PQgetisnull(res, i, 3) ? NULL : PQgetvalue(res, i, 3),
		                     kwg_clock_now_us(), &h->d);
		if (r < 0) {
			failed(rt, "decide", NULL, strerror(-r));
			return;
		}
	}
	reroute(rt);
}

static void on_begun(void *userdata, PGresult *res, const char *error)
{
	struct kwg_route *rt = userdata;
	const char *params[] = {"100"};

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		failed(rt, "BEGIN", res, error);
		return;
	}
	if (kwg_pg_query(rt->pg, kwg_sql_table_text(rt->sql, KWG_SQL_ROUTE_HELD), 1, params,
	                 on_held, rt) < 0)
		failed(rt, "SELECT", NULL, "out of memory");
}

static void on_checked(void *userdata, PGresult *res, const char *error)
{
	struct kwg_route *rt = userdata;

	rt->busy = false;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (res && rt->running)
			kwg_log_warning("cannot tell whether routing is installed: %s",
			                kwg_pg_result_error(res));
		if (rt->running)
			uv_timer_start(&rt->timer, on_timer, CHECK_MS, 0);
		return;
	}
	rt->checked = true;
	rt->last_check_ms = uv_now(rt->loop);
	if (rt->gen2) {
		bool was = rt->installed;
		rt->installed = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
		/* Loud, at every check while it lasts: tagged jobs go to Kestra's own workers. */
		if (!rt->installed)
			kwg_log_error(
			    "kwg routing is NOT installed on this Kestra 2.x database's queue "
			    "table %s (never installed, or a Kestra migration recreated the "
			    "table): no job reaches group '%s', and tasks tagged for it run on "
			    "Kestra's own workers; run `kwg routing install`",
			    kwg_sql_table_name(rt->sql),
			    rt->p->info->group ? rt->p->info->group : "");
		else if (rt->warned && !was)
			kwg_log_notice("kwg routing is installed again");
		rt->warned = !rt->installed;
		tick(rt);
		return;
	}
	rt->installed = strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	if (!rt->installed && rt->p->info->group && !rt->warned) {
		rt->warned = true;
		kwg_log_warning(
		    "worker group '%s': kwg routing is not installed in this database; on "
		    "open-source Kestra no job ever reaches a group (run `kwg routing "
		    "install`; ignore this with Kestra Enterprise or a patched executor)",
		    rt->p->info->group);
	}
	tick(rt);
}

static void on_waiting(void *userdata, PGresult *res, const char *error)
{
	struct kwg_route *rt = userdata;

	rt->busy = false;
	rt->waiting_read = true;
	rt->last_waiting_ms = uv_now(rt->loop);
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
		rt->n_waiting = 0;
		for (int i = 0; i < PQntuples(res) && rt->n_waiting < WAITING_MAX; i++) {
			struct waiting *w = &rt->waiting[rt->n_waiting++];
			(void)snprintf(w->group, sizeof(w->group), "%s", PQgetvalue(res, i, 0));
			w->jobs = strtoll(PQgetvalue(res, i, 1), NULL, 10);
			w->oldest_s = rt->gen2 ? -1 : strtoll(PQgetvalue(res, i, 2), NULL, 10);
		}
	} else if (res && rt->running) {
		kwg_log_warning("reading the jobs waiting per group failed: %s",
		                kwg_pg_result_error(res));
	}
	tick(rt);
}

static void tick(struct kwg_route *rt)
{
	if (!rt->running || rt->busy || !kwg_pg_is_connected(rt->pg))
		return;
	uv_timer_stop(&rt->timer);
	rt->busy = true;
	if (!rt->waiting_read || uv_now(rt->loop) - rt->last_waiting_ms >= WAITING_MS) {
		const char *params[] = {rt->job_queue};
		if ((rt->gen2
		         ? kwg_pg_query(rt->pg,
		                        kwg_sql_table_text(rt->sql, KWG_SQL2_ROUTING_WAITING), 1,
		                        params, on_waiting, rt)
		         : kwg_pg_query(rt->pg, kwg_sql_table_text(rt->sql, KWG_SQL_ROUTE_WAITING),
		                        0, NULL, on_waiting, rt)) < 0)
			done(rt, POLL_MS);
		return;
	}
	if (!rt->checked || uv_now(rt->loop) - rt->last_check_ms >= CHECK_MS) {
		if (kwg_pg_query(rt->pg,
		                 rt->gen2 ? KWG_SQL2_ROUTING_INSTALLED : KWG_SQL_ROUTING_INSTALLED,
		                 1, (const char *const[]){kwg_sql_table_quoted(rt->sql)},
		                 on_checked, rt) < 0)
			done(rt, CHECK_MS);
		return;
	}
	if (!rt->installed || rt->gen2) {
		done(rt, WAITING_MS);
		return;
	}
	if (kwg_pg_query(rt->pg, "BEGIN", 0, NULL, on_begun, rt) < 0)
		done(rt, POLL_MS);
}

static void on_pg_state(void *userdata, bool connected)
{
	if (connected)
		tick(userdata);
}

int kwg_route_new(const struct kwg_transport_params *p, const struct kwg_sql_table *sql,
                  struct kwg_route **ret)
{
	uv_loop_t *loop = p->loop;
	struct kwg_route *rt = calloc(1, sizeof(*rt));
	int r;

	if (!rt)
		return -ENOMEM;
	rt->loop = loop;
	rt->p = p;
	rt->sql = sql;
	r = kwg_pg_new(p->loop, p->url, "route", on_pg_state, rt, &rt->pg);
	if (r < 0) {
		free(rt);
		return r;
	}
	uv_timer_init(loop, &rt->timer);
	rt->timer.data = rt;
	*ret = rt;
	return 0;
}

int kwg_route_set_gen2(struct kwg_route *rt, const char *job_queue)
{
	if (strlen(job_queue) >= sizeof(rt->job_queue))
		return -ENAMETOOLONG;
	strcpy(rt->job_queue, job_queue);
	rt->gen2 = true;
	return 0;
}

void kwg_route_start(struct kwg_route *rt)
{
	rt->running = true;
	kwg_pg_start(rt->pg);
	tick(rt);
}

void kwg_route_stop(struct kwg_route *rt)
{
	if (!rt)
		return;
	rt->running = false;
	uv_timer_stop(&rt->timer);
}

unsigned long long kwg_route_rerouted(const struct kwg_route *rt)
{
	return rt ? rt->rerouted : 0;
}

unsigned long long kwg_route_ended(const struct kwg_route *rt)
{
	return rt ? rt->ended : 0;
}

/* A group key in a Prometheus label: holding groups have ':', which labels allow; '"' and '\\'
 * cannot occur in keys the routing writes, but other writers may: escaped. */
static int label(struct kwg_buf *out, const char *s)
{
	int r = 0;

	for (; r >= 0 && *s; s++)
		r = *s == '"' || *s == '\\' ? kwg_buf_printf(out, "\\%c", *s)
		    : *s == '\n'            ? kwg_buf_puts(out, "\\n")
		                            : kwg_buf_putc(out, *s);
	return r;
}

int kwg_route_metrics(const struct kwg_route *rt, struct kwg_buf *out)
{
	int r =
	    kwg_buf_puts(out, "# HELP kwg_jobs_waiting WorkerJob rows waiting, per group (\"\" the "
	                      "default group; kwg:* held by kwg routing).\n"
	                      "# TYPE kwg_jobs_waiting gauge\n");

	for (size_t i = 0; r >= 0 && rt && i < rt->n_waiting; i++) {
		r = kwg_buf_puts(out, "kwg_jobs_waiting{group=\"");
		if (r >= 0)
			r = label(out, rt->waiting[i].group);
		if (r >= 0)
			r = kwg_buf_printf(out, "\"} %lld\n", rt->waiting[i].jobs);
	}
	if (r >= 0)
		r = kwg_buf_puts(out,
		                 "# HELP kwg_jobs_oldest_wait_seconds How long the oldest waiting "
		                 "WorkerJob of a group has waited.\n"
		                 "# TYPE kwg_jobs_oldest_wait_seconds gauge\n");
	for (size_t i = 0; r >= 0 && rt && i < rt->n_waiting; i++) {
		if (rt->waiting[i].oldest_s < 0)
			continue;
		r = kwg_buf_puts(out, "kwg_jobs_oldest_wait_seconds{group=\"");
		if (r >= 0)
			r = label(out, rt->waiting[i].group);
		if (r >= 0)
			r = kwg_buf_printf(out, "\"} %lld\n", rt->waiting[i].oldest_s);
	}
	return r;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void kwg_route_close(struct kwg_route *rt)
{
	if (!rt)
		return;
	rt->running = false;
	kwg_pg_close(rt->pg, NULL, NULL);
	rows_clear(rt);
	uv_close((uv_handle_t *)&rt->timer, on_timer_closed);
}
