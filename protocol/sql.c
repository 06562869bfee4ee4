/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/sql.h"

#include <string.h>

#include "common/buf.h"

/* queues (type, "offset", consumer_worker, consumer_group, value), 1.0. FOR UPDATE SKIP LOCKED
 * lets workers of one group claim side by side without ever taking the same row. */
const char KWG_SQL_CLAIM_GROUP[] =
    "SELECT \"value\", \"offset\" FROM queues"
    " WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type)"
    " AND \"consumer_worker\" = false AND \"consumer_group\" = $1"
    " ORDER BY \"offset\" ASC LIMIT $2 FOR UPDATE SKIP LOCKED";

const char KWG_SQL_CLAIM_DEFAULT[] =
    "SELECT \"value\", \"offset\" FROM queues"
    " WHERE type = CAST('io.kestra.core.runners.WorkerJob' AS queue_type)"
    " AND \"consumer_worker\" = false AND \"consumer_group\" IS NULL"
    " AND COALESCE(\"value\"->>'type', 'task') = 'task'"
    " AND (\"value\"->'task'->>'type' = ANY($2::text[])"
    " OR (\"value\"->'task'->>'type' = ANY($3::text[])"
    " AND (\"value\"->'task'->'taskRunner'->>'type' = 'io.kestra.plugin.core.runner.Process'"
    " OR ($4::boolean AND \"value\"->'task'->'taskRunner' IS NULL))))"
    " ORDER BY \"offset\" ASC LIMIT $1 FOR UPDATE SKIP LOCKED";

/* worker_job_running (key, value), §5.8; the generated worker_uuid reads
 * value->'workerInstance'->>'workerUuid'. */
const char KWG_SQL_RUNNING_UPSERT[] =
    "INSERT INTO worker_job_running (\"key\", \"value\")"
    " SELECT k, v::jsonb FROM unnest($1::text[], $2::text[]) AS u(k, v)"
    " ON CONFLICT (\"key\") DO UPDATE SET \"value\" = EXCLUDED.\"value\"";

/* queues (consumer_worker, updated, "offset", consumer_group), §3.1 step 5: same group
 * predicate as the SELECT; updated is also set by the queues_updated trigger. */
const char KWG_SQL_MARK_CONSUMED[] =
    "UPDATE queues SET \"consumer_worker\" = true, \"updated\" = now()"
    " WHERE \"offset\" = ANY($1::bigint[])"
    " AND \"consumer_group\" IS NOT DISTINCT FROM $2::varchar";

/* queues (type, key, value), §3.3. WITH ORDINALITY + ORDER BY keeps the batch's order in the
 * offsets the sequence hands out. */
const char KWG_SQL_EMIT[] =
    "INSERT INTO queues (\"type\", \"key\", \"value\")"
    " SELECT CAST(t AS queue_type), k, v::jsonb"
    " FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS u(t, k, v, n)"
    " ORDER BY n";

const char KWG_SQL_SUBMIT[] =
    "INSERT INTO queues (\"type\", \"key\", \"value\", \"consumer_group\")"
    " VALUES (CAST('io.kestra.core.runners.WorkerJob' AS queue_type), $1, $2::jsonb, $3)"
    " RETURNING \"offset\"";

const char KWG_SQL_FOLLOW[] =
    "SELECT \"offset\", type::text, \"value\"::text FROM queues"
    " WHERE \"offset\" > $1::bigint"
    " AND ((type = CAST('io.kestra.core.runners.WorkerTaskResult' AS queue_type)"
    " AND \"key\" = $2)"
    " OR (type IN (CAST('io.kestra.core.models.executions.LogEntry' AS queue_type),"
    " CAST('io.kestra.core.models.executions.MetricEntry' AS queue_type))"
    " AND \"value\"->>'taskRunId' = $2))"
    " ORDER BY \"offset\" ASC LIMIT 1000";

const struct kwg_sql_statement kwg_sql_statements[] = {
    {"claim_group", KWG_SQL_CLAIM_GROUP},
    {"claim_default", KWG_SQL_CLAIM_DEFAULT},
    {"running_upsert", KWG_SQL_RUNNING_UPSERT},
    {"mark_consumed", KWG_SQL_MARK_CONSUMED},
    {"emit", KWG_SQL_EMIT},
    {"submit", KWG_SQL_SUBMIT},
    {"follow", KWG_SQL_FOLLOW},
    {NULL, NULL},
};

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
