/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "ctl"
#include "transport/pg/ctl.h"

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
#include "transport/pg/pg.h"

#define WAIT_POLL_MS 250
#define INSTALL_RETRY_MS 2000

struct kwg_ctl {
	uv_loop_t *loop;
	const struct kwg_ctl_opts *opts;
	struct kwg_sql_table *sql; /* the statements for the queue table */
	struct kwg_pg *pg;
	uv_timer_t poll, deadline;
	bool finished;
	int exit_code;
	const char *const *script; /* migrate, notify install/uninstall: statements in order */
	const char *const *then;   /* routing install: its script after kwg's migration */
	bool retrying;             /* routing install --wait: failed once, trying again */
	size_t migration_step;
	long long since_ms; /* server time when the flag was set (wait: newer heartbeats only) */
	long long last_running; /* for progress lines */
	/* The routing commands first ask which Kestra made the database (gen 0: not yet). */
	int gen;
	char **owned;        /* Kestra 2.x: the routing script built for the queue name */
	bool detect_waiting; /* routing install --wait: no Kestra queue yet, said once */
	char job_queue[KWG_QUEUE_NAME_MAX + 1];
};

static void finish(struct kwg_ctl *c, int code)
{
	if (c->finished)
		return;
	c->finished = true;
	c->exit_code = code;
	kwg_pg_close(c->pg, NULL, NULL);
	uv_close((uv_handle_t *)&c->poll, NULL);
	uv_close((uv_handle_t *)&c->deadline, NULL);
}

/* Checks a result; on failure prints why and ends the command. */
static bool ok(struct kwg_ctl *c, PGresult *res, const char *error, ExecStatusType want)
{
	const char *state;

	if (c->finished)
		return false;
	if (res && PQresultStatus(res) == want)
		return true;
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state && (strcmp(state, "42P01") == 0 || strcmp(state, "3F000") == 0) &&
	    c->opts->command != KWG_CTL_ROUTING_INSTALL &&
	    c->opts->command != KWG_CTL_ROUTING_UNINSTALL)
		fprintf(stderr, "kwg: schema kwg not found: run `kwg migrate` first\n");
	else
		fprintf(stderr, "kwg: %s\n", res ? kwg_pg_result_error(res) : error);
	finish(c, res ? 1 : 3);
	return false;
}

static const char *group_name(const char *key)
{
	return *key ? key : "(default)";
}

static void json_string_out(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void on_install_retry(uv_timer_t *t);

static void on_ignored(void *userdata, PGresult *res, const char *error)
{
}

/* routing install --wait: Kestra has not made its tables yet (or the database is not up): roll
 * back and try again shortly, until --timeout. */
static bool install_retry(struct kwg_ctl *c, PGresult *res, const char *error)
{
	if (c->finished || c->opts->command != KWG_CTL_ROUTING_INSTALL || !c->opts->wait ||
	    (res && PQresultStatus(res) == PGRES_COMMAND_OK))
		return false;
	if (!c->retrying)
		fprintf(stderr, "kwg: %s; trying again every %d ms\n",
		        res ? kwg_pg_result_error(res) : error, INSTALL_RETRY_MS);
	c->retrying = true;
	if (res)
		(void)kwg_pg_query(c->pg, "ROLLBACK", 0, NULL, on_ignored, NULL);
	uv_timer_start(&c->poll, on_install_retry, INSTALL_RETRY_MS, 0);
	return true;
}

static void on_migrated(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;

	if (install_retry(c, res, error))
		return;
	if (!ok(c, res, error, PGRES_COMMAND_OK))
		return;
	if (!c->script[++c->migration_step] && c->then) {
		c->script = c->then;
		c->then = NULL;
		c->migration_step = 0;
	}
	if (c->script[c->migration_step]) {
		(void)kwg_pg_query(c->pg, c->script[c->migration_step], 0, NULL, on_migrated, c);
		return;
	}
	if (c->opts->command == KWG_CTL_NOTIFY_INSTALL)
		printf(
		    "notify installed: a trigger on queues wakes workers when WorkerJob rows are "
		    "inserted (kwg notify uninstall removes it)\n");
	else if (c->opts->command == KWG_CTL_NOTIFY_UNINSTALL)
		printf("notify uninstalled: workers find new jobs by polling alone\n");
	else if (c->opts->command == KWG_CTL_ROUTING_INSTALL && c->gen == 2)
		printf(
		    "routing installed (Kestra 2.x): task jobs Kestra queues on its default "
		    "worker queue whose task-level workerSelector.tags name a kwg group (kwg group "
		    "create) get routing key kwg:<group> (kwg routing uninstall removes it)\n");
	else if (c->opts->command == KWG_CTL_ROUTING_UNINSTALL && c->gen == 2)
		printf("routing uninstalled: Kestra queues and dispatches worker jobs as before\n");
	else if (c->opts->command == KWG_CTL_ROUTING_INSTALL)
		printf(
		    "routing installed: WorkerJob rows Kestra writes without a group go to their "
		    "task's or flow's workerGroup.key (kwg routing uninstall removes it)\n");
	else if (c->opts->command == KWG_CTL_ROUTING_UNINSTALL)
		printf("routing uninstalled: Kestra writes and claims WorkerJob rows as before\n");
	else
		printf("schema kwg is up to date (%zu statements)\n", c->migration_step);
	finish(c, 0);
}

static void on_group_list(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;
	int n;

	if (!ok(c, res, error, PGRES_TUPLES_OK))
		return;
	n = PQntuples(res);
	if (c->opts->json) {
		printf("[");
		for (int i = 0; i < n; i++) {
			printf("%s{\"group\":", i ? "," : "");
			json_string_out(PQgetvalue(res, i, 0));
			printf(",\"description\":");
			json_string_out(PQgetvalue(res, i, 1));
			printf(",\"workers\":%s,\"running\":%s,\"queued\":%s,\"paused\":%s,"
			       "\"draining\":%s,\"oldestWaitSeconds\":%s}",
			       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
			       PQgetvalue(res, i, 5)[0] == 't' ? "true" : "false",
			       PQgetvalue(res, i, 6)[0] == 't' ? "true" : "false",
			       PQgetvalue(res, i, 7));
		}
		printf("]\n");
	} else {
		printf("%-24s %7s %7s %7s %9s %-8s %s\n", "GROUP", "WORKERS", "RUNNING", "QUEUED",
		       "OLDEST", "STATE", "DESCRIPTION");
		for (int i = 0; i < n; i++) {
			char oldest[32] = "-";
			if (PQgetvalue(res, i, 7)[0] != '-')
				(void)snprintf(oldest, sizeof(oldest), "%ss",
				               PQgetvalue(res, i, 7));
			printf("%-24s %7s %7s %7s %9s %-8s %s\n", group_name(PQgetvalue(res, i, 0)),
			       PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
			       oldest,
			       PQgetvalue(res, i, 6)[0] == 't'   ? "draining"
			       : PQgetvalue(res, i, 5)[0] == 't' ? "paused"
			                                         : "active",
			       PQgetvalue(res, i, 1));
		}
	}
	finish(c, 0);
}

static void on_changed(void *userdata, PGresult *res, const char *error);
static void on_routing_status(void *userdata, PGresult *res, const char *error);
static int print_routing2(const char *table, PGresult *res);

static void on_notify_state(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;

	if (!ok(c, res, error, PGRES_TUPLES_OK))
		return;
	printf("notify: %s\n", strcmp(PQgetvalue(res, 0, 0), "0") != 0
	                           ? "installed (workers wake on WorkerJob inserts)"
	                           : "not installed (polling alone; kwg notify install)");
	(void)kwg_pg_query(c->pg, c->gen == 2 ? KWG_SQL2_ROUTING_STATUS : KWG_SQL_ROUTING_STATUS, 1,
	                   (const char *const[]){kwg_sql_table_quoted(c->sql)}, on_routing_status,
	                   c);
}

/* Prints the routing's state; returns 0 when installed, active and current, 1 otherwise (2 when
 * not installed). */
static int print_routing(const char *table, PGresult *res)
{
	const char *installed = PQgetvalue(res, 0, 0), *mine = PQgetvalue(res, 0, 1);
	bool trigger = strcmp(PQgetvalue(res, 0, 2), "0") != 0;
	bool enabled = strcmp(PQgetvalue(res, 0, 3), "0") != 0;
	bool functions = PQgetvalue(res, 0, 4)[0] == 't';
	bool columns = strcmp(PQgetvalue(res, 0, 5), "4") == 0;
	bool flows = PQgetvalue(res, 0, 6)[0] == 't';
	char version[64] = "";
	const char *sp;

	if (PQgetisnull(res, 0, 0) && !trigger) {
		printf("routing: not installed (worker groups need Kestra Enterprise or a patched "
		       "executor; kwg routing install routes them in PostgreSQL)\n");
		return 2;
	}
	sp = strchr(installed, ' ');
	if (sp)
		(void)snprintf(version, sizeof(version), "version %.*s of kwg %s",
		               (int)(sp - installed), installed, sp + 1);
	if (!columns) {
		printf("routing: BROKEN: table %s no longer has the columns type, value, "
		       "consumer_group, consumer_worker (a Kestra upgrade changed it, or it is not "
		       "the queue table: kestra_queue_table); jobs are not routed; see "
		       "docs/kestra-integration.md\n",
		       table);
		return 1;
	}
	if (!trigger || !functions) {
		printf("routing: BROKEN: %s%s (%s; was %s recreated by a Kestra upgrade?); jobs "
		       "are not routed: run kwg routing install\n",
		       !trigger ? "the trigger kwg_route_worker_job is missing on "
		                : "its functions in schema kwg are missing",
		       !trigger ? table : "", *version ? version : "installed", table);
		return 1;
	}
	if (!enabled) {
		printf("routing: INACTIVE: the trigger kwg_route_worker_job on %s is disabled "
		       "(ALTER TABLE %s ENABLE TRIGGER kwg_route_worker_job)\n",
		       table, table);
		return 1;
	}
	if (PQgetisnull(res, 0, 0) || strncmp(installed, mine, strcspn(mine, " ")) != 0 ||
	    installed[strcspn(mine, " ")] != ' ') {
		printf(
		    "routing: OUTDATED: installed %s, this kwg has %s: run kwg routing install\n",
		    *version ? version : "(unknown version)", mine);
		return 1;
	}
	printf("routing: installed and active (%s%s)\n", version,
	       flows ? "; flow-level groups from table flows" : "; no table flows: task keys only");
	return 0;
}

/* kwg status, last: per group, the live workers, the jobs waiting and the oldest wait. */
static void on_status_groups(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;

	if (c->finished)
		return;
	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		printf("groups: unknown (%s)\n", res ? kwg_pg_result_error(res) : error);
		finish(c, 0);
		return;
	}
	printf("\n%-24s %7s %7s %9s\n", "GROUP", "WORKERS", "WAITING", "OLDEST");
	for (int i = 0; i < PQntuples(res); i++) {
		char oldest[32] = "-";
		if (PQgetvalue(res, i, 7)[0] != '-')
			(void)snprintf(oldest, sizeof(oldest), "%ss", PQgetvalue(res, i, 7));
		printf("%-24s %7s %7s %9s\n", group_name(PQgetvalue(res, i, 0)),
		       PQgetvalue(res, i, 2), PQgetvalue(res, i, 4), oldest);
	}
	finish(c, 0);
}

static void on_routing_status(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;
	int code;

	if (!ok(c, res, error, PGRES_TUPLES_OK))
		return;
	code = c->gen == 2 ? print_routing2(kwg_sql_table_name(c->sql), res)
	                   : print_routing(kwg_sql_table_name(c->sql), res);
	if (c->opts->command == KWG_CTL_STATUS && c->gen == 2)
		(void)kwg_pg_query(c->pg, kwg_sql_table_text(c->sql, KWG_SQL2_GROUP_LIST), 1,
		                   (const char *const[]){c->job_queue}, on_status_groups, c);
	else if (c->opts->command == KWG_CTL_STATUS)
		(void)kwg_pg_query(c->pg, kwg_sql_table_text(c->sql, KWG_SQL_GROUP_LIST), 0, NULL,
		                   on_status_groups, c);
	else
		finish(c, code);
}

static void on_workers(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;
	long long running = 0, live = 0, stale = 0;
	int n;

	if (!ok(c, res, error, PGRES_TUPLES_OK))
		return;
	n = PQntuples(res);
	if (c->opts->command == KWG_CTL_STATUS) {
		if (c->opts->json)
			printf("[");
		else
			printf("%-36s %-20s %-21s %7s %-24s %s\n", "WORKER", "GROUP", "STATE",
			       "RUNNING", "HEARTBEAT", "HOST");
		for (int i = 0; i < n; i++) {
			long long ms = strtoll(PQgetvalue(res, i, 3), NULL, 10);
			long long age = strtoll(PQgetvalue(res, i, 7), NULL, 10) - ms;
			if (c->opts->json) {
				printf("%s{\"id\":", i ? "," : "");
				json_string_out(PQgetvalue(res, i, 0));
				printf(",\"group\":");
				json_string_out(PQgetvalue(res, i, 1));
				printf(",\"state\":\"%s\",\"running\":%s,\"heartbeatAgeMs\":%lld,"
				       "\"live\":%s,\"host\":",
				       PQgetvalue(res, i, 2), PQgetvalue(res, i, 4), age,
				       PQgetvalue(res, i, 6)[0] == 't' ? "true" : "false");
				json_string_out(PQgetvalue(res, i, 5));
				printf("}");
			} else {
				char ago[32];
				(void)snprintf(ago, sizeof(ago), "%.1f s ago",
				               (double)age / 1000.0);
				printf("%-36s %-20s %-21s %7s %-24s %s\n", PQgetvalue(res, i, 0),
				       group_name(PQgetvalue(res, i, 1)), PQgetvalue(res, i, 2),
				       PQgetvalue(res, i, 4), ago, PQgetvalue(res, i, 5));
			}
		}
		if (c->opts->json) {
			printf("]\n");
			finish(c, 0);
		} else {
			(void)kwg_pg_query(c->pg, KWG_SQL_NOTIFY_INSTALLED, 0, NULL,
			                   on_notify_state, c);
		}
		return;
	}
	/* drain --wait, maintenance enter --wait: done when every live worker has reported after
	 * the flag was set, and none runs a task. */
	for (int i = 0; i < n; i++) {
		if (PQgetvalue(res, i, 6)[0] != 't')
			continue;
		live++;
		running += strtoll(PQgetvalue(res, i, 4), NULL, 10);
		if (strtoll(PQgetvalue(res, i, 3), NULL, 10) <= c->since_ms)
			stale++;
	}
	/* Progress counts only reports made since the flag was set. */
	if (stale == 0 && running != c->last_running) {
		printf("%lld task(s) running on %lld live worker(s)\n", running, live);
		fflush(stdout);
		c->last_running = running;
	}
	if (running == 0 && stale == 0) {
		printf("no task running: done\n");
		finish(c, 0);
	}
}

static void on_wait_poll(uv_timer_t *t)
{
	struct kwg_ctl *c = t->data;
	const char *params[1];

	if (c->finished || kwg_pg_pending(c->pg) > 0)
		return;
	params[0] = c->opts->command == KWG_CTL_GROUP_DRAIN ? c->opts->key : NULL;
	(void)kwg_pg_query(c->pg, KWG_SQL_WORKERS, 1, params, on_workers, c);
}

static void on_changed(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;
	const struct kwg_ctl_opts *o = c->opts;
	ExecStatusType want =
	    PQresultStatus(res) == PGRES_TUPLES_OK ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;

	if (!ok(c, res, error, want))
		return;
	if (want == PGRES_TUPLES_OK && PQntuples(res) > 0)
		c->since_ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	switch (o->command) {
	case KWG_CTL_GROUP_CREATE:
		printf("group %s created\n", group_name(o->key));
		break;
	case KWG_CTL_GROUP_DELETE:
		if (PQcmdTuples(res)[0] == '0') {
			fprintf(stderr, "kwg: no group '%s'\n", o->key);
			finish(c, 1);
			return;
		}
		printf("group %s deleted\n", group_name(o->key));
		break;
	case KWG_CTL_GROUP_PAUSE:
		printf("group %s paused: its workers claim nothing new\n", group_name(o->key));
		break;
	case KWG_CTL_GROUP_RESUME:
		printf("group %s resumed\n", group_name(o->key));
		break;
	case KWG_CTL_GROUP_DRAIN:
		printf("group %s draining: its workers claim nothing new\n", group_name(o->key));
		break;
	case KWG_CTL_MAINTENANCE_ENTER:
		printf("maintenance entered: no worker claims new tasks\n");
		break;
	case KWG_CTL_MAINTENANCE_EXIT:
		printf("maintenance exited\n");
		break;
	default:
		break;
	}
	fflush(stdout);
	if (o->wait &&
	    (o->command == KWG_CTL_GROUP_DRAIN || o->command == KWG_CTL_MAINTENANCE_ENTER)) {
		c->last_running = -1;
		uv_timer_start(&c->poll, on_wait_poll, 0, WAIT_POLL_MS);
		return;
	}
	finish(c, 0);
}

static void on_install_retry(uv_timer_t *t)
{
	struct kwg_ctl *c = t->data;

	c->script = kwg_sql_migration;
	c->then = c->gen == 2 ? (const char *const *)c->owned
	                      : kwg_sql_table_script(c->sql, kwg_sql_routing_install);
	c->migration_step = 0;
	if (kwg_pg_query(c->pg, c->script[0], 0, NULL, on_migrated, c) < 0)
		finish(c, 1);
}

static void on_deadline(uv_timer_t *t)
{
	struct kwg_ctl *c = t->data;

	fprintf(stderr, "kwg: not done after %llu ms\n", (unsigned long long)c->opts->timeout_ms);
	finish(c, 124);
}

/* Kestra 2.x: `kwg routing status` (docs/kestra-integration.md, "Kestra 2.x open source"). */
static int print_routing2(const char *table, PGresult *res)
{
	const char *installed = PQgetvalue(res, 0, 0);
	bool trigger = strcmp(PQgetvalue(res, 0, 1), "0") != 0;
	bool enabled = strcmp(PQgetvalue(res, 0, 2), "0") != 0;
	bool functions = PQgetvalue(res, 0, 3)[0] == 't';

	if (PQgetisnull(res, 0, 0) && !trigger) {
		printf("routing: not installed (Kestra 2.x: kwg routing install routes tasks whose "
		       "workerSelector.tags name a kwg group)\n");
		return 2;
	}
	if (!trigger || !functions) {
		printf("routing: BROKEN: %s%s (installed: %s; was %s recreated by a Kestra "
		       "migration?); tagged tasks go to Kestra's own workers: run kwg routing "
		       "install\n",
		       !trigger ? "the trigger kwg_route_worker_job_event is missing on "
		                : "its functions in schema kwg are missing",
		       !trigger ? table : "", PQgetisnull(res, 0, 0) ? "unknown" : installed,
		       table);
		return 1;
	}
	if (!enabled) {
		printf("routing: INACTIVE: the trigger kwg_route_worker_job_event on %s is "
		       "disabled (ALTER TABLE %s ENABLE TRIGGER kwg_route_worker_job_event)\n",
		       table, table);
		return 1;
	}
	printf("routing: installed and active (Kestra 2.x; version, kwg, queue: %s)\n",
	       PQgetisnull(res, 0, 0) ? "unknown" : installed);
	return 0;
}

static void on_routing_status2(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;

	if (ok(c, res, error, PGRES_TUPLES_OK))
		finish(c, print_routing2(kwg_sql_table_name(c->sql), res));
}

static void on_released(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;

	if (!ok(c, res, error, PGRES_TUPLES_OK))
		return;
	printf("released %s job(s) of group %s to Kestra's default worker queue\n",
	       PQgetvalue(res, 0, 0), c->opts->key);
	finish(c, 0);
}

static int start1(struct kwg_ctl *c);

static void on_detect_retry(uv_timer_t *t);

/* The routing commands: the generation decides the statements. */
static void on_detected(void *userdata, PGresult *res, const char *error)
{
	struct kwg_ctl *c = userdata;
	const struct kwg_ctl_opts *o = c->opts;
	enum kwg_kestra_gen gen = KWG_KESTRA_GEN_NONE;
	char msg[512];
	int r;

	if (!ok(c, res, error, PGRES_TUPLES_OK))
		return;
	if (kwg_kestra_schema_detect(
	        kwg_sql_table_name(c->sql), PQgetisnull(res, 0, 0) ? NULL : PQgetvalue(res, 0, 0),
	        PQgetvalue(res, 0, 1), &gen, msg, sizeof(msg)) == KWG_KESTRA_SCHEMA_REFUSED) {
		/* install --wait: Kestra has not made its queue yet. */
		if (o->command == KWG_CTL_ROUTING_INSTALL && o->wait) {
			if (!c->detect_waiting)
				fprintf(stderr, "kwg: %s; trying again every %d ms\n", msg,
				        INSTALL_RETRY_MS);
			c->detect_waiting = true;
			uv_timer_start(&c->poll, on_detect_retry, INSTALL_RETRY_MS, 0);
			return;
		}
		if (o->command != KWG_CTL_ROUTING_UNINSTALL && o->command != KWG_CTL_STATUS &&
		    o->command != KWG_CTL_GROUP_LIST) {
			fprintf(stderr, "kwg: %s\n", msg);
			finish(c, 1);
			return;
		}
		gen =
		    KWG_KESTRA_GEN1; /* uninstall what a 1.x install left, whatever the table is */
	}
	c->gen = gen;
	if (gen != KWG_KESTRA_GEN2) {
		if (o->command == KWG_CTL_ROUTING_RELEASE) {
			fprintf(stderr,
			        "kwg: routing release is for Kestra 2.x; on Kestra 1.x, `kwg "
			        "routing uninstall --requeue` gives routed jobs back\n");
			finish(c, 1);
			return;
		}
		if (start1(c) < 0)
			finish(c, 1);
		return;
	}
	if (kwg_queue_name2(KWG_QUEUE_WORKER_JOB, o->queue_prefix, c->job_queue,
	                    sizeof(c->job_queue)) < 0) {
		fprintf(stderr, "kwg: kestra_queue_prefix is too long\n");
		finish(c, 1);
		return;
	}
	switch (o->command) {
	case KWG_CTL_STATUS:
		r = start1(c);
		break;
	case KWG_CTL_GROUP_LIST:
		r = kwg_pg_query(c->pg, kwg_sql_table_text(c->sql, KWG_SQL2_GROUP_LIST), 1,
		                 (const char *const[]){c->job_queue}, on_group_list, c);
		break;
	case KWG_CTL_ROUTING_STATUS:
		r = kwg_pg_query(c->pg, KWG_SQL2_ROUTING_STATUS, 1,
		                 (const char *const[]){kwg_sql_table_quoted(c->sql)},
		                 on_routing_status2, c);
		break;
	case KWG_CTL_ROUTING_RELEASE: {
		char key[KWG_QUEUE_NAME_MAX + 1];
		const char *p[2] = {c->job_queue, key};
		(void)snprintf(key, sizeof(key), "kwg:%s", o->key);
		r = kwg_pg_query(c->pg, kwg_sql_table_text(c->sql, KWG_SQL2_ROUTING_RELEASE), 2, p,
		                 on_released, c);
		break;
	}
	default:
		c->owned = o->command == KWG_CTL_ROUTING_INSTALL
		               ? kwg_sql2_routing_install(c->job_queue, c->sql)
		               : kwg_sql2_routing_uninstall(c->job_queue, o->requeue, c->sql);
		r = c->owned ? 0 : -ENOMEM;
		c->script = o->command == KWG_CTL_ROUTING_INSTALL ? kwg_sql_migration
		                                                  : (const char *const *)c->owned;
		c->then =
		    o->command == KWG_CTL_ROUTING_INSTALL ? (const char *const *)c->owned : NULL;
		c->migration_step = 0;
		if (r >= 0)
			r = kwg_pg_query(c->pg, c->script[0], 0, NULL, on_migrated, c);
		break;
	}
	if (r < 0)
		finish(c, 1);
}

/* Which Kestra made the database, from the configured queue table's columns. */
static int detect(struct kwg_ctl *c)
{
	return kwg_pg_query(
	    c->pg, KWG_SQL_KESTRA_SCHEMA, 2,
	    (const char *const[]){kwg_sql_table_schema(c->sql), kwg_sql_table_relname(c->sql)},
	    on_detected, c);
}

static void on_detect_retry(uv_timer_t *t)
{
	struct kwg_ctl *c = t->data;

	if (detect(c) < 0)
		finish(c, 1);
}

static int start(struct kwg_ctl *c)
{
	switch (c->opts->command) {
	case KWG_CTL_ROUTING_INSTALL:
	case KWG_CTL_ROUTING_UNINSTALL:
	case KWG_CTL_ROUTING_STATUS:
	case KWG_CTL_ROUTING_RELEASE:
	case KWG_CTL_STATUS:
	case KWG_CTL_GROUP_LIST:
		return detect(c);
	default:
		return start1(c);
	}
}

static int start1(struct kwg_ctl *c)
{
	const struct kwg_ctl_opts *o = c->opts;
	const char *p[3] = {o->key, NULL, NULL};

	switch (o->command) {
	case KWG_CTL_MIGRATE:
	case KWG_CTL_NOTIFY_INSTALL:
	case KWG_CTL_NOTIFY_UNINSTALL:
	case KWG_CTL_ROUTING_INSTALL:
	case KWG_CTL_ROUTING_UNINSTALL:
		c->script = o->command == KWG_CTL_MIGRATE           ? kwg_sql_migration
		            : o->command == KWG_CTL_NOTIFY_INSTALL  ? kwg_sql_notify_install
		            : o->command == KWG_CTL_ROUTING_INSTALL ? kwg_sql_routing_install
		            : o->command == KWG_CTL_ROUTING_UNINSTALL
		                ? (o->requeue ? kwg_sql_routing_uninstall_requeue
		                              : kwg_sql_routing_uninstall)
		                : kwg_sql_notify_uninstall;
		c->script = kwg_sql_table_script(c->sql, c->script);
		/* Routing comes with kwg's own schema: one init step makes both. */
		if (o->command == KWG_CTL_ROUTING_INSTALL) {
			c->then = c->script;
			c->script = kwg_sql_migration;
		}
		return kwg_pg_query(c->pg, c->script[0], 0, NULL, on_migrated, c);
	case KWG_CTL_ROUTING_STATUS:
		return kwg_pg_query(c->pg, KWG_SQL_ROUTING_STATUS, 1,
		                    (const char *const[]){kwg_sql_table_quoted(c->sql)},
		                    on_routing_status, c);
	case KWG_CTL_GROUP_LIST:
		return kwg_pg_query(c->pg, kwg_sql_table_text(c->sql, KWG_SQL_GROUP_LIST), 0, NULL,
		                    on_group_list, c);
	case KWG_CTL_STATUS:
		return kwg_pg_query(c->pg, KWG_SQL_WORKERS, 1, p + 1, on_workers, c);
	case KWG_CTL_GROUP_CREATE:
		p[1] = o->description;
		return kwg_pg_query(c->pg, KWG_SQL_GROUP_UPSERT, 2, p, on_changed, c);
	case KWG_CTL_GROUP_DELETE:
		return kwg_pg_query(c->pg, KWG_SQL_GROUP_DELETE, 1, p, on_changed, c);
	case KWG_CTL_GROUP_PAUSE:
		p[1] = "true";
		return kwg_pg_query(c->pg, KWG_SQL_GROUP_SET_FLAGS, 3, p, on_changed, c);
	case KWG_CTL_GROUP_RESUME:
		p[1] = p[2] = "false";
		return kwg_pg_query(c->pg, KWG_SQL_GROUP_SET_FLAGS, 3, p, on_changed, c);
	case KWG_CTL_GROUP_DRAIN:
		p[2] = "true";
		return kwg_pg_query(c->pg, KWG_SQL_GROUP_SET_FLAGS, 3, p, on_changed, c);
	case KWG_CTL_MAINTENANCE_ENTER:
	case KWG_CTL_MAINTENANCE_EXIT:
		p[0] = o->command == KWG_CTL_MAINTENANCE_ENTER ? "true" : "false";
		p[1] = o->message;
		return kwg_pg_query(c->pg, KWG_SQL_MAINTENANCE_SET, 2, p, on_changed, c);
	case KWG_CTL_ROUTING_RELEASE:
		break;
	}
	return -EINVAL;
}

int kwg_ctl_new(uv_loop_t *loop, const struct kwg_ctl_opts *opts, struct kwg_ctl **ret)
{
	struct kwg_ctl *c = calloc(1, sizeof(*c));
	struct kwg_err err = {{0}};
	int r;

	if (!c)
		return -ENOMEM;
	c->loop = loop;
	c->opts = opts;
	r = kwg_sql_table_new(opts->queue_table ? opts->queue_table : KWG_SQL_TABLE_DEFAULT,
	                      &c->sql, &err);
	if (r == -EINVAL)
		fprintf(stderr, "kwg: kestra_queue_table: %s\n", err.msg);
	if (r >= 0)
		r = kwg_pg_new(loop, opts->database_url, "ctl", NULL, NULL, &c->pg);
	if (r < 0) {
		kwg_sql_table_free(c->sql);
		free(c);
		return r;
	}
	uv_timer_init(loop, &c->poll);
	uv_timer_init(loop, &c->deadline);
	c->poll.data = c->deadline.data = c;
	kwg_pg_start(c->pg);
	uv_timer_start(&c->deadline, on_deadline, opts->timeout_ms, 0);
	r = start(c);
	if (r < 0)
		finish(c, 1);
	*ret = c;
	return 0;
}

int kwg_ctl_free(struct kwg_ctl *c)
{
	int code = c->exit_code;

	kwg_sql2_free(c->owned);
	kwg_sql_table_free(c->sql);
	free(c);
	return code;
}
