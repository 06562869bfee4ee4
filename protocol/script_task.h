/* SPDX-License-Identifier: Apache-2.0 */
/* Reads a WorkerTask's task properties into what a runner needs (kestra-script-tasks.md §W, §1):
 * the argv ([set -e] + beforeCommands + commands joined into one interpreter argument), the task
 * environment, the state options, the Log task's messages. Properties arrive in either wire form
 * (Kestra 1.x JSON strings, or plain arrays/maps/booleans). Pure. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strv.h"
#include "protocol/state.h"
#include "protocol/worker_job.h"
#include "template/template.h"

enum kwg_task_kind {
	KWG_TASK_LOG,
	KWG_TASK_RETURN, /* io.kestra.plugin.core.debug.Return: outputs {value: rendered format} */
	KWG_TASK_SCRIPT,
};

enum kwg_runner_kind {
	KWG_RUNNER_PROCESS,
	KWG_RUNNER_DOCKER,
};

#define KWG_TASK_TYPE_LOG "io.kestra.plugin.core.log.Log"
#define KWG_TASK_TYPE_RETURN "io.kestra.plugin.core.debug.Return"
#define KWG_RUNNER_TYPE_PROCESS "io.kestra.plugin.core.runner.Process"
#define KWG_RUNNER_TYPE_DOCKER "io.kestra.plugin.scripts.runner.docker.Docker"

enum kwg_pull_policy {
	KWG_PULL_IF_NOT_PRESENT,
	KWG_PULL_ALWAYS,
	KWG_PULL_NEVER,
};

#define KWG_DOCKER_UNSET INT64_MIN

/* The Docker task runner's properties (kestra-script-tasks.md §2.2), read and checked; the runner
 * turns them into Engine API calls and refuses what the operator has not enabled. */
struct kwg_docker_opts {
	char *image; /* the runner's image, else the task's containerImage; required */
	enum kwg_pull_policy pull_policy;
	bool entrypoint_set; /* false: Kestra's default [""], the image's entrypoint cleared */
	struct kwg_strv entrypoint;  /* as given */
	char *host;                  /* as given, or NULL */
	char *user, *network_mode;   /* or NULL */
	struct kwg_strv extra_hosts; /* host:ip */
	struct kwg_strv volumes;     /* host:container[:mode] */
	int64_t nano_cpus;           /* cpu.cpus × 1e9, 0 when unset */
	/* memory.*, shmSize in bytes; KWG_DOCKER_UNSET when unset */
	int64_t memory, memory_swap, memory_reservation, memory_swappiness, shm_size;
	int oom_kill_disable;  /* -1 unset */
	char *device_requests; /* Docker's DeviceRequests JSON array, or NULL */
	char *registry_auth;   /* Docker's AuthConfig JSON (credentials), or NULL */
	bool privileged;
	bool mount_files; /* fileHandlingStrategy MOUNT (else VOLUME) */
	bool delete_container, wait;
	bool resume; /* re-attach to a container of the same task run left by a dead worker */
	int64_t kill_grace_ms; /* 0: kill at once */
};

struct kwg_script_task {
	enum kwg_task_kind kind;
	enum kwg_runner_kind runner;
	struct kwg_strv argv;  /* interpreter, then the joined script */
	struct kwg_strv env;   /* NAME=value: the task env, then the language extras */
	char *script_file;     /* Python/Node Script: file name in the working dir, or NULL */
	char *script_body;     /* its content */
	char *container_image; /* the task's containerImage, or NULL */
	struct kwg_docker_opts docker; /* runner == KWG_RUNNER_DOCKER */
	bool warning_on_stderr;        /* default true */
	int64_t timeout_ms;            /* < 0: no timeout */
	enum kwg_level log_level; /* lowest level sent as LogEntry (task logLevel; default TRACE) */
	struct kwg_strv messages; /* Log task */
	enum kwg_level message_level;
	char *return_outputs; /* Return task: its outputs JSON {"value": …} */
	/* Files (kestra-script-tasks.md §7), rendered: inputFiles as name, content pairs (content
	 * "kestra://…" is copied from internal storage; names checked to stay inside the working
	 * directory); outputFiles globs; namespaceFiles include/exclude globs when enabled. */
	struct kwg_strv input_files;
	struct kwg_strv output_files;
	bool namespace_files;
	struct kwg_strv ns_include, ns_exclude;
	/* Values to mask in every log line: SECRET-type inputs (secret() values are registered by
	 * the hook). */
	struct kwg_strv masks;
};

struct kwg_script_task_opts {
	enum kwg_runner_kind default_runner;    /* for a script task without taskRunner */
	const char *working_dir;                /* absolute; used in Python/Node Script commands */
	const struct kwg_template_hooks *hooks; /* secret(), read(), kv(), fileURI(); may be NULL */
	const char *encryption_key;      /* decrypts SECRET inputs (task_render.h); NULL: none */
	const char *encryption_key_name; /* how errors name it (task_render.h); NULL: the setting */
	int64_t now_us;                  /* now() */
};

/* Renders the task's properties as Kestra's worker does (task_render.h) and fills *ret
 * (kwg_script_task_done releases it, also on failure). Returns 0; -EOPNOTSUPP for a task type,
 * property, runner or template construct kwg cannot honour; -EINVAL for a rendering error (an
 * undefined variable, a missing secret); -EBADMSG for a malformed property; -ENOMEM. err names
 * the property. */
int kwg_script_task_decode(const struct kwg_job *job, const struct kwg_script_task_opts *opts,
                           struct kwg_script_task *ret, struct kwg_err *err);
void kwg_script_task_done(struct kwg_script_task *t);

/* Task types kwg runs with any runner (Log), and script types that need a runner. NULL-ended. */
extern const char *const kwg_task_types_runnerless[];
extern const char *const kwg_task_types_script[];
