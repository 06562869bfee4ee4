/* SPDX-License-Identifier: Apache-2.0 */
/* The inside of struct kwg_worker, shared by the worker core's files: worker.c (the root object:
 * jobs, kills, pause, stop), setup.c (what is set up before claiming: the sandbox and its cgroups,
 * the spare launcher, the Docker client, internal storage and secrets) and status.c (/health and
 * /metrics). Not for use outside worker/. */
#pragma once
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "common/id.h"
#include "protocol/instance.h"
#include "protocol/state.h"
#include "runner/run.h"
#include "runner/spare.h"
#include "sandbox/sandbox.h"
#include "transport/transport.h"
#include "worker/config.h"

struct kwg_buf;

/* Task durations for the /metrics histogram, in seconds (worker.c). */
#define KWG_WORKER_BUCKETS 10
extern const double kwg_worker_duration_buckets[KWG_WORKER_BUCKETS];

struct run_node {
	struct run_node *next, *prev;
	struct kwg_run *run;
};

enum worker_phase {
	PHASE_STARTING, /* waiting for the first control flags */
	PHASE_SERVING,
	PHASE_DRAINING, /* a signal: tasks finish, nothing is claimed */
	PHASE_FLUSHING, /* tasks done: writing the last messages and the final state */
	PHASE_CLOSED,
};

struct kwg_worker {
	uv_loop_t *loop;
	const struct kwg_config *cfg;
	char id[KWG_UUID_LEN];
	char server_id[KWG_ID_LEN];
	char hostname[256];
	struct kwg_instance_info info;
	struct kwg_transport *transport; /* the way to Kestra */
	struct kwg_http *http;
	struct kwg_docker *docker;   /* the Docker runner's Engine client, or NULL */
	struct kwg_storage *storage; /* Kestra's internal storage, or NULL (storage_type none) */
	struct kwg_secrets *secrets; /* SECRET_* of the worker's environment */
	struct kwg_orphans *orphans;
	struct kwg_docker_pool *docker_pool; /* the Docker runner's warm pool, or NULL */
	struct kwg_spare_config spare_cfg;
	char docker_error[256];
	/* A held Docker client's first use: the version negotiation and the first orphan sweep
	 * still to finish before its requests go (setup.c). */
	int docker_gate;
	struct run_node *runs;
	unsigned n_running;
	uv_signal_t sigterm, sigint;
	uv_timer_t stop_timer, grace_timer, flush_timer;
	enum worker_phase phase;
	bool forced, claiming, ready; /* ready: systemd told (READY=1) */
	int signals;
	int exit_code;
	struct kwg_run_config run_cfg;
	/* The encryption key a 2.x controller pushed (SECRET), used when encryption_secret_key is
	 * not set; NULL: none. run_cfg.encryption_key points at the one in use. */
	char *pushed_key;
	struct kwg_sandbox_spec sandbox; /* template: profile, task user, limits, filter */
	/* The sandbox probe while it runs (probe_pid > 0): its pidfd, watched by probe_poll, and
	 * the read end of its status pipe (setup.c). */
	pid_t probe_pid;
	int probe_pidfd, probe_status;
	uv_poll_t probe_poll;
	char exec_helper[PATH_MAX];
	char cg_memory[PATH_MAX], cg_pids[PATH_MAX]; /* cgroup v1 parents, "" when unused */
	/* Where dead workers' task cgroups may be left (kwg/ of each hierarchy), swept once on a
	 * thread by kwg_worker_sweep_cgroups; "" when unused. */
	char cg_stale[2][PATH_MAX];
	uv_work_t sweep;
	/* killed executions, never forgotten (as Kestra's worker): "tenant\texecution" */
	char **killed;
	size_t n_killed, cap_killed;
	/* /metrics */
	unsigned long long finished[KWG_STATE__COUNT];
	unsigned long long log_lines, kills;
	unsigned long long duration_counts[KWG_WORKER_BUCKETS + 1];
	double duration_sum;
};

/* setup.c. Each returns 0 or a negative errno (logged). */
int kwg_worker_setup_sandbox(struct kwg_worker *w);
/* Reaps the sandbox probe once its pidfd is readable (or kills it when the worker is closed):
 * 0 when the sandbox works, else -EPERM (logged). */
int kwg_worker_probe_end(struct kwg_worker *w);
int kwg_worker_setup_docker(struct kwg_worker *w);
int kwg_worker_setup_storage(struct kwg_worker *w);
int kwg_worker_setup_spare(struct kwg_worker *w);
/* Removes, on a thread, the task cgroups of workers that died without removing theirs. */
void kwg_worker_sweep_cgroups(struct kwg_worker *w);
/* Removes the worker's own task cgroups (at exit). */
void kwg_worker_remove_cgroups(struct kwg_worker *w);

/* worker.c: why the worker claims nothing now, or NULL when it claims. */
const char *kwg_worker_pause_reason(const struct kwg_worker *w);

/* status.c: the management server's handler (worker/http.h). */
int kwg_worker_http(void *ctx, const char *path, struct kwg_buf *body, const char **content_type);
