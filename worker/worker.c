/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "worker"
#include "worker/worker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/compat.h"
#include "common/id.h"
#include "common/log.h"
#include "protocol/instance.h"
#include "runner/cgroup.h"
#include "runner/docker_api.h"
#include "runner/run.h"
#include "sandbox/env.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"
#include "transport/transport.h"
#include "worker/http.h"
#include "worker/orphans.h"
#include "worker/sdnotify.h"

extern char **environ;

#define STOP_CHECK_MS 100
/* After the tasks, how long the final messages and the final state may take to be written. */
#define FLUSH_TIMEOUT_MS 60000

/* Task durations for the /metrics histogram, in seconds. */
static const double duration_buckets[] = {0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600};

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
	struct kwg_spare_config spare_cfg;
	char docker_error[256];
	struct run_node *runs;
	unsigned n_running;
	uv_signal_t sigterm, sigint;
	uv_timer_t stop_timer, grace_timer, flush_timer;
	enum worker_phase phase;
	bool forced, claiming, ready; /* ready: systemd told (READY=1) */
	int signals;
	int exit_code;
	struct kwg_run_config run_cfg;
	struct kwg_sandbox_spec sandbox; /* template: profile, task user, limits, filter */
	char exec_helper[PATH_MAX];
	char cg_memory[PATH_MAX], cg_pids[PATH_MAX]; /* cgroup v1 parents, "" when unused */
	/* killed executions, never forgotten (as Kestra's worker): "tenant\texecution" */
	char **killed;
	size_t n_killed, cap_killed;
	/* /metrics */
	unsigned long long finished[KWG_STATE__COUNT];
	unsigned long long log_lines, kills;
	unsigned long long duration_counts[ARRAY_SIZE(duration_buckets) + 1];
	double duration_sum;
};

static void worker_close(struct kwg_worker *w);
static void update_claiming(struct kwg_worker *w);

static bool killed_has(const struct kwg_worker *w, const char *tenant, const char *execution)
{
	size_t tl = strlen(tenant);

	for (size_t i = 0; i < w->n_killed; i++) {
		const char *k = w->killed[i];
		const char *tab = strchr(k, '\t');
		if (strcmp(tab + 1, execution) != 0)
			continue;
		/* The tenant must match when both sides have one (kestra-protocol.md §9.1). */
		if (tab == k || tl == 0 || ((size_t)(tab - k) == tl && strncmp(k, tenant, tl) == 0))
			return true;
	}
	return false;
}

static void killed_add(struct kwg_worker *w, const char *tenant, const char *execution)
{
	char *entry;

	if (killed_has(w, tenant, execution))
		return;
	if (w->n_killed == w->cap_killed) {
		size_t cap = w->cap_killed ? w->cap_killed * 2 : 64;
		char **p = realloc(w->killed, cap * sizeof(*p));
		if (!p)
			return;
		w->killed = p;
		w->cap_killed = cap;
	}
	if (asprintf(&entry, "%s\t%s", tenant, execution) >= 0)
		w->killed[w->n_killed++] = entry;
}

static void sink_emit(void *ctx, enum kwg_queue_type type, const char *key, char *value)
{
	struct kwg_worker *w = ctx;

	kwg_transport_emit(w->transport, type, key, value);
}

static bool sink_congested(void *ctx)
{
	struct kwg_worker *w = ctx;

	return kwg_transport_congested(w->transport);
}

static void count_finished(struct kwg_worker *w, struct kwg_run *run)
{
	enum kwg_state st = kwg_run_final_state(run);
	double seconds = (double)kwg_run_duration_ms(run) / 1000.0;
	size_t b = 0;

	w->finished[st < KWG_STATE__COUNT ? st : KWG_STATE_UNKNOWN]++;
	w->log_lines += kwg_run_log_count(run);
	while (b < ARRAY_SIZE(duration_buckets) && seconds > duration_buckets[b])
		b++;
	w->duration_counts[b]++;
	w->duration_sum += seconds;
}

static void sink_done(void *ctx, struct kwg_run *run)
{
	struct kwg_worker *w = ctx;

	for (struct run_node *n = w->runs; n; n = n->next) {
		if (n->run != run)
			continue;
		if (n->prev)
			n->prev->next = n->next;
		else
			w->runs = n->next;
		if (n->next)
			n->next->prev = n->prev;
		free(n);
		break;
	}
	kwg_log_debug("task run '%s' finished: %s", kwg_run_task_run_id(run),
	              kwg_state_name(kwg_run_final_state(run)));
	count_finished(w, run);
	kwg_transport_job_done(w->transport, kwg_run_job(run));
	kwg_run_free(run);
	w->n_running--;
	w->info.running = w->n_running;
	kwg_transport_poke(w->transport);
	kwg_transport_wake(w->transport);
}

static const struct kwg_run_sink run_sink = {
    .emit = sink_emit,
    .congested = sink_congested,
    .done = sink_done,
};

static unsigned free_slots(void *ctx)
{
	struct kwg_worker *w = ctx;

	if (!w->claiming)
		return 0;
	return w->n_running < w->cfg->concurrency ? w->cfg->concurrency - w->n_running : 0;
}

static void fail_trigger(struct kwg_worker *w, struct kwg_job *job)
{
	char *key = NULL, *value = NULL;

	/* kwg evaluates no triggers; a named group asked for everything, so say it plainly. */
	kwg_log_error("a trigger job reached worker group '%s'; kwg does not evaluate triggers, "
	              "it is answered with an empty WorkerTriggerResult",
	              w->cfg->group ? w->cfg->group : "");
	if (kwg_job_trigger_failure(job, &key, &value) == 0)
		kwg_transport_emit(w->transport, KWG_QUEUE_WORKER_TRIGGER_RESULT, key, value);
	kwg_transport_job_done(w->transport, job);
	free(key);
	kwg_job_free(job);
}

static void on_job(void *ctx, struct kwg_job *job)
{
	struct kwg_worker *w = ctx;
	struct run_node *n;
	bool killed;
	int r;

	if (kwg_job_kind(job) == KWG_JOB_TRIGGER) {
		fail_trigger(w, job);
		return;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		kwg_log_error("out of memory: task run '%s' cannot start; Kestra will resubmit it",
		              kwg_job_task_run_id(job));
		kwg_job_free(job);
		return;
	}
	killed = !kwg_job_force_execution(job) &&
	         killed_has(w, kwg_job_tenant_id(job) ? kwg_job_tenant_id(job) : "",
	                    kwg_job_execution_id(job));
	kwg_log_debug("task run '%s' (%s) claimed", kwg_job_task_run_id(job),
	              kwg_job_task_type(job) ? kwg_job_task_type(job) : "malformed");
	r = kwg_run_start(&w->run_cfg, job, &run_sink, w, &n->run);
	if (r < 0) {
		kwg_log_errno(KWG_LOG_ERROR, r,
		              "a claimed task cannot start; Kestra will resubmit it");
		free(n);
		return;
	}
	n->next = w->runs;
	if (w->runs)
		w->runs->prev = n;
	w->runs = n;
	w->n_running++;
	w->info.running = w->n_running;
	kwg_transport_poke(w->transport);
	/* KESTRA: a job of an execution already killed ends KILLED without running. */
	if (killed)
		kwg_run_stop(n->run, KWG_RUN_STOP_KILLED);
}

static void on_kill(void *ctx, const char *execution_id, const char *tenant_id)
{
	struct kwg_worker *w = ctx;
	unsigned n = 0;

	killed_add(w, tenant_id, execution_id);
	for (struct run_node *r = w->runs; r; r = r->next) {
		const char *t = kwg_run_tenant_id(r->run);
		if (strcmp(kwg_run_execution_id(r->run), execution_id) != 0 ||
		    (t && *tenant_id && strcmp(t, tenant_id) != 0))
			continue;
		kwg_run_stop(r->run, KWG_RUN_STOP_KILLED);
		n++;
	}
	w->kills += n;
	kwg_log_info("execution '%s' killed: %u running task(s) stopped", execution_id, n);
}

static void on_flags(void *ctx, const struct kwg_transport_flags *f)
{
	struct kwg_worker *w = ctx;

	(void)f;
	if (w->phase == PHASE_STARTING)
		w->phase = PHASE_SERVING;
	update_claiming(w);
}

/* Not a Kestra kwg can work with: nothing was claimed; stop, saying why. */
static void on_refused(void *ctx, const char *why)
{
	struct kwg_worker *w = ctx;

	kwg_log_error("%s; refusing to work with it", why);
	w->exit_code = 1;
	worker_close(w);
}

/* Why the worker claims nothing now, or NULL when it claims. */
static const char *pause_reason(const struct kwg_worker *w)
{
	const struct kwg_transport_flags *f = kwg_transport_flags(w->transport);

	if (w->phase != PHASE_SERVING)
		return "stopping";
	if (f->maintenance)
		return "maintenance";
	if (f->cluster_maintenance)
		return "Kestra maintenance";
	if (f->draining)
		return "group draining";
	if (f->paused)
		return "group paused";
	return NULL;
}

static void update_claiming(struct kwg_worker *w)
{
	const struct kwg_transport_flags *f = kwg_transport_flags(w->transport);
	const char *why = pause_reason(w);
	bool claiming = why == NULL;

	if (w->phase == PHASE_SERVING)
		kwg_transport_set_state(w->transport, f->maintenance || f->cluster_maintenance
		                                          ? KWG_SERVICE_MAINTENANCE
		                                          : KWG_SERVICE_RUNNING);
	if (claiming == w->claiming && (w->ready || w->phase != PHASE_SERVING))
		return;
	w->claiming = claiming;
	if (claiming)
		kwg_log_notice("claiming tasks");
	else
		kwg_log_notice("claiming paused (%s); %u running task(s) go on", why, w->n_running);
	kwg_transport_pause(w->transport, !claiming);
	if (w->phase == PHASE_SERVING) {
		char state[256];
		/* Ready once the first control flags are read, claiming or paused (systemd). */
		(void)snprintf(
		    state, sizeof(state), "%sSTATUS=%s%s", w->ready ? "" : "READY=1\n",
		    claiming ? "claiming tasks" : "claiming paused: ", claiming ? "" : why);
		kwg_sd_notify(state);
		w->ready = true;
	}
}

static void on_drained(void *ctx)
{
	struct kwg_worker *w = ctx;

	for (struct run_node *n = w->runs; n; n = n->next)
		kwg_run_resume_output(n->run);
}

static void on_lost(void *ctx, const char *why)
{
	struct kwg_worker *w = ctx;

	kwg_log_error(
	    "liveness lost: %s; stopping %u task(s) now and emitting nothing more, so that "
	    "no task runs twice (Kestra resubmits them)",
	    why, w->n_running);
	w->exit_code = 1;
	for (struct run_node *n = w->runs; n; n = n->next)
		kwg_run_stop(n->run, KWG_RUN_STOP_ABANDON);
	worker_close(w);
}

static void on_state_written(void *ctx, enum kwg_service_state state)
{
	struct kwg_worker *w = ctx;

	if (w->phase == PHASE_FLUSHING && (state == KWG_SERVICE_TERMINATED_GRACEFULLY ||
	                                   state == KWG_SERVICE_TERMINATED_FORCED)) {
		kwg_log_notice("%s; exiting", kwg_service_state_name(state));
		worker_close(w);
	}
}

static const struct kwg_transport_ops transport_ops = {
    .free_slots = free_slots,
    .on_job = on_job,
    .on_kill = on_kill,
    .on_flags = on_flags,
    .on_refused = on_refused,
    .on_lost = on_lost,
    .on_state_written = on_state_written,
    .on_drained = on_drained,
};

static void on_flush_timeout(uv_timer_t *t)
{
	struct kwg_worker *w = t->data;

	kwg_log_error("the database did not take the last messages within %d s; exiting anyway",
	              FLUSH_TIMEOUT_MS / 1000);
	worker_close(w);
}

static void on_stop_check(uv_timer_t *t)
{
	struct kwg_worker *w = t->data;

	if (w->phase == PHASE_DRAINING &&
	    (w->n_running > 0 || (!w->forced && !kwg_transport_idle(w->transport))))
		return;
	if (w->phase == PHASE_DRAINING) {
		w->phase = PHASE_FLUSHING;
		uv_timer_stop(&w->grace_timer);
		uv_timer_start(&w->flush_timer, on_flush_timeout, FLUSH_TIMEOUT_MS, 0);
		kwg_log_notice("all tasks ended; writing the last messages");
	}
	if (w->phase == PHASE_FLUSHING && kwg_transport_empty(w->transport)) {
		uv_timer_stop(&w->stop_timer);
		kwg_transport_set_state(w->transport, w->forced
		                                          ? KWG_SERVICE_TERMINATED_FORCED
		                                          : KWG_SERVICE_TERMINATED_GRACEFULLY);
	}
}

/* The grace period is over (or a second signal): stop what remains by the restart strategy. */
static void force_stop(struct kwg_worker *w)
{
	/* KESTRA: with a restartable strategy a job stopped by shutdown emits nothing and is
	 * resubmitted; with NEVER it is reported failed. */
	bool never = strcmp(w->cfg->restart_strategy, "NEVER") == 0;

	if (w->phase != PHASE_DRAINING || w->forced)
		return;
	w->forced = true;
	kwg_log_warning("stopping %u running task(s): %s", w->n_running,
	                never ? "they end FAILED (restart strategy NEVER)"
	                      : "Kestra resubmits them (restart strategy)");
	for (struct run_node *n = w->runs; n; n = n->next)
		kwg_run_stop(n->run, never ? KWG_RUN_STOP_SHUTDOWN : KWG_RUN_STOP_ABANDON);
}

static void on_grace_over(uv_timer_t *t)
{
	struct kwg_worker *w = t->data;

	kwg_log_warning("termination grace period of %llu ms is over",
	                (unsigned long long)w->cfg->termination_grace_period_ms);
	force_stop(w);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct kwg_worker *w = h->data;

	if (++w->signals > 1) {
		kwg_log_warning("%s again: not waiting any longer", strsignal(signum));
		force_stop(w);
		return;
	}
	kwg_log_notice("%s: claiming stopped, %u running task(s) may finish within %llu ms (signal "
	               "again to stop them now)",
	               strsignal(signum), w->n_running,
	               (unsigned long long)w->cfg->termination_grace_period_ms);
	w->phase = PHASE_DRAINING;
	kwg_sd_notify("STOPPING=1\nSTATUS=draining: claiming stopped, running tasks finish");
	update_claiming(w);
	kwg_transport_stop(w->transport);
	kwg_transport_set_state(w->transport, KWG_SERVICE_TERMINATING);
	uv_timer_start(&w->grace_timer, on_grace_over, w->cfg->termination_grace_period_ms, 0);
	uv_timer_start(&w->stop_timer, on_stop_check, 0, STOP_CHECK_MS);
}

static int http_handler(void *ctx, const char *path, struct kwg_buf *body,
                        const char **content_type);

/* Removes the empty directories under dir, depth first, then dir itself (best effort; v2:
 * kwg/<pid>/tasks/<task> is three deep). */
static void remove_cgroup_tree_depth(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[PATH_MAX];
		if (e->d_type != DT_DIR || e->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path))
			continue;
		if (depth > 0)
			remove_cgroup_tree_depth(path, depth - 1);
		(void)rmdir(path);
	}
	if (d)
		closedir(d);
	(void)rmdir(dir);
}

static void remove_cgroup_tree(const char *dir)
{
	remove_cgroup_tree_depth(dir, 2);
}

/* Removes the task cgroups that workers killed before they could clean up left under parent
 * (kwg/<pid> directories whose pid is gone). */
static void remove_stale_cgroups(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char path[PATH_MAX * 2];
		long pid = strtol(e->d_name, NULL, 10);
		if (e->d_type != DT_DIR || pid <= 0 || (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
			continue;
		(void)snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		remove_cgroup_tree(path);
	}
	if (d)
		closedir(d);
}

/* Every task of this worker together (sandbox/hostlimits.h): the memory less the worker's reserve
 * and a quarter of the pid space, on the cgroups the task cgroups are made in. */
static const char *worker_wide_limits(struct kwg_worker *w, const char *memory, const char *pids)
{
	char text[32];

	if (w->cfg->all_tasks_memory) {
		(void)snprintf(text, sizeof(text), "%llu",
		               (unsigned long long)w->cfg->all_tasks_memory);
		if (kwg_cgroup_write(memory,
		                     w->run_cfg.cgroup_v2 ? "memory.max" : "memory.limit_in_bytes",
		                     text) < 0)
			return "the worker-wide memory limit cannot be set";
	}
	if (w->cfg->all_tasks_pids) {
		(void)snprintf(text, sizeof(text), "%llu",
		               (unsigned long long)w->cfg->all_tasks_pids);
		if (kwg_cgroup_write(pids, "pids.max", text) < 0)
			return "the worker-wide process limit cannot be set";
	}
	return NULL;
}

/* cgroup v1: the memory and pids hierarchies, with kwg/<worker pid>/ in each (so that workers on
 * one host never touch each other's). A reason on failure. */
static const char *cgroups_v1(struct kwg_worker *w)
{
	static const char *const roots[] = {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"};
	char *dirs[] = {w->cg_memory, w->cg_pids};

	for (size_t i = 0; i < 2; i++) {
		char parent[PATH_MAX - 32];
		(void)snprintf(parent, sizeof(parent), "%s/kwg", roots[i]);
		(void)snprintf(dirs[i], PATH_MAX, "%s/%d", parent, (int)getpid());
		if (access(roots[i], W_OK) < 0 || (kwg_cgroup_mkdir(parent) < 0 && errno != EEXIST))
			return "the memory and pids hierarchies cannot be written";
		remove_stale_cgroups(parent);
		if (kwg_cgroup_mkdir(dirs[i]) < 0 && errno != EEXIST)
			return "a cgroup of the worker's own cannot be made";
	}
	return worker_wide_limits(w, w->cg_memory, w->cg_pids);
}

/* cgroup v2, in the worker's own cgroup C (delegated to it, as systemd's Delegate=yes or a
 * container's private cgroup namespace give): the worker moves into the leaf C/kwg/<pid>/worker
 * (a cgroup that hands controllers down may hold no process), then enables memory and pids down
 * to C/kwg/<pid>, where each task gets its cgroup. A reason on failure. */
static const char *cgroups_v2(struct kwg_worker *w)
{
	char self[PATH_MAX] = "", own[PATH_MAX], kwg[PATH_MAX], leaf[PATH_MAX], line[PATH_MAX];
	char base[PATH_MAX];
	char controllers[256] = "", pid[16];
	FILE *f = fopen("/proc/self/cgroup", "re");
	bool delegated;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0)
			(void)snprintf(self, sizeof(self), "%.*s", (int)strcspn(line + 3, "\n"),
			               line + 3);
	if (f)
		fclose(f);
	if (!*self)
		return "the worker's cgroup is unknown (/proc/self/cgroup)";
	if (snprintf(own, sizeof(own), "/sys/fs/cgroup%s", strcmp(self, "/") == 0 ? "" : self) >=
	        (int)sizeof(own) ||
	    snprintf(line, sizeof(line), "%s/cgroup.controllers", own) >= (int)sizeof(line) ||
	    snprintf(kwg, sizeof(kwg), "%s/kwg", own) >= (int)sizeof(kwg) ||
	    snprintf(base, sizeof(base), "%s/%d", kwg, (int)getpid()) >= (int)sizeof(base) ||
	    snprintf(w->cg_memory, PATH_MAX, "%s/tasks", base) >= PATH_MAX ||
	    snprintf(leaf, sizeof(leaf), "%s/worker", base) >= (int)sizeof(leaf))
		return "the worker's cgroup path is too long";
	f = fopen(line, "re");
	delegated = f && fgets(controllers, sizeof(controllers), f) &&
	            strstr(controllers, "memory") && strstr(controllers, "pids");
	if (f)
		fclose(f);
	if (!delegated)
		return "the memory and pids controllers are not delegated to the worker's cgroup";
	(void)snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (access(own, W_OK) < 0 || (kwg_cgroup_mkdir(kwg) < 0 && errno != EEXIST))
		return "the worker's cgroup cannot be written";
	remove_stale_cgroups(kwg);
	if ((kwg_cgroup_mkdir(base) < 0 && errno != EEXIST) ||
	    (kwg_cgroup_mkdir(leaf) < 0 && errno != EEXIST) ||
	    kwg_cgroup_write(leaf, "cgroup.procs", pid) < 0)
		return "the worker cannot move into a cgroup of its own";
	if (kwg_cgroup_write(own, "cgroup.subtree_control", "+memory +pids") < 0)
		return "other processes share the worker's cgroup, so it cannot hand controllers "
		       "down";
	/* The tasks' cgroups go under kwg/<pid>/tasks, whose limits hold every task together. */
	if (kwg_cgroup_write(kwg, "cgroup.subtree_control", "+memory +pids") < 0 ||
	    kwg_cgroup_write(base, "cgroup.subtree_control", "+memory +pids") < 0 ||
	    (kwg_cgroup_mkdir(w->cg_memory) < 0 && errno != EEXIST) ||
	    kwg_cgroup_write(w->cg_memory, "cgroup.subtree_control", "+memory +pids") < 0)
		return "the controllers cannot be enabled for task cgroups";
	(void)snprintf(w->cg_pids, PATH_MAX, "%s", w->cg_memory);
	return worker_wide_limits(w, w->cg_memory, w->cg_pids);
}

/* Per-task cgroups when the worker may make them (v1, else v2); otherwise rlimits, with the
 * reason in the log. */
static void cgroups_setup(struct kwg_worker *w)
{
	const char *why;

	w->run_cfg.cgroup_v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
	why = w->run_cfg.cgroup_v2 ? cgroups_v2(w) : cgroups_v1(w);
	if (why) {
		kwg_log_notice("no task cgroups (cgroup %s: %s): limits by rlimits",
		               w->run_cfg.cgroup_v2 ? "v2" : "v1", why);
		w->cg_memory[0] = w->cg_pids[0] = '\0';
		return;
	}
	w->run_cfg.cgroup_memory = w->cg_memory;
	w->run_cfg.cgroup_pids = w->cg_pids;
}

/* A kwg-exec parked in the next task's cgroups ahead of it (runner/spare.h). */
static int spare_setup(struct kwg_worker *w)
{
	if (w->sandbox.profile == KWG_SANDBOX_NONE)
		return 0;
	w->spare_cfg = (struct kwg_spare_config){
	    .loop = w->loop,
	    .exec_helper = w->exec_helper,
	    .cgroup_memory = w->run_cfg.cgroup_memory,
	    .cgroup_pids = w->run_cfg.cgroup_pids,
	    .cgroup_v2 = w->run_cfg.cgroup_v2,
	    .reaper = w->sandbox.profile == KWG_SANDBOX_CONTAINER,
	};
	return kwg_spare_new(&w->spare_cfg, &w->run_cfg.spare);
}

static void on_docker_version(void *userdata, long status, const char *body, size_t len,
                              const char *error)
{
	struct kwg_worker *w = userdata;
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	const char *version = json_string_value(json_object_get(j, "Version"));
	char msg[256];

	if (version)
		kwg_log_notice("Docker runner: Engine %s at %s, API %s", version,
		               kwg_docker_socket(w->docker), kwg_docker_api_version(w->docker));
	else
		kwg_log_warning("Docker runner: no Docker Engine answers at %s (%s); Docker tasks "
		                "fail with that message until one does",
		                kwg_docker_socket(w->docker),
		                status ? kwg_docker_error_message(body, msg, sizeof(msg)) : error);
	json_decref(j);
}

/* The Docker Engine client: the configured unix:// socket (or DOCKER_HOST when only the default
 * is configured). A daemon that does not answer yet is not fatal: Process tasks still run. */
static int docker_setup(struct kwg_worker *w)
{
	const char *host = w->cfg->docker_host, *env = getenv("DOCKER_HOST");
	int r;

	if (strcmp(host, "unix:///var/run/docker.sock") == 0 && env && *env)
		host = env;
	if (strncmp(host, "unix://", 7) != 0 || !host[7]) {
		kwg_log_error(
		    "docker_host: '%s' is not a unix:// socket (the only kind kwg speaks)", host);
		return -EINVAL;
	}
	r = kwg_docker_new(w->loop, host + 7, &w->docker);
	if (r >= 0)
		r = kwg_docker_negotiate(w->docker, on_docker_version, w);
	if (r < 0) {
		(void)snprintf(w->docker_error, sizeof(w->docker_error), "%s", strerror(-r));
		kwg_docker_free(steal_ptr(&w->docker));
	}
	w->run_cfg.docker = w->docker;
	w->run_cfg.docker_error = w->docker_error;
	w->run_cfg.docker_volumes = w->cfg->docker_volumes;
	w->run_cfg.docker_privileged = w->cfg->docker_privileged;
	return 0;
}

static void on_bad_secret(void *userdata, const char *name)
{
	(void)userdata;
	/* KESTRA: SecretService logs an error and skips the variable. */
	kwg_log_error("SECRET_%s is not valid base64: secret('%s') will not find it", name, name);
}

/* Kestra's internal storage as the operator described it, and the SECRET_* variables. */
static int storage_setup(struct kwg_worker *w)
{
	const struct kwg_config *c = w->cfg;
	struct kwg_storage_config sc = {
	    .type = c->storage_type,
	    .base_path = c->storage_base_path,
	    .endpoint = *c->storage_endpoint ? c->storage_endpoint : NULL,
	    .region = c->storage_region,
	    .bucket = c->storage_bucket,
	    .access_key = c->storage_access_key,
	    .secret_key = c->storage_secret_key,
	    .path_style = strcmp(c->storage_type, "minio") == 0 || *c->storage_endpoint,
	};
	struct kwg_err err = {{0}};
	int r = kwg_secrets_new(environ, on_bad_secret, w, &w->secrets);

	if (r < 0)
		return r;
	if (kwg_secrets_count(w->secrets))
		kwg_log_info("%zu secret(s) from SECRET_* variables",
		             kwg_secrets_count(w->secrets));
	w->run_cfg.secrets = w->secrets;
	if (strcmp(c->storage_type, "none") == 0)
		return 0;
	r = kwg_storage_new(w->loop, &sc, &w->storage, &err);
	if (r < 0) {
		kwg_log_error("internal storage: %s", err.msg);
		return r;
	}
	kwg_log_info("internal storage: %s %s", c->storage_type,
	             strcmp(c->storage_type, "local") == 0 ? c->storage_base_path
	                                                   : c->storage_bucket);
	w->run_cfg.storage = w->storage;
	if (strcmp(c->storage_type, "local") == 0)
		w->run_cfg.storage_local_base = c->storage_base_path;
	return 0;
}

/* The operator's policy override, read once at start; unknown syscall names refuse the start. */
static int load_policy(struct kwg_worker *w, struct kwg_strv *deny, struct kwg_strv *allow)
{
	struct kwg_err err = {{0}};
	const char *path = w->cfg->sandbox_policy;
	const char *unknown;
	char text[65536];
	ssize_t n;
	int fd, r;

	if (!*path)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return kwg_log_errno(KWG_LOG_ERROR, -errno, "sandbox_policy: cannot open '%s'",
		                     path);
	n = read(fd, text, sizeof(text));
	(void)close(fd);
	if (n < 0 || n == (ssize_t)sizeof(text)) {
		kwg_log_error("sandbox_policy: '%s' cannot be read or is larger than 64 KiB", path);
		return -EINVAL;
	}
	r = kwg_sandbox_policy_parse(text, (size_t)n, deny, allow, &err);
	if (r < 0) {
		kwg_log_error("sandbox_policy: %s: %s", path, err.msg);
		return r;
	}
	unknown = kwg_sandbox_seccomp_unknown_in(deny);
	if (!unknown)
		unknown = kwg_sandbox_seccomp_unknown_in(allow);
	if (unknown) {
		kwg_log_error("sandbox_policy: %s: '%s' is not a syscall of this architecture",
		              path, unknown);
		return -EINVAL;
	}
	kwg_log_notice(
	    "sandbox_policy %s: %zu syscall(s) denied on top of the profile, %zu allowed", path,
	    deny->n, allow->n);
	return 0;
}

/* The profile's seccomp filter with the operator's override, compiled once for every task. */
static int compile_filter(struct kwg_worker *w)
{
	struct kwg_strv deny = {0}, allow = {0};
	int r = load_policy(w, &deny, &allow);

	if (r >= 0) {
		r = kwg_sandbox_seccomp_compile(w->sandbox.profile, &deny, &allow,
		                                &w->sandbox.filter, &w->sandbox.filter_len);
		if (r < 0)
			kwg_log_errno(KWG_LOG_ERROR, r, "cannot compile the seccomp filter");
	}
	kwg_strv_done(&deny);
	kwg_strv_done(&allow);
	return r;
}

/* Runs /bin/true through the real sandbox once before claiming anything: a kernel that refuses a
 * namespace or a mount stops the worker here, with the step that failed, instead of failing every
 * task (or running them less isolated than configured). */
static int probe_sandbox(struct kwg_worker *w)
{
	struct kwg_sandbox_spec spec = w->sandbox;
	struct kwg_sandbox_status st = {0};
	posix_spawn_file_actions_t fa;
	char *argv[] = {w->exec_helper, NULL}, *envp[] = {NULL};
	char *bytes = NULL;
	size_t len;
	int fd = -1, pipefd[2] = {-1, -1}, status = 0, r;
	pid_t pid;

	spec.workdir = w->cfg->work_dir;
	spec.argv = (struct kwg_strv){0};
	spec.envp = (struct kwg_strv){0};
	spec.cgroups = (struct kwg_strv){0};
	r = kwg_strv_push(&spec.argv, "/bin/true");
	if (r >= 0)
		r = kwg_sandbox_spec_encode(&spec, &bytes, &len);
	kwg_strv_done(&spec.argv);
	if (r >= 0 && ((fd = memfd_create("kwg-probe", MFD_CLOEXEC)) < 0 ||
	               write(fd, bytes, len) != (ssize_t)len || pipe2(pipefd, O_CLOEXEC) < 0))
		r = -errno;
	free(bytes);
	if (r >= 0) {
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_adddup2(&fa, fd, KWG_SANDBOX_SPEC_FD);
		posix_spawn_file_actions_adddup2(&fa, pipefd[1], KWG_SANDBOX_STATUS_FD);
		r = -posix_spawn(&pid, w->exec_helper, &fa, NULL, argv, envp);
		posix_spawn_file_actions_destroy(&fa);
	}
	if (pipefd[1] >= 0)
		(void)close(pipefd[1]);
	if (r >= 0) {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			if (read(pipefd[0], &st, sizeof(st)) == (ssize_t)sizeof(st))
				kwg_log_error(
				    "the %s sandbox cannot be set up on this machine: %s failed: "
				    "%s; refusing to start (%s)",
				    kwg_sandbox_profile_name(w->sandbox.profile),
				    kwg_sandbox_stage_name((enum kwg_sandbox_stage)st.stage),
				    strerror(st.err),
				    st.stage == KWG_STAGE_NS || st.stage == KWG_STAGE_USERNS ||
				            st.stage == KWG_STAGE_MOUNTS
				        ? "in a container that may not make namespaces, --sandbox "
				          "container keeps the sandbox without them; --sandbox "
				          "none "
				          "runs tasks without isolation"
				        : "--sandbox none runs tasks without isolation");
			else
				kwg_log_error(
				    "the sandbox probe failed (status %d); refusing to start",
				    status);
			r = -EPERM;
		}
	} else {
		kwg_log_errno(KWG_LOG_ERROR, r, "cannot run the sandbox probe");
	}
	if (fd >= 0)
		(void)close(fd);
	if (pipefd[0] >= 0)
		(void)close(pipefd[0]);
	return r;
}

/* The Process sandbox from the configuration: profile, task user, limits, kwg-exec's path. */
static int sandbox_setup(struct kwg_worker *w)
{
	const struct kwg_config *cfg = w->cfg;
	struct kwg_sandbox_spec *sb = &w->sandbox;
	const char *user = cfg->sandbox_user;

	(void)kwg_sandbox_profile_from_name(cfg->sandbox, &sb->profile);
	sb->uid = sb->gid = -1;
	sb->limits = (struct kwg_sandbox_limits){cfg->task_cpu_seconds, cfg->task_memory,
	                                         cfg->task_open_files, cfg->task_processes,
	                                         cfg->task_file_size};
	if (sb->profile == KWG_SANDBOX_NONE) {
		kwg_log_warning(
		    "sandbox none: Process tasks run without isolation, as the worker's "
		    "user");
		return 0;
	}
	/* SECURITY: a root worker never runs tasks as root unless the operator names root. */
	if (!*user && geteuid() == 0) {
		sb->uid = sb->gid = 65534;
	} else if (*user && kwg_sandbox_user_from_name(user, &sb->uid, &sb->gid) < 0) {
		kwg_log_error("sandbox_user: '%s' is neither UID[:GID] nor a user of this machine",
		              user);
		return -EINVAL;
	}
	if (*cfg->exec_helper) {
		(void)snprintf(w->exec_helper, sizeof(w->exec_helper), "%s", cfg->exec_helper);
	} else {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return -errno;
		self[n] = '\0';
		(void)snprintf(w->exec_helper, sizeof(w->exec_helper), "%s/kwg-exec",
		               dirname(self));
	}
	if (access(w->exec_helper, X_OK) < 0) {
		kwg_log_error("the sandbox launcher '%s' cannot be run: %s", w->exec_helper,
		              strerror(errno));
		return -ENOENT;
	}
	if (compile_filter(w) < 0 || probe_sandbox(w) < 0)
		return -EPERM;
	cgroups_setup(w);
	if (sb->profile == KWG_SANDBOX_CONTAINER)
		kwg_log_warning(
		    "sandbox container: tasks run without namespaces (seccomp, no_new_privs, no "
		    "capabilities, limits and a reaper that kills what a task leaves behind still "
		    "apply); missing: a private /proc (tasks see every process of this "
		    "container), a private /tmp, read-only system directories (the task user's "
		    "file permissions apply)%s",
		    sb->uid < 0 ? "; and tasks run as the worker's own user, so they can signal "
		                  "it (run the worker as root, tasks then run as nobody, or set "
		                  "sandbox_user)"
		                : "");
	kwg_log_notice(
	    "sandbox %s: tasks run as %lld:%lld%s; "
	    "limits by %s (memory %llu MiB, processes %llu, files %llu)",
	    kwg_sandbox_profile_name(sb->profile), (long long)sb->uid, (long long)sb->gid,
	    sb->profile == KWG_SANDBOX_CONTAINER ? " without namespaces"
	    : sb->profile == KWG_SANDBOX_STRICT  ? " in pid, mount, ipc, uts and net namespaces"
	                                         : " in pid, mount, ipc and uts namespaces",
	    !*w->cg_memory         ? "rlimits (address space, processes of the task user)"
	    : w->run_cfg.cgroup_v2 ? "cgroup v2 (memory, pids; one cgroup per task, all of them in "
	                             "a worker-wide one)"
	                           : "cgroup v1 (memory, pids; one cgroup per task, all of them in "
	                             "a worker-wide one)",
	    (unsigned long long)(sb->limits.address_space_bytes >> 20),
	    (unsigned long long)sb->limits.processes, (unsigned long long)sb->limits.open_files);
	for (int i = 0; i < KWG_CONFIG_LIMIT_LINES && cfg->limit_lines[i][0]; i++)
		kwg_log_notice("limits: %s", cfg->limit_lines[i]);
	return 0;
}

int kwg_worker_new(uv_loop_t *loop, const struct kwg_config *cfg,
                   const struct kwg_transport_class *transport, struct kwg_worker **ret)
{
	struct kwg_worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->cfg = cfg;
	kwg_id_uuid4(w->id);
	kwg_id_friendly(w->server_id);
	if (gethostname(w->hostname, sizeof(w->hostname) - 1) < 0)
		(void)snprintf(w->hostname, sizeof(w->hostname), "unknown");
	w->info = (struct kwg_instance_info){
	    .id = w->id,
	    .server_id = w->server_id,
	    .hostname = w->hostname,
	    .version = KWG_VERSION,
	    .group = cfg->group,
	    .heartbeat_interval_ms = (int64_t)cfg->heartbeat_interval_ms,
	    .liveness_interval_ms = (int64_t)cfg->liveness_interval_ms,
	    .liveness_timeout_ms = (int64_t)cfg->liveness_timeout_ms,
	    .liveness_initial_delay_ms = (int64_t)cfg->liveness_initial_delay_ms,
	    .termination_grace_period_ms = (int64_t)cfg->termination_grace_period_ms,
	    .restart_strategy = cfg->restart_strategy,
	    .management_port = cfg->management_port,
	    .slots = cfg->concurrency,
	};
	w->run_cfg = (struct kwg_run_config){
	    .loop = loop,
	    .worker_id = w->id,
	    .default_runner = cfg->default_runner,
	    .work_root = cfg->work_dir,
	    .env_passthrough = (const char *const *)cfg->task_env_passthrough.v,
	    .parent_env = environ,
	    .sandbox = &w->sandbox,
	    .exec_helper = w->exec_helper,
	};
	r = sandbox_setup(w);
	if (r >= 0)
		r = docker_setup(w);
	if (r >= 0)
		r = storage_setup(w);
	if (r < 0) {
		free(w->sandbox.filter);
		kwg_docker_free(w->docker);
		kwg_storage_free(w->storage);
		kwg_secrets_free(w->secrets);
		free(w);
		return r;
	}
	r = kwg_transport_new(transport,
	                      &(struct kwg_transport_params){
	                          .loop = loop,
	                          .url = cfg->database_url,
	                          .info = &w->info,
	                          .default_runner = cfg->default_runner,
	                          .spill_dir = cfg->work_dir,
	                          .ops = &transport_ops,
	                          .ctx = w,
	                      },
	                      &w->transport);
	if (r >= 0 && cfg->management_port)
		r = kwg_http_new(loop, (uint16_t)cfg->management_port, http_handler, w, &w->http);
	if (r >= 0 && w->docker)
		r = kwg_orphans_new(loop, w->docker, w->transport, w->id, &w->orphans);
	if (r >= 0)
		r = spare_setup(w);
	if (r < 0) {
		worker_close(w);
		kwg_secrets_free(w->secrets);
		free(w);
		return r;
	}
	uv_signal_init(loop, &w->sigterm);
	uv_signal_init(loop, &w->sigint);
	uv_timer_init(loop, &w->stop_timer);
	uv_timer_init(loop, &w->grace_timer);
	uv_timer_init(loop, &w->flush_timer);
	w->sigterm.data = w->sigint.data = w;
	w->stop_timer.data = w->grace_timer.data = w->flush_timer.data = w;
	*ret = w;
	return 0;
}

int kwg_worker_start(struct kwg_worker *w)
{
	uv_signal_start(&w->sigterm, on_signal, SIGTERM);
	uv_signal_start(&w->sigint, on_signal, SIGINT);
	kwg_log_notice("kwg %s worker %s: group %s, concurrency %u, default runner %s", KWG_VERSION,
	               w->id, w->cfg->group ? w->cfg->group : "(default)", w->cfg->concurrency,
	               w->cfg->default_runner == KWG_RUNNER_PROCESS ? "process" : "docker");
	/* Claiming starts once the first flags are read (a paused group or maintenance must hold
	 * from the first moment): on_flags. */
	kwg_transport_start(w->transport);
	return 0;
}

static void worker_close(struct kwg_worker *w)
{
	if (w->phase == PHASE_CLOSED)
		return;
	w->phase = PHASE_CLOSED;
	while (w->runs) {
		struct run_node *n = w->runs;
		w->runs = n->next;
		kwg_run_free(n->run);
		free(n);
	}
	kwg_http_close(w->http);
	kwg_orphans_close(steal_ptr(&w->orphans));
	kwg_transport_close(steal_ptr(&w->transport));
	kwg_docker_free(steal_ptr(&w->docker));
	kwg_storage_free(steal_ptr(&w->storage));
	kwg_spare_free(steal_ptr(&w->run_cfg.spare));
	w->http = NULL;
	if (uv_is_active((uv_handle_t *)&w->sigterm) || w->sigterm.loop) {
		uv_close((uv_handle_t *)&w->sigterm, NULL);
		uv_close((uv_handle_t *)&w->sigint, NULL);
		uv_close((uv_handle_t *)&w->stop_timer, NULL);
		uv_close((uv_handle_t *)&w->grace_timer, NULL);
		uv_close((uv_handle_t *)&w->flush_timer, NULL);
	}
}

int kwg_worker_free(struct kwg_worker *w)
{
	int code;

	if (!w)
		return 0;
	code = w->exit_code;
	free(w->sandbox.filter);
	kwg_secrets_free(w->secrets);
	if (*w->cg_memory) {
		remove_cgroup_tree(w->cg_memory);
		remove_cgroup_tree(w->cg_pids);
	}
	for (size_t i = 0; i < w->n_killed; i++)
		free(w->killed[i]);
	free(w->killed);
	free(w);
	return code;
}

/* GET /health: 200 when ready (database reachable, heartbeat fresh), 503 otherwise; the body says
 * what the worker is doing. GET /metrics: Prometheus text. */
static int http_handler(void *ctx, const char *path, struct kwg_buf *body,
                        const char **content_type)
{
	struct kwg_worker *w = ctx;
	const struct kwg_transport_flags *f = kwg_transport_flags(w->transport);
	const char *why = pause_reason(w);
	bool fresh = kwg_transport_fresh(w->transport);
	struct kwg_transport_stats stats;
	unsigned long long total = 0;

	kwg_transport_stats(w->transport, &stats);
	if (strcmp(path, "/health") == 0 || strcmp(path, "/health/liveness") == 0 ||
	    strcmp(path, "/health/readiness") == 0) {
		bool liveness_only = strcmp(path, "/health/liveness") == 0;
		*content_type = "application/json";
		(void)kwg_buf_printf(
		    body,
		    "{\"status\":\"%s\",\"liveness\":\"UP\",\"readiness\":\"%s\","
		    "\"service\":\"%s\",\"claiming\":%s,\"paused\":%s,\"draining\":%s,"
		    "\"maintenance\":%s,\"running\":%u,\"heartbeatAgeMs\":%lld}",
		    fresh || liveness_only ? "UP" : "DOWN", fresh ? "UP" : "DOWN",
		    kwg_service_state_name(kwg_transport_state(w->transport)),
		    why ? "false" : "true", f->paused ? "true" : "false",
		    f->draining ? "true" : "false",
		    f->maintenance || f->cluster_maintenance ? "true" : "false", w->n_running,
		    fresh || kwg_transport_heartbeat_age_ms(w->transport) != UINT64_MAX
		        ? (long long)kwg_transport_heartbeat_age_ms(w->transport)
		        : -1LL);
		return fresh || liveness_only ? 200 : 503;
	}
	if (strcmp(path, "/metrics") != 0)
		return 404;
	*content_type = "text/plain; version=0.0.4";
	(void)kwg_buf_printf(
	    body,
	    "# HELP kwg_claims_total Jobs claimed.\n# TYPE kwg_claims_total counter\n"
	    "kwg_claims_total %llu\n"
	    "# HELP kwg_tasks_running Tasks running now.\n"
	    "# TYPE kwg_tasks_running gauge\nkwg_tasks_running %u\n"
	    "# HELP kwg_task_slots Task slots.\n# TYPE kwg_task_slots gauge\n"
	    "kwg_task_slots %u\n"
	    "# HELP kwg_tasks_finished_total Tasks finished, by final state.\n"
	    "# TYPE kwg_tasks_finished_total counter\n",
	    stats.claimed, w->n_running, w->cfg->concurrency);
	for (int s = 0; s < KWG_STATE__COUNT; s++)
		if (w->finished[s])
			(void)kwg_buf_printf(body, "kwg_tasks_finished_total{state=\"%s\"} %llu\n",
			                     s == KWG_STATE_UNKNOWN ? "ABANDONED"
			                                            : kwg_state_name(s),
			                     w->finished[s]);
	(void)kwg_buf_puts(body, "# HELP kwg_task_duration_seconds Task run time.\n"
	                         "# TYPE kwg_task_duration_seconds histogram\n");
	for (size_t b = 0; b <= ARRAY_SIZE(duration_buckets); b++) {
		total += w->duration_counts[b];
		if (b < ARRAY_SIZE(duration_buckets))
			(void)kwg_buf_printf(body,
			                     "kwg_task_duration_seconds_bucket{le=\"%g\"} %llu\n",
			                     duration_buckets[b], total);
		else
			(void)kwg_buf_printf(
			    body, "kwg_task_duration_seconds_bucket{le=\"+Inf\"} %llu\n", total);
	}
	(void)kwg_buf_printf(
	    body,
	    "kwg_task_duration_seconds_sum %.3f\nkwg_task_duration_seconds_count %llu\n"
	    "# HELP kwg_log_lines_total LogEntry rows written.\n# TYPE kwg_log_lines_total "
	    "counter\n"
	    "kwg_log_lines_total %llu\n"
	    "# HELP kwg_kills_total Tasks stopped because their execution was killed.\n"
	    "# TYPE kwg_kills_total counter\nkwg_kills_total %llu\n"
	    "# HELP kwg_outbox_bytes Messages waiting for the database.\n"
	    "# TYPE kwg_outbox_bytes gauge\nkwg_outbox_bytes %zu\n"
	    "# HELP kwg_db_reconnects_total Database connections lost and retried.\n"
	    "# TYPE kwg_db_reconnects_total counter\nkwg_db_reconnects_total %llu\n"
	    "# HELP kwg_errors_total Errors logged.\n# TYPE kwg_errors_total counter\n"
	    "kwg_errors_total %llu\n"
	    "# HELP kwg_claiming Whether the worker claims new tasks.\n# TYPE kwg_claiming gauge\n"
	    "kwg_claiming %d\n"
	    "# HELP kwg_queue_depth WorkerJob rows of this worker's group waiting (-1: unknown).\n"
	    "# TYPE kwg_queue_depth gauge\nkwg_queue_depth %lld\n"
	    "# HELP kwg_heartbeat_fresh Whether the last heartbeat is recent.\n"
	    "# TYPE kwg_heartbeat_fresh gauge\nkwg_heartbeat_fresh %d\n",
	    w->duration_sum, total, w->log_lines, w->kills, stats.pending_bytes, stats.reconnects,
	    kwg_log_errors_total(), why ? 0 : 1, stats.queued, fresh ? 1 : 0);
	(void)kwg_transport_metrics(w->transport, body);
	return 200;
}
