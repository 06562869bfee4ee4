/* SPDX-License-Identifier: Apache-2.0 */
/* `kwg submit`: plays the executor's part for smoke tests and demos. Inserts one WorkerTask as
 * Kestra's executor would, follows its LogEntry, MetricEntry and WorkerTaskResult rows until the
 * task run is terminal, and prints them. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct kwg_submit_opts {
	const char *database_url;
	const char *group;       /* NULL: the default group */
	const char *worker_task; /* the WorkerTask JSON */
	const char *task_run_id;
	const char *queue_prefix; /* Kestra 2.x's kestra.queue.prefix, NULL: none */
	const char *queue_table;  /* Kestra's queue table (kestra_queue_table), NULL: queues */
	bool json;                /* print raw messages */
	uint64_t timeout_ms;      /* give up waiting after this */
};

struct kwg_submit;

/* Borrows opts for its life. */
int kwg_submit_new(uv_loop_t *loop, const struct kwg_submit_opts *opts, struct kwg_submit **ret);
/* After the loop ended: the exit code (0 SUCCESS, 2 WARNING, 1 any other end state, 3 no
 * database, 124 timeout). Frees s. */
int kwg_submit_free(struct kwg_submit *s);
