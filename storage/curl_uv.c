/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "curl"
#include "storage/curl_uv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "common/compat.h"
#include "common/lazylib.h"

struct kwg_curl_uv {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct kwg_curl_uv_ops ops;
	void *userdata;
	struct sock *socks; /* every poll handle not yet closing */
	unsigned closing;   /* handles whose close callback is pending */
	bool freeing;
};

/* A socket curl watches: its poll handle, closed and freed when curl is done with it. */
struct sock {
	uv_poll_t poll;
	struct kwg_curl_uv *cu;
	curl_socket_t fd;
	struct sock *next, **pprev;
};

static void maybe_release(struct kwg_curl_uv *cu)
{
	if (cu->freeing && cu->closing == 0) {
		void (*on_closed)(void *) = cu->ops.on_closed;
		void *userdata = cu->userdata;
		free(cu);
		if (on_closed)
			on_closed(userdata);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct kwg_curl_uv *cu;

	if (h->type == UV_POLL) {
		struct sock *s = container_of((uv_poll_t *)h, struct sock, poll);
		cu = s->cu;
		free(s);
	} else {
		cu = container_of((uv_timer_t *)h, struct kwg_curl_uv, timer);
	}
	cu->closing--;
	maybe_release(cu);
}

static void sock_close(struct sock *s)
{
	*s->pprev = s->next;
	if (s->next)
		s->next->pprev = s->pprev;
	uv_poll_stop(&s->poll);
	s->cu->closing++;
	uv_close((uv_handle_t *)&s->poll, on_handle_closed);
}

/* Hands every finished transfer to the owner; stops if the owner frees us. */
static void dispatch(struct kwg_curl_uv *cu)
{
	CURLMsg *msg;
	int left;

	if (cu->ops.on_action)
		cu->ops.on_action(cu->userdata);
	while (!cu->freeing && (msg = curl_multi_info_read(cu->multi, &left))) {
		if (msg->msg == CURLMSG_DONE)
			cu->ops.on_done(cu->userdata, msg->easy_handle, msg->data.result);
	}
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct sock *s = container_of(h, struct sock, poll);
	struct kwg_curl_uv *cu = s->cu;
	int flags = 0, running;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	(void)curl_multi_socket_action(cu->multi, s->fd, flags, &running);
	dispatch(cu);
}

static void on_timer(uv_timer_t *t)
{
	struct kwg_curl_uv *cu = container_of(t, struct kwg_curl_uv, timer);
	int running;

	(void)curl_multi_socket_action(cu->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	dispatch(cu);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct kwg_curl_uv *cu = userp;
	struct sock *s = socketp;
	int events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			sock_close(s);
			(void)curl_multi_assign(cu->multi, fd, NULL);
		}
		return 0;
	}
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s || uv_poll_init_socket(cu->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->cu = cu;
		s->fd = fd;
		s->next = cu->socks;
		if (cu->socks)
			cu->socks->pprev = &s->next;
		s->pprev = &cu->socks;
		cu->socks = s;
		(void)curl_multi_assign(cu->multi, fd, s);
	}
	if (what & CURL_POLL_IN)
		events |= UV_READABLE;
	if (what & CURL_POLL_OUT)
		events |= UV_WRITABLE;
	return uv_poll_start(&s->poll, events, on_poll) < 0 ? -1 : 0;
}

static int on_timeout(CURLM *multi, long timeout_ms, void *userp)
{
	struct kwg_curl_uv *cu = userp;

	(void)multi;
	if (cu->freeing)
		return 0;
	if (timeout_ms < 0)
		uv_timer_stop(&cu->timer);
	else
		uv_timer_start(&cu->timer, on_timer, (uint64_t)timeout_ms, 0);
	return 0;
}

int kwg_curl_uv_new(uv_loop_t *loop, const struct kwg_curl_uv_ops *ops, void *userdata,
                    struct kwg_curl_uv **ret)
{
	static bool global_done;
	struct kwg_curl_uv *cu;

	if (!global_done) {
		if (kwg_lazylib_load(&kwg_lazy_curl) < 0)
			return -ENOENT;
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -ENOMEM;
		global_done = true;
	}
	cu = calloc(1, sizeof(*cu));
	if (!cu || !(cu->multi = curl_multi_init())) {
		free(cu);
		return -ENOMEM;
	}
	cu->loop = loop;
	cu->ops = *ops;
	cu->userdata = userdata;
	uv_timer_init(loop, &cu->timer);
	(void)curl_multi_setopt(cu->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	(void)curl_multi_setopt(cu->multi, CURLMOPT_SOCKETDATA, cu);
	(void)curl_multi_setopt(cu->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
	(void)curl_multi_setopt(cu->multi, CURLMOPT_TIMERDATA, cu);
	*ret = cu;
	return 0;
}

int kwg_curl_uv_add(struct kwg_curl_uv *cu, CURL *easy)
{
	return curl_multi_add_handle(cu->multi, easy) == CURLM_OK ? 0 : -ENOMEM;
}

void kwg_curl_uv_remove(struct kwg_curl_uv *cu, CURL *easy)
{
	if (easy)
		(void)curl_multi_remove_handle(cu->multi, easy);
}

void kwg_curl_uv_free(struct kwg_curl_uv *cu)
{
	if (!cu || cu->freeing)
		return;
	cu->freeing = true;
	/* Polls stop while curl's sockets are still open; curl then closes its cached
	 * connections without calling back into a poll handle. */
	while (cu->socks) {
		(void)curl_multi_assign(cu->multi, cu->socks->fd, NULL);
		sock_close(cu->socks);
	}
	curl_multi_cleanup(cu->multi);
	cu->multi = NULL;
	cu->closing++;
	uv_close((uv_handle_t *)&cu->timer, on_handle_closed);
}

int kwg_curl_uv_errno(CURLcode result)
{
	switch (result) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}
