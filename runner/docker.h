/* SPDX-License-Identifier: Apache-2.0 */
/* One script task in a Docker container, as Kestra's Docker task runner runs it
 * (kestra-script-tasks.md §2.2.2): image (per pullPolicy), create (labels, env, working
 * directory, host config), the working directory in (VOLUME: a tar through the archive API;
 * MOUNT: a bind mount), start, the multiplexed log stream demultiplexed, wait, the working
 * directory back (VOLUME), remove. Everything through the Engine API on the loop. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/log_entry.h"
#include "protocol/script_task.h"
#include "protocol/state.h"
#include "runner/docker_api.h"
#include "runner/logstream.h"

struct kwg_docker_task;
struct kwg_docker_pool;

struct kwg_docker_task_spec {
	const struct kwg_docker_opts *opts;
	const char *const *argv; /* NULL-terminated */
	const char *const *env;  /* NAME=value, NULL-terminated */
	const char *working_dir; /* host path, also the container's working directory */
	const struct kwg_taskrun_ref *ref;
	const char *worker_id;
	bool allow_volumes, allow_privileged; /* the operator's settings */
	bool files_back; /* copy the working directory back even when nothing was copied in
	                    (the task has outputFiles) */
	struct kwg_docker_pool *pool; /* the warm pool to take a container from, or NULL */
};

struct kwg_docker_task_cbs {
	/* Output bytes (demultiplexed); return false to pause the stream until resumed. */
	bool (*on_output)(void *userdata, enum kwg_stream stream, const char *data, size_t len);
	/* A line about the container for the task's log (started, pulled, OOM-killed…). */
	void (*on_log)(void *userdata, enum kwg_level level, const char *msg);
	/* The end, once: the exit code, or -1 and why the container could not run or was lost.
	 * Called after the container is removed (when delete is set). */
	void (*on_exit)(void *userdata, int exit_code, const char *error);
};

/* Starts the lifecycle; the first callback comes on a later loop turn. 0; -EPERM with err saying
 * why when the task asks for what this worker refuses (host volumes, privileged, another
 * daemon); -ENOMEM. No callback fires after a failure. */
int kwg_docker_task_start(struct kwg_docker *d, const struct kwg_docker_task_spec *spec,
                          const struct kwg_docker_task_cbs *cbs, void *userdata,
                          struct kwg_docker_task **ret, char *err, size_t err_size);
/* Stops the container: docker stop with the kill grace period, or docker kill. on_exit follows. */
void kwg_docker_task_stop(struct kwg_docker_task *t);
void kwg_docker_task_resume_output(struct kwg_docker_task *t);
const char *kwg_docker_task_container_id(const struct kwg_docker_task *t);
/* No callback after this; a container still there is removed in the background. Accepts NULL. */
void kwg_docker_task_close(struct kwg_docker_task *t);

/* The warm pool (docs/runners.md): per image and creation-time option set, up to size
 * containers created and started ahead, each held by `kwg-exec --hold` (bind-mounted
 * read-only) until a task takes it; the task's files, command, environment and working
 * directory go in when it comes. Every task gets a fresh container; a used one is removed after
 * the task's end is reported. Filled for an option set once a task has asked for it; emptied of
 * an option set no task asked for within idle_ms. */
struct kwg_docker_pool_config {
	uv_loop_t *loop;
	unsigned size;      /* containers kept ready per option set; 0: no pool */
	uint64_t idle_ms;   /* an option set unused this long loses its containers */
	const char *dir;    /* where the per-container gate directories go (made, 0700) */
	const char *holder; /* kwg-exec's path (static; bind-mounted into the containers) */
	const char *worker_id;
};
/* Borrows d and cfg's strings for the pool's life. 0; -errno (dir cannot be made); -ENOMEM. */
int kwg_docker_pool_new(struct kwg_docker *d, const struct kwg_docker_pool_config *cfg,
                        struct kwg_docker_pool **ret);
/* Stops filling and removes the containers not taken (a drain or stop). */
void kwg_docker_pool_drain(struct kwg_docker_pool *p);
/* No container of the pool left to remove and no request of it under way (after a drain: the
 * worker may close the Docker client). */
bool kwg_docker_pool_idle(const struct kwg_docker_pool *p);
/* Ready containers now (for tests and the status). */
unsigned kwg_docker_pool_ready(const struct kwg_docker_pool *p);
/* Closes the gates (a holder still waiting exits), cancels what is under way; call after the
 * tasks are closed. Accepts NULL. */
void kwg_docker_pool_free(struct kwg_docker_pool *p);
