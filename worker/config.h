/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's configuration: one table of keys (worker/config.c) gives each setting its default,
 * its KWG_<KEY> environment variable and its --<key> flag; flags win over the environment, the
 * environment over defaults. Invalid values are refused with a message naming the setting. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/log.h"
#include "common/strv.h"
#include "protocol/script_task.h"

/* Where the worker reads KV values or namespace-file contents, as Kestra's workerAccess. */
enum kwg_worker_access {
	KWG_WORKER_ACCESS_STORAGE,    /* the internal storage */
	KWG_WORKER_ACCESS_CONTROLLER, /* the controller's content services */
};

struct kwg_config {
	char *database_url; /* libpq URL or conninfo; SECRET: never logged */
	char *controller;   /* Kestra 2.x worker controller HOST:PORT; NULL: the database */
	char *controller_basic_auth; /* USERNAME:PASSWORD for the controller; SECRET */
	bool controller_tls;         /* TLS to the controller (else plaintext h2c) */
	char *controller_ca_file;    /* NULL: the system's CA store */
	char *controller_cert_file, *controller_key_file; /* client certificate; both or neither */
	char *controller_authority; /* :authority / TLS name; NULL: the controller's HOST:PORT */
	/* Kestra 2.x's worker access to KV values and namespace-file contents (CONTROLLER only
	 * with a controller; checked). */
	enum kwg_worker_access kv_worker_access, namespace_files_worker_access;
	char *group;               /* NULL: the default group */
	char *kestra_queue_prefix; /* Kestra 2.x's kestra.queue.prefix; NULL: none */
	char *kestra_queue_table;  /* Kestra's queue table, TABLE or SCHEMA.TABLE (checked) */
	uint32_t concurrency;      /* task slots */
	enum kwg_log_level log_level;
	enum kwg_runner_kind default_runner;
	char *work_dir;                       /* parent of task working directories */
	struct kwg_strv task_env_passthrough; /* names copied into Process tasks */
	uint64_t heartbeat_interval_ms;       /* liveness (kestra-protocol.md §7) */
	uint64_t liveness_timeout_ms;
	uint64_t liveness_interval_ms;
	uint64_t liveness_initial_delay_ms;
	uint64_t termination_grace_period_ms; /* SIGTERM: how long running tasks may finish */
	char *restart_strategy;   /* NEVER, IMMEDIATELY, AFTER_TERMINATION_GRACE_PERIOD */
	uint32_t management_port; /* HTTP /health and /metrics; 0: off */
	char *sandbox;            /* default, strict, none */
	char *sandbox_user;       /* UID[:GID] or a name; "" = nobody when root */
	uint64_t task_cpu_seconds, task_memory, task_open_files, task_processes, task_file_size;
	/* Where task_memory, task_processes and task_file_size came from: "default" (then
	 * KWG_CONFIG_FROM_HOST until kwg_config_task_limits), or the variable or flag that set
	 * them. */
	char task_memory_from[48], task_processes_from[48], task_file_size_from[48];
	/* By kwg_config_task_limits: the limits in force, one a line, and what every task together
	 * may use (the worker-wide cgroup's limits; 0: unknown). */
#define KWG_CONFIG_LIMIT_LINES 8
	char limit_lines[KWG_CONFIG_LIMIT_LINES][320];
	uint64_t all_tasks_memory, all_tasks_pids;
	char *exec_helper;                      /* kwg-exec; "" = next to kwg */
	char *sandbox_policy;                   /* a policy override file, "" = none */
	char *docker_host;                      /* unix:///path of the Docker Engine socket */
	bool docker_volumes, docker_privileged; /* what Docker tasks may ask for */
	uint32_t docker_pool_size;              /* warm containers per option set; 0: none */
	uint64_t docker_pool_idle_ms;           /* an unused option set loses them after */
	/* Kestra's internal storage (storage/storage.h); type "none": tasks needing files fail */
	char *storage_type, *storage_base_path, *storage_endpoint, *storage_region;
	char *storage_bucket, *storage_access_key, *storage_secret_key; /* keys: SECRET */
	char *encryption_secret_key; /* Kestra's kestra.encryption.secret-key; "" = none; SECRET */
	bool check_only;             /* -n: validate and exit */
};

/* A limit left to kwg_config_task_limits, which derives it from the host. */
#define KWG_CONFIG_FROM_HOST UINT64_MAX

/* Resolves the limits left to the host (sandbox/hostlimits.h): task_memory = what the worker may
 * use less its reserve, over concurrency; task_processes = a quarter of the pid space over
 * concurrency (64..1024); task_file_size = half the free space of work_dir (statvfs) over
 * concurrency (work_dir_free 0: unknown, unlimited). Fills limit_lines, one line a limit saying
 * its value and where it came from, and the worker-wide caps. */
struct kwg_host;
void kwg_config_task_limits(struct kwg_config *cfg, const struct kwg_host *host,
                            uint64_t work_dir_free);

/* Parses argv (after the subcommand) and the environment into *ret (kwg_config_done releases it,
 * also on failure). keys limits the accepted keys to a NULL-terminated list (NULL: all). Returns 0,
 * or -EINVAL with err naming the setting and its source. */
int kwg_config_load(int argc, char **argv, char *const *envp, const char *const *keys,
                    struct kwg_config *ret, struct kwg_err *err);
void kwg_config_done(struct kwg_config *cfg);
/* Writes the usage lines of the given keys (NULL: all) to stdout. */
void kwg_config_usage(const char *const *keys);
