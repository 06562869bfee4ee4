/* SPDX-License-Identifier: Apache-2.0 */
/* Which Kestra database kwg speaks. Generation 1 (kestra-protocol.md §1.2): Kestra up to the
 * last 1.x — a `queues` table with the per-consumer columns and a consumer group, migrated by
 * Flyway with versions 1.x (V1_1 … V1_41 in 1.0). Generation 2 (kestra-2x-queue.md §1.2): Kestra
 * 2.x with `kestra.queue.type: postgres` — `queues` recreated with the queue name in a VARCHAR
 * `type`, a `routing_key` and a `created` column, no consumer columns. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum kwg_kestra_schema_verdict {
	KWG_KESTRA_SCHEMA_OK,      /* a Kestra 1.x database: msg says which Flyway version */
	KWG_KESTRA_SCHEMA_UNKNOWN, /* the queue has the 1.x shape, but no Flyway history says more
	                            */
	KWG_KESTRA_SCHEMA_REFUSED, /* not a database kwg can work with: msg says why */
};

enum kwg_kestra_gen {
	KWG_KESTRA_GEN_NONE = 0, /* refused: no generation kwg speaks */
	KWG_KESTRA_GEN1 = 1,
	KWG_KESTRA_GEN2 = 2,
};

/* gen1: queues has consumer_worker and consumer_group; flyway_version: the last successful
 * migration's version ("1.41"), or NULL/"" without flyway_schema_history or rows in it. */
enum kwg_kestra_schema_verdict kwg_kestra_schema_judge(bool gen1, const char *flyway_version,
                                                       char *msg, size_t size);

/* Tells the generation from the columns of the queue table ("name:type" joined by ',', as
 * KWG_SQL_KESTRA_SCHEMA reads them from the catalog; NULL or "" when there is no such table) and
 * the Flyway version (as above). table: the queue table's name as configured (kestra_queue_table),
 * for the messages. *gen is KWG_KESTRA_GEN_NONE exactly when the verdict is REFUSED; msg names
 * what was found. */
enum kwg_kestra_schema_verdict
kwg_kestra_schema_detect(const char *table, const char *queue_columns, const char *flyway_version,
                         enum kwg_kestra_gen *gen, char *msg, size_t size);
