/* SPDX-License-Identifier: Apache-2.0 */
/* struct kwg_worker, the root object of `kwg worker`: owns the dispatcher, the outbox, the runs
 * and the signal handlers on the caller's loop. SIGTERM/SIGINT stop claiming and let running tasks
 * finish; a second signal stops at once (the tasks' worker_job_running rows stay for Kestra to
 * resubmit). */
#pragma once
#include <uv.h>

#include "worker/config.h"

struct kwg_worker;

/* cfg is borrowed for the worker's life. 0 and *ret, or a negative errno. */
int kwg_worker_new(uv_loop_t *loop, const struct kwg_config *cfg, struct kwg_worker **ret);
void kwg_worker_start(struct kwg_worker *w);
/* After the loop ended. Returns the process exit code (0 after a clean stop). */
int kwg_worker_free(struct kwg_worker *w);
