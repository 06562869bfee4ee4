/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "process"
#include "runner/process.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "common/compat.h"
#include "common/log.h"

/* How long the pipes may stay open after the main process exited and its group was killed
 * (a setsid'd grandchild can hold them; the sandbox's pid namespace closes that gap). */
#define DRAIN_GRACE_MS 2000

struct kwg_process {
	uv_process_t proc;
	uv_pipe_t pipes[KWG_STREAM__COUNT];
	uv_timer_t drain_timer;
	struct kwg_process_cbs cbs;
	void *userdata;
	int pgid;
	int exit_code;
	int open_handles; /* freed when it drops to 0 after close */
	bool exited, pipe_open[KWG_STREAM__COUNT], paused, closing, reported;
	char buf[65536]; /* read buffer: reads are delivered synchronously */
};

static void on_handle_closed(uv_handle_t *h)
{
	struct kwg_process *p = h->data;

	if (--p->open_handles == 0)
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

	kwg_log_warning("task pid %d: output pipes still open %d ms after exit, closing them",
	                p->pgid, DRAIN_GRACE_MS);
	pipe_done(p, KWG_STREAM_STDOUT);
	pipe_done(p, KWG_STREAM_STDERR);
	maybe_report(p);
}

static void on_exit_cb(uv_process_t *proc, int64_t status, int term_signal)
{
	struct kwg_process *p = proc->data;

	p->exited = true;
	p->exit_code = term_signal ? 128 + term_signal : (int)status;
	/* Children left behind in the task's group must not outlive it. */
	(void)kill(-p->pgid, SIGKILL);
	close_handle(p, (uv_handle_t *)&p->proc);
	if (p->closing)
		return;
	if (p->pipe_open[KWG_STREAM_STDOUT] || p->pipe_open[KWG_STREAM_STDERR])
		uv_timer_start(&p->drain_timer, on_drain_timeout, DRAIN_GRACE_MS, 0);
	maybe_report(p);
}

/* The one place a task process is created; the sandbox launcher (kwg-exec) replaces the plain
 * spawn here. */
int kwg_process_start(uv_loop_t *loop, const struct kwg_process_spec *spec,
                      const struct kwg_process_cbs *cbs, void *userdata, struct kwg_process **ret)
{
	struct kwg_process *p = calloc(1, sizeof(*p));
	uv_stdio_container_t stdio[5];
	uv_process_options_t opts = {0};
	int r;

	if (!p)
		return -ENOMEM;
	p->cbs = *cbs;
	p->userdata = userdata;
	for (int i = 0; i < KWG_STREAM__COUNT; i++) {
		uv_pipe_init(loop, &p->pipes[i], 0);
		p->pipes[i].data = p;
		p->open_handles++;
	}
	uv_timer_init(loop, &p->drain_timer);
	p->drain_timer.data = p;
	p->open_handles++;

	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&p->pipes[KWG_STREAM_STDOUT];
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&p->pipes[KWG_STREAM_STDERR];
	opts.exit_cb = on_exit_cb;
	opts.file = spec->argv[0];
	opts.args = (char **)spec->argv;
	opts.env = (char **)spec->envp;
	opts.cwd = spec->cwd;
	stdio[3].flags = stdio[4].flags = UV_INHERIT_FD;
	stdio[3].data.fd = spec->fd3;
	stdio[4].data.fd = spec->fd4;
	opts.stdio_count = spec->fd4 >= 0 ? 5 : spec->fd3 >= 0 ? 4 : 3;
	opts.stdio = stdio;
	/* DETACHED = setsid(): a session and process group of its own, killed as a whole. */
	opts.flags = UV_PROCESS_DETACHED;
	p->proc.data = p;
	r = uv_spawn(loop, &p->proc, &opts);
	if (r < 0) {
		/* libuv requires closing the process handle even when the spawn failed. */
		p->open_handles++;
		p->closing = true;
		close_handle(p, (uv_handle_t *)&p->proc);
		for (int i = 0; i < KWG_STREAM__COUNT; i++)
			close_handle(p, (uv_handle_t *)&p->pipes[i]);
		close_handle(p, (uv_handle_t *)&p->drain_timer);
		return r;
	}
	p->open_handles++;
	p->pgid = p->proc.pid;
	for (int i = 0; i < KWG_STREAM__COUNT; i++) {
		p->pipe_open[i] = true;
		r = uv_read_start((uv_stream_t *)&p->pipes[i], on_alloc, on_read);
		if (r < 0) {
			kwg_log_errno(KWG_LOG_WARNING, r, "cannot read the task's output");
			pipe_done(p, (enum kwg_stream)i);
		}
	}
	*ret = p;
	return 0;
}

int kwg_process_kill(struct kwg_process *p, int signum)
{
	if (p->exited)
		return -ESRCH;
	return kill(-p->pgid, signum) < 0 ? -errno : 0;
}

int kwg_process_pid(const struct kwg_process *p)
{
	return p->pgid;
}

void kwg_process_pause_output(struct kwg_process *p, bool paused)
{
	if (p->paused == paused)
		return;
	p->paused = paused;
	for (int i = 0; i < KWG_STREAM__COUNT; i++) {
		if (!p->pipe_open[i])
			continue;
		if (paused)
			uv_read_stop((uv_stream_t *)&p->pipes[i]);
		else
			(void)uv_read_start((uv_stream_t *)&p->pipes[i], on_alloc, on_read);
	}
}

void kwg_process_close(struct kwg_process *p)
{
	if (!p || p->closing)
		return;
	p->closing = true;
	if (!p->exited)
		(void)kill(-p->pgid, SIGKILL);
	for (int i = 0; i < KWG_STREAM__COUNT; i++)
		pipe_done(p, (enum kwg_stream)i);
	close_handle(p, (uv_handle_t *)&p->drain_timer);
	/* The process handle closes in on_exit_cb; closing it earlier would lose the reaping. */
	if (p->exited)
		close_handle(p, (uv_handle_t *)&p->proc);
}
