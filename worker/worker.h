/* SPDX-License-Identifier: Apache-2.0 */
/* struct kwg_worker, the root object of `kwg worker`: owns the transport (the way to Kestra: jobs,
 * kills, pause flags and liveness in; results, logs and metrics out), the running tasks, the
 * management HTTP server and the signal handlers, on the caller's loop.
 * SIGTERM/SIGINT: stop claiming, let running tasks finish within the termination grace period,
 * then stop the rest by the restart strategy, write TERMINATED_GRACEFULLY or TERMINATED_FORCED and
 * exit 0; a second signal skips the wait. Losing liveness (the coordinator disconnected the worker,
 * or no heartbeat for the liveness timeout) kills the tasks, emits nothing more and exits 1. */
#pragma once
#include <uv.h>

#include "transport/transport.h"
#include "worker/config.h"

struct kwg_worker;

/* cfg is borrowed for the worker's life; transport is the way to Kestra (kwg_transport_pg). 0
 * and *ret, or a negative errno. */
int kwg_worker_new(uv_loop_t *loop, const struct kwg_config *cfg,
                   const struct kwg_transport_class *transport, struct kwg_worker **ret);
/* 0, or a negative errno (the management port cannot be bound: nothing was started). */
int kwg_worker_start(struct kwg_worker *w);
/* After the loop ended. Returns the process exit code. */
int kwg_worker_free(struct kwg_worker *w);
