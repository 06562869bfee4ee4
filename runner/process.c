/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "process"
#include "runner/process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/compat.h"
#include "common/log.h"

/* How long the pipes may stay open after the main process exited and its group was killed
 * (a setsid'd grandchild can hold them; the sandbox's pid namespace closes that gap). It runs
 * only while the output is read: what a paused task left in its pipes is never dropped. */
#define DRAIN_GRACE_MS 2000

struct kwg_process {
	uv_poll_t exit_poll; /* the pidfd: readable once the process exited */
	uv_pipe_t pipes[KWG_STREAM__COUNT];
	uv_timer_t drain_timer;
	uint64_t drain_left_ms, drain_from_ms; /* the grace left, and since when it runs */
	struct kwg_process_cbs cbs;
	void *userdata;
	int pid, pidfd;
	int exit_code;
	int open_handles; /* freed when it drops to 0 after close */
	bool exited, pipe_open[KWG_STREAM__COUNT], paused, closing, reported, reaper;
	char buf[65536]; /* read buffer: reads are delivered synchronously */
};

static void on_handle_closed(uv_handle_t *h)
{
	struct kwg_process *p = h->data;

	if (--p->open_handles > 0)
		return;
	if (p->pidfd >= 0)
		(void)close(p->pidfd);
	free(p);
}

static void close_handle(struct kwg_process *p, uv_handle_t *h)
{
	if (!uv_is_closing(h))
		uv_close(h, on_handle_closed);
}

static void maybe_report(struct kwg_process *p)
{
	if (p->reported || p->closing || !p->exited || p->pipe_open[KWG_STREAM_STDOUT] ||
	    p->pipe_open[KWG_STREAM_STDERR])
		return;
	p->reported = true;
	uv_timer_stop(&p->drain_timer);
	p->cbs.on_exit(p->userdata, p->exit_code);
}

static void pipe_done(struct kwg_process *p, enum kwg_stream s)
{
	if (!p->pipe_open[s])
		return;
	p->pipe_open[s] = false;
	uv_read_stop((uv_stream_t *)&p->pipes[s]);
	close_handle(p, (uv_handle_t *)&p->pipes[s]);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct kwg_process *p = h->data;

	/* One buffer serves both pipes: each read is handed on before the next starts. */
	*buf = uv_buf_init(p->buf, sizeof(p->buf));
}

static void on_read(uv_stream_t *stream, ssize_t n, const uv_buf_t *buf)
{
	struct kwg_process *p = stream->data;
	enum kwg_stream s = (uv_pipe_t *)stream == &p->pipes[KWG_STREAM_STDOUT] ? KWG_STREAM_STDOUT
	                                                                        : KWG_STREAM_STDERR;

	if (n > 0) {
		p->cbs.on_output(p->userdata, s, buf->base, (size_t)n);
		return;
	}
	if (n == 0)
		return;
	if (n != UV_EOF)
		kwg_log_errno(KWG_LOG_WARNING, (int)n, "reading the task's %s failed",
		              s == KWG_STREAM_STDOUT ? "stdout" : "stderr");
	pipe_done(p, s);
	maybe_report(p);
}

static void on_drain_timeout(uv_timer_t *t)
{
	struct kwg_process *p = t->data;

	kwg_log_warning("task pid %d: output pipes still open after %d ms of reading since its "
	                "exit, closing them",
	                p->pid, DRAIN_GRACE_MS);
	pipe_done(p, KWG_STREAM_STDOUT);
	pipe_done(p, KWG_STREAM_STDERR);
	maybe_report(p);
}

static void drain_run(struct kwg_process *p)
{
	p->drain_from_ms = uv_now(p->drain_timer.loop);
	uv_timer_start(&p->drain_timer, on_drain_timeout, p->drain_left_ms, 0);
}

/* The process exited (its pidfd became readable): reap it. */
static void on_exit_cb(uv_poll_t *poll, int status, int events)
{
	struct kwg_process *p = poll->data;
	siginfo_t info = {0};

	if (syscall(SYS_waitid, P_PIDFD, p->pidfd, &info, WEXITED | WNOHANG, NULL) < 0) {
		if (errno == EINTR)
			return; /* the poll fires again */
		kwg_log_errno(KWG_LOG_WARNING, -errno, "cannot reap task pid %d", p->pid);
		info.si_code = CLD_KILLED;
		info.si_status = SIGKILL;
	} else if (info.si_pid == 0) {
		return; /* not exited yet */
	}
	p->exited = true;
	p->exit_code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
	/* Children left behind in the task's group must not outlive it. */
	(void)kill(-p->pid, SIGKILL);
	close_handle(p, (uv_handle_t *)&p->exit_poll);
	if (p->closing)
		return;
	p->drain_left_ms = DRAIN_GRACE_MS;
	if (!p->paused && (p->pipe_open[KWG_STREAM_STDOUT] || p->pipe_open[KWG_STREAM_STDERR]))
		drain_run(p);
	maybe_report(p);
}

/* file searched as execvp does, but in the PATH of the child's environment (envp). */
static const char *resolve(const char *file, const char *const *envp, char *buf, size_t size)
{
	const char *path = "/usr/local/bin:/usr/bin:/bin";

	if (strchr(file, '/'))
		return file;
	for (size_t i = 0; envp[i]; i++)
		if (strncmp(envp[i], "PATH=", 5) == 0)
			path = envp[i] + 5;
	while (*path) {
		size_t n = strcspn(path, ":");
		if (snprintf(buf, size, "%.*s%s%s", (int)n, path, n ? "/" : "", file) < (int)size &&
		    access(buf, X_OK) == 0)
			return buf;
		path += n + (path[n] == ':');
	}
	return file; /* not found: the spawn says ENOENT */
}

/* The child in its own session (setsid), signals at their defaults and unblocked, /dev/null as
 * stdin, the pipes as stdout and stderr, fd3/fd4 when given, in cwd. posix_spawn forks with
 * CLONE_VM|CLONE_VFORK: nothing of the worker's memory is copied (fork's page tables were the
 * worker's main cost per task). 0 and *pid, or -errno (exec's errno included). */
static int spawn(const struct kwg_process_spec *spec, const int out[KWG_STREAM__COUNT], int *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	char buf[PATH_MAX];
	const char *file = resolve(spec->argv[0], spec->envp, buf, sizeof(buf));
	pid_t child;
	int r;

	sigfillset(&all);
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
	                                    POSIX_SPAWN_SETSIGMASK);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, out[KWG_STREAM_STDOUT], 1);
	posix_spawn_file_actions_adddup2(&fa, out[KWG_STREAM_STDERR], 2);
	if (spec->fd3 >= 0)
		posix_spawn_file_actions_adddup2(&fa, spec->fd3, 3);
	if (spec->fd4 >= 0)
		posix_spawn_file_actions_adddup2(&fa, spec->fd4, 4);
	if (spec->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, spec->cwd);
	r = posix_spawn(&child, file, &fa, &attr, (char *const *)spec->argv,
	                (char *const *)spec->envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r)
		return -r;
	*pid = child;
	return 0;
}

/* The one place a task process is created; the sandbox launcher (kwg-exec) replaces the plain
 * spawn here. */
int kwg_process_start(uv_loop_t *loop, const struct kwg_process_spec *spec,
                      const struct kwg_process_cbs *cbs, void *userdata, struct kwg_process **ret)
{
	struct kwg_process *p = calloc(1, sizeof(*p));
	int ours[KWG_STREAM__COUNT] = {-1, -1}, theirs[KWG_STREAM__COUNT] = {-1, -1};
	int r = 0;

	if (!p)
		return -ENOMEM;
	p->cbs = *cbs;
	p->userdata = userdata;
	p->pidfd = -1;
	p->reaper = spec->reaper;
	for (int i = 0; r == 0 && i < KWG_STREAM__COUNT; i++) {
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			r = -errno;
			break;
		}
		ours[i] = sv[0];
		theirs[i] = sv[1];
	}
	if (r == 0)
		r = spawn(spec, theirs, &p->pid);
	for (int i = 0; i < KWG_STREAM__COUNT; i++)
		if (theirs[i] >= 0)
			(void)close(theirs[i]);
	if (r == 0) {
		p->pidfd = (int)syscall(SYS_pidfd_open, p->pid, 0);
		if (p->pidfd < 0) {
			/* Linux before 5.3: the child cannot be watched; it must not run unwatched.
			 */
			r = -errno;
			kwg_log_errno(KWG_LOG_ERROR, r,
			              "pidfd_open (Linux 5.3 or later is needed)");
			(void)kill(p->pid, SIGKILL);
			(void)waitpid(p->pid, NULL, 0);
		}
	}
	if (r < 0) {
		for (int i = 0; i < KWG_STREAM__COUNT; i++)
			if (ours[i] >= 0)
				(void)close(ours[i]);
		free(p);
		return r;
	}
	for (int i = 0; i < KWG_STREAM__COUNT; i++) {
		uv_pipe_init(loop, &p->pipes[i], 0);
		p->pipes[i].data = p;
		p->open_handles++;
		r = uv_pipe_open(&p->pipes[i], ours[i]);
		p->pipe_open[i] = r == 0;
		if (r == 0)
			r = uv_read_start((uv_stream_t *)&p->pipes[i], on_alloc, on_read);
		if (r < 0) {
			kwg_log_errno(KWG_LOG_WARNING, r, "cannot read the task's output");
			if (!p->pipe_open[i])
				(void)close(ours[i]);
			pipe_done(p, (enum kwg_stream)i);
		}
	}
	uv_timer_init(loop, &p->drain_timer);
	p->drain_timer.data = p;
	p->open_handles++;
	uv_poll_init(loop, &p->exit_poll, p->pidfd);
	p->exit_poll.data = p;
	p->open_handles++;
	uv_poll_start(&p->exit_poll, UV_READABLE, on_exit_cb);
	*ret = p;
	return 0;
}

void kwg_process_rebind(struct kwg_process *p, const struct kwg_process_cbs *cbs, void *userdata)
{
	p->cbs = *cbs;
	p->userdata = userdata;
}

/* A reaper that did not end its tree in time (stopped, say): the group goes the hard way. */
static void on_reaper_timeout(uv_timer_t *t)
{
	struct kwg_process *p = t->data;

	if (p->exited)
		return;
	kwg_log_warning("task pid %d: the reaper did not end its task %d ms after SIGTERM, killing "
	                "its process group",
	                p->pid, KWG_PROCESS_REAPER_GRACE_MS);
	(void)kill(-p->pid, SIGKILL);
}

int kwg_process_kill(struct kwg_process *p, int signum)
{
	if (p->exited)
		return -ESRCH;
	if (p->reaper && signum == SIGKILL) {
		if (kill(p->pid, SIGTERM) < 0)
			return -errno;
		(void)kill(p->pid, SIGCONT);
		if (!uv_is_active((uv_handle_t *)&p->drain_timer))
			uv_timer_start(&p->drain_timer, on_reaper_timeout,
			               KWG_PROCESS_REAPER_GRACE_MS, 0);
		return 0;
	}
	return kill(-p->pid, signum) < 0 ? -errno : 0;
}

int kwg_process_pid(const struct kwg_process *p)
{
	return p->pid;
}

void kwg_process_pause_output(struct kwg_process *p, bool paused)
{
	bool open = false;

	if (p->paused == paused || p->closing)
		return;
	p->paused = paused;
	for (int i = 0; i < KWG_STREAM__COUNT; i++) {
		if (!p->pipe_open[i])
			continue;
		open = true;
		if (paused)
			uv_read_stop((uv_stream_t *)&p->pipes[i]);
		else
			(void)uv_read_start((uv_stream_t *)&p->pipes[i], on_alloc, on_read);
	}
	/* The grace after exit counts only while the pipes are read (in all, DRAIN_GRACE_MS). */
	if (paused && uv_is_active((uv_handle_t *)&p->drain_timer)) {
		uint64_t ran = uv_now(p->drain_timer.loop) - p->drain_from_ms;
		p->drain_left_ms = ran < p->drain_left_ms ? p->drain_left_ms - ran : 0;
		uv_timer_stop(&p->drain_timer);
	} else if (!paused && p->exited && open) {
		drain_run(p);
	}
}

void kwg_process_close(struct kwg_process *p)
{
	if (!p || p->closing)
		return;
	p->closing = true;
	/* A reaper ends its tree on SIGTERM; SIGKILL would leave the task's daemons behind. */
	if (!p->exited && p->reaper)
		(void)kill(p->pid, SIGTERM);
	else if (!p->exited)
		(void)kill(-p->pid, SIGKILL);
	for (int i = 0; i < KWG_STREAM__COUNT; i++)
		pipe_done(p, (enum kwg_stream)i);
	close_handle(p, (uv_handle_t *)&p->drain_timer);
	/* The pidfd's poll closes in on_exit_cb, which reaps the process (killed above). */
	if (p->exited)
		close_handle(p, (uv_handle_t *)&p->exit_poll);
}
