/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "docker"
#include "worker/orphans.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/log.h"

#define SWEEP_INTERVAL_MS (5 * 60 * 1000)

struct removal {
	struct kwg_orphans *o;
	struct kwg_docker_req *req;
	struct removal *next, **pprev;
};

struct kwg_orphans {
	struct kwg_docker *docker;
	struct kwg_transport *transport;
	const char *own_id;
	uv_timer_t timer;
	struct kwg_docker_req *req;
	json_t *candidates; /* containers of other workers, while their liveness is asked */
	/* The removals of this sweep, while the daemon has not answered them. */
	struct removal *removals;
	void (*swept)(void *userdata); /* once, after the first sweep; then NULL */
	void *swept_userdata;
	bool closing;
};

/* The first sweep is over (whatever its outcome) once its removals are answered. */
static void maybe_swept(struct kwg_orphans *o)
{
	void (*swept)(void *) = o->swept;

	if (!swept || o->req || o->candidates || o->removals)
		return;
	o->swept = NULL;
	swept(o->swept_userdata);
}

static void sweep_done(struct kwg_orphans *o)
{
	json_decref(o->candidates);
	o->candidates = NULL;
	maybe_swept(o);
}

/* Unlinks and frees rm (its request is over or cancelled). */
static void removal_free(struct removal *rm)
{
	*rm->pprev = rm->next;
	if (rm->next)
		rm->next->pprev = rm->pprev;
	free(rm);
}

static void on_removed(void *userdata, long status, const char *body, size_t len, const char *error)
{
	struct removal *rm = userdata;
	struct kwg_orphans *o = rm->o;
	char msg[256];

	(void)len;
	if (status != 204 && status != 404)
		kwg_log_warning("cannot remove a gone worker's container: %s",
		                status ? kwg_docker_error_message(body, msg, sizeof(msg))
		                       : (error ? error : "no answer"));
	removal_free(rm);
	maybe_swept(o);
}

/* DELETE of a container; its answer is waited for (the first sweep ends with them). */
static void remove_container(struct kwg_orphans *o, const char *id)
{
	struct removal *rm = calloc(1, sizeof(*rm));
	char path[160];

	if (!rm)
		return;
	(void)snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id);
	rm->o = o;
	rm->req = kwg_docker_request_first(o->docker, "DELETE", path, NULL, NULL, on_removed, rm);
	if (!rm->req) {
		free(rm);
		return;
	}
	rm->next = o->removals;
	if (rm->next)
		rm->next->pprev = &rm->next;
	rm->pprev = &o->removals;
	o->removals = rm;
}

static void on_live_workers(void *userdata, const struct kwg_transport_worker *workers, size_t n,
                            const char *error)
{
	struct kwg_orphans *o = userdata;
	json_t *c;
	size_t i;

	if (o->closing)
		return;
	if (error) {
		kwg_log_warning("cannot tell which workers are live (%s); no container removed",
		                error);
		sweep_done(o);
		return;
	}
	json_array_foreach (o->candidates, i, c) {
		json_t *labels = json_object_get(c, "Labels");
		const char *id = json_string_value(json_object_get(c, "Id"));
		const char *worker = json_string_value(json_object_get(labels, "kwg.worker"));
		const char *state = json_string_value(json_object_get(c, "State"));
		const char *resume = json_string_value(json_object_get(labels, "kwg.resume"));
		bool known = false, live = false;
		for (size_t k = 0; k < n && !known; k++) {
			known = strcmp(workers[k].id, worker) == 0;
			live = known && workers[k].live;
		}
		/* SECURITY: a worker this database does not know belongs to another installation
		 * sharing the Docker host: its containers are not ours to remove. */
		if (!known || live ||
		    (state && strcmp(state, "running") == 0 && resume &&
		     strcmp(resume, "true") == 0))
			continue;
		/* A warm pool's containers (kwg.pool) are swept as the tasks' are: held ones
		 * ended with their worker's gates, taken ones ran a task. */
		kwg_log_notice("removing container %.12s (%s%s) of worker %s, which is gone", id,
		               state ? state : "?",
		               json_object_get(labels, "kwg.pool") ? ", warm pool" : "", worker);
		remove_container(o, id);
	}
	sweep_done(o);
}

static void on_containers(void *userdata, long status, const char *body, size_t len,
                          const char *error)
{
	struct kwg_orphans *o = userdata;
	json_t *list = status == 200 ? json_loadb(body, len, 0, NULL) : NULL, *c;
	size_t i;

	(void)error;
	o->req = NULL;
	if (!json_is_array(list)) {
		json_decref(list);
		maybe_swept(o);
		return; /* no daemon: nothing to sweep now */
	}
	o->candidates = json_array();
	json_array_foreach (list, i, c) {
		const char *worker =
		    json_string_value(json_object_get(json_object_get(c, "Labels"), "kwg.worker"));
		if (worker && strcmp(worker, o->own_id) != 0)
			json_array_append(o->candidates, c);
	}
	json_decref(list);
	if (json_array_size(o->candidates) == 0 ||
	    kwg_transport_workers(o->transport, on_live_workers, o) < 0)
		sweep_done(o);
}

static void on_sweep(uv_timer_t *t)
{
	struct kwg_orphans *o = t->data;
	static const char path[] =
	    "/containers/json?all=1&filters=%7B%22label%22%3A%5B%22kwg.worker%22%5D%7D";

	if (o->req || o->candidates || o->removals)
		return; /* the last sweep is still going */
	o->req = kwg_docker_request_first(o->docker, "GET", path, NULL, NULL, on_containers, o);
	if (!o->req)
		maybe_swept(o);
}

int kwg_orphans_new(uv_loop_t *loop, struct kwg_docker *docker, struct kwg_transport *transport,
                    const char *own_id, void (*swept)(void *userdata), void *userdata,
                    struct kwg_orphans **ret)
{
	struct kwg_orphans *o = calloc(1, sizeof(*o));

	if (!o)
		return -ENOMEM;
	o->docker = docker;
	o->transport = transport;
	o->own_id = own_id;
	o->swept = swept;
	o->swept_userdata = userdata;
	uv_timer_init(loop, &o->timer);
	o->timer.data = o;
	uv_timer_start(&o->timer, on_sweep, 0, SWEEP_INTERVAL_MS);
	*ret = o;
	return 0;
}

static void on_closed(uv_handle_t *h)
{
	struct kwg_orphans *o = h->data;

	free(o);
}

void kwg_orphans_close(struct kwg_orphans *o)
{
	if (!o)
		return;
	o->closing = true;
	o->swept = NULL;
	kwg_docker_cancel(o->req);
	o->req = NULL;
	while (o->removals) {
		kwg_docker_cancel(o->removals->req);
		removal_free(o->removals);
	}
	if (o->candidates)
		kwg_transport_cancel_workers(o->transport);
	sweep_done(o);
	uv_close((uv_handle_t *)&o->timer, on_closed);
}
