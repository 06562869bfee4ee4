/* SPDX-License-Identifier: Apache-2.0 */
/* Claims WorkerJob rows as Kestra 1.x's worker does (kestra-protocol.md §3.1): one transaction
 * that selects up to the free slots FOR UPDATE SKIP LOCKED, upserts worker_job_running, marks the
 * rows consumed and commits; only then are the jobs handed on. Polls like Kestra 1.0 (§3.4): again
 * at once after a hit, backing off from 25 ms to 500 ms while idle. Owns its connection. */
#pragma once
#include <stdbool.h>
#include <uv.h>

#include "protocol/worker_job.h"
#include "transport/transport.h"

struct kwg_dispatch;
struct kwg_sql_table;

struct kwg_dispatch_ops {
	/* Task slots free now; no claim is made while it is 0. */
	unsigned (*free_slots)(void *ctx);
	/* A job claimed and committed; steals job. */
	void (*on_job)(void *ctx, struct kwg_job *job);
};

/* p is borrowed for the dispatcher's life. */
int kwg_dispatch_new(const struct kwg_transport_params *p, const struct kwg_sql_table *sql,
                     const struct kwg_dispatch_ops *ops, void *ctx, struct kwg_dispatch **ret);
/* Opens the claim connection ahead of the first claim (start does it too). */
void kwg_dispatch_connect(struct kwg_dispatch *d);
/* Kestra 2.x (before start): claims the worker_job_event rows of routing_key (kestra-2x-queue.md
 * §4.2) and deletes them in the claim's transaction; the worker_job_running record names the
 * routing key as its workerQueueId. 0 or -ENAMETOOLONG. */
int kwg_dispatch_set_gen2(struct kwg_dispatch *d, const char *job_queue, const char *routing_key);
void kwg_dispatch_start(struct kwg_dispatch *d);
/* A slot was freed: claim now if waiting. */
void kwg_dispatch_wake(struct kwg_dispatch *d);
/* Pauses or resumes claiming (start must have been called). */
void kwg_dispatch_pause(struct kwg_dispatch *d, bool paused);
/* Claims made since start. */
unsigned long long kwg_dispatch_claimed(const struct kwg_dispatch *d);
/* Stops claiming; a claim in flight still completes and hands its jobs on. */
void kwg_dispatch_stop(struct kwg_dispatch *d);
/* No claim transaction in flight. */
bool kwg_dispatch_idle(const struct kwg_dispatch *d);
void kwg_dispatch_close(struct kwg_dispatch *d);
