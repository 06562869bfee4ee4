/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/sql2.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/sql_table.h"

/* queues ("offset", type, routing_key, value), kestra-2x-queue.md §2.4: Kestra's own claim on
 * one routing key. */
const char KWG_SQL2_CLAIM[] = "SELECT \"value\"::text, \"offset\" FROM $Q"
                              " WHERE type = $1 AND routing_key = $2"
                              " ORDER BY \"offset\" ASC LIMIT $3 FOR UPDATE SKIP LOCKED";

/* queues ("offset"), §2.4: a dispatch row is acknowledged by deleting it. */
const char KWG_SQL2_DELETE_CLAIMED[] = "DELETE FROM $Q WHERE \"offset\" = ANY($1::bigint[])";

/* worker_job_running (key, worker_uid), §1.3. */
const char KWG_SQL2_CLAIM_RESOLVE[] =
    "SELECT \"key\" FROM worker_job_running WHERE worker_uid = $1 AND \"key\" = ANY($2::text[])";

/* queues (type, routing_key NULL, key, value, created), worker_job_running (key), §3.1, §4.3,
 * §4.4: the rows in the batch's order (WITH ORDINALITY … ORDER BY n: offsets in that order),
 * the records of the task runs that ended, in one statement, so one transaction; created is the
 * database's clock at the statement. The NOTIFY payload is the routing key, '' for NULL (§2.4). */
#define EMIT2_HEAD                                                                                 \
	"WITH ins AS (INSERT INTO $Q (\"type\", \"key\", \"value\", \"created\")"                  \
	" SELECT t, k, v::jsonb, now() FROM unnest($1::text[], $2::text[], $3::text[])"            \
	" WITH ORDINALITY AS u(t, k, v, n)"
#define EMIT2_TAIL                                                                                 \
	" ORDER BY n RETURNING 1),"                                                                \
	" del AS (DELETE FROM worker_job_running WHERE \"key\" = ANY($4::text[]) RETURNING 1)"     \
	" SELECT count(pg_notify(left('kestra_queue_' || t, 63), ''))"                             \
	" FROM (SELECT DISTINCT t FROM unnest($1::text[]) AS x(t)) d"
const char KWG_SQL2_EMIT[] = EMIT2_HEAD EMIT2_TAIL;
const char KWG_SQL2_EMIT_DEDUPE[] =
    EMIT2_HEAD " WHERE NOT EXISTS (SELECT 1 FROM $Q q WHERE q.type = u.t"
               " AND q.routing_key IS NULL AND q.key = u.k AND q.value = u.v::jsonb)" EMIT2_TAIL;

/* queues (type, routing_key NULL, "offset"), §2.4 subscribeBroadcast. */
const char KWG_SQL2_BROADCAST_MAX[] = "SELECT COALESCE(max(\"offset\"), 0) FROM $Q"
                                      " WHERE type = $1 AND routing_key IS NULL";
const char KWG_SQL2_BROADCAST_POLL[] =
    "SELECT \"value\"::text, \"offset\" FROM $Q"
    " WHERE type = $1 AND \"offset\" > $2::bigint AND routing_key IS NULL"
    " ORDER BY \"offset\" ASC LIMIT 100";

const char KWG_SQL2_CONTROL_READ[] =
    "SELECT COALESCE((SELECT active FROM kwg.maintenance WHERE id = 1), false),"
    " COALESCE(g.paused, false), COALESCE(g.draining, false),"
    " (SELECT count(*) FROM $Q WHERE type = $2 AND routing_key = $3)"
    " FROM (SELECT $1::varchar AS key) k LEFT JOIN kwg.worker_groups g ON g.key = k.key";

/* queues, §2.2 step 3: the executor's insert and its NOTIFY. */
const char KWG_SQL2_SUBMIT[] =
    "WITH i AS (INSERT INTO $Q (\"type\", routing_key, \"key\", \"value\", \"created\")"
    " VALUES ($1, NULLIF($2, ''), $3, $4::jsonb, now()) RETURNING \"offset\", routing_key)"
    " SELECT \"offset\", routing_key, pg_notify(left('kestra_queue_' || $1, 63),"
    " COALESCE($2, '')) FROM i";

/* Each queue's rows in offset order from the (type, routing_key, offset) index. */
const char KWG_SQL2_FOLLOW[] =
    "SELECT * FROM ("
    "(SELECT \"offset\", type::text, \"value\"::text FROM $Q"
    " WHERE type = $3 AND routing_key IS NULL AND \"key\" = $2 AND \"offset\" > $1::bigint)"
    " UNION ALL "
    "(SELECT \"offset\", type::text, \"value\"::text FROM $Q"
    " WHERE type = $4 AND routing_key IS NULL AND \"offset\" > $1::bigint"
    " ORDER BY \"offset\" LIMIT 1000)"
    " UNION ALL "
    "(SELECT \"offset\", type::text, \"value\"::text FROM $Q"
    " WHERE type = $5 AND routing_key IS NULL AND \"offset\" > $1::bigint"
    " ORDER BY \"offset\" LIMIT 1000)"
    ") f ORDER BY 1 LIMIT 1000";

#define ROUTE2_VERSION "1"
#define ROUTE2_TRIGGER "kwg_route_worker_job_event"

const char KWG_SQL2_ROUTING_STATUS[] =
    "SELECT CASE WHEN to_regclass('kwg.routing2') IS NULL THEN NULL ELSE"
    " (xpath('/table/row/v/text()', query_to_xml('SELECT version || '' '' || kwg_version"
    " || '' '' || queue_type AS v FROM kwg.routing2 WHERE id = 1', false, false, '')))[1]::text"
    " END,"
    " (SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1::text)"
    " AND tgname = '" ROUTE2_TRIGGER "' AND NOT tgisinternal),"
    " (SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1::text)"
    " AND tgname = '" ROUTE2_TRIGGER "' AND NOT tgisinternal AND tgenabled <> 'D'),"
    " to_regprocedure('kwg.route_worker_job_event()') IS NOT NULL"
    " AND to_regprocedure('kwg.job_route_key(jsonb)') IS NOT NULL,"
    " (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1::text)"
    " AND attname = 'routing_key' AND NOT attisdropped) = 1";

const char KWG_SQL2_ROUTING_INSTALLED[] =
    "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1::text)"
    " AND tgname = '" ROUTE2_TRIGGER "' AND NOT tgisinternal AND tgenabled <> 'D'"
    " AND to_regprocedure('kwg.job_route_key(jsonb)') IS NOT NULL";

const char KWG_SQL2_ROUTING_WAITING[] =
    "SELECT routing_key, count(*) FROM $Q WHERE type = $1 AND routing_key LIKE 'kwg:%'"
    " GROUP BY 1 ORDER BY 1 LIMIT 100";

const char KWG_SQL2_ROUTING_RELEASE[] =
    "WITH r AS (UPDATE $Q SET routing_key = NULL WHERE type = $1 AND routing_key = $2"
    " RETURNING 1) SELECT count(*) FROM r";

/* fmt is one of the templates below: its only conversion is %1$s (the queue name). */
/* As KWG_SQL_GROUP_LIST, with the jobs waiting on each kwg routing key of the worker_job_event
 * queue ($1) and their oldest wait from the date of the task run's last state. */
const char KWG_SQL2_GROUP_LIST[] =
    "WITH live AS ("
    " SELECT COALESCE(value->'props'->>'worker.group', '') AS key,"
    " COALESCE((SELECT (m->>'value')::float8 FROM jsonb_array_elements(value->'metrics') m"
    " WHERE m->>'name' = 'kestra.worker.job.running'), 0) AS running"
    " FROM service_instance WHERE service_type = 'WORKER'"
    " AND state IN ('CREATED', 'RUNNING', 'MAINTENANCE', 'TERMINATING')"
    " AND updated_at > now() - make_interval(secs => COALESCE("
    " (value->'config'->'liveness'->>'timeout')::float8, 60))),"
    " queued AS (SELECT substr(routing_key, 5) AS key, count(*) AS n,"
    " COALESCE(extract(epoch FROM now() - min(CASE WHEN"
    " value->'job'->'taskRun'->'state'->'histories'->-1->>'date'"
    " ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$' THEN"
    " (value->'job'->'taskRun'->'state'->'histories'->-1->>'date')::timestamptz END))::bigint,"
    " -1) AS oldest FROM $Q WHERE type = $1 AND routing_key LIKE 'kwg:%' GROUP BY 1),"
    " keys AS (SELECT key FROM kwg.worker_groups UNION SELECT key FROM live"
    " UNION SELECT key FROM queued)"
    " SELECT k.key, COALESCE(g.description, ''),"
    " (SELECT count(*) FROM live l WHERE l.key = k.key),"
    " (SELECT COALESCE(sum(running), 0)::bigint FROM live l WHERE l.key = k.key),"
    " COALESCE((SELECT n FROM queued q WHERE q.key = k.key), 0),"
    " COALESCE(g.paused, false), COALESCE(g.draining, false),"
    " COALESCE((SELECT oldest FROM queued q WHERE q.key = k.key), -1)"
    " FROM keys k LEFT JOIN kwg.worker_groups g ON g.key = k.key ORDER BY k.key";

static char *dupf(const char *fmt, const char *name)
{
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
	int n = snprintf(NULL, 0, fmt, name);
	char *s = n >= 0 ? malloc((size_t)n + 1) : NULL;

	if (s)
		(void)snprintf(s, (size_t)n + 1, fmt, name);
#pragma GCC diagnostic pop
	return s;
}

static bool valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 250)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' || *s == '.'))
			return false;
	return true;
}

/* Builds a NULL-terminated list from templates whose %1$s is the queue name and whose $Q is the
 * queue table. */
static char **build(const char *const *tpl, const char *name, const struct kwg_sql_table *table)
{
	size_t n = 0;
	char **out;

	if (!valid_name(name))
		return NULL;
	while (tpl[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	for (size_t i = 0; out && i < n; i++) {
		char *text = dupf(tpl[i], name);
		out[i] = text ? kwg_sql_table_subst(text, kwg_sql_table_quoted(table)) : NULL;
		free(text);
		if (!out[i]) {
			kwg_sql2_free(out);
			return NULL;
		}
	}
	return out;
}

void kwg_sql2_free(char **statements)
{
	for (size_t i = 0; statements && statements[i]; i++)
		free(statements[i]);
	free(statements);
}

/* The routing rule (docs/kestra-integration.md, "Kestra 2.x open source"): a task job that
 * Kestra queued on the default queue (routing_key NULL) whose task-level workerSelector names a
 * kwg group (a key of kwg.worker_groups, `kwg group create`) gets routing key kwg:<group>, which no
 * Kestra component polls. KESTRA: WorkerSelector (kestra-io/kestra @ 3f16d497) matches the
 * selector's tags against a worker queue's tag set; a kwg group's set is its key alone. So ALL
 * (the default): every tag must be that key (one distinct tag); ANY: the first tag, in the task's
 * order, that is a kwg group. Anything else is left to Kestra. Never raises: an error leaves the
 * row to Kestra with a WARNING. SECURITY DEFINER: Kestra's role, which inserts, needs no right on
 * schema kwg's tables. */
static const char *const install_tpl[] = {
    "BEGIN",
    "CREATE SCHEMA IF NOT EXISTS kwg",
    "DO $$BEGIN IF (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('$Q')"
    " AND attname = 'routing_key' AND NOT attisdropped) <> 1 THEN RAISE EXCEPTION"
    " 'table $Q with a routing_key column not found: is this the database of Kestra 2.x"
    " (kestra.queue.type postgres)?'; END IF; END$$",
    "CREATE TABLE IF NOT EXISTS kwg.worker_groups ("
    " key VARCHAR(250) PRIMARY KEY, description TEXT,"
    " paused BOOLEAN NOT NULL DEFAULT false, draining BOOLEAN NOT NULL DEFAULT false,"
    " updated TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS kwg.routing2 ("
    " id INT PRIMARY KEY CHECK (id = 1), version INT NOT NULL, kwg_version TEXT NOT NULL,"
    " queue_type TEXT NOT NULL, installed TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE OR REPLACE FUNCTION kwg.job_route_key(v jsonb) RETURNS text"
    " LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$"
    "DECLARE sel jsonb; tags jsonb; g text; n bigint;"
    " BEGIN"
    " IF COALESCE(v->'job'->>'type', 'task') <> 'task' THEN RETURN NULL; END IF;"
    " sel := v->'job'->'task'->'workerSelector';"
    " tags := sel->'tags';"
    " IF jsonb_typeof(tags) IS DISTINCT FROM 'array' OR jsonb_array_length(tags) = 0 THEN"
    " RETURN NULL; END IF;"
    " IF upper(COALESCE(sel->>'match', 'ALL')) = 'ANY' THEN"
    " SELECT x.t INTO g FROM jsonb_array_elements_text(tags) WITH ORDINALITY AS x(t, i)"
    " WHERE EXISTS (SELECT 1 FROM kwg.worker_groups w WHERE w.key = x.t) ORDER BY x.i LIMIT 1;"
    " ELSE"
    " SELECT min(x.t), count(DISTINCT x.t) INTO g, n FROM jsonb_array_elements_text(tags) AS x(t);"
    " IF n <> 1 OR NOT EXISTS (SELECT 1 FROM kwg.worker_groups w WHERE w.key = g) THEN"
    " g := NULL; END IF;"
    " END IF;"
    " RETURN CASE WHEN g IS NULL THEN NULL ELSE 'kwg:' || g END;"
    " END$$",
    "CREATE OR REPLACE FUNCTION kwg.route_worker_job_event() RETURNS trigger LANGUAGE plpgsql"
    " AS $$DECLARE k text;"
    " BEGIN"
    " IF NEW.type <> '%1$s' OR NEW.routing_key IS NOT NULL THEN RETURN NEW; END IF;"
    " BEGIN"
    " k := kwg.job_route_key(NEW.value);"
    " EXCEPTION WHEN OTHERS THEN"
    " RAISE WARNING 'kwg routing: %%; the job is left to Kestra', SQLERRM;"
    " k := NULL;"
    " END;"
    " IF k IS NOT NULL THEN"
    " NEW.routing_key := k;"
    " PERFORM pg_notify('kwg_worker_job_event', k);"
    " END IF;"
    " RETURN NEW;"
    " END$$",
    "GRANT USAGE ON SCHEMA kwg TO PUBLIC",
    "DROP TRIGGER IF EXISTS " ROUTE2_TRIGGER " ON $Q",
    /* No WHEN clause: a trigger's WHEN naming type would block Kestra's ALTER COLUMN type
     * (kestra-2x-queue.md §4.6 #3). */
    "CREATE TRIGGER " ROUTE2_TRIGGER " BEFORE INSERT ON $Q"
    " FOR EACH ROW EXECUTE FUNCTION kwg.route_worker_job_event()",
    /* Jobs queued before the trigger and not being claimed right now are routed too. */
    "UPDATE $Q q SET routing_key = r.k FROM (SELECT \"offset\" AS o,"
    " kwg.job_route_key(\"value\") AS k FROM $Q WHERE type = '%1$s' AND routing_key IS NULL"
    " FOR UPDATE SKIP LOCKED) r WHERE q.\"offset\" = r.o AND r.k IS NOT NULL",
    "INSERT INTO kwg.routing2 (id, version, kwg_version, queue_type) VALUES (1, " ROUTE2_VERSION
    ", '" KWG_VERSION "', '%1$s') ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version,"
    " kwg_version = EXCLUDED.kwg_version, queue_type = EXCLUDED.queue_type, installed = now()",
    "COMMIT",
    NULL,
};

char **kwg_sql2_routing_install(const char *job_queue, const struct kwg_sql_table *table)
{
	return build(install_tpl, job_queue, table);
}

#define ROUTING2_DROP                                                                              \
	"DROP TRIGGER IF EXISTS " ROUTE2_TRIGGER " ON $Q",                                         \
	    "DROP FUNCTION IF EXISTS kwg.route_worker_job_event()",                                \
	    "DROP FUNCTION IF EXISTS kwg.job_route_key(jsonb)",                                    \
	    "DROP TABLE IF EXISTS kwg.routing2"
static const char *const uninstall_tpl[] = {
    "BEGIN",
    "DROP TRIGGER IF EXISTS " ROUTE2_TRIGGER " ON $Q",
    "DO $$DECLARE w text; BEGIN"
    " SELECT string_agg(format('%%s (%%s job(s))', k, n), ', ') INTO w FROM (SELECT"
    " routing_key AS k, count(*) AS n FROM $Q WHERE type = '%1$s' AND routing_key LIKE 'kwg:%%'"
    " GROUP BY 1 ORDER BY 1) x;"
    " IF w IS NOT NULL THEN RAISE EXCEPTION 'routed jobs are waiting on %%; without routing nothing"
    " would reach them: `kwg routing uninstall --requeue` gives them back to Kestra''s default"
    " queue', w; END IF; END$$",
    ROUTING2_DROP,
    "COMMIT",
    NULL,
};
static const char *const uninstall_requeue_tpl[] = {
    "BEGIN",
    "DROP TRIGGER IF EXISTS " ROUTE2_TRIGGER " ON $Q",
    "UPDATE $Q SET routing_key = NULL WHERE type = '%1$s' AND routing_key LIKE 'kwg:%%'",
    ROUTING2_DROP,
    "COMMIT",
    NULL,
};

char **kwg_sql2_routing_uninstall(const char *job_queue, int requeue,
                                  const struct kwg_sql_table *table)
{
	return build(requeue ? uninstall_requeue_tpl : uninstall_tpl, job_queue, table);
}

const struct kwg_sql_statement kwg_sql2_statements[] = {
    {"claim2", KWG_SQL2_CLAIM},
    {"delete_claimed2", KWG_SQL2_DELETE_CLAIMED},
    {"claim_resolve2", KWG_SQL2_CLAIM_RESOLVE},
    {"emit2", KWG_SQL2_EMIT},
    {"emit_dedupe2", KWG_SQL2_EMIT_DEDUPE},
    {"broadcast_max2", KWG_SQL2_BROADCAST_MAX},
    {"broadcast_poll2", KWG_SQL2_BROADCAST_POLL},
    {"control_read2", KWG_SQL2_CONTROL_READ},
    {"submit2", KWG_SQL2_SUBMIT},
    {"follow2", KWG_SQL2_FOLLOW},
    {"routing_status2", KWG_SQL2_ROUTING_STATUS},
    {"routing_installed2", KWG_SQL2_ROUTING_INSTALLED},
    {"routing_waiting2", KWG_SQL2_ROUTING_WAITING},
    {"routing_release2", KWG_SQL2_ROUTING_RELEASE},
    {"group_list2", KWG_SQL2_GROUP_LIST},
    {NULL, NULL},
};
