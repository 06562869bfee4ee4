/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "worker"
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/compat.h"
#include "common/id.h"
#include "common/log.h"
#include "runner/run.h"
#include "worker/dispatch.h"
#include "worker/outbox.h"

extern char **environ;

#define STOP_CHECK_MS 100

struct run_node {
	struct run_node *next, *prev;
	struct kwg_run *run;
};

struct kwg_worker {
	uv_loop_t *loop;
	const struct kwg_config *cfg;
	char id[KWG_UUID_LEN];
	struct kwg_outbox *outbox;
	struct kwg_dispatch *dispatch;
	struct run_node *runs; /* running tasks, newest first */
	unsigned n_running;
	uv_signal_t sigterm, sigint;
	uv_timer_t stop_timer;
	int signals;
	bool closed;
	int exit_code;
	struct kwg_run_config run_cfg;
};

static void worker_close(struct kwg_worker *w);

static void sink_emit(void *ctx, enum kwg_queue_type type, const char *key, char *value)
{
	struct kwg_worker *w = ctx;

	kwg_outbox_push(w->outbox, type, key, value);
}

static bool sink_congested(void *ctx)
{
	struct kwg_worker *w = ctx;

	return kwg_outbox_congested(w->outbox);
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
	kwg_log_debug("task run '%s' finished", kwg_run_task_run_id(run));
	kwg_run_free(run);
	w->n_running--;
	kwg_dispatch_wake(w->dispatch);
}

static const struct kwg_run_sink run_sink = {
    .emit = sink_emit,
    .congested = sink_congested,
    .done = sink_done,
};

static unsigned free_slots(void *ctx)
{
	struct kwg_worker *w = ctx;

	if (kwg_outbox_congested(w->outbox))
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
		kwg_outbox_push(w->outbox, KWG_QUEUE_WORKER_TRIGGER_RESULT, key, value);
	free(key);
	kwg_job_free(job);
}

static void on_job(void *ctx, struct kwg_job *job)
{
	struct kwg_worker *w = ctx;
	struct run_node *n;
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
}

static const struct kwg_dispatch_ops dispatch_ops = {
    .free_slots = free_slots,
    .on_job = on_job,
};

static void on_outbox_drained(void *userdata)
{
	struct kwg_worker *w = userdata;

	for (struct run_node *n = w->runs; n; n = n->next)
		kwg_run_resume_output(n->run);
	kwg_dispatch_wake(w->dispatch);
}

static void on_stop_check(uv_timer_t *t)
{
	struct kwg_worker *w = t->data;

	if (w->n_running > 0 || !kwg_dispatch_idle(w->dispatch) || !kwg_outbox_empty(w->outbox))
		return;
	kwg_log_notice("all tasks finished and written; stopping");
	worker_close(w);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct kwg_worker *w = h->data;

	if (++w->signals > 1) {
		kwg_log_warning("second signal: stopping now, %u running task(s) are abandoned to "
		                "Kestra's resubmission",
		                w->n_running);
		w->exit_code = 1;
		worker_close(w);
		return;
	}
	kwg_log_notice("%s: claiming stopped, waiting for %u running task(s) to finish "
	               "(signal again to stop at once)",
	               strsignal(signum), w->n_running);
	kwg_dispatch_stop(w->dispatch);
	uv_timer_start(&w->stop_timer, on_stop_check, 0, STOP_CHECK_MS);
}

int kwg_worker_new(uv_loop_t *loop, const struct kwg_config *cfg, struct kwg_worker **ret)
{
	struct kwg_worker *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->cfg = cfg;
	kwg_id_uuid4(w->id);
	w->run_cfg = (struct kwg_run_config){
	    .loop = loop,
	    .worker_id = w->id,
	    .default_runner = cfg->default_runner,
	    .work_root = cfg->work_dir,
	    .env_passthrough = (const char *const *)cfg->task_env_passthrough.v,
	    .parent_env = environ,
	};
	r = kwg_outbox_new(loop, cfg->database_url, on_outbox_drained, w, &w->outbox);
	if (r >= 0)
		r = kwg_dispatch_new(loop, cfg, w->id, &dispatch_ops, w, &w->dispatch);
	if (r < 0) {
		kwg_outbox_close(w->outbox);
		free(w);
		return r;
	}
	uv_signal_init(loop, &w->sigterm);
	uv_signal_init(loop, &w->sigint);
	uv_timer_init(loop, &w->stop_timer);
	w->sigterm.data = w->sigint.data = w->stop_timer.data = w;
	*ret = w;
	return 0;
}

void kwg_worker_start(struct kwg_worker *w)
{
	uv_signal_start(&w->sigterm, on_signal, SIGTERM);
	uv_signal_start(&w->sigint, on_signal, SIGINT);
	kwg_log_notice("kwg %s worker %s: group %s, concurrency %u, default runner %s", KWG_VERSION,
	               w->id, w->cfg->group ? w->cfg->group : "(default)", w->cfg->concurrency,
	               w->cfg->default_runner == KWG_RUNNER_PROCESS ? "process" : "docker");
	kwg_dispatch_start(w->dispatch);
}

static void worker_close(struct kwg_worker *w)
{
	if (w->closed)
		return;
	w->closed = true;
	while (w->runs) {
		struct run_node *n = w->runs;
		w->runs = n->next;
		kwg_run_free(n->run);
		free(n);
	}
	kwg_dispatch_close(w->dispatch);
	kwg_outbox_close(w->outbox);
	w->dispatch = NULL;
	w->outbox = NULL;
	uv_close((uv_handle_t *)&w->sigterm, NULL);
	uv_close((uv_handle_t *)&w->sigint, NULL);
	uv_close((uv_handle_t *)&w->stop_timer, NULL);
}

int kwg_worker_free(struct kwg_worker *w)
{
	int code;

	if (!w)
		return 0;
	code = w->exit_code;
	free(w);
	return code;
}
