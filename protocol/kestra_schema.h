/* SPDX-License-Identifier: Apache-2.0 */
/* Which Kestra database kwg speaks (kestra-protocol.md §1.2): generation 1, Kestra up to the last
 * 1.x — a `queues` table with the per-consumer columns and a consumer group, migrated by Flyway
 * with versions 1.x (V1_1 … V1_41 in 1.0). Kestra 2.x recreates the queue (no consumer columns,
 * Flyway versions 3.x, then its own migrations) and its workers speak gRPC to a controller. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum kwg_kestra_schema_verdict {
	KWG_KESTRA_SCHEMA_OK,      /* a Kestra 1.x database: msg says which Flyway version */
	KWG_KESTRA_SCHEMA_UNKNOWN, /* the queue has the 1.x shape, but no Flyway history says more
	                            */
	KWG_KESTRA_SCHEMA_REFUSED, /* not a database kwg can work with: msg says why */
};

/* gen1: queues has consumer_worker and consumer_group; flyway_version: the last successful
 * migration's version ("1.41"), or NULL/"" without flyway_schema_history or rows in it. */
enum kwg_kestra_schema_verdict kwg_kestra_schema_judge(bool gen1, const char *flyway_version,
                                                       char *msg, size_t size);
