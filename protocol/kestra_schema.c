/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/kestra_schema.h"

#include <stdio.h>
#include <stdlib.h>

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
