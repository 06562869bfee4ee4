/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's management pages (worker/internal.h): /health and /metrics. */
#define KWG_LOG_MODULE "worker"
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/log.h"
#include "worker/internal.h"

/* GET /health: 200 when ready (database reachable, heartbeat fresh), 503 otherwise; the body says
 * what the worker is doing. GET /metrics: Prometheus text. */
int kwg_worker_http(void *ctx, const char *path, struct kwg_buf *body, const char **content_type)
{
	struct kwg_worker *w = ctx;
	const struct kwg_transport_flags *f = kwg_transport_flags(w->transport);
	const char *why = kwg_worker_pause_reason(w);
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
	for (size_t b = 0; b <= KWG_WORKER_BUCKETS; b++) {
		total += w->duration_counts[b];
		if (b < KWG_WORKER_BUCKETS)
			(void)kwg_buf_printf(body,
			                     "kwg_task_duration_seconds_bucket{le=\"%g\"} %llu\n",
			                     kwg_worker_duration_buckets[b], total);
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
