/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "submit"
#include "transport/pg/submit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/kestra_schema.h"
#include "protocol/queue.h"
#include "protocol/sql.h"
#include "protocol/sql2.h"
#include "protocol/sql_table.h"
#include "protocol/state.h"
#include "protocol/task_def.h"
#include "transport/pg/pg.h"

#define FOLLOW_INTERVAL_MS 20

struct kwg_submit {
	uv_loop_t *loop;
	const struct kwg_submit_opts *opts;
	struct kwg_sql_table *sql; /* the statements for the queue table */
	struct kwg_pg *pg;
	uv_timer_t poll, deadline;
	long long last_offset;
	bool inserted, finished;
	int exit_code;
	unsigned failures;
	/* Kestra 2.x: the WorkerJobEvent, the routing key asked for, the queue names. */
	bool gen2;
	char *event;
	char routing_key[KWG_QUEUE_NAME_MAX + 1];
	char names[KWG_QUEUE_TYPE__COUNT][KWG_QUEUE_NAME_MAX + 1];
};

static void finish(struct kwg_submit *s, int code)
{
	if (s->finished)
		return;
	s->finished = true;
	s->exit_code = code;
	kwg_pg_close(s->pg, NULL, NULL);
	uv_close((uv_handle_t *)&s->poll, NULL);
	uv_close((uv_handle_t *)&s->deadline, NULL);
}

static int exit_code_of(enum kwg_state st)
{
	return st == KWG_STATE_SUCCESS ? 0 : st == KWG_STATE_WARNING ? 2 : 1;
}

static void on_followed(void *userdata, PGresult *res, const char *error)
{
	struct kwg_submit *s = userdata;
	int n, r;

	if (s->finished)
		return;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "kwg submit: reading results failed: %s\n",
		        res ? kwg_pg_result_error(res) : error);
		/* The poll timer tries again; the deadline bounds it. */
		return;
	}
	n = PQntuples(res);
	for (int i = 0; i < n && !s->finished; i++) {
		const char *type = PQgetvalue(res, i, 1), *value = PQgetvalue(res, i, 2);
		/* 2.x queue names, read as the 1.x labels they stand for. */
		for (int t = 0; s->gen2 && t < KWG_QUEUE_TYPE__COUNT; t++)
			if (strcmp(type, s->names[t]) == 0 && *kwg_queue_type_label(t))
				type = kwg_queue_type_label(t);
		struct kwg_followed f;
		s->last_offset = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		r = kwg_task_def_follow(type, value, s->opts->task_run_id, &f);
		if (r > 0)
			continue; /* another task's line */
		if (r < 0) {
			fprintf(stderr, "kwg submit: unreadable %s at offset %lld\n", type,
			        s->last_offset);
			continue;
		}
		if (s->opts->json)
			printf("{\"type\":\"%s\",\"value\":%s}\n", type, value);
		else
			printf("%s\n", f.text);
		fflush(stdout);
		free(f.text);
		if (f.is_result && kwg_state_is_terminated(f.state))
			finish(s, exit_code_of(f.state));
	}
}

static void on_poll(uv_timer_t *t)
{
	struct kwg_submit *s = t->data;
	char offset[32];
	const char *params[2] = {offset, s->opts->task_run_id};

	if (s->finished || kwg_pg_pending(s->pg) > 0)
		return;
	(void)snprintf(offset, sizeof(offset), "%lld", s->last_offset);
	if (s->gen2) {
		const char *p2[] = {
		    offset, s->opts->task_run_id, s->names[KWG_QUEUE_WORKER_TASK_RESULT],
		    s->names[KWG_QUEUE_LOG_ENTRY], s->names[KWG_QUEUE_METRIC_ENTRY]};
		if (kwg_pg_query(s->pg, kwg_sql_table_text(s->sql, KWG_SQL2_FOLLOW), 5, p2,
		                 on_followed, s) < 0)
			finish(s, 1);
		return;
	}
	if (kwg_pg_query(s->pg, kwg_sql_table_text(s->sql, KWG_SQL_FOLLOW), 2, params, on_followed,
	                 s) < 0)
		finish(s, 1);
}

static void on_inserted(void *userdata, PGresult *res, const char *error)
{
	struct kwg_submit *s = userdata;

	if (s->finished)
		return;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		fprintf(stderr, "kwg submit: inserting the WorkerTask failed: %s\n",
		        res ? kwg_pg_result_error(res) : error);
		finish(s, 3);
		return;
	}
	s->inserted = true;
	s->last_offset = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	/* Without --group the row is written as open-source Kestra writes it; kwg routing's
	 * trigger may have set its group from the task's workerGroup (2.x: its routing key, from
	 * workerSelector.tags). */
	if (s->gen2)
		fprintf(
		    stderr, "kwg submit: task run %s queued at offset %lld with routing key %s%s\n",
		    s->opts->task_run_id, s->last_offset,
		    PQgetisnull(res, 0, 1) ? "NULL (Kestra's default queue)"
		                           : PQgetvalue(res, 0, 1),
		    !s->opts->group && !PQgetisnull(res, 0, 1) ? " (routed by kwg routing)" : "");
	else if (!s->opts->group && !PQgetisnull(res, 0, 1))
		fprintf(stderr,
		        "kwg submit: task run %s queued at offset %lld for group %s (routed by kwg "
		        "routing)\n",
		        s->opts->task_run_id, s->last_offset, PQgetvalue(res, 0, 1));
	else
		fprintf(stderr, "kwg submit: task run %s queued at offset %lld for %s\n",
		        s->opts->task_run_id, s->last_offset,
		        s->opts->group ? s->opts->group : "the default group");
	uv_timer_start(&s->poll, on_poll, 0, FOLLOW_INTERVAL_MS);
}

static void on_deadline(uv_timer_t *t)
{
	struct kwg_submit *s = t->data;

	fprintf(stderr, "kwg submit: no final result for task run %s after %llu ms%s\n",
	        s->opts->task_run_id, (unsigned long long)s->opts->timeout_ms,
	        s->inserted ? " (is a worker of that group running?)" : " (database unreachable)");
	finish(s, 124);
}

/* The Kestra generation decides the row's shape: then the insert. */
static void on_schema(void *userdata, PGresult *res, const char *error)
{
	struct kwg_submit *s = userdata;
	enum kwg_kestra_gen gen = KWG_KESTRA_GEN1;
	const char *params[4];
	char msg[512];
	int r;

	if (s->finished)
		return;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		fprintf(stderr, "kwg submit: cannot tell which Kestra made the database: %s\n",
		        res ? kwg_pg_result_error(res) : error);
		finish(s, 3);
		return;
	}
	if (kwg_kestra_schema_detect(
	        kwg_sql_table_name(s->sql), PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
	        PQgetvalue(res, 0, 1), &gen, msg, sizeof(msg)) == KWG_KESTRA_SCHEMA_REFUSED) {
		fprintf(stderr, "kwg submit: %s\n", msg);
		finish(s, 3);
		return;
	}
	if (gen != KWG_KESTRA_GEN2) {
		params[0] = s->opts->task_run_id;
		params[1] = s->opts->worker_task;
		params[2] = s->opts->group;
		r = kwg_pg_query(s->pg, kwg_sql_table_text(s->sql, KWG_SQL_SUBMIT), 3, params,
		                 on_inserted, s);
	} else {
		s->gen2 = true;
		r = kwg_task_def_to_gen2(s->opts->worker_task, &s->event);
		for (int t = 0; r >= 0 && t < KWG_QUEUE_TYPE__COUNT; t++)
			r = kwg_queue_name2((enum kwg_queue_type)t, s->opts->queue_prefix,
			                    s->names[t], sizeof(s->names[t]));
		(void)snprintf(s->routing_key, sizeof(s->routing_key), "kwg:%s",
		               s->opts->group ? s->opts->group : "");
		/* KESTRA 2.x: WorkerJobEvent.key() is the worker queue id, "" for the default. */
		params[0] = s->names[KWG_QUEUE_WORKER_JOB];
		params[1] = s->opts->group ? s->routing_key : NULL;
		params[2] = s->opts->group ? s->routing_key : "";
		params[3] = s->event;
		if (r >= 0)
			r = kwg_pg_query(s->pg, kwg_sql_table_text(s->sql, KWG_SQL2_SUBMIT), 4,
			                 params, on_inserted, s);
	}
	if (r < 0)
		finish(s, 3);
}

int kwg_submit_new(uv_loop_t *loop, const struct kwg_submit_opts *opts, struct kwg_submit **ret)
{
	struct kwg_submit *s = calloc(1, sizeof(*s));
	struct kwg_err err = {{0}};
	int r;

	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->opts = opts;
	r = kwg_sql_table_new(opts->queue_table ? opts->queue_table : KWG_SQL_TABLE_DEFAULT,
	                      &s->sql, &err);
	if (r == -EINVAL)
		fprintf(stderr, "kwg submit: kestra_queue_table: %s\n", err.msg);
	if (r >= 0)
		r = kwg_pg_new(loop, opts->database_url, "submit", NULL, NULL, &s->pg);
	if (r < 0) {
		kwg_sql_table_free(s->sql);
		free(s);
		return r;
	}
	uv_timer_init(loop, &s->poll);
	uv_timer_init(loop, &s->deadline);
	s->poll.data = s->deadline.data = s;
	kwg_pg_start(s->pg);
	r = kwg_pg_query(
	    s->pg, KWG_SQL_KESTRA_SCHEMA, 2,
	    (const char *const[]){kwg_sql_table_schema(s->sql), kwg_sql_table_relname(s->sql)},
	    on_schema, s);
	if (r < 0) {
		finish(s, 3);
		*ret = s;
		return 0;
	}
	uv_timer_start(&s->deadline, on_deadline, opts->timeout_ms, 0);
	*ret = s;
	return 0;
}

int kwg_submit_free(struct kwg_submit *s)
{
	int code = s->exit_code;

	free(s->event);
	kwg_sql_table_free(s->sql);
	free(s);
	return code;
}
