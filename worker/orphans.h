/* SPDX-License-Identifier: Apache-2.0 */
/* Removes the containers that workers now gone left behind: containers labelled kwg.worker with
 * the id of a worker that this Kestra knows (other installations may share the Docker host) and
 * that the transport says is not live (1.x: a running state in service_instance, a heartbeat
 * within its own liveness timeout). A running container whose task asked for resume stays: the
 * task's resubmission re-attaches to it. Swept at once, then every few minutes; the sweeps'
 * requests pass a held client's gate (kwg_docker_request_first). */
#pragma once
#include <uv.h>

#include "runner/docker_api.h"
#include "transport/transport.h"

struct kwg_orphans;

/* docker, transport and own_id are borrowed for the object's life. swept(userdata), when not
 * NULL, is called once the first sweep is over, its removals answered, whatever its outcome
 * (no daemon, no answer about liveness): the deferred sweep of a held client opens its gate
 * there. Never inside this call. 0 or -ENOMEM. */
int kwg_orphans_new(uv_loop_t *loop, struct kwg_docker *docker, struct kwg_transport *transport,
                    const char *own_id, void (*swept)(void *userdata), void *userdata,
                    struct kwg_orphans **ret);
/* Stops sweeping; frees the object once its handles are closed. Accepts NULL. */
void kwg_orphans_close(struct kwg_orphans *o);
