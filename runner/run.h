/* SPDX-License-Identifier: Apache-2.0 */
/* One claimed job from start to its final WorkerTaskResult: reads its properties, prepares the
 * working directory, runs it (Log task inline, script tasks as a process), turns output into
 * LogEntry rows and "::{...}::" outputs, applies timeout and the state rules, emits metrics and
 * the final result. Every message goes out through the sink, in order. Owns the job, the process,
 * the working directory and its timer. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "protocol/queue.h"
#include "protocol/script_task.h"
#include "protocol/secrets.h"
#include "protocol/worker_job.h"
#include "runner/docker_api.h"
#include "runner/spare.h"
#include "sandbox/sandbox.h"
#include "storage/meta.h"
#include "storage/storage.h"

struct kwg_run;

struct kwg_run_sink {
	/* Queues one message for the queues table, after all earlier ones. key borrowed, value
	 * stolen (never NULL). */
	void (*emit)(void *ctx, enum kwg_queue_type type, const char *key, char *value);
	/* True while the outbox is past its high-water mark: the run stops reading task output
	 * until kwg_run_resume_output. */
	bool (*congested)(void *ctx);
	/* The run has emitted its final message; the owner calls kwg_run_free (not from within a
	 * sink callback of the same run is fine: done is always the run's last call). */
	void (*done)(void *ctx, struct kwg_run *run);
};

struct kwg_run_config {
	uv_loop_t *loop;
	const char *worker_id; /* borrowed for the run's life */
	enum kwg_runner_kind default_runner;
	const char *work_root;              /* where working directories are made */
	const char *const *env_passthrough; /* borrowed, NULL-terminated, may be NULL */
	char *const *parent_env;            /* the worker's environment, borrowed */
	/* The Process sandbox: profile, task user and limits (workdir, argv, envp are the run's);
	 * profile none spawns the task directly. exec_helper is kwg-exec's path. Borrowed. */
	const struct kwg_sandbox_spec *sandbox;
	const char *exec_helper;
	/* cgroup v1 directories under which each sandboxed task gets its own memory and pids
	 * cgroups (limits from sandbox->limits), or NULL: rlimits only. With cgroup_v2, both name
	 * the one directory under which each task gets a cgroup with both controllers. */
	const char *cgroup_memory, *cgroup_pids;
	bool cgroup_v2;
	/* A kwg-exec started ahead in the next task's cgroups (runner/spare.h), or NULL. */
	struct kwg_spare *spare;
	/* The Docker Engine client (NULL: the Docker runner is unavailable, docker_error says why)
	 * and the operator's permissions for host volumes and privileged containers. */
	struct kwg_docker *docker;
	const char *docker_error;
	bool docker_volumes, docker_privileged;
	struct kwg_docker_pool *docker_pool; /* the warm pool, or NULL */
	/* Kestra's internal storage (NULL: none configured; tasks needing files fail saying so)
	 * and the secrets of secret() (NULL: none). Borrowed. */
	struct kwg_storage *storage;
	const struct kwg_secrets *secrets;
	/* The local storage's base path when storage is local (read() reads from it), else NULL. */
	const char *storage_local_base;
	/* Kestra's kestra.encryption.secret-key (base64), which decrypts SECRET inputs; NULL:
	 * none. Borrowed. */
	const char *encryption_key;
	/* How a task's errors name encryption_key; NULL: "encryption_secret_key". Borrowed. */
	const char *encryption_key_name;
	/* Who says which revision of a KV value or namespace file is current (storage/meta.h;
	 * lookup NULL: nobody, the objects are read as they are). */
	struct kwg_meta_source meta;
};

/* Steals job. Returns 0 and *ret: done will be called exactly once, later (never from inside
 * this call), even for a job that cannot run (it is failed with a message). -ENOMEM: nothing was
 * emitted, job freed, done never called. */
int kwg_run_start(const struct kwg_run_config *cfg, struct kwg_job *job,
                  const struct kwg_run_sink *sink, void *ctx, struct kwg_run **ret);
enum kwg_run_stop {
	KWG_RUN_STOP_NONE,
	KWG_RUN_STOP_KILLED,   /* the execution was killed: the attempt ends KILLED */
	KWG_RUN_STOP_SHUTDOWN, /* the worker stops and reports: the attempt ends FAILED */
	KWG_RUN_STOP_ABANDON,  /* the worker stops and leaves the job to Kestra's resubmission:
	                          the process is killed and nothing more is emitted */
};
/* Stops the run (whole process group, SIGKILL). Asynchronous: done follows later, never from
 * inside this call. A run not started yet ends without an attempt (KILLED: §6.1 step 2). The first
 * reason given wins. */
void kwg_run_stop(struct kwg_run *run, enum kwg_run_stop why);
const char *kwg_run_execution_id(const struct kwg_run *run);
/* After done: the final state emitted (KWG_STATE_UNKNOWN when abandoned), the number of LogEntry
 * rows and how long the run took. */
enum kwg_state kwg_run_final_state(const struct kwg_run *run);
size_t kwg_run_log_count(const struct kwg_run *run);
uint64_t kwg_run_duration_ms(const struct kwg_run *run);
const char *kwg_run_tenant_id(const struct kwg_run *run);
/* The outbox drained: read task output again. */
void kwg_run_resume_output(struct kwg_run *run);
const char *kwg_run_task_run_id(const struct kwg_run *run);
/* The job the run was started with (borrowed). */
const struct kwg_job *kwg_run_job(const struct kwg_run *run);
/* Frees the run (its handles close asynchronously). Only after done. Accepts NULL; returns NULL. */
struct kwg_run *kwg_run_free(struct kwg_run *run);
