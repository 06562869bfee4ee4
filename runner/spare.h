/* SPDX-License-Identifier: Apache-2.0 */
/* A spare kwg-exec: started ahead of the next sandboxed task ("kwg-exec --parked"), it joins that
 * task's fresh cgroups while nothing waits for it — on cgroup v1 a migration into a cgroup waits
 * for an RCU grace period, about 14 ms when tasks come one at a time — and then waits on a socket
 * for its spec. The run that takes it sends the spec (kwg_spare_send) and owns the process, its
 * cgroups and its status pipe from then on; the next spare starts at once. */
#pragma once
#include <stdbool.h>
#include <uv.h>

#include "runner/process.h"

struct kwg_spare;

struct kwg_spare_config {
	uv_loop_t *loop;
	const char *exec_helper; /* kwg-exec's path, borrowed */
	/* Where the task cgroups go (as in struct kwg_run_config), or NULL: no cgroups to join. */
	const char *cgroup_memory, *cgroup_pids;
	bool cgroup_v2;
	/* kwg-exec runs the container profile: a reaper (kwg_process_spec.reaper). */
	bool reaper;
};

/* What a run takes over: the parked process (now calling the run's callbacks), its cgroup
 * directories (NULL when none), the socket its spec goes to and the read end of its status pipe. */
struct kwg_spare_exec {
	struct kwg_process *proc;
	char *cg_memory, *cg_pids;
	int spec_sock, status_fd;
};

/* The first spare is parked at the loop's first turn. cfg borrowed for the object's
 * life. 0 or -errno. */
int kwg_spare_new(const struct kwg_spare_config *cfg, struct kwg_spare **ret);
/* Hands the parked kwg-exec over and parks the next one a moment later; false when none is parked
 * (it died, is not parked yet, or could not be started: the caller spawns kwg-exec itself). */
bool kwg_spare_take(struct kwg_spare *s, const struct kwg_process_cbs *cbs, void *userdata,
                    struct kwg_spare_exec *out);
/* Sends the spec (a memfd) to a taken kwg-exec and closes spec_sock. 0 or -errno (-EPIPE: it
 * died meanwhile). */
int kwg_spare_send(int spec_sock, int spec_fd);
/* Kills the parked kwg-exec, if any; its cgroups go with the worker's. Accepts NULL. */
void kwg_spare_free(struct kwg_spare *s);
