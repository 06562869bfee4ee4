/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/kestra_schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum kwg_kestra_schema_verdict kwg_kestra_schema_judge(bool gen1, const char *flyway_version,
                                                       char *msg, size_t size)
{
	const char *v = flyway_version && *flyway_version ? flyway_version : NULL;
	char *end;
	long major = v ? strtol(v, &end, 10) : 0;

	if (!gen1) {
		(void)snprintf(
		    msg, size,
		    "this database's queues table has no consumer_worker and "
		    "consumer_group columns%s%s%s: it is not a Kestra 1.x queue (Kestra 2.x "
		    "replaced it, and its workers talk to a controller); kwg speaks Kestra 1.x",
		    v ? " (Flyway version " : "", v ? v : "", v ? ")" : "");
		return KWG_KESTRA_SCHEMA_REFUSED;
	}
	if (!v) {
		(void)snprintf(
		    msg, size,
		    "no Flyway history (flyway_schema_history) says which Kestra migrated "
		    "this database; its queue has the Kestra 1.x shape");
		return KWG_KESTRA_SCHEMA_UNKNOWN;
	}
	if (end == v || major != 1) {
		(void)snprintf(
		    msg, size,
		    "this database was migrated by Flyway to version %s: kwg speaks Kestra "
		    "1.x (versions 1.x)",
		    v);
		return KWG_KESTRA_SCHEMA_REFUSED;
	}
	(void)snprintf(msg, size, "Kestra 1.x database (Flyway version %s)", v);
	return KWG_KESTRA_SCHEMA_OK;
}

/* The type of column name in "name:type,name:type…", copied into out; false when absent. Types
 * (format_type) hold no ',' except inside parentheses, e.g. numeric(10,2). */
static bool column_type(const char *cols, const char *name, char *out, size_t size)
{
	size_t nlen = strlen(name);
	const char *p = cols;

	while (p && *p) {
		const char *colon = strchr(p, ':'), *end;
		int depth = 0;
		if (!colon)
			return false;
		for (end = colon + 1; *end && (*end != ',' || depth > 0); end++)
			depth += *end == '(' ? 1 : *end == ')' ? -1 : 0;
		if ((size_t)(colon - p) == nlen && strncmp(p, name, nlen) == 0) {
			(void)snprintf(out, size, "%.*s", (int)(end - colon - 1), colon + 1);
			return true;
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

enum kwg_kestra_schema_verdict kwg_kestra_schema_detect(const char *table, const char *cols,
                                                        const char *flyway_version,
                                                        enum kwg_kestra_gen *gen, char *msg,
                                                        size_t size)
{
	const char *v = flyway_version && *flyway_version ? flyway_version : NULL;
	char type[64], tmp[64];
	bool has_group = cols && column_type(cols, "consumer_group", tmp, sizeof(tmp));
	bool has_worker = cols && column_type(cols, "consumer_worker", tmp, sizeof(tmp));
	bool has_routing = cols && column_type(cols, "routing_key", tmp, sizeof(tmp));
	bool has_created = cols && column_type(cols, "created", tmp, sizeof(tmp));
	bool has_type = cols && column_type(cols, "type", type, sizeof(type));
	const char *t = table && *table ? table : "queues";
	enum kwg_kestra_schema_verdict verdict;

	*gen = KWG_KESTRA_GEN_NONE;
	if (!cols || !*cols) {
		(void)snprintf(
		    msg, size,
		    "table %.140s not found (kestra_queue_table): is this the database of "
		    "Kestra 1.x or of Kestra 2.x with kestra.queue.type postgres (and "
		    "Kestra's schema on the search_path), and is the queue table named so "
		    "(kestra.jdbc.tables.queues.table, kestra.queue.jdbc.table)?",
		    t);
		return KWG_KESTRA_SCHEMA_REFUSED;
	}
	if (has_group && has_worker) {
		verdict = kwg_kestra_schema_judge(true, flyway_version, msg, size);
		if (verdict != KWG_KESTRA_SCHEMA_REFUSED)
			*gen = KWG_KESTRA_GEN1;
		return verdict;
	}
	if (has_routing && has_created && has_type && !has_group) {
		/* KESTRA: 2.0.09/2.0.02-queue turned type from INT (a CRC-32 of the queue name,
		 * 2.0 development builds) into VARCHAR(250) holding the name. */
		if (strncmp(type, "character varying", 17) != 0 && strcmp(type, "text") != 0) {
			(void)snprintf(
			    msg, size,
			    "this database's queue table %.140s has Kestra 2.x's routing_key "
			    "but its type column is %s, as in Kestra 2.0 development builds: kwg "
			    "speaks the released 2.x queue (type VARCHAR, the queue name)",
			    t, type);
			return KWG_KESTRA_SCHEMA_REFUSED;
		}
		*gen = KWG_KESTRA_GEN2;
		(void)snprintf(msg, size,
		               "Kestra 2.x database (%.140s with routing_key and type %s%s%s%s)", t,
		               type, v ? "; Flyway history up to " : "", v ? v : "",
		               v ? " from before 2.x" : "");
		return KWG_KESTRA_SCHEMA_OK;
	}
	(void)snprintf(msg, size,
	               "this database's queue table %.140s has neither Kestra 1.x's "
	               "consumer_worker and consumer_group columns nor Kestra 2.x's routing_key, "
	               "created and VARCHAR type (columns found: %.300s)%s%s%s: kwg speaks Kestra "
	               "1.x and Kestra 2.x with kestra.queue.type postgres",
	               t, cols, v ? " (Flyway version " : "", v ? v : "", v ? ")" : "");
	return KWG_KESTRA_SCHEMA_REFUSED;
}
