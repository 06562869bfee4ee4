/* SPDX-License-Identifier: Apache-2.0 */
/* Inside the Docker runner: a task's state, shared by its steps (runner/docker.c) and the warm
 * pool (runner/docker_pool.c). Not for other folders: runner/docker.h is the interface. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"
#include "runner/docker.h"
#include "runner/docker_api.h"

#define MAX_TAR_BYTES (512u << 20)
/* Where the holder and its gate are in a pooled container. */
/* Under /dev, Docker's own tmpfs: nothing is added to the container's file system (docker diff,
 * `ls /`), only two entries to /dev. */
#define HOLD_BIN "/dev/.kwg-hold"
#define HOLD_GATE "/dev/.kwg-gate"

/* A container of the warm pool: being made, ready (its holder waits at the gate), or taken by a
 * task (its gate opened or about to be). */
enum pool_state { POOL_NONE, POOL_FILLING, POOL_READY, POOL_TAKEN };

struct pool_key {
	char *key;        /* canonical JSON of what creation fixes: image and host config */
	char *create;     /* the pooled containers' create body, gate binds aside */
	uint64_t used_ms; /* last asked for */
	bool failed;      /* the last fill failed: no more until a task asks again */
};

struct kwg_docker_pool {
	struct kwg_docker *d;
	uv_loop_t *loop;
	uv_timer_t timer;
	unsigned size;
	uint64_t idle_ms;
	char *dir, *holder, *worker_id;
	struct pool_key *keys;
	size_t n_keys;
	struct kwg_docker_task *entries; /* filling and ready, not taken */
	unsigned removing;               /* DELETEs of pool containers under way */
	unsigned seq;
	bool draining;
};

struct kwg_docker_task {
	struct kwg_docker *d;
	struct kwg_docker_task_cbs cbs;
	void *userdata;
	char *image, *create_body, *auth_header, *working_dir, *argv_text;
	enum kwg_pull_policy pull_policy;
	bool mount_files, delete_container, wait, resume;
	char *task_run_id;
	int64_t kill_grace_ms;
	char id[80];
	struct kwg_docker_req *req, *logs, *waiter;
	struct kwg_buf frames;
	int exit_code;
	char *error;
	bool files_back;
	bool pulling, started, uploaded, logs_done, wait_done, stopping, stop_sent, removed,
	    finished;
	/* The warm pool: the entry's state, its pool (NULL once the task took it), the option
	 * set it was made for, its gate directory on the host and the gate FIFO (held open for
	 * writing: the go is one byte; closing it ends a holder still waiting). */
	enum pool_state pool_state;
	struct kwg_docker_pool *pool;
	struct kwg_docker_task *pool_next;
	char *pool_key, *gate;
	int gate_fd;
	int attempt;
	bool go_sent, start_logged;
	bool find_by_name; /* look for an earlier container by name first (a pool is configured) */
};

/* runner/docker.c */
uint32_t kwg_docker_key_tag(const char *key);
const char *kwg_docker_why(long status, const char *body, const char *error, char *buf,
                           size_t size);
json_t *kwg_docker_strv_json(const char *const *v);
json_t *kwg_docker_host_config(const struct kwg_docker_task_spec *s);
void kwg_docker_step_create(struct kwg_docker_task *t);

/* runner/docker_pool.c */
void kwg_docker_on_pool_removed(void *userdata, long status, const char *body, size_t len,
                                const char *error);
void kwg_docker_gate_remove(const char *gate);
bool kwg_docker_pool_fits(const struct kwg_docker_task_spec *spec);
struct kwg_docker_task *kwg_docker_pool_take(struct kwg_docker_pool *p,
                                             const struct kwg_docker_task_spec *spec,
                                             struct kwg_docker_task *t);
void kwg_docker_pool_release(struct kwg_docker_task *t);
void kwg_docker_pool_fill_next(struct kwg_docker_pool *p);
