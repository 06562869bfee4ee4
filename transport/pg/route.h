/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's part of `kwg routing` (docs/kestra-integration.md): every kwg worker, of any group,
 * resolves the WorkerJob rows the routing trigger put in a holding group (protocol/route.h). In
 * one transaction on its own connection it locks up to 100 of them (SKIP LOCKED, so workers share
 * the work), re-routes a rendered key (UPDATE consumer_group), or ends the task run with an ERROR
 * LogEntry and a WorkerTaskResult (FAILED, or CANCELLED for fallback CANCEL) and marks the row
 * consumed. It reads the jobs waiting per group for /metrics (what an autoscaler reads). It also
 * says at start when a worker of a named group waits on a database where
 * routing is not installed. */
#pragma once
#include <uv.h>

#include "transport/transport.h"

struct kwg_route;
struct kwg_sql_table;

/* Borrows p. */
int kwg_route_new(const struct kwg_transport_params *p, const struct kwg_sql_table *sql,
                  struct kwg_route **ret);
/* Kestra 2.x (before start): reads the jobs waiting per kwg routing key of the worker_job_event
 * queue, and checks that the 2.x routing trigger is there (an ERROR at every check while it is
 * not); resolves nothing. 0 or -ENAMETOOLONG. */
int kwg_route_set_gen2(struct kwg_route *rt, const char *job_queue);
void kwg_route_start(struct kwg_route *rt);
/* Stops resolving (a transaction under way ends). */
void kwg_route_stop(struct kwg_route *rt);
/* Held jobs this worker re-routed, and ended. */
unsigned long long kwg_route_rerouted(const struct kwg_route *rt);
unsigned long long kwg_route_ended(const struct kwg_route *rt);
/* Appends the Prometheus lines of the jobs waiting per group (read every 5 s; the 100 largest
 * groups): kwg_jobs_waiting{group="…"} and kwg_jobs_oldest_wait_seconds{group="…"}. */
struct kwg_buf;
int kwg_route_metrics(const struct kwg_route *rt, struct kwg_buf *out);
/* Accepts NULL. */
void kwg_route_close(struct kwg_route *rt);
