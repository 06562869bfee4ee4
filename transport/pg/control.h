/* SPDX-License-Identifier: Apache-2.0 */
/* What operators and Kestra tell a running worker: ExecutionKilled and ClusterEvent broadcasts
 * (kestra-protocol.md §3.2, §5.11, §5.12: from the newest offset at start, offsets kept in memory),
 * and kwg's own control plane (schema kwg: the group's pause and drain flags, the maintenance
 * flag), learnt at once through LISTEN kwg_control and re-read every second as a fallback. Owns
 * its connection. */
#pragma once
#include <stdbool.h>
#include <uv.h>

#include "transport/transport.h"

struct kwg_control;
struct kwg_sql_table;

struct kwg_control_ops {
	/* An EXECUTED kill of an execution (tenant "" when the message has none). */
	void (*on_kill)(void *ctx, const char *execution_id, const char *tenant_id);
	/* The flags changed (also called once after the first read). */
	void (*on_flags)(void *ctx, const struct kwg_transport_flags *flags);
	/* WorkerJob rows were inserted (kwg notify's trigger): claim now. */
	void (*on_jobs_queued)(void *ctx);
	/* The Kestra generation of the database (1 or 2), once, before the first on_flags. */
	void (*on_generation)(void *ctx, int gen);
	/* The database is not one kwg can work with (protocol/kestra_schema.h): why. Called before
	 * the first on_flags, which then never comes. */
	void (*on_refused)(void *ctx, const char *why);
};

int kwg_control_new(const struct kwg_transport_params *p, const struct kwg_sql_table *sql,
                    const struct kwg_control_ops *ops, void *ctx, struct kwg_control **ret);
/* Opens the connection (kwg_control_start does too): its statements start once the loop runs. */
void kwg_control_connect(struct kwg_control *c);
void kwg_control_start(struct kwg_control *c);
const struct kwg_transport_flags *kwg_control_flags(const struct kwg_control *c);
/* WorkerJob rows of this worker's group not claimed yet, as of the last read (-1: unknown). */
long long kwg_control_queued(const struct kwg_control *c);
void kwg_control_close(struct kwg_control *c);
