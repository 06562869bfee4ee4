/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "heartbeat"
#include "transport/pg/heartbeat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/sql.h"
#include "transport/pg/pg.h"

#define POKE_DELAY_MS 250

struct kwg_heartbeat {
	uv_loop_t *loop;
	const struct kwg_transport_params *p;
	const struct kwg_instance_info *info;
	kwg_heartbeat_lost_fn *on_lost;
	kwg_heartbeat_written_fn *on_written;
	void *ctx;
	struct kwg_pg *pg;
	uv_timer_t beat, poke;
	/* Requested states not yet committed, oldest first: each is written in turn, so that a
	 * quick TERMINATING -> TERMINATED_GRACEFULLY never skips a step (an invalid transition from
	 * the stored state would read as "disconnected by the coordinator"). */
	enum kwg_service_state pending[8];
	unsigned n_pending;
	enum kwg_service_state written; /* the state last committed (or CREATED at start) */
	enum kwg_service_state wanted;  /* the newest state requested */
	enum kwg_service_state writing; /* the state of the transaction in flight */
	bool in_flight, again, lost, closed;
	uint64_t started_ms, last_ok_ms;
	bool ever_ok;
	int open_handles; /* freed when the last timer is closed (close callbacks run LIFO) */
};

static void beat(struct kwg_heartbeat *hb);

static void report_lost(struct kwg_heartbeat *hb, enum kwg_service_state stored, const char *why)
{
	if (hb->lost)
		return;
	hb->lost = true;
	uv_timer_stop(&hb->beat);
	uv_timer_stop(&hb->poke);
	hb->on_lost(hb->ctx, stored, why);
}

static void tx_done(struct kwg_heartbeat *hb, bool ok)
{
	hb->in_flight = false;
	if (ok) {
		hb->last_ok_ms = uv_now(hb->loop);
		hb->ever_ok = true;
		hb->written = hb->writing;
		if (hb->n_pending && hb->pending[0] == hb->writing) {
			memmove(hb->pending, hb->pending + 1,
			        --hb->n_pending * sizeof(hb->pending[0]));
			hb->again |= hb->n_pending > 0;
		}
		if (hb->on_written)
			hb->on_written(hb->ctx, hb->writing);
	}
	if (hb->again && !hb->lost && !hb->closed) {
		hb->again = false;
		beat(hb);
	}
}

static void on_rolled_back(void *userdata, PGresult *res, const char *error)
{
	tx_done(userdata, false);
}

static void tx_fail(struct kwg_heartbeat *hb, const char *step, PGresult *res, const char *error)
{
	if (!hb->closed)
		kwg_log_warning("heartbeat failed at %s: %s", step,
		                res ? kwg_pg_result_error(res) : error);
	if (!res || kwg_pg_query(hb->pg, "ROLLBACK", 0, NULL, on_rolled_back, hb) < 0)
		tx_done(hb, false);
}

static void on_committed(void *userdata, PGresult *res, const char *error)
{
	struct kwg_heartbeat *hb = userdata;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		tx_fail(hb, "COMMIT", res, error);
		return;
	}
	tx_done(hb, true);
}

static void on_upserted(void *userdata, PGresult *res, const char *error)
{
	struct kwg_heartbeat *hb = userdata;

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		tx_fail(hb, "upsert", res, error);
		return;
	}
	/* Only the first record's insert (no record was there) can write nothing: the first claim
	 * registered this worker meanwhile (dispatch.c). Write over its record at once, through the
	 * lock. */
	if (strcmp(PQcmdTuples(res), "0") == 0) {
		kwg_log_debug("the first claim registered this worker meanwhile; writing again");
		hb->again = true;
		if (kwg_pg_query(hb->pg, "ROLLBACK", 0, NULL, on_rolled_back, hb) < 0)
			tx_done(hb, false);
		return;
	}
	if (kwg_pg_query(hb->pg, "COMMIT", 0, NULL, on_committed, hb) < 0)
		tx_fail(hb, "COMMIT", NULL, "out of memory");
}

static void on_locked(void *userdata, PGresult *res, const char *error)
{
	struct kwg_heartbeat *hb = userdata;
	const char *stored = NULL;
	const char *params[2];
	char *record;

	if (!res || PQresultStatus(res) != PGRES_TUPLES_OK) {
		tx_fail(hb, "SELECT … FOR UPDATE", res, error);
		return;
	}
	if (PQntuples(res) > 0) {
		enum kwg_service_state from;
		stored = PQgetvalue(res, 0, 0);
		from = kwg_instance_stored_state(stored);
		/* KESTRA: ServiceLivenessManager, an invalid transition from the stored state means
		 * the coordinator already gave this worker up. */
		if (!kwg_service_transition_valid(from, hb->writing)) {
			char why[160];
			(void)snprintf(why, sizeof(why),
			               "the stored state is %s, which cannot move to %s: Kestra no "
			               "longer counts this worker as running",
			               kwg_service_state_name(from),
			               kwg_service_state_name(hb->writing));
			(void)kwg_pg_query(hb->pg, "ROLLBACK", 0, NULL, on_rolled_back, hb);
			report_lost(hb, from, why);
			return;
		}
	}
	record = kwg_instance_record(hb->info, hb->writing, stored, kwg_clock_now_us());
	params[0] = hb->info->id;
	params[1] = record;
	if (!record ||
	    kwg_pg_query(hb->pg, stored ? KWG_SQL_INSTANCE_UPSERT : KWG_SQL_INSTANCE_REGISTER, 2,
	                 params, on_upserted, hb) < 0)
		tx_fail(hb, "upsert", NULL, "out of memory");
	free(record);
}

static void on_begun(void *userdata, PGresult *res, const char *error)
{
	struct kwg_heartbeat *hb = userdata;
	const char *params[1] = {hb->info->id};

	if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) {
		tx_fail(hb, "BEGIN", res, error);
		return;
	}
	if (kwg_pg_query(hb->pg, KWG_SQL_INSTANCE_LOCK, 1, params, on_locked, hb) < 0)
		tx_fail(hb, "SELECT", NULL, "out of memory");
}

static void beat(struct kwg_heartbeat *hb)
{
	if (hb->lost || hb->closed)
		return;
	if (hb->in_flight) {
		hb->again = true;
		return;
	}
	if (!kwg_pg_is_connected(hb->pg))
		return;
	hb->in_flight = true;
	hb->writing = hb->n_pending ? hb->pending[0] : hb->written;
	if (kwg_pg_query(hb->pg, "BEGIN", 0, NULL, on_begun, hb) < 0)
		tx_done(hb, false);
}

static void on_beat(uv_timer_t *t)
{
	struct kwg_heartbeat *hb = t->data;
	uint64_t since = uv_now(hb->loop) - (hb->ever_ok ? hb->last_ok_ms : hb->started_ms);

	/* KESTRA: a worker that could not heartbeat for longer than its liveness timeout forces
	 * itself DISCONNECTED and stops, so that its tasks never run twice. */
	if (since > (uint64_t)hb->info->liveness_timeout_ms) {
		char why[128];
		(void)snprintf(why, sizeof(why), "no heartbeat could be written for %llu ms",
		               (unsigned long long)since);
		report_lost(hb, KWG_SERVICE_DISCONNECTED, why);
		return;
	}
	beat(hb);
}

static void on_poke(uv_timer_t *t)
{
	beat(t->data);
}

static void on_pg_state(void *userdata, bool connected)
{
	if (connected)
		beat(userdata);
}

int kwg_heartbeat_new(const struct kwg_transport_params *p, kwg_heartbeat_lost_fn *on_lost,
                      kwg_heartbeat_written_fn *on_written, void *ctx, struct kwg_heartbeat **ret)
{
	uv_loop_t *loop = p->loop;
	struct kwg_heartbeat *hb = calloc(1, sizeof(*hb));
	int r;

	if (!hb)
		return -ENOMEM;
	hb->loop = loop;
	hb->p = p;
	hb->info = p->info;
	hb->on_lost = on_lost;
	hb->on_written = on_written;
	hb->ctx = ctx;
	hb->wanted = hb->written = KWG_SERVICE_CREATED;
	r = kwg_pg_new(p->loop, p->url, "liveness", on_pg_state, hb, &hb->pg);
	if (r < 0) {
		free(hb);
		return r;
	}
	uv_timer_init(loop, &hb->beat);
	uv_timer_init(loop, &hb->poke);
	hb->beat.data = hb->poke.data = hb;
	hb->open_handles = 2;
	*ret = hb;
	return 0;
}

void kwg_heartbeat_start(struct kwg_heartbeat *hb)
{
	hb->started_ms = uv_now(hb->loop);
	kwg_pg_start(hb->pg);
	uv_timer_start(&hb->beat, on_beat, (uint64_t)hb->info->heartbeat_interval_ms,
	               (uint64_t)hb->info->heartbeat_interval_ms);
}

void kwg_heartbeat_set_state(struct kwg_heartbeat *hb, enum kwg_service_state state)
{
	if (hb->wanted == state)
		return;
	kwg_log_info("service state %s -> %s", kwg_service_state_name(hb->wanted),
	             kwg_service_state_name(state));
	hb->wanted = state;
	/* The first record says CREATED, whatever comes before it is written (the claim and
	 * control connections open first and may move the state on before this one is up). */
	if (!hb->ever_ok && !hb->in_flight && hb->n_pending == 0 &&
	    hb->written == KWG_SERVICE_CREATED)
		hb->pending[hb->n_pending++] = KWG_SERVICE_CREATED;
	if (hb->n_pending == sizeof(hb->pending) / sizeof(hb->pending[0]))
		memmove(hb->pending, hb->pending + 1, --hb->n_pending * sizeof(hb->pending[0]));
	hb->pending[hb->n_pending++] = state;
	beat(hb);
}

enum kwg_service_state kwg_heartbeat_state(const struct kwg_heartbeat *hb)
{
	return hb->wanted;
}

void kwg_heartbeat_poke(struct kwg_heartbeat *hb)
{
	if (!hb->lost && !hb->closed && !uv_is_active((uv_handle_t *)&hb->poke))
		uv_timer_start(&hb->poke, on_poke, POKE_DELAY_MS, 0);
}

bool kwg_heartbeat_fresh(const struct kwg_heartbeat *hb)
{
	return hb->ever_ok && !hb->lost &&
	       uv_now(hb->loop) - hb->last_ok_ms <= 2 * (uint64_t)hb->info->heartbeat_interval_ms;
}

uint64_t kwg_heartbeat_age_ms(const struct kwg_heartbeat *hb)
{
	return hb->ever_ok ? uv_now(hb->loop) - hb->last_ok_ms : UINT64_MAX;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct kwg_heartbeat *hb = h->data;

	if (--hb->open_handles == 0)
		free(hb);
}

void kwg_heartbeat_close(struct kwg_heartbeat *hb)
{
	if (!hb || hb->closed)
		return;
	hb->closed = true;
	kwg_pg_close(hb->pg, NULL, NULL);
	uv_close((uv_handle_t *)&hb->beat, on_timer_closed);
	uv_close((uv_handle_t *)&hb->poke, on_timer_closed);
}
