/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "worker"
#include "worker/worker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/cleanup.h"
#include "common/compat.h"
#include "common/id.h"
#include "common/log.h"
#include "runner/docker.h"
#include "runner/run.h"
#include "template/template.h"
#include "transport/transport.h"
#include "worker/http.h"
#include "worker/internal.h"
#include "worker/orphans.h"
#include "worker/sdnotify.h"

extern char **environ;

#define STOP_CHECK_MS 100
/* After the tasks, how long the final messages and the final state may take to be written. */
#define FLUSH_TIMEOUT_MS 60000

const double kwg_worker_duration_buckets[KWG_WORKER_BUCKETS] = {0.1, 0.5, 1,   5,   10,
                                                                30,  60,  300, 900, 3600};

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
	while (b < KWG_WORKER_BUCKETS && seconds > kwg_worker_duration_buckets[b])
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
const char *kwg_worker_pause_reason(const struct kwg_worker *w)
{
	const struct kwg_transport_flags *f = kwg_transport_flags(w->transport);

	if (w->phase != PHASE_SERVING)
		return "stopping";
	if (w->probe_pid > 0)
		return "starting";
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
	const char *why;
	bool claiming;

	if (w->probe_pid > 0)
		return; /* nothing is decided before the sandbox is known to work (on_probed) */
	why = kwg_worker_pause_reason(w);
	claiming = why == NULL;
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

/* KESTRA 2.x: the controller's kestra.encryption.secret-key (connect). A configured
 * encryption_secret_key wins; the key is checked as the configured one is, and never logged. */
static void on_encryption_key(void *ctx, const char *key)
{
	struct kwg_worker *w = ctx;
	struct kwg_err err = {{0}};
	bool configured = *w->cfg->encryption_secret_key != '\0';

	if (w->pushed_key)
		return; /* once per process */
	if (key && kwg_template_check_key(key, &err) < 0) {
		kwg_log_error(
		    "the encryption key pushed by the controller (connect: worker_configs "
		    "encryption.secret-key) is not usable: %s; %s",
		    err.msg,
		    configured ? "encryption_secret_key is used"
		               : "SECRET inputs cannot be decrypted (set "
		                 "encryption_secret_key)");
		return;
	}
	if (configured) {
		kwg_log_info("encryption key: encryption_secret_key (configured)%s",
		             key ? "; the one the controller pushed is not used" : "");
		return;
	}
	if (!key) {
		kwg_log_info(
		    "encryption key: none (neither encryption_secret_key nor one pushed by "
		    "the controller): SECRET inputs cannot be decrypted");
		return;
	}
	w->pushed_key = strdup(key);
	if (!w->pushed_key) {
		kwg_log_error("the encryption key pushed by the controller cannot be kept: %s",
		              strerror(ENOMEM));
		return;
	}
	w->run_cfg.encryption_key = w->pushed_key;
	w->run_cfg.encryption_key_name = "the key the controller pushed (encryption.secret-key)";
	kwg_log_info("encryption key: the one the controller pushed (connect: worker_configs)");
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
    .on_encryption_key = on_encryption_key,
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
	/* The warm pool's containers are removed before the worker ends (flush_timer bounds it). */
	if (w->phase == PHASE_FLUSHING && kwg_transport_empty(w->transport) &&
	    kwg_docker_pool_idle(w->docker_pool)) {
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

	if (w->probe_pid > 0) {
		kwg_log_notice("%s before anything was claimed: exiting", strsignal(signum));
		worker_close(w);
		return;
	}
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
	kwg_docker_pool_drain(w->docker_pool);
	kwg_transport_set_state(w->transport, KWG_SERVICE_TERMINATING);
	uv_timer_start(&w->grace_timer, on_grace_over, w->cfg->termination_grace_period_ms, 0);
	uv_timer_start(&w->stop_timer, on_stop_check, 0, STOP_CHECK_MS);
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
	/* The transport first: it opens the connections the first claim needs, and the server
	 * starts their sessions while the sandbox probe runs (docs/performance.md, round 3). Jobs
	 * come only once the loop runs, after kwg_worker_start. */
	r = kwg_transport_new(
	    transport,
	    &(struct kwg_transport_params){
	        .loop = loop,
	        .url = cfg->controller && *cfg->controller ? cfg->controller : cfg->database_url,
	        .auth = cfg->controller_basic_auth,
	        .tls = cfg->controller_tls,
	        .tls_ca_file = cfg->controller_ca_file,
	        .tls_cert_file = cfg->controller_cert_file,
	        .tls_key_file = cfg->controller_key_file,
	        .authority = cfg->controller_authority,
	        .info = &w->info,
	        .default_runner = cfg->default_runner,
	        .spill_dir = cfg->work_dir,
	        .queue_prefix = cfg->kestra_queue_prefix,
	        .queue_table = cfg->kestra_queue_table,
	        .ops = &transport_ops,
	        .ctx = w,
	    },
	    &w->transport);
	if (r >= 0) {
		w->run_cfg.meta = kwg_transport_meta_source(w->transport);
		/* Kestra 2.x's CONTROLLER worker access (config.c allows it with a controller). */
		w->run_cfg.meta.kv_content =
		    w->run_cfg.meta.read && cfg->kv_worker_access == KWG_WORKER_ACCESS_CONTROLLER;
		w->run_cfg.meta.nsfile_content =
		    w->run_cfg.meta.read &&
		    cfg->namespace_files_worker_access == KWG_WORKER_ACCESS_CONTROLLER;
	}
	if (r >= 0)
		r = kwg_worker_setup_sandbox(w);
	if (r >= 0)
		r = kwg_worker_setup_docker(w);
	if (r >= 0)
		r = kwg_worker_setup_storage(w);
	if (r >= 0 && cfg->management_port)
		r = kwg_http_new(loop, (uint16_t)cfg->management_port, kwg_worker_http, w,
		                 &w->http);
	/* (a held client sweeps at its first use: setup.c) */
	if (r >= 0 && w->docker && !kwg_docker_holding(w->docker))
		r = kwg_orphans_new(loop, w->docker, w->transport, w->id, NULL, NULL, &w->orphans);
	if (r >= 0)
		r = kwg_worker_setup_spare(w);
	if (r < 0) {
		worker_close(w);
		free(w->sandbox.filter);
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

/* Registers with Kestra and, once the first flags allow it, claims (the sandbox works). */
static void serve(struct kwg_worker *w)
{
	kwg_log_notice("kwg %s worker %s: group %s, concurrency %u, default runner %s", KWG_VERSION,
	               w->id, w->cfg->group ? w->cfg->group : "(default)", w->cfg->concurrency,
	               w->cfg->default_runner == KWG_RUNNER_PROCESS ? "process" : "docker");
	/* Claiming starts once the first flags are read (a paused group or maintenance must hold
	 * from the first moment): on_flags. */
	kwg_transport_start(w->transport);
	kwg_worker_sweep_cgroups(w);
}

/* The probe's watch ends, then the probe itself (setup.c); its verdict. */
static int end_probe(struct kwg_worker *w)
{
	if (w->probe_pid <= 0)
		return 0;
	if (w->probe_poll.loop)
		uv_close((uv_handle_t *)&w->probe_poll, NULL);
	return kwg_worker_probe_end(w);
}

static void on_probed(uv_poll_t *h, int status, int events)
{
	struct kwg_worker *w = h->data;

	(void)status;
	(void)events;
	if (end_probe(w) < 0) {
		w->exit_code = 1;
		worker_close(w);
		return;
	}
	serve(w);
	/* The first flags may have come while the probe ran (the control connection opens at
	 * once): claiming starts now. */
	if (w->phase == PHASE_SERVING)
		update_claiming(w);
}

int kwg_worker_start(struct kwg_worker *w)
{
	uv_signal_start(&w->sigterm, on_signal, SIGTERM);
	uv_signal_start(&w->sigint, on_signal, SIGINT);
	if (w->probe_pid > 0) {
		int r = uv_poll_init(w->loop, &w->probe_poll, w->probe_pidfd);
		w->probe_poll.data = w;
		if (r >= 0)
			r = uv_poll_start(&w->probe_poll, UV_READABLE, on_probed);
		if (r < 0) {
			kwg_log_errno(KWG_LOG_ERROR, r, "cannot watch the sandbox probe");
			w->exit_code = 1;
			worker_close(w);
		}
		return r;
	}
	serve(w);
	return 0;
}

static void worker_close(struct kwg_worker *w)
{
	if (w->phase == PHASE_CLOSED)
		return;
	w->phase = PHASE_CLOSED;
	(void)end_probe(w); /* a probe still running: killed, reaped */
	while (w->runs) {
		struct run_node *n = w->runs;
		w->runs = n->next;
		kwg_run_free(n->run);
		free(n);
	}
	kwg_http_close(w->http);
	kwg_orphans_close(steal_ptr(&w->orphans));
	kwg_transport_close(steal_ptr(&w->transport));
	kwg_docker_pool_free(steal_ptr(&w->docker_pool));
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
	if (w->pushed_key)
		OPENSSL_cleanse(w->pushed_key, strlen(w->pushed_key));
	free(w->pushed_key);
	free(w->sandbox.filter);
	kwg_secrets_free(w->secrets);
	kwg_worker_remove_cgroups(w);
	for (size_t i = 0; i < w->n_killed; i++)
		free(w->killed[i]);
	free(w->killed);
	free(w);
	return code;
}
