/* SPDX-License-Identifier: Apache-2.0 */
/* The JSON a Kestra 2.x worker exchanges with its worker controller over gRPC
 * (kestra-2x-protocol.md §2.3, §2.4, §4, §5.1): heartbeat messages and replies, the worker
 * configs of connect, broadcast events. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocol/broadcast.h"
#include "protocol/instance.h"

/* Largest controller reply or event kwg decodes. */
#define KWG_CONTROLLER_MAX_BYTES (1u << 20)

/* A HeartbeatMessage {instance, newState, reason}: registration (newState null, the instance
 * CREATED, from scratch) or a transition/tick to `state`, carried on from the instance the
 * controller stored (stored may be NULL). props are {"worker.group.id": group_id}. New string;
 * NULL on OOM. */
char *kwg_controller_heartbeat(const struct kwg_instance_info *info, const char *group_id,
                               bool registration, enum kwg_service_state state, const char *stored,
                               int64_t now_us);

enum kwg_controller_result {
	KWG_CONTROLLER_SUCCEEDED,
	KWG_CONTROLLER_FAILED,
	KWG_CONTROLLER_ABORTED,
};

/* A HeartbeatMessageReply. instance is new (the stored ServiceInstance as JSON text, NULL when
 * absent); release with kwg_controller_reply_done. */
struct kwg_controller_reply {
	enum kwg_controller_result result;
	bool maintenance;
	enum kwg_service_state state; /* the stored instance's; KWG_SERVICE_INVALID when absent */
	char *instance;
};
/* 0 and *ret; -EBADMSG (err names the JSON path), -EMSGSIZE, -ENOMEM. */
int kwg_controller_reply_decode(const char *json, size_t len, struct kwg_controller_reply *ret,
                                struct kwg_err *err);
void kwg_controller_reply_done(struct kwg_controller_reply *r);

/* ConnectResponse.worker_configs: *ret_secret_key = "encryption.secret-key" (new string) or NULL
 * when absent. An empty text is an empty map. 0; -EBADMSG (err says why); -ENOMEM. */
int kwg_controller_configs_decode(const char *json, size_t len, char **ret_secret_key,
                                  struct kwg_err *err);

/* One WorkerBroadcastEvent {type, payload}: 1 and *ret for an executionKilled event a worker acts
 * on (ret->act), 0 for any other event (cluster events, metadata changes: nothing to do),
 * -EBADMSG (err says why). */
int kwg_controller_event_decode(const char *json, size_t len, struct kwg_kill *ret,
                                struct kwg_err *err);
