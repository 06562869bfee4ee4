/* SPDX-License-Identifier: Apache-2.0 */
/* A task process on the loop: spawn in its own session and process group, stdout and stderr read
 * through pipes, whole-group kill. The exit is reported only after both pipes reached EOF, so no
 * output is lost; once the main process is gone, what remains of its group is killed and the
 * pipes get a short grace period to drain. Owns the uv handles; frees itself after
 * kwg_process_close once every handle is closed. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "runner/logstream.h"

struct kwg_process;

struct kwg_process_spec {
	const char *const *argv; /* borrowed, NULL-terminated */
	const char *const *envp; /* borrowed, NULL-terminated */
	const char *cwd;
	/* Descriptors the child gets as fd 3 and fd 4 (the sandbox spec and status), or -1. */
	int fd3, fd4;
	/* The child is a reaper (kwg-exec, container profile) that kills its whole tree on SIGTERM:
	 * a kill with SIGKILL sends it SIGTERM, and SIGKILL to its group only if it has not exited
	 * KWG_PROCESS_REAPER_GRACE_MS later (killing it first would orphan the task's daemons). */
	bool reaper;
};

#define KWG_PROCESS_REAPER_GRACE_MS 5000

struct kwg_process_cbs {
	/* Output bytes as they arrive; data borrowed for the call. */
	void (*on_output)(void *userdata, enum kwg_stream stream, const char *data, size_t len);
	/* Both pipes done and the process reaped. exit_code is 128 + signal when killed (as Java's
	 * Process.exitValue). Called once. */
	void (*on_exit)(void *userdata, int exit_code);
};

/* 0 and *ret, or a negative errno from uv_spawn (ENOENT, EACCES, …); on failure no callback
 * fires. */
int kwg_process_start(uv_loop_t *loop, const struct kwg_process_spec *spec,
                      const struct kwg_process_cbs *cbs, void *userdata, struct kwg_process **ret);
/* From now on the callbacks go to cbs and userdata (a spare kwg-exec handed to its task). */
void kwg_process_rebind(struct kwg_process *p, const struct kwg_process_cbs *cbs, void *userdata);
/* Signals the whole process group (a reaper: see kwg_process_spec). 0 or a negative errno
 * (-ESRCH once it is gone). */
int kwg_process_kill(struct kwg_process *p, int signum);
int kwg_process_pid(const struct kwg_process *p);
/* Stops or resumes reading the pipes (back-pressure: the child blocks on a full pipe). */
void kwg_process_pause_output(struct kwg_process *p, bool paused);
/* Kills what still runs and frees the object once its handles are closed; no callback fires
 * after this. Accepts NULL. */
void kwg_process_close(struct kwg_process *p);
