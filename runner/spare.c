/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "spare"
#include "runner/spare.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/compat.h"
#include "common/log.h"
#include "runner/cgroup.h"
#include "sandbox/sandbox.h"

/* A spare's cgroup join waits for an RCU grace period (cgroup v1: 15-35 ms on a quiet machine),
 * and a task that finds no spare waits for its own kwg-exec's. The first spare is started with the
 * worker's first turn of the loop, beside its database connections: a task queued before the
 * worker started, or inserted the moment it claims, finds it parked or nearly so (the first task's
 * schedule→start fell from 26 to 7.5 ms, median of 15 starts each, interleaved; the start → first
 * claim did not move, 19.7 and 19.8 ms). Each next one is started once the task that took the last
 * has started its processes. */
#define NEXT_PARK_DELAY_MS 10

struct kwg_spare {
	const struct kwg_spare_config *cfg;
	struct kwg_spare_exec parked; /* proc NULL: none */
	uv_timer_t timer;             /* the next park */
	unsigned seq;
	bool warned;
};

static void discard(struct kwg_spare_exec *e)
{
	char *dirs[] = {e->cg_memory, e->cg_pids};

	kwg_process_close(steal_ptr(&e->proc));
	for (size_t i = 0; i < 2; i++) {
		/* A killed process may still be in it: the worker's own cleanup removes it then. */
		if (dirs[i])
			(void)rmdir(dirs[i]);
		free(dirs[i]);
	}
	e->cg_memory = e->cg_pids = NULL;
	if (e->spec_sock >= 0)
		(void)close(e->spec_sock);
	if (e->status_fd >= 0)
		(void)close(e->status_fd);
	e->spec_sock = e->status_fd = -1;
}

static void on_parked_output(void *userdata, enum kwg_stream stream, const char *data, size_t len)
{
	(void)userdata;
	(void)stream;
	kwg_log_warning("spare kwg-exec: %.*s", (int)(len && data[len - 1] == '\n' ? len - 1 : len),
	                data);
}

/* A spare died before any task took it (killed from outside, or its cgroups refused it): the
 * next task spawns its own kwg-exec and parks a new one. */
static void on_parked_exit(void *userdata, int exit_code)
{
	struct kwg_spare *s = userdata;

	kwg_log_warning("the spare kwg-exec exited (status %d) before a task took it", exit_code);
	discard(&s->parked);
}

static int make_cgroup(const char *parent, unsigned seq, char **dir)
{
	int r;

	if (asprintf(dir, "%s/spare-%u", parent, seq) < 0) {
		*dir = NULL;
		return -ENOMEM;
	}
	r = kwg_cgroup_mkdir(*dir);
	if (r < 0) {
		free(*dir);
		*dir = NULL;
	}
	return r;
}

static int park(struct kwg_spare *s)
{
	const struct kwg_spare_config *cfg = s->cfg;
	struct kwg_spare_exec *e = &s->parked;
	static const char *const no_env[] = {NULL};
	struct kwg_process_cbs cbs = {on_parked_output, on_parked_exit};
	char procs[2][PATH_MAX];
	const char *argv[5] = {cfg->exec_helper, "--parked"};
	int argc = 2, sv[2] = {-1, -1}, status[2] = {-1, -1}, r = 0;

	*e = (struct kwg_spare_exec){.spec_sock = -1, .status_fd = -1};
	s->seq++;
	if (cfg->cgroup_memory && cfg->cgroup_pids) {
		r = make_cgroup(cfg->cgroup_memory, s->seq, &e->cg_memory);
		if (r >= 0 && !cfg->cgroup_v2)
			r = make_cgroup(cfg->cgroup_pids, s->seq, &e->cg_pids);
		for (int i = 0; r >= 0 && i < 2; i++) {
			const char *dir = i ? e->cg_pids : e->cg_memory;
			if (dir) {
				(void)snprintf(procs[i], sizeof(procs[i]), "%s/cgroup.procs", dir);
				argv[argc++] = procs[i];
			}
		}
	}
	if (r >= 0 && (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 ||
	               pipe2(status, O_CLOEXEC | O_NONBLOCK) < 0))
		r = -errno;
	if (r >= 0) {
		struct kwg_process_spec spec = {.argv = argv,
		                                .envp = no_env,
		                                .cwd = "/",
		                                .fd3 = sv[1],
		                                .fd4 = status[1],
		                                .reaper = cfg->reaper};
		r = kwg_process_start(cfg->loop, &spec, &cbs, s, &e->proc);
	}
	if (sv[1] >= 0)
		(void)close(sv[1]);
	if (status[1] >= 0)
		(void)close(status[1]);
	e->spec_sock = sv[0];
	e->status_fd = status[0];
	if (r < 0) {
		if (!s->warned)
			kwg_log_errno(
			    KWG_LOG_WARNING, r,
			    "cannot start a spare kwg-exec (tasks start theirs themselves)");
		s->warned = true;
		discard(e);
	}
	return r;
}

static void on_park_timer(uv_timer_t *t)
{
	struct kwg_spare *s = t->data;

	if (!s->parked.proc)
		(void)park(s);
}

int kwg_spare_new(const struct kwg_spare_config *cfg, struct kwg_spare **ret)
{
	struct kwg_spare *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cfg = cfg;
	s->parked = (struct kwg_spare_exec){.spec_sock = -1, .status_fd = -1};
	uv_timer_init(cfg->loop, &s->timer);
	s->timer.data = s;
	uv_timer_start(&s->timer, on_park_timer, 0, 0);
	*ret = s;
	return 0;
}

bool kwg_spare_take(struct kwg_spare *s, const struct kwg_process_cbs *cbs, void *userdata,
                    struct kwg_spare_exec *out)
{
	bool taken = s->parked.proc != NULL;

	if (taken) {
		kwg_process_rebind(s->parked.proc, cbs, userdata);
		*out = s->parked;
		s->parked = (struct kwg_spare_exec){.spec_sock = -1, .status_fd = -1};
	}
	if (!uv_is_active((uv_handle_t *)&s->timer))
		uv_timer_start(&s->timer, on_park_timer, NEXT_PARK_DELAY_MS, 0);
	return taken;
}

int kwg_spare_send(int spec_sock, int spec_fd)
{
	int r = kwg_sandbox_send_spec(spec_sock, spec_fd);

	(void)close(spec_sock);
	return r;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void kwg_spare_free(struct kwg_spare *s)
{
	if (!s)
		return;
	discard(&s->parked);
	uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}
