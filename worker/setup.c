/* SPDX-License-Identifier: Apache-2.0 */
/* What `kwg worker` sets up before it claims anything (worker/internal.h): the Process sandbox
 * (profile, task user, the seccomp filter with the operator's policy, a probe through the real
 * kwg-exec), the task cgroups (v1 or a delegated v2) and their worker-wide limits, the spare
 * launcher, the Docker Engine client, internal storage and the SECRET_* variables. */
#define KWG_LOG_MODULE "worker"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "runner/cgroup.h"
#include "runner/docker.h"
#include "runner/docker_api.h"
#include "sandbox/env.h"
#include "sandbox/prebuilt.h"
#include "sandbox/seccomp.h"
#include "worker/internal.h"
#include "worker/orphans.h"

extern char **environ;

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

static void sweep_stale_cgroups(uv_work_t *req)
{
	struct kwg_worker *w = req->data;

	for (size_t i = 0; i < ARRAY_SIZE(w->cg_stale); i++)
		if (*w->cg_stale[i])
			remove_stale_cgroups(w->cg_stale[i]);
}

/* The task cgroups dead workers left (a worker killed with running tasks leaves one per task in
 * each hierarchy) go on a thread of libuv's pool, off the way to the first claim: a cgroup's
 * removal can wait for an RCU grace period, tens of milliseconds for a few hundred. */
void kwg_worker_sweep_cgroups(struct kwg_worker *w)
{
	if (!*w->cg_stale[0])
		return;
	w->sweep.data = w;
	if (uv_queue_work(w->loop, &w->sweep, sweep_stale_cgroups, NULL) < 0)
		sweep_stale_cgroups(&w->sweep);
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
		(void)snprintf(w->cg_stale[i], PATH_MAX, "%s", parent);
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
	(void)snprintf(w->cg_stale[0], PATH_MAX, "%s", kwg);
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
int kwg_worker_setup_spare(struct kwg_worker *w)
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

/* One of a held client's first steps is over; after both, the tasks' requests go. */
static void docker_gate_done(struct kwg_worker *w)
{
	if (w->docker_gate > 0 && --w->docker_gate == 0) {
		kwg_log_info("Docker runner: orphans swept, the first Docker task's requests go");
		kwg_docker_release(w->docker);
	}
}

static void on_docker_swept(void *userdata)
{
	docker_gate_done(userdata);
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
	docker_gate_done(w);
}

/* The first Docker task of a worker that deferred its Docker start-up (its requests are held):
 * the Engine's version and the orphan sweep come first, as at another worker's start, so that a
 * gone worker's containers are removed before this worker creates one. */
static void on_first_docker_use(void *userdata)
{
	struct kwg_worker *w = userdata;

	kwg_log_info("Docker runner: first Docker task; asking the Engine and sweeping orphans "
	             "first");
	w->docker_gate = 2;
	if (kwg_docker_negotiate(w->docker, on_docker_version, w) < 0)
		docker_gate_done(w);
	if (kwg_orphans_new(w->loop, w->docker, w->transport, w->id, on_docker_swept, w,
	                    &w->orphans) < 0)
		docker_gate_done(w);
}

/* The Docker Engine client: the configured unix:// socket (or DOCKER_HOST when only the default
 * is configured). A daemon that does not answer yet is not fatal: Process tasks still run.
 * A worker whose default runner is Process and that keeps no warm pool may never run a Docker
 * task: it asks the Engine and sweeps orphans at its first Docker task instead of at start, and
 * libcurl (and OpenSSL's initialisation, ~2 MiB) loads then (docs/performance.md, round 4). */
int kwg_worker_setup_docker(struct kwg_worker *w)
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
	bool defer = w->cfg->default_runner == KWG_RUNNER_PROCESS && w->cfg->docker_pool_size == 0;
	r = kwg_docker_new(w->loop, host + 7, &w->docker);
	if (r >= 0 && defer) {
		kwg_docker_hold(w->docker, on_first_docker_use, w);
		kwg_log_debug("Docker runner: the Engine at %s is asked at the first Docker task",
		              host + 7);
	} else if (r >= 0) {
		r = kwg_docker_negotiate(w->docker, on_docker_version, w);
	}
	if (r < 0) {
		(void)snprintf(w->docker_error, sizeof(w->docker_error), "%s", strerror(-r));
		kwg_docker_free(steal_ptr(&w->docker));
	}
	w->run_cfg.docker = w->docker;
	w->run_cfg.docker_error = w->docker_error;
	w->run_cfg.docker_volumes = w->cfg->docker_volumes;
	w->run_cfg.docker_privileged = w->cfg->docker_privileged;
	if (w->docker && w->cfg->docker_pool_size > 0) {
		r = kwg_docker_pool_new(w->docker,
		                        &(struct kwg_docker_pool_config){
		                            .loop = w->loop,
		                            .size = w->cfg->docker_pool_size,
		                            .idle_ms = w->cfg->docker_pool_idle_ms,
		                            .dir = w->cfg->work_dir,
		                            .holder = w->exec_helper,
		                            .worker_id = w->id,
		                        },
		                        &w->docker_pool);
		if (r < 0)
			kwg_log_errno(
			    KWG_LOG_WARNING, r,
			    "docker_pool_size: no warm pool (kwg-exec '%s' must be a "
			    "static executable, and work_dir writable); Docker tasks start "
			    "cold",
			    w->exec_helper);
		w->run_cfg.docker_pool = w->docker_pool;
	}
	return 0;
}

static void on_bad_secret(void *userdata, const char *name)
{
	(void)userdata;
	/* KESTRA: SecretService logs an error and skips the variable. */
	kwg_log_error("SECRET_%s is not valid base64: secret('%s') will not find it", name, name);
}

/* Kestra's internal storage as the operator described it, and the SECRET_* variables. */
int kwg_worker_setup_storage(struct kwg_worker *w)
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
	w->run_cfg.encryption_key = *c->encryption_secret_key ? c->encryption_secret_key : NULL;
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

/* The profile's seccomp filter with the operator's override, compiled once for every task;
 * without an override, the program the build compiled (sandbox/prebuilt.h: the same bytes, and
 * libseccomp's ~3 ms at start saved). */
static int compile_filter(struct kwg_worker *w)
{
	struct kwg_strv deny = {0}, allow = {0};
	const uint8_t *prebuilt;
	size_t len;
	int r = load_policy(w, &deny, &allow);

	if (r >= 0 && deny.n == 0 && allow.n == 0 &&
	    kwg_sandbox_prebuilt_filter(w->sandbox.profile, &prebuilt, &len) == 0 && len > 0) {
		w->sandbox.filter = malloc(len);
		if (w->sandbox.filter) {
			memcpy(w->sandbox.filter, prebuilt, len);
			w->sandbox.filter_len = len;
		} else {
			r = kwg_log_errno(KWG_LOG_ERROR, -ENOMEM, "cannot load the seccomp filter");
		}
	} else if (r >= 0) {
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
 * namespace or a mount stops the worker then, with the step that failed, instead of failing every
 * task (or running them less isolated than configured). The probe runs beside the first
 * connections; the worker claims once it has ended well (worker.c, kwg_worker_probe_end). */
static int probe_start(struct kwg_worker *w)
{
	struct kwg_sandbox_spec spec = w->sandbox;
	posix_spawn_file_actions_t fa;
	char *argv[] = {w->exec_helper, NULL}, *envp[] = {NULL};
	char *bytes = NULL;
	size_t len;
	int fd = -1, pipefd[2] = {-1, -1}, r;
	pid_t pid = 0;

	spec.workdir = w->cfg->work_dir;
	/* RLIMIT_NPROC counts every process of the task user on the host (other workers' tasks, a
	 * fork bomb among them): the probe, which asks whether this kernel lets kwg-exec make the
	 * sandbox, must not fail with EAGAIN for that (tasks with cgroups do without it too). */
	spec.limits.processes = 0;
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
	if (r >= 0 && (w->probe_pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) {
		r = -errno;
		(void)kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (fd >= 0)
		(void)close(fd);
	if (pipefd[1] >= 0)
		(void)close(pipefd[1]);
	if (r < 0) {
		if (pipefd[0] >= 0)
			(void)close(pipefd[0]);
		kwg_log_errno(KWG_LOG_ERROR, r, "cannot run the sandbox probe");
		return r;
	}
	w->probe_pid = pid;
	w->probe_status = pipefd[0];
	return 0;
}

/* What a user can do when the probe failed at `stage`. */
static const char *probe_hint(int stage)
{
	if (stage == KWG_STAGE_NS || stage == KWG_STAGE_USERNS || stage == KWG_STAGE_MOUNTS)
		return "in a container that may not make namespaces, --sandbox container keeps the "
		       "sandbox without them; --sandbox none runs tasks without isolation";
	return "--sandbox none runs tasks without isolation";
}

/* The probe has ended (its pidfd is readable), or the worker closes before it did (then it is
 * killed): reaps it and closes its descriptors. 0 when it ran /bin/true, else -EPERM with the
 * step that failed logged. */
int kwg_worker_probe_end(struct kwg_worker *w)
{
	struct kwg_sandbox_status st = {0};
	int status = 0, r = 0;

	if (w->probe_pid <= 0)
		return 0;
	if (w->phase == PHASE_CLOSED)
		(void)kill(w->probe_pid, SIGKILL);
	while (waitpid(w->probe_pid, &status, 0) < 0 && errno == EINTR)
		;
	if (w->phase != PHASE_CLOSED && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
		if (read(w->probe_status, &st, sizeof(st)) == (ssize_t)sizeof(st))
			kwg_log_error(
			    "the %s sandbox cannot be set up on this machine: %s failed: %s; "
			    "refusing to start (%s)",
			    kwg_sandbox_profile_name(w->sandbox.profile),
			    kwg_sandbox_stage_name((enum kwg_sandbox_stage)st.stage),
			    strerror(st.err), probe_hint(st.stage));
		else
			kwg_log_error("the sandbox probe failed (status %d); refusing to start",
			              status);
		r = -EPERM;
	}
	(void)close(w->probe_pidfd);
	(void)close(w->probe_status);
	w->probe_pid = 0;
	kwg_log_latency("probed", "worker");
	return r;
}

/* The Process sandbox from the configuration: profile, task user, limits, kwg-exec's path. */
int kwg_worker_setup_sandbox(struct kwg_worker *w)
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
	kwg_log_latency("probe-start", "worker");
	if (compile_filter(w) < 0 || probe_start(w) < 0)
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

void kwg_worker_remove_cgroups(struct kwg_worker *w)
{
	if (*w->cg_memory) {
		remove_cgroup_tree(w->cg_memory);
		remove_cgroup_tree(w->cg_pids);
	}
}
