/* SPDX-License-Identifier: Apache-2.0 */
/* Worker groups routed in PostgreSQL (`kwg routing install`, docs/kestra-integration.md): what a
 * kwg worker does with a WorkerJob the routing trigger put in a holding group. The trigger routes
 * literal keys itself; it holds a Pebble key (kwg:render), a key that is not one (kwg:invalid) and
 * a FAIL or CANCEL fallback whose group had no live worker (kwg:fallback). Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/state.h"
#include "protocol/worker_job.h"

/* Longest worker group key (queues.consumer_group is VARCHAR(250)). */
#define KWG_GROUP_KEY_MAX 250

/* Holding groups: no Kestra or kwg key can have their ':'. */
#define KWG_ROUTE_HOLD_RENDER "kwg:render"
#define KWG_ROUTE_HOLD_INVALID "kwg:invalid"
#define KWG_ROUTE_HOLD_FALLBACK "kwg:fallback"

/* A key as Kestra's worker takes it on its command line: 1 to 250 of [a-zA-Z0-9_-]. */
bool kwg_group_key_valid(const char *key);

enum kwg_route_action {
	KWG_ROUTE_TO_GROUP, /* set consumer_group = group (if the fallback allows, see strict) */
	KWG_ROUTE_END,      /* end the task run: ERROR log `message`, then a result in `state` */
};

struct kwg_route_decision {
	enum kwg_route_action action;
	char group[KWG_GROUP_KEY_MAX + 1]; /* TO_GROUP: the rendered key */
	bool strict;                       /* TO_GROUP: fallback FAIL or CANCEL */
	enum kwg_state fallback_state;     /* FAILED (FAIL) or CANCELLED (CANCEL) */
	const char *fallback;              /* "WAIT", "FAIL" or "CANCEL" */
	enum kwg_state state;              /* END */
	char message[1024];                /* END: the ERROR LogEntry, naming the key */
};

/* Decides for one held job: held is its consumer_group, wg the workerGroup that applies (JSON
 * text from kwg.job_worker_group; NULL or "null" when none). Renders a Pebble key with the job's
 * variables. Returns 0 (always decides), or -ENOMEM. */
int kwg_route_decide(const struct kwg_job *job, const char *held, const char *wg, int64_t now_us,
                     struct kwg_route_decision *ret);

/* The END message for a group found with no live worker (fallback FAIL or CANCEL). */
void kwg_route_fallback_end(struct kwg_route_decision *d);
