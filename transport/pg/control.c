/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "control"
#include "transport/pg/control.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/broadcast.h"
#include "protocol/kestra_schema.h"
#include "protocol/queue.h"
#include "protocol/sql.h"
#include "protocol/sql2.h"
#include "protocol/sql_table.h"
#include "transport/pg/pg.h"

/* Broadcast polls every tick; the control flags every FLAGS_EVERY ticks unless notified. */
#define TICK_MS 200
#define FLAGS_EVERY 5

enum stream {
	STREAM_KILL,
	STREAM_CLUSTER,
	STREAM__COUNT,
};

struct kwg_control {
	uv_loop_t *loop;
	const struct kwg_transport_params *p;
	const struct kwg_sql_table *sql; /* the statements for the queue table: borrowed */
	struct kwg_control_ops ops;
	void *ctx;
	struct kwg_pg *pg;
	uv_timer_t tick;
	long long offsets[STREAM__COUNT];
	bool have_offsets[STREAM__COUNT];
	bool busy, notified, listening, schema_warned, closed, first_flags;
	bool max_failed;              /* read_now: a high-water mark could not be read */
	bool kestra_checked, refused; /* the Kestra version of the database, read once */
	unsigned ticks;
	struct kwg_transport_flags flags;
	long long queued;
	/* Kestra 2.x (gen 2): the queue names of the streams and of the jobs, and the group's
	 * routing key. */
	int gen;
	char names[STREAM__COUNT][KWG_QUEUE_NAME_MAX + 1];
	char job_queue[KWG_QUEUE_NAME_MAX + 1];
	char routing_key[KWG_QUEUE_NAME_MAX + 1];
};

static const enum kwg_queue_type stream_types[STREAM__COUNT] = {
    [STREAM_KILL] = KWG_QUEUE_EXECUTION_KILLED,
    [STREAM_CLUSTER] = KWG_QUEUE_CLUSTER_EVENT,
};

static void step(struct kwg_control *c, int next);

static void apply_flags(struct kwg_control *c, const struct kwg_transport_flags *f)
{
	if (!c->first_flags && memcmp(f, &c->flags, sizeof(*f)) == 0)
		return;
	c->first_flags = false;
	c->flags = *f;
	c->ops.on_flags(c->ctx, &c->flags);
}

static void handle_message(struct kwg_control *c, enum stream s, const char *value, int len,
                           long long offset)
{
	struct kwg_err err = {{0}};

	if (s == STREAM_KILL) {
		struct kwg_kill kill;
		if (kwg_kill_decode(value, (size_t)len, &kill, &err) < 0)
			kwg_log_warning("ExecutionKilled at offset %lld ignored: %s", offset,
			                err.msg);
		else if (kill.act)
			c->ops.on_kill(c->ctx, kill.execution_id, kill.tenant_id);
		return;
	}
	enum kwg_cluster_event ev;
	if (kwg_cluster_event_decode(value, (size_t)len, &ev, &err) < 0) {
		kwg_log_warning("ClusterEvent at offset %lld ignored: %s", offset, err.msg);
		return;
	}
	if (ev != KWG_CLUSTER_EVENT_OTHER) {
		struct kwg_transport_flags f = c->flags;
		f.cluster_maintenance = ev == KWG_CLUSTER_EVENT_MAINTENANCE_ENTER;
		kwg_log_notice("Kestra cluster event: maintenance %s",
		               f.cluster_maintenance ? "entered" : "exited");
		apply_flags(c, &f);
	}
}

/* The steps of one tick, in order: high-water marks (once), kill poll, cluster poll, flags. */
enum {
	STEP_MAX_KILL,
	STEP_MAX_CLUSTER,
	STEP_POLL_KILL,
	STEP_POLL_CLUSTER,
	STEP_FLAGS,
	STEP_DONE,
};

/* The stream's queue as Kestra names it in this database. */
static const char *stream_name(const struct kwg_control *c, enum stream s)
{
	return c->gen == 2 ? c->names[s] : kwg_queue_type_label(stream_types[s]);
}

static void on_max(void *userdata, PGresult *res, const char *error, enum stream s, int next)
{
	struct kwg_control *c = userdata;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (!c->closed)
			kwg_log_warning("reading the %s high-water mark failed: %s",
			                stream_name(c, s), res ? kwg_pg_result_error(res) : error);
		c->busy = false;
		return;
	}
	c->offsets[s] = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	c->have_offsets[s] = true;
	step(c, next);
}

static void on_max_kill(void *userdata, PGresult *res, const char *error)
{
	on_max(userdata, res, error, STREAM_KILL, STEP_MAX_CLUSTER);
}

static void on_max_cluster(void *userdata, PGresult *res, const char *error)
{
	on_max(userdata, res, error, STREAM_CLUSTER, STEP_POLL_KILL);
}

static void on_poll(void *userdata, PGresult *res, const char *error, enum stream s, int next)
{
	struct kwg_control *c = userdata;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (!c->closed)
			kwg_log_warning("polling %s failed: %s", stream_name(c, s),
			                res ? kwg_pg_result_error(res) : error);
		c->busy = false;
		return;
	}
	for (int i = 0; i < PQntuples(res); i++) {
		long long offset = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		if (offset > c->offsets[s])
			c->offsets[s] = offset;
		handle_message(c, s, PQgetvalue(res, i, 0), PQgetlength(res, i, 0), offset);
		if (c->closed)
			return;
	}
	step(c, next);
}

static void on_poll_kill(void *userdata, PGresult *res, const char *error)
{
	on_poll(userdata, res, error, STREAM_KILL, STEP_POLL_CLUSTER);
}

static void on_poll_cluster(void *userdata, PGresult *res, const char *error)
{
	on_poll(userdata, res, error, STREAM_CLUSTER, STEP_FLAGS);
}

static void on_flags(void *userdata, PGresult *res, const char *error)
{
	struct kwg_control *c = userdata;
	struct kwg_transport_flags f = c->flags;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	c->busy = false;
	if (c->refused)
		return;
	/* read_now: a high-water mark is missing; the next tick reads it, then the flags. */
	if (c->max_failed) {
		c->max_failed = false;
		return;
	}
	if (res && PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		f.schema = true;
		f.maintenance = PQgetvalue(res, 0, 0)[0] == 't';
		f.paused = PQgetvalue(res, 0, 1)[0] == 't';
		f.draining = PQgetvalue(res, 0, 2)[0] == 't';
		c->queued = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
		apply_flags(c, &f);
		return;
	}
	/* 42P01 undefined_table, 3F000 invalid_schema_name: `kwg migrate` was not run. */
	if (state && (strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0)) {
		if (!c->schema_warned)
			kwg_log_notice("schema kwg not found (run `kwg migrate`): pause, drain and "
			               "maintenance flags are off");
		c->schema_warned = true;
		f.schema = f.maintenance = f.paused = f.draining = false;
		apply_flags(c, &f);
		return;
	}
	if (!c->closed)
		kwg_log_warning("reading the control flags failed: %s",
		                res ? kwg_pg_result_error(res) : error);
}

/* A high-water mark read by read_now: no step follows (the flags are already on their way). */
static void on_first_max(struct kwg_control *c, PGresult *res, const char *error, enum stream s)
{
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (!c->closed)
			kwg_log_warning("reading the %s high-water mark failed: %s",
			                stream_name(c, s), res ? kwg_pg_result_error(res) : error);
		c->max_failed = true;
		return;
	}
	c->offsets[s] = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	c->have_offsets[s] = true;
}

static void on_first_max_kill(void *userdata, PGresult *res, const char *error)
{
	on_first_max(userdata, res, error, STREAM_KILL);
}

static void on_first_max_cluster(void *userdata, PGresult *res, const char *error)
{
	on_first_max(userdata, res, error, STREAM_CLUSTER);
}

/* After (re)connecting: the high-water marks still missing and the flags, sent together (one
 * round trip on this pipelined connection), so that claiming starts as soon as it may; the
 * streams are polled from the next tick. A mark that could not be read holds the flags back
 * (on_flags) until a tick has read it: nothing is claimed before the kills are followed. */
static void read_now(struct kwg_control *c)
{
	static const enum stream streams[] = {STREAM_KILL, STREAM_CLUSTER};
	static kwg_pg_result_fn *const on_max_cb[] = {on_first_max_kill, on_first_max_cluster};
	int r = 0;

	if (c->busy || c->refused)
		return;
	c->busy = true;
	c->max_failed = false;
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(streams); i++) {
		const char *params[] = {stream_name(c, streams[i])};
		if (c->have_offsets[streams[i]])
			continue;
		r = kwg_pg_query(c->pg,
		                 c->gen == 2 ? kwg_sql_table_text(c->sql, KWG_SQL2_BROADCAST_MAX)
		                             : kwg_sql_table_text(c->sql, KWG_SQL_BROADCAST_MAX),
		                 1, params, on_max_cb[i], c);
	}
	if (r < 0)
		c->max_failed = true;
	c->notified = true;
	step(c, STEP_FLAGS);
}

/* Kestra 2.x: the queue names with the configured prefix; a worker serves a named group there (the
 * default queue is the controller's). 0, or -EINVAL with why in msg. */
static int set_gen2(struct kwg_control *c, char *msg, size_t size)
{
	const char *prefix = c->p->queue_prefix;
	int r = 0;

	if (!c->p->info->group) {
		(void)snprintf(msg, size,
		               "this is a Kestra 2.x database, where the default worker queue "
		               "belongs to Kestra's worker controller: a kwg worker serves a group "
		               "(--group G, the tasks kwg routing routes to G; "
		               "docs/kestra-integration.md)");
		return -EINVAL;
	}
	for (int s = 0; s < STREAM__COUNT && r >= 0; s++)
		r = kwg_queue_name2(stream_types[s], prefix, c->names[s], sizeof(c->names[s]));
	if (r >= 0)
		r = kwg_queue_name2(KWG_QUEUE_WORKER_JOB, prefix, c->job_queue,
		                    sizeof(c->job_queue));
	if (r < 0) {
		(void)snprintf(msg, size, "kestra_queue_prefix '%.64s' is too long", prefix);
		return r;
	}
	(void)snprintf(c->routing_key, sizeof(c->routing_key), "kwg:%s", c->p->info->group);
	c->gen = 2;
	return 0;
}

/* Once per process, on the first connection: the Kestra version of the database. */
static void on_kestra_schema(void *userdata, PGresult *res, const char *error)
{
	struct kwg_control *c = userdata;
	char msg[512];

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		if (!c->closed)
			kwg_log_warning(
			    "cannot tell which Kestra made this database (%s); going on",
			    res ? kwg_pg_result_error(res) : error);
		c->kestra_checked = res != NULL;
		if (c->kestra_checked && c->ops.on_generation)
			c->ops.on_generation(c->ctx, 1);
		if (c->kestra_checked)
			read_now(c);
		return;
	}
	c->kestra_checked = true;
	enum kwg_kestra_gen gen;
	switch (kwg_kestra_schema_detect(kwg_sql_table_name(c->sql),
	                                 PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
	                                 PQgetvalue(res, 0, 1), &gen, msg, sizeof(msg))) {
	case KWG_KESTRA_SCHEMA_OK:
		kwg_log_info("%s", msg);
		break;
	case KWG_KESTRA_SCHEMA_UNKNOWN:
		kwg_log_notice("%s", msg);
		break;
	case KWG_KESTRA_SCHEMA_REFUSED:
		c->refused = true;
		c->ops.on_refused(c->ctx, msg);
		return;
	}
	if (gen == KWG_KESTRA_GEN2 && set_gen2(c, msg, sizeof(msg)) < 0) {
		c->refused = true;
		c->ops.on_refused(c->ctx, msg);
		return;
	}
	/* Before the first flags (the next statements on this connection): the transport sets
	 * its parts up for the generation before anything is claimed. */
	if (c->ops.on_generation)
		c->ops.on_generation(c->ctx, (int)gen);
	read_now(c);
}

static void on_listening(void *userdata, PGresult *res, const char *error)
{
	struct kwg_control *c = userdata;

	c->listening = res && PQresultStatus(res) == PGRES_COMMAND_OK;
}

static void on_listening_jobs(void *userdata, PGresult *res, const char *error)
{
	(void)userdata;
	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK)
		kwg_log_warning(
		    "cannot listen for new WorkerJob rows (%s); polling alone finds them",
		    res ? kwg_pg_result_error(res) : error);
}

static void step(struct kwg_control *c, int next)
{
	const char *group = c->p->info->group ? c->p->info->group : "";
	char offset[32];
	const char *params[3];
	int r = 0;

	if (c->closed || c->refused)
		return;
	switch (next) {
	case STEP_MAX_KILL:
	case STEP_MAX_CLUSTER: {
		enum stream s = next == STEP_MAX_KILL ? STREAM_KILL : STREAM_CLUSTER;
		if (c->have_offsets[s]) {
			step(c, next + 1);
			return;
		}
		params[0] = stream_name(c, s);
		r = kwg_pg_query(c->pg,
		                 c->gen == 2 ? kwg_sql_table_text(c->sql, KWG_SQL2_BROADCAST_MAX)
		                             : kwg_sql_table_text(c->sql, KWG_SQL_BROADCAST_MAX),
		                 1, params, s == STREAM_KILL ? on_max_kill : on_max_cluster, c);
		break;
	}
	case STEP_POLL_KILL:
	case STEP_POLL_CLUSTER: {
		enum stream s = next == STEP_POLL_KILL ? STREAM_KILL : STREAM_CLUSTER;
		(void)snprintf(offset, sizeof(offset), "%lld", c->offsets[s]);
		params[0] = stream_name(c, s);
		params[1] = offset;
		r = kwg_pg_query(c->pg,
		                 c->gen == 2 ? kwg_sql_table_text(c->sql, KWG_SQL2_BROADCAST_POLL)
		                             : kwg_sql_table_text(c->sql, KWG_SQL_BROADCAST_POLL),
		                 2, params, s == STREAM_KILL ? on_poll_kill : on_poll_cluster, c);
		break;
	}
	case STEP_FLAGS:
		if (!c->notified && c->ticks % FLAGS_EVERY != 0 && !c->first_flags) {
			c->busy = false;
			return;
		}
		c->notified = false;
		params[0] = group;
		params[1] = c->job_queue;
		params[2] = c->routing_key;
		r = c->gen == 2
		        ? kwg_pg_query(c->pg, kwg_sql_table_text(c->sql, KWG_SQL2_CONTROL_READ), 3,
		                       params, on_flags, c)
		        : kwg_pg_query(c->pg, kwg_sql_table_text(c->sql, KWG_SQL_CONTROL_READ), 1,
		                       params, on_flags, c);
		break;
	default:
		c->busy = false;
		return;
	}
	if (r < 0)
		c->busy = false;
}

static void on_tick(uv_timer_t *t)
{
	struct kwg_control *c = t->data;

	c->ticks++;
	if (c->busy || !c->kestra_checked || !kwg_pg_is_connected(c->pg))
		return;
	c->busy = true;
	step(c, STEP_MAX_KILL);
}

static void on_notify(void *userdata, const char *channel)
{
	struct kwg_control *c = userdata;

	if (strcmp(channel, "kwg_worker_job") == 0 ||
	    strcmp(channel, "kwg_worker_job_event") == 0) {
		kwg_log_latency("notified", channel);
		if (c->ops.on_jobs_queued)
			c->ops.on_jobs_queued(c->ctx);
		return;
	}

	c->notified = true;
	if (!c->busy) {
		c->busy = true;
		step(c, STEP_FLAGS);
	}
}

static void on_pg_state(void *userdata, bool connected)
{
	struct kwg_control *c = userdata;

	if (!connected) {
		c->busy = false;
		c->listening = false;
		return;
	}
	/* First, so that its verdict comes before the first flags (statements run in order). */
	if (!c->kestra_checked)
		(void)kwg_pg_query(c->pg, KWG_SQL_KESTRA_SCHEMA, 2,
		                   (const char *const[]){kwg_sql_table_schema(c->sql),
		                                         kwg_sql_table_relname(c->sql)},
		                   on_kestra_schema, c);
	(void)kwg_pg_query(c->pg, KWG_SQL_LISTEN_CONTROL, 0, NULL, on_listening, c);
	/* kwg notify's channel: silent unless its trigger is installed; on 2.x, kwg routing's. */
	(void)kwg_pg_query(c->pg, KWG_SQL_LISTEN_JOBS, 0, NULL, on_listening_jobs, c);
	(void)kwg_pg_query(c->pg, "LISTEN kwg_worker_job_event", 0, NULL, on_listening_jobs, c);
	/* Anything may have changed while disconnected: read at once, not at the next tick (the
	 * first read gates claiming, so it decides how soon a new worker claims); the first time,
	 * once the generation is known (on_kestra_schema), since the statements depend on it. */
	c->notified = true;
	if (c->kestra_checked)
		read_now(c);
}

int kwg_control_new(const struct kwg_transport_params *p, const struct kwg_sql_table *sql,
                    const struct kwg_control_ops *ops, void *ctx, struct kwg_control **ret)
{
	uv_loop_t *loop = p->loop;
	struct kwg_control *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->p = p;
	c->sql = sql;
	c->ops = *ops;
	c->ctx = ctx;
	c->first_flags = true;
	c->queued = -1;
	r = kwg_pg_new(p->loop, p->url, "control", on_pg_state, c, &c->pg);
	if (r < 0) {
		free(c);
		return r;
	}
	/* The statements of a (re)connection and of read_now go out together. */
	kwg_pg_set_pipeline(c->pg);
	kwg_pg_on_notify(c->pg, on_notify, c);
	uv_timer_init(loop, &c->tick);
	c->tick.data = c;
	*ret = c;
	return 0;
}

void kwg_control_connect(struct kwg_control *c)
{
	kwg_pg_start(c->pg);
}

void kwg_control_start(struct kwg_control *c)
{
	kwg_pg_start(c->pg);
	uv_timer_start(&c->tick, on_tick, 0, TICK_MS);
}

const struct kwg_transport_flags *kwg_control_flags(const struct kwg_control *c)
{
	return &c->flags;
}

long long kwg_control_queued(const struct kwg_control *c)
{
	return c->queued;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void kwg_control_close(struct kwg_control *c)
{
	if (!c || c->closed)
		return;
	c->closed = true;
	kwg_pg_close(c->pg, NULL, NULL);
	uv_close((uv_handle_t *)&c->tick, on_timer_closed);
}
