/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's liveness row in service_instance (kestra-protocol.md §7.4): written at start
 * (CREATED), on every state change, and every heartbeat interval, each time in one transaction
 * that locks the stored row, checks the transition from the stored state and upserts the record.
 * When the stored row says the worker is no longer running (the executor's coordinator disconnected
 * it), or no heartbeat could be written for longer than the liveness timeout, it reports the worker
 * lost. Owns its connection. */
#pragma once
#include <stdbool.h>
#include <uv.h>

#include "protocol/instance.h"
#include "transport/transport.h"

struct kwg_heartbeat;

/* The worker must stop at once: stored is the state found (DISCONNECTED when it could not write).
 */
typedef void kwg_heartbeat_lost_fn(void *ctx, enum kwg_service_state stored, const char *why);
/* A write of `state` committed. */
typedef void kwg_heartbeat_written_fn(void *ctx, enum kwg_service_state state);

/* p (and its info, read at each write: the gauges may change) is borrowed for the heartbeat's
 * life. */
int kwg_heartbeat_new(const struct kwg_transport_params *p, kwg_heartbeat_lost_fn *on_lost,
                      kwg_heartbeat_written_fn *on_written, void *ctx, struct kwg_heartbeat **ret);
/* Connects, writes CREATED, then beats. */
void kwg_heartbeat_start(struct kwg_heartbeat *hb);
/* Moves to a new state: written as soon as the connection is free. */
void kwg_heartbeat_set_state(struct kwg_heartbeat *hb, enum kwg_service_state state);
enum kwg_service_state kwg_heartbeat_state(const struct kwg_heartbeat *hb);
/* The gauges changed: write again soon (at most every 250 ms). */
void kwg_heartbeat_poke(struct kwg_heartbeat *hb);
/* A heartbeat committed within two heartbeat intervals. */
bool kwg_heartbeat_fresh(const struct kwg_heartbeat *hb);
/* Milliseconds since the last committed heartbeat (UINT64_MAX before the first). */
uint64_t kwg_heartbeat_age_ms(const struct kwg_heartbeat *hb);
void kwg_heartbeat_close(struct kwg_heartbeat *hb);
