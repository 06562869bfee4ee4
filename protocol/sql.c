/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/sql.h"

#include <string.h>

#include "common/buf.h"

/* queues (type, "offset", consumer_worker, consumer_group, value), 1.0. FOR UPDATE SKIP LOCKED
 * lets workers of one group claim side by side without ever taking the same row. */
#define CLAIM_GROUP_SELECT                                                                         \
	"SELECT \"value\", \"offset\" FROM $Q"                                                     \
	" WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type)"                     \
	" AND \"consumer_worker\" = false AND \"consumer_group\" = $1"                             \
	" ORDER BY \"offset\" ASC LIMIT $2 FOR UPDATE SKIP LOCKED"
const char KWG_SQL_CLAIM_GROUP[] = CLAIM_GROUP_SELECT;

#define CLAIM_DEFAULT_SELECT                                                                       \
	"SELECT \"value\", \"offset\" FROM $Q"                                                     \
	" WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type)"                     \
	" AND \"consumer_worker\" = false AND \"consumer_group\" IS NULL"                          \
	" AND COALESCE(\"value\"->>'type', 'task') = 'task'"                                       \
	" AND (\"value\"->'task'->>'type' = ANY($2::text[])"                                       \
	" OR (\"value\"->'task'->>'type' = ANY($3::text[])"                                        \
	" AND (\"value\"->'task'->'taskRunner'->>'type' = 'io.kestra.plugin.core.runner.Process'"  \
	" OR ($4::boolean AND \"value\"->'task'->'taskRunner' IS NULL))))"                         \
	" ORDER BY \"offset\" ASC LIMIT $1 FOR UPDATE SKIP LOCKED"
const char KWG_SQL_CLAIM_DEFAULT[] = CLAIM_DEFAULT_SELECT;

/* The whole claim of §3.1 in one statement, so one round trip (docs/performance.md, round 3):
 * the rows are locked (c), their worker_job_running records upserted (r: the row's WorkerTask
 * plus "workerInstance" {uid, workerUuid, workerGroup when there is a group} and "partition" 0,
 * §5.8, "type" "task" when missing; a task run repeated in one claim keeps its last row; only
 * task rows with a taskRun.id get one) and the rows marked (m, same group predicate as the
 * SELECT); the rows come back in offset order with the transaction's id, which is NULL only
 * when nothing was claimed. A claim whose answer is lost is resolved through that id
 * (KWG_SQL_CLAIM_ADOPT). WORKER and GROUP are parameters or NULL; PRED is the mark's group
 * predicate. */
#define CLAIM_ONE(SELECT, WORKER, GROUP, PRED)                                                     \
	"WITH c AS (" SELECT "),"                                                                  \
	" r AS (INSERT INTO worker_job_running (\"key\", \"value\")"                               \
	" SELECT DISTINCT ON (k) k, '{\"type\":\"task\"}'::jsonb || v"                             \
	" || jsonb_build_object('workerInstance', jsonb_strip_nulls(jsonb_build_object("           \
	"'uid', " WORKER "::text, 'workerUuid', " WORKER "::text, 'workerGroup', " GROUP           \
	"::text)),"                                                                                \
	" 'partition', 0)"                                                                         \
	" FROM (SELECT \"value\"->'taskRun'->>'id' AS k, \"value\" AS v, \"offset\" AS o FROM c"   \
	" WHERE COALESCE(\"value\"->>'type', 'task') = 'task') t"                                  \
	" WHERE k IS NOT NULL ORDER BY k, o DESC"                                                  \
	" ON CONFLICT (\"key\") DO UPDATE SET \"value\" = EXCLUDED.\"value\" RETURNING 1),"        \
	" m AS (UPDATE $Q SET \"consumer_worker\" = true, \"updated\" = now()"                     \
	" WHERE \"offset\" IN (SELECT \"offset\" FROM c) AND " PRED " RETURNING 1)"                \
	" SELECT \"value\", \"offset\", txid_current_if_assigned() FROM c ORDER BY \"offset\""
const char KWG_SQL_CLAIM_ONE_GROUP[] =
    CLAIM_ONE(CLAIM_GROUP_SELECT, "$3", "$1", "\"consumer_group\" = $1");
const char KWG_SQL_CLAIM_ONE_DEFAULT[] =
    CLAIM_ONE(CLAIM_DEFAULT_SELECT, "$5", "NULL", "\"consumer_group\" IS NULL");

/* pg_stat_activity (pid, state): whether the session that sent a claim whose answer was lost
 * still runs a statement (then the claim may still commit: wait); $2 cancels that statement. */
const char KWG_SQL_CLAIM_BUSY[] = "SELECT CASE WHEN $2::boolean THEN pg_cancel_backend(pid) END"
                                  " FROM pg_stat_activity WHERE pid = $1::int AND state = 'active'";

/* worker_job_running (value, worker_uuid, xmin), §5.8: the records this worker holds that were
 * written after its last claim with rows ($2, a transaction id modulo 2^32; NULL: there was
 * none, and the worker id is new at each start): those of the claim whose answer was lost,
 * since only this worker's claims write records with its id, one at a time. age() compares
 * transaction ids across wraparound. Columns as the claim's: value, an offset (-1: unknown),
 * the writing transaction. */
const char KWG_SQL_CLAIM_ADOPT[] =
    "SELECT \"value\", -1, xmin::text FROM worker_job_running WHERE worker_uuid = $1"
    " AND ($2::xid IS NULL OR age(xmin) < age($2::xid))";

/* worker_job_running (key, value), §5.8; the generated worker_uuid reads
 * value->'workerInstance'->>'workerUuid'. */
const char KWG_SQL_RUNNING_UPSERT[] =
    "INSERT INTO worker_job_running (\"key\", \"value\")"
    " SELECT k, v::jsonb FROM unnest($1::text[], $2::text[]) AS u(k, v)"
    " ON CONFLICT (\"key\") DO UPDATE SET \"value\" = EXCLUDED.\"value\"";

/* queues (consumer_worker, updated, "offset", consumer_group), §3.1 step 5: same group
 * predicate as the SELECT; updated is also set by the queues_updated trigger. */
const char KWG_SQL_MARK_CONSUMED[] = "UPDATE $Q SET \"consumer_worker\" = true, \"updated\" = now()"
                                     " WHERE \"offset\" = ANY($1::bigint[])"
                                     " AND \"consumer_group\" IS NOT DISTINCT FROM $2::varchar";

/* queues (type, key, value), §3.3. WITH ORDINALITY + ORDER BY keeps the batch's order in the
 * offsets the sequence hands out. */
const char KWG_SQL_EMIT[] =
    "INSERT INTO $Q (\"type\", \"key\", \"value\")"
    " SELECT CAST(t AS queue_type), k, v::jsonb"
    " FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(t, k, v, n)"
    " ORDER BY n";

/* queues (type, key, value), §3.3: the same rows as KWG_SQL_EMIT through COPY's text format
 * (kwg_sql_copy_field), which costs the server less per row; rows take their offsets in the
 * order of the data. A utility statement: it cannot be prepared (it_prepare runs it empty). */
const char KWG_SQL_EMIT_COPY[] = "COPY $Q (\"type\", \"key\", \"value\") FROM STDIN";

const char KWG_SQL_SUBMIT[] =
    "INSERT INTO $Q (\"type\", \"key\", \"value\", \"consumer_group\")"
    " VALUES (CAST('io.kestra.core.runners.WorkerJob' AS queue_type), $1, $2::jsonb, $3)"
    " RETURNING \"offset\", \"consumer_group\"";

/* Each type's rows in offset order from its own index (queues_type__offset, queues_type__key): a
 * filter on the LogEntry's taskRunId here would make the planner scan the whole table, so the
 * caller skips other tasks' lines itself. */
const char KWG_SQL_FOLLOW[] =
    "SELECT * FROM ("
    "(SELECT \"offset\", type::text, \"value\"::text FROM $Q"
    " WHERE type = CAST('io.kestra.core.runners.WorkerTaskResult' AS queue_type)"
    " AND \"key\" = $2 AND \"offset\" > $1::bigint)"
    " UNION ALL "
    "(SELECT \"offset\", type::text, \"value\"::text FROM $Q"
    " WHERE type = CAST('io.kestra.core.models.executions.LogEntry' AS queue_type)"
    " AND \"offset\" > $1::bigint ORDER BY \"offset\" LIMIT 1000)"
    " UNION ALL "
    "(SELECT \"offset\", type::text, \"value\"::text FROM $Q"
    " WHERE type = CAST('io.kestra.core.models.executions.MetricEntry' AS queue_type)"
    " AND \"offset\" > $1::bigint ORDER BY \"offset\" LIMIT 1000)"
    ") f ORDER BY 1 LIMIT 1000";

/* service_instance (key, value, service_id), §7.4: the heartbeat transaction. */
const char KWG_SQL_INSTANCE_LOCK[] =
    "SELECT \"value\"::text FROM service_instance WHERE \"service_id\" = $1 FOR UPDATE";
const char KWG_SQL_INSTANCE_UPSERT[] =
    "INSERT INTO service_instance (\"key\", \"value\") VALUES ($1, $2::jsonb)"
    " ON CONFLICT (\"key\") DO UPDATE SET \"value\" = EXCLUDED.\"value\"";
/* The first record, by the heartbeat or the first claim, whichever comes first. Without a conflict
 * target every unique index is an arbiter: when both insert at once, the second inserts nothing
 * rather than failing on ix_service_id (not an arbiter of the upsert's ON CONFLICT (key)). */
const char KWG_SQL_INSTANCE_REGISTER[] =
    "INSERT INTO service_instance (\"key\", \"value\") VALUES ($1, $2::jsonb)"
    " ON CONFLICT DO NOTHING";

/* queues (type, "offset", consumer_group, value), §3.2: broadcast reads never lock nor mark. */
const char KWG_SQL_BROADCAST_MAX[] =
    "SELECT COALESCE(max(\"offset\"), 0) FROM $Q"
    " WHERE type = CAST($1 AS queue_type) AND \"consumer_group\" IS NULL";
const char KWG_SQL_BROADCAST_POLL[] =
    "SELECT \"value\"::text, \"offset\" FROM $Q"
    " WHERE type = CAST($1 AS queue_type) AND \"offset\" > $2::bigint"
    " AND \"consumer_group\" IS NULL ORDER BY \"offset\" ASC LIMIT 100";

/* worker_job_running (key, worker_uuid): the claim committed iff its records are there. */
const char KWG_SQL_CLAIM_RESOLVE[] =
    "SELECT \"key\" FROM worker_job_running WHERE worker_uuid = $1 AND \"key\" = ANY($2::text[])";

/* queues (type, key, value): after a connection loss the outcome of the last batch is unknown;
 * resending it through this statement writes only the rows that are not there yet (the
 * queues_type__key index finds them). */
const char KWG_SQL_EMIT_DEDUPE[] =
    "INSERT INTO $Q (\"type\", \"key\", \"value\")"
    " SELECT CAST(t AS queue_type), k, v::jsonb"
    " FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(t, k, v, n)"
    " WHERE NOT EXISTS (SELECT 1 FROM $Q q WHERE q.type = CAST(u.t AS queue_type)"
    " AND q.key = u.k AND q.value = u.v::jsonb)"
    " ORDER BY n";

/* Which Kestra made this database (protocol/kestra_schema.h): the columns of queues ("name:type"
 * joined by ','; NULL without the table), and the last successful Flyway migration's version, NULL
 * when there is none. flyway_schema_history may not exist: query_to_xml runs its query only in the
 * ELSE branch, which CASE evaluates only when the table is there (a plain subquery would fail to
 * plan). */
const char KWG_SQL_KESTRA_SCHEMA[] =
    "SELECT (SELECT string_agg(attname || ':' || format_type(atttypid, atttypmod), ','"
    " ORDER BY attnum) FROM pg_attribute WHERE attrelid = to_regclass(CASE WHEN $1::text IS NULL"
    " THEN quote_ident($2::text) ELSE quote_ident($1::text) || '.' || quote_ident($2::text) END)"
    " AND attnum > 0"
    " AND NOT attisdropped),"
    " CASE WHEN to_regclass('flyway_schema_history') IS NULL THEN NULL"
    " ELSE (xpath('/table/row/v/text()', query_to_xml('SELECT version AS v"
    " FROM flyway_schema_history WHERE success AND version IS NOT NULL"
    " ORDER BY installed_rank DESC LIMIT 1', false, false, '')))[1]::text END";

/* kwg.maintenance (active), kwg.worker_groups (key, paused, draining): kwg's own tables. */
const char KWG_SQL_CONTROL_READ[] =
    "SELECT COALESCE((SELECT active FROM kwg.maintenance WHERE id = 1), false),"
    " COALESCE(g.paused, false), COALESCE(g.draining, false),"
    " (SELECT count(*) FROM $Q WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS"
    " queue_type) AND NOT consumer_worker AND consumer_group IS NOT DISTINCT FROM NULLIF($1, ''))"
    " FROM (SELECT $1::varchar AS key) k LEFT JOIN kwg.worker_groups g ON g.key = k.key";
const char KWG_SQL_LISTEN_CONTROL[] = "LISTEN kwg_control";

const char KWG_SQL_GROUP_UPSERT[] =
    "INSERT INTO kwg.worker_groups (key, description) VALUES ($1, $2)"
    " ON CONFLICT (key) DO UPDATE SET description = COALESCE(EXCLUDED.description,"
    " kwg.worker_groups.description), updated = now()";
const char KWG_SQL_GROUP_DELETE[] = "DELETE FROM kwg.worker_groups WHERE key = $1";
const char KWG_SQL_GROUP_SET_FLAGS[] =
    "INSERT INTO kwg.worker_groups (key, paused, draining)"
    " VALUES ($1, COALESCE($2::boolean, false), COALESCE($3::boolean, false))"
    " ON CONFLICT (key) DO UPDATE SET paused = COALESCE($2::boolean, kwg.worker_groups.paused),"
    " draining = COALESCE($3::boolean, kwg.worker_groups.draining), updated = now()"
    " RETURNING (extract(epoch FROM now()) * 1000)::bigint";
const char KWG_SQL_MAINTENANCE_SET[] =
    "UPDATE kwg.maintenance SET active = $1, message = $2, updated = now() WHERE id = 1"
    " RETURNING (extract(epoch FROM now()) * 1000)::bigint";

/* Seconds the oldest waiting job of a group has waited (-1: none or unknown), from the date of the
 * last state of its task run (set when the executor emitted it; queues.updated is NULL on insert
 * in 1.x). A date that is not ISO-8601 counts as unknown rather than failing the query. */
#define KWG_SQL_OLDEST_WAIT                                                                        \
	"COALESCE(extract(epoch FROM now() - min(CASE WHEN value->'taskRun'->'state'->'histories'" \
	"->-1->>'date' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+(Z|[+-][0-9:]+)$' THEN"              \
	" (value->'taskRun'->'state'->'histories'->-1->>'date')::timestamptz END))::bigint, -1)"

/* Per group: live workers and their running tasks (from each live worker's own heartbeat),
 * queued WorkerJob rows, and the control flags. A worker is live while its row is in a running
 * state and was updated within its own liveness timeout. */
const char KWG_SQL_GROUP_LIST[] =
    "WITH live AS ("
    " SELECT COALESCE(value->'props'->>'worker.group', '') AS key,"
    " COALESCE((SELECT (m->>'value')::float8 FROM jsonb_array_elements(value->'metrics') m"
    " WHERE m->>'name' = 'kestra.worker.job.running'), 0) AS running"
    " FROM service_instance WHERE service_type = 'WORKER'"
    " AND state IN ('CREATED', 'RUNNING', 'MAINTENANCE', 'TERMINATING')"
    " AND updated_at > now() - make_interval(secs => COALESCE("
    " (value->'config'->'liveness'->>'timeout')::float8, 60))),"
    " queued AS (SELECT COALESCE(consumer_group, '') AS key, count(*) AS n,"
    " " KWG_SQL_OLDEST_WAIT " AS oldest FROM $Q"
    " WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type)"
    " AND NOT consumer_worker GROUP BY 1),"
    " keys AS (SELECT key FROM kwg.worker_groups UNION SELECT key FROM live"
    " UNION SELECT key FROM queued)"
    " SELECT k.key, COALESCE(g.description, ''),"
    " (SELECT count(*) FROM live l WHERE l.key = k.key),"
    " (SELECT COALESCE(sum(running), 0)::bigint FROM live l WHERE l.key = k.key),"
    " COALESCE((SELECT n FROM queued q WHERE q.key = k.key), 0),"
    " COALESCE(g.paused, false), COALESCE(g.draining, false),"
    " COALESCE((SELECT oldest FROM queued q WHERE q.key = k.key), -1)"
    " FROM keys k LEFT JOIN kwg.worker_groups g ON g.key = k.key ORDER BY k.key";

/* service_instance (value, state, updated_at): workers of a group ($1, '' for the default group,
 * NULL for all), newest first: id, group, state, updated (epoch ms), running, hostname, whether it
 * is live (a running state, updated within its own liveness timeout), now (epoch ms). */
const char KWG_SQL_WORKERS[] =
    "SELECT value->>'id', COALESCE(value->'props'->>'worker.group', ''), state,"
    " (extract(epoch FROM updated_at) * 1000)::bigint,"
    " COALESCE((SELECT (m->>'value')::float8 FROM jsonb_array_elements(value->'metrics') m"
    " WHERE m->>'name' = 'kestra.worker.job.running'), 0)::bigint,"
    " COALESCE(value->'server'->>'hostname', ''),"
    " state IN ('CREATED', 'RUNNING', 'MAINTENANCE', 'TERMINATING') AND updated_at > now() -"
    " make_interval(secs => COALESCE((value->'config'->'liveness'->>'timeout')::float8, 60)),"
    " (extract(epoch FROM now()) * 1000)::bigint"
    " FROM service_instance WHERE service_type = 'WORKER'"
    " AND ($1::text IS NULL OR COALESCE(value->'props'->>'worker.group', '') = $1)"
    " ORDER BY updated_at DESC LIMIT 1000";

/* Schema kwg, created and updated by `kwg migrate`; never part of Kestra's schema. Changes to the
 * control tables notify channel kwg_control, so workers learn of them at once. */
const char *const kwg_sql_migration[] = {
    "CREATE SCHEMA IF NOT EXISTS kwg",
    "CREATE TABLE IF NOT EXISTS kwg.worker_groups ("
    " key VARCHAR(250) PRIMARY KEY, description TEXT,"
    " paused BOOLEAN NOT NULL DEFAULT false, draining BOOLEAN NOT NULL DEFAULT false,"
    " updated TIMESTAMPTZ NOT NULL DEFAULT now())",
    "CREATE TABLE IF NOT EXISTS kwg.maintenance ("
    " id INT PRIMARY KEY CHECK (id = 1), active BOOLEAN NOT NULL DEFAULT false, message TEXT,"
    " updated TIMESTAMPTZ NOT NULL DEFAULT now())",
    "INSERT INTO kwg.maintenance (id) VALUES (1) ON CONFLICT DO NOTHING",
    "CREATE OR REPLACE FUNCTION kwg.notify_control() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN PERFORM pg_notify('kwg_control', TG_TABLE_NAME); RETURN NULL; END$$",
    "DROP TRIGGER IF EXISTS worker_groups_notify ON kwg.worker_groups",
    "CREATE TRIGGER worker_groups_notify AFTER INSERT OR UPDATE OR DELETE ON kwg.worker_groups"
    " FOR EACH STATEMENT EXECUTE FUNCTION kwg.notify_control()",
    "DROP TRIGGER IF EXISTS maintenance_notify ON kwg.maintenance",
    "CREATE TRIGGER maintenance_notify AFTER INSERT OR UPDATE OR DELETE ON kwg.maintenance"
    " FOR EACH STATEMENT EXECUTE FUNCTION kwg.notify_control()",
    NULL,
};

/* `kwg notify install`: the one change kwg may make to Kestra's own table, opt-in and
 * reversible: a statement trigger on queues that notifies channel kwg_worker_job when a statement
 * inserted WorkerJob rows, so that workers claim at once instead of at their next poll. */
const char *const kwg_sql_notify_install[] = {
    "CREATE SCHEMA IF NOT EXISTS kwg",
    "CREATE OR REPLACE FUNCTION kwg.notify_worker_job() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN IF EXISTS (SELECT 1 FROM kwg_new_rows"
    " WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type))"
    " THEN PERFORM pg_notify('kwg_worker_job', ''); END IF; RETURN NULL; END$$",
    "DROP TRIGGER IF EXISTS kwg_notify_worker_job ON $Q",
    "CREATE TRIGGER kwg_notify_worker_job AFTER INSERT ON $Q"
    " REFERENCING NEW TABLE AS kwg_new_rows"
    " FOR EACH STATEMENT EXECUTE FUNCTION kwg.notify_worker_job()",
    NULL,
};
const char *const kwg_sql_notify_uninstall[] = {
    "DROP TRIGGER IF EXISTS kwg_notify_worker_job ON $Q",
    "DROP FUNCTION IF EXISTS kwg.notify_worker_job()",
    NULL,
};
const char KWG_SQL_NOTIFY_INSTALLED[] =
    "SELECT count(*) FROM pg_trigger WHERE tgname = 'kwg_notify_worker_job' AND NOT tgisinternal";
const char KWG_SQL_LISTEN_JOBS[] = "LISTEN kwg_worker_job";

/* `kwg routing install` (docs/kestra-integration.md, "Kestra open source: worker groups"): a BEFORE
 * INSERT trigger on queues sets consumer_group of a WorkerJob of type task that Kestra wrote with
 * NULL, from the task's workerGroup, else the flow's. Every condition is in the function body, so
 * the trigger's definition never names a column Kestra may change. A key the database cannot
 * route itself goes to a holding group whose name no Kestra or kwg key can have ("kwg:" + why),
 * which every kwg worker resolves (transport/pg/route.c). The functions reach Kestra's other tables
 * (flows, service_instance) in the schema of the table that fired the trigger, through EXECUTE,
 * so that a database without flows still routes task keys. */
#define ROUTE_DETAIL_VERSION "1"
const char *const kwg_sql_routing_install[] = {
    "BEGIN",
    "CREATE SCHEMA IF NOT EXISTS kwg",
    "DO $$BEGIN IF to_regclass('$Q') IS NULL THEN RAISE EXCEPTION"
    " 'table $Q not found: is this the database of Kestra 1.x?'; END IF; END$$",
    "CREATE TABLE IF NOT EXISTS kwg.routing ("
    " id INT PRIMARY KEY CHECK (id = 1), version INT NOT NULL, kwg_version TEXT NOT NULL,"
    " installed TIMESTAMPTZ NOT NULL DEFAULT now())",
    /* The workerGroup that applies to a WorkerJob value: the task's (an object, or a 1.x JSON
     * string of one), else the flow's revision the job came from. NULL when none; a string that
     * is not JSON comes back as it is (not an object: kwg:invalid). Never raises: an error comes
     * back as {"kwg.error": message}, which routes to kwg:invalid too. */
    "CREATE OR REPLACE FUNCTION kwg.job_worker_group(v jsonb, sch text) RETURNS jsonb"
    " LANGUAGE plpgsql STABLE AS $$"
    "DECLARE wg jsonb := v->'task'->'workerGroup'; rev text; fl regclass;"
    " BEGIN"
    " IF jsonb_typeof(wg) = 'string' THEN"
    " BEGIN wg := (wg #>> '{}')::jsonb; EXCEPTION WHEN OTHERS THEN RETURN wg; END;"
    " END IF;"
    " IF wg IS NOT NULL AND jsonb_typeof(wg) <> 'null' THEN RETURN wg; END IF;"
    " fl := to_regclass(format('%I.flows', sch));"
    " IF fl IS NULL THEN RETURN NULL; END IF;"
    " rev := v->'runContext'->'variables'->'flow'->>'revision';"
    " EXECUTE format('SELECT value->''workerGroup'' FROM %s WHERE deleted IN (false, true)"
    " AND namespace = $1 AND id = $2 AND tenant_id IS NOT DISTINCT FROM $3"
    " AND ($4::int IS NULL OR revision = $4::int) ORDER BY revision DESC LIMIT 1', fl)"
    " INTO wg USING v->'taskRun'->>'namespace', v->'taskRun'->>'flowId',"
    " v->'taskRun'->>'tenantId', rev;"
    " IF jsonb_typeof(wg) = 'string' THEN wg := (wg #>> '{}')::jsonb; END IF;"
    " IF jsonb_typeof(wg) = 'null' THEN RETURN NULL; END IF;"
    " RETURN wg;"
    " EXCEPTION WHEN OTHERS THEN RETURN jsonb_build_object('kwg.error', SQLERRM);"
    " END$$",
    /* Whether a worker of group k is alive: Kestra Enterprise's test (a RUNNING WORKER
     * service_instance of that group), within the worker's own liveness timeout. */
    "CREATE OR REPLACE FUNCTION kwg.group_alive(k text, sch text) RETURNS boolean"
    " LANGUAGE plpgsql STABLE AS $$"
    "DECLARE alive boolean;"
    " BEGIN"
    " EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.service_instance"
    " WHERE service_type = ''WORKER'' AND state = ''RUNNING''"
    " AND value->''props''->>''worker.group'' = $1 AND updated_at > now() - make_interval(secs =>"
    " COALESCE((value->''config''->''liveness''->>''timeout'')::float8, 60)))', sch)"
    " INTO alive USING k;"
    " RETURN alive;"
    " END$$",
    /* The consumer_group for a workerGroup: NULL (the default group), its key, or a holding
     * group: kwg:render (a Pebble expression), kwg:invalid (not a key), kwg:fallback (FAIL or
     * CANCEL and no worker of the group alive). Keys as Kestra's CLI takes them. */
    "CREATE OR REPLACE FUNCTION kwg.route_group(wg jsonb, sch text) RETURNS text"
    " LANGUAGE plpgsql STABLE AS $$"
    "DECLARE k text; fb text;"
    " BEGIN"
    " IF wg IS NULL OR jsonb_typeof(wg) = 'null' THEN RETURN NULL; END IF;"
    " IF jsonb_typeof(wg) <> 'object' OR wg ? 'kwg.error' THEN RETURN 'kwg:invalid'; END IF;"
    " IF jsonb_typeof(wg->'key') IS NULL OR jsonb_typeof(wg->'key') = 'null' THEN"
    " RETURN NULL; END IF;"
    " IF jsonb_typeof(wg->'key') <> 'string' THEN RETURN 'kwg:invalid'; END IF;"
    " k := wg->>'key';"
    " IF strpos(k, '{{') > 0 OR strpos(k, '{%') > 0 THEN RETURN 'kwg:render'; END IF;"
    " IF k !~ '^[a-zA-Z0-9_-]{1,250}$' THEN RETURN 'kwg:invalid'; END IF;"
    " fb := upper(COALESCE(wg->>'fallback', 'WAIT'));"
    " IF fb IN ('FAIL', 'CANCEL') AND NOT kwg.group_alive(k, sch) THEN"
    " RETURN 'kwg:fallback'; END IF;"
    " RETURN k;"
    " END$$",
    /* The trigger: only WorkerJob rows of type task that arrive without a group. An unexpected
     * error never fails Kestra's INSERT and never leaves the row in the default group (where
     * any worker would run it): it goes to kwg:invalid, where a kwg worker fails the task with
     * an ERROR log saying so. */
    "CREATE OR REPLACE FUNCTION kwg.route_worker_job() RETURNS trigger LANGUAGE plpgsql AS $$"
    "BEGIN"
    " IF NEW.type = 'io.kestra.core.runners.WorkerJob' AND NEW.consumer_group IS NULL"
    " AND COALESCE(NEW.value->>'type', 'task') = 'task' THEN"
    " BEGIN"
    " NEW.consumer_group := kwg.route_group(kwg.job_worker_group(NEW.value, TG_TABLE_SCHEMA),"
    " TG_TABLE_SCHEMA);"
    " EXCEPTION WHEN OTHERS THEN"
    " RAISE WARNING 'kwg routing: %', SQLERRM;"
    " NEW.consumer_group := 'kwg:invalid';"
    " END;"
    " END IF;"
    " RETURN NEW;"
    " END$$",
    /* The trigger runs as whoever inserts (Kestra's role), and calls the functions above by
     * name: without this, a Kestra role other than the installer's would see every routing fail
     * (kwg:invalid). Only names become visible: kwg's tables keep their own privileges. */
    "GRANT USAGE ON SCHEMA kwg TO PUBLIC",
    "DROP TRIGGER IF EXISTS kwg_route_worker_job ON $Q",
    "CREATE TRIGGER kwg_route_worker_job BEFORE INSERT ON $Q"
    " FOR EACH ROW EXECUTE FUNCTION kwg.route_worker_job()",
    /* Jobs Kestra wrote before the trigger existed and nobody claimed yet are routed too (rows a
     * worker is claiming right now are skipped: they are being taken). */
    "UPDATE $Q q SET consumer_group = r.g FROM (SELECT \"offset\" AS o,"
    " kwg.route_group(kwg.job_worker_group(\"value\", s.nspname), s.nspname) AS g"
    " FROM $Q j, (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.oid = to_regclass('$Q')) s"
    " WHERE type = 'io.kestra.core.runners.WorkerJob' AND NOT consumer_worker"
    " AND consumer_group IS NULL AND COALESCE(\"value\"->>'type', 'task') = 'task'"
    " FOR UPDATE OF j SKIP LOCKED) r WHERE q.\"offset\" = r.o AND r.g IS NOT NULL"
    " AND q.type = 'io.kestra.core.runners.WorkerJob'",
    "INSERT INTO kwg.routing (id, version, kwg_version) VALUES (1, " ROUTE_DETAIL_VERSION
    ", '" KWG_VERSION "') ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version,"
    " kwg_version = EXCLUDED.kwg_version, installed = now()",
    "COMMIT",
    NULL,
};

/* `kwg routing uninstall`: the trigger first (nothing new is routed), then, in the same
 * transaction, refuse while routed jobs wait (naming their groups), or with --requeue give them
 * back to the default group, where Kestra's own workers take them. */
#define ROUTING_DROP                                                                               \
	"DROP TRIGGER IF EXISTS kwg_route_worker_job ON $Q",                                       \
	    "DROP FUNCTION IF EXISTS kwg.route_worker_job()",                                      \
	    "DROP FUNCTION IF EXISTS kwg.route_group(jsonb, text)",                                \
	    "DROP FUNCTION IF EXISTS kwg.group_alive(text, text)",                                 \
	    "DROP FUNCTION IF EXISTS kwg.job_worker_group(jsonb, text)",                           \
	    "DROP TABLE IF EXISTS kwg.routing"
const char *const kwg_sql_routing_uninstall[] = {
    "BEGIN",
    "DO $$DECLARE w text; BEGIN"
    " SELECT string_agg(format('%s (%s job(s))', g, n), ', ') INTO w FROM (SELECT"
    " consumer_group AS g, count(*) AS n FROM $Q"
    " WHERE type = 'io.kestra.core.runners.WorkerJob' AND NOT consumer_worker"
    " AND consumer_group IS NOT NULL GROUP BY 1 ORDER BY 1) x;"
    " IF w IS NOT NULL THEN RAISE EXCEPTION 'routed jobs are waiting in group(s) %; without"
    " routing nothing would reach them: `kwg routing uninstall --requeue` gives them back to"
    " the default group', w; END IF; END$$",
    ROUTING_DROP,
    "COMMIT",
    NULL,
};
const char *const kwg_sql_routing_uninstall_requeue[] = {
    "BEGIN",
    "DROP TRIGGER IF EXISTS kwg_route_worker_job ON $Q",
    "UPDATE $Q SET consumer_group = NULL"
    " WHERE type = 'io.kestra.core.runners.WorkerJob' AND NOT consumer_worker"
    " AND consumer_group IS NOT NULL",
    ROUTING_DROP,
    "COMMIT",
    NULL,
};

/* `kwg routing status`: the version installed (NULL: never), this kwg's, whether the trigger is
 * on queues, enabled, whether the functions are there, whether queues still has the columns the
 * routing reads, and the WorkerJob rows waiting in holding groups. */
const char KWG_SQL_ROUTING_STATUS[] =
    "SELECT CASE WHEN to_regclass('kwg.routing') IS NULL THEN NULL ELSE"
    " (xpath('/table/row/v/text()', query_to_xml('SELECT version || '' '' || kwg_version AS v"
    " FROM kwg.routing WHERE id = 1', false, false, '')))[1]::text END,"
    " " ROUTE_DETAIL_VERSION " || ' ' || '" KWG_VERSION "',"
    " (SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1::text)"
    " AND tgname = 'kwg_route_worker_job' AND NOT tgisinternal),"
    " (SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1::text)"
    " AND tgname = 'kwg_route_worker_job' AND NOT tgisinternal AND tgenabled <> 'D'),"
    " to_regprocedure('kwg.route_worker_job()') IS NOT NULL"
    " AND to_regprocedure('kwg.route_group(jsonb, text)') IS NOT NULL"
    " AND to_regprocedure('kwg.job_worker_group(jsonb, text)') IS NOT NULL"
    " AND to_regprocedure('kwg.group_alive(text, text)') IS NOT NULL,"
    " (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1::text)"
    " AND attname IN ('type', 'value', 'consumer_group', 'consumer_worker')"
    " AND NOT attisdropped),"
    " to_regclass('flows') IS NOT NULL";

/* The routing's holding groups, resolved by every kwg worker (transport/pg/route.c): up to $1 rows,
 * locked; offset, value, holding group, and the workerGroup that applies (the task's or the
 * flow's, as the trigger saw it). */
const char KWG_SQL_ROUTE_HELD[] =
    "SELECT \"offset\", \"value\"::text, consumer_group,"
    " kwg.job_worker_group(\"value\", (SELECT n.nspname FROM pg_class c JOIN pg_namespace n"
    " ON n.oid = c.relnamespace WHERE c.oid = j.tableoid))::text"
    " FROM $Q j WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type)"
    " AND NOT consumer_worker AND consumer_group IN ('kwg:render', 'kwg:invalid', 'kwg:fallback')"
    " ORDER BY \"offset\" LIMIT $1 FOR UPDATE SKIP LOCKED";
/* Re-routes rendered keys: $1 bigint[] offsets, $2 text[] keys, $3 boolean[] fallback FAIL or
 * CANCEL (then kwg:fallback when no worker of the group is alive). Returns offset and group. */
const char KWG_SQL_ROUTE_SET[] =
    "UPDATE $Q q SET consumer_group = CASE WHEN u.strict AND NOT EXISTS (SELECT 1 FROM"
    " service_instance s WHERE s.service_type = 'WORKER' AND s.state = 'RUNNING'"
    " AND s.value->'props'->>'worker.group' = u.g AND s.updated_at > now() - make_interval(secs =>"
    " COALESCE((s.value->'config'->'liveness'->>'timeout')::float8, 60))) THEN 'kwg:fallback'"
    " ELSE u.g END"
    " FROM unnest($1::bigint[], $2::text[], $3::boolean[]) AS u(o, g, strict)"
    " WHERE q.\"offset\" = u.o AND q.type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type)"
    " AND q.consumer_group = 'kwg:render' RETURNING q.\"offset\", q.consumer_group";
/* Held jobs ended by a result the resolver wrote: $1 bigint[] offsets. */
const char KWG_SQL_ROUTE_CONSUME[] =
    "UPDATE $Q SET consumer_worker = true"
    " WHERE \"offset\" = ANY($1::bigint[])"
    " AND type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type)"
    " AND consumer_group IN ('kwg:render', 'kwg:invalid', 'kwg:fallback')";
/* WorkerJob rows waiting, per consumer group ('' for the default group): count and oldest wait in
 * seconds (-1: unknown), for /metrics. */
const char KWG_SQL_ROUTE_WAITING[] =
    "SELECT COALESCE(consumer_group, ''), count(*), " KWG_SQL_OLDEST_WAIT " FROM $Q"
    " WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type) AND NOT consumer_worker"
    " GROUP BY 1 ORDER BY 2 DESC LIMIT 100";
/* Whether routing is installed (the trigger on queues). */
const char KWG_SQL_ROUTING_INSTALLED[] =
    "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass($1::text)"
    " AND tgname = 'kwg_route_worker_job' AND NOT tgisinternal AND tgenabled <> 'D'"
    " AND to_regprocedure('kwg.job_worker_group(jsonb, text)') IS NOT NULL";

const struct kwg_sql_statement kwg_sql_statements[] = {
    {"claim_group", KWG_SQL_CLAIM_GROUP},
    {"kestra_schema", KWG_SQL_KESTRA_SCHEMA},
    {"claim_default", KWG_SQL_CLAIM_DEFAULT},
    {"claim_one_group", KWG_SQL_CLAIM_ONE_GROUP},
    {"claim_one_default", KWG_SQL_CLAIM_ONE_DEFAULT},
    {"claim_busy", KWG_SQL_CLAIM_BUSY},
    {"claim_adopt", KWG_SQL_CLAIM_ADOPT},
    {"running_upsert", KWG_SQL_RUNNING_UPSERT},
    {"mark_consumed", KWG_SQL_MARK_CONSUMED},
    {"emit", KWG_SQL_EMIT},
    {"submit", KWG_SQL_SUBMIT},
    {"follow", KWG_SQL_FOLLOW},
    {"notify_installed", KWG_SQL_NOTIFY_INSTALLED},
    {"instance_lock", KWG_SQL_INSTANCE_LOCK},
    {"instance_upsert", KWG_SQL_INSTANCE_UPSERT},
    {"instance_register", KWG_SQL_INSTANCE_REGISTER},
    {"broadcast_max", KWG_SQL_BROADCAST_MAX},
    {"broadcast_poll", KWG_SQL_BROADCAST_POLL},
    {"emit_dedupe", KWG_SQL_EMIT_DEDUPE},
    {"claim_resolve", KWG_SQL_CLAIM_RESOLVE},
    {"control_read", KWG_SQL_CONTROL_READ},
    {"group_upsert", KWG_SQL_GROUP_UPSERT},
    {"group_delete", KWG_SQL_GROUP_DELETE},
    {"group_set_flags", KWG_SQL_GROUP_SET_FLAGS},
    {"maintenance_set", KWG_SQL_MAINTENANCE_SET},
    {"group_list", KWG_SQL_GROUP_LIST},
    {"workers", KWG_SQL_WORKERS},
    {"routing_status", KWG_SQL_ROUTING_STATUS},
    {"routing_installed", KWG_SQL_ROUTING_INSTALLED},
    {"route_held", KWG_SQL_ROUTE_HELD},
    {"route_waiting", KWG_SQL_ROUTE_WAITING},
    {"route_set", KWG_SQL_ROUTE_SET},
    {"route_consume", KWG_SQL_ROUTE_CONSUME},
    {NULL, NULL},
};

int kwg_sql_copy_field(struct kwg_buf *b, const char *s)
{
	int r = 0;

	/* COPY's text format: a backslash starts an escape; tab, newline and CR end fields and
	 * rows. */
	while (r >= 0 && *s) {
		size_t run = strcspn(s, "\\\t\n\r");
		r = kwg_buf_append(b, s, run);
		s += run;
		if (r >= 0 && *s) {
			char c = *s++;
			char esc[2] = {'\\', c == '\t'   ? 't'
			                     : c == '\n' ? 'n'
			                     : c == '\r' ? 'r'
			                                 : c};
			r = kwg_buf_append(b, esc, 2);
		}
	}
	return r;
}

int kwg_sql_text_array(struct kwg_buf *b, const char *const *items, size_t n)
{
	int r = kwg_buf_putc(b, '{');

	for (size_t i = 0; r >= 0 && i < n; i++) {
		const char *s = items[i];
		if (i)
			r = kwg_buf_putc(b, ',');
		if (r >= 0)
			r = kwg_buf_putc(b, '"');
		/* Inside a quoted array element only '"' and '\\' need a backslash. */
		while (r >= 0 && *s) {
			size_t run = strcspn(s, "\"\\");
			r = kwg_buf_append(b, s, run);
			s += run;
			if (r >= 0 && *s) {
				char esc[2] = {'\\', *s++};
				r = kwg_buf_append(b, esc, 2);
			}
		}
		if (r >= 0)
			r = kwg_buf_putc(b, '"');
	}
	return r < 0 ? r : kwg_buf_putc(b, '}');
}

/* KESTRA: DefaultKVMetadataStateStore / AbstractJdbcKvMetadataRepository.findByName: the row with
 * last = true, deleted or not (V1_46__kv_metadata.sql; generated columns). */
const char KWG_SQL_KV_META[] =
    "SELECT version, deleted, COALESCE(expiration_date <= now(), false) FROM kv_metadata"
    " WHERE tenant_id IS NOT DISTINCT FROM $1::text AND deleted IN (true, false) AND namespace = $2"
    " AND name = $3 AND last = true LIMIT 1";

/* KESTRA: DefaultNamespaceFileMetadataStateStore.findByPath (V1_50__ns_files_metadata.sql): a
 * path matches as a file or as a directory (trailing "/"). */
const char KWG_SQL_NSFILE_META[] =
    "SELECT version, deleted, path LIKE '%/' FROM namespace_file_metadata"
    " WHERE tenant_id IS NOT DISTINCT FROM $1::text AND deleted IN (true, false) AND namespace = $2"
    " AND path IN ($3::text, $3::text || '/') AND last = true ORDER BY path LIKE '%/' LIMIT 1";

/* KESTRA: Namespace.all(): the current revision of every file, deleted ones and directories
 * left out. */
const char KWG_SQL_NSFILE_LIST[] =
    "SELECT path, version FROM namespace_file_metadata"
    " WHERE tenant_id IS NOT DISTINCT FROM $1::text AND deleted = false AND namespace = $2"
    " AND last = true AND path NOT LIKE '%/' ORDER BY path";
