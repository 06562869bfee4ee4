/* SPDX-License-Identifier: Apache-2.0 */
/* One script task in a Docker container, as Kestra's Docker task runner runs it
 * (kestra-script-tasks.md §2.2.2): image (per pullPolicy), create (labels, env, working
 * directory, host config), the working directory in (VOLUME: a tar through the archive API;
 * MOUNT: a bind mount), start, the multiplexed log stream demultiplexed, wait, the working
 * directory back (VOLUME), remove. Everything through the Engine API on the loop. */
#pragma once
#include <stdbool.h>

#include "protocol/log_entry.h"
#include "protocol/script_task.h"
#include "protocol/state.h"
#include "runner/docker_api.h"
#include "runner/logstream.h"

struct kwg_docker_task;

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
