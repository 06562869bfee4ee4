/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "http"
#include "worker/http.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "common/lazylib.h"
#include "common/log.h"

struct kwg_http {
	struct MHD_Daemon *daemon;
	uv_poll_t poll;   /* on MHD's epoll descriptor */
	uv_timer_t timer; /* MHD's own timeouts */
	kwg_http_handler_fn *handler;
	void *ctx;
	int open_handles;
};

static void schedule(struct kwg_http *h);

static void run_daemon(struct kwg_http *h)
{
	(void)MHD_run(h->daemon);
	schedule(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	run_daemon(p->data);
}

static void on_timer(uv_timer_t *t)
{
	run_daemon(t->data);
}

static void schedule(struct kwg_http *h)
{
	MHD_UNSIGNED_LONG_LONG timeout;

	if (MHD_get_timeout(h->daemon, &timeout) == MHD_YES)
		uv_timer_start(&h->timer, on_timer, timeout, 0);
	else
		uv_timer_stop(&h->timer);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
	struct kwg_http *h = cls;
	const char *content_type = "text/plain";
	struct MHD_Response *response;
	struct kwg_buf body;
	enum MHD_Result r;
	int status;

	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		static const char msg[] = "only GET\n";
		response = MHD_create_response_from_buffer(sizeof(msg) - 1, (void *)msg,
		                                           MHD_RESPMEM_PERSISTENT);
		r = MHD_queue_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, response);
		MHD_destroy_response(response);
		return r;
	}
	kwg_buf_init(&body, 1u << 20);
	status = h->handler(h->ctx, url, &body, &content_type);
	if (status == 404)
		(void)kwg_buf_printf(&body, "no such path: %.200s\n", url);
	response = MHD_create_response_from_buffer(body.len, body.data ? body.data : (void *)"",
	                                           MHD_RESPMEM_MUST_COPY);
	kwg_buf_done(&body);
	if (!response)
		return MHD_NO;
	(void)MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	r = MHD_queue_response(conn, (unsigned)status, response);
	MHD_destroy_response(response);
	return r;
}

int kwg_http_new(uv_loop_t *loop, uint16_t port, kwg_http_handler_fn *handler, void *ctx,
                 struct kwg_http **ret)
{
	struct kwg_http *h = calloc(1, sizeof(*h));
	const union MHD_DaemonInfo *info;
	int r;

	if (!h)
		return -ENOMEM;
	/* libmicrohttpd is loaded here, not at start (common/lazylib.h): a worker without a
	 * status port never maps it, nor GnuTLS's share of it. Its error names the library. */
	r = kwg_lazylib_load(&kwg_lazy_mhd);
	if (r < 0) {
		free(h);
		return r;
	}
	h->handler = handler;
	h->ctx = ctx;
	/* No thread: MHD_run from the loop when its epoll descriptor is readable. */
	h->daemon = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, port, NULL, NULL,
	                             on_request, h, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
	                             MHD_OPTION_CONNECTION_LIMIT, (unsigned)64, MHD_OPTION_END);
	if (!h->daemon) {
		r = errno ? -errno : -EADDRINUSE;
		free(h);
		return kwg_log_errno(KWG_LOG_ERROR, r, "cannot listen on management port %u", port);
	}
	info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	r = info ? uv_poll_init(loop, &h->poll, info->epoll_fd) : -EINVAL;
	if (r < 0) {
		MHD_stop_daemon(h->daemon);
		free(h);
		return r;
	}
	uv_timer_init(loop, &h->timer);
	h->poll.data = h->timer.data = h;
	h->open_handles = 2;
	uv_poll_start(&h->poll, UV_READABLE, on_poll);
	schedule(h);
	kwg_log_info("management HTTP on port %u (/health, /metrics)", port);
	*ret = h;
	return 0;
}

static void on_closed(uv_handle_t *handle)
{
	struct kwg_http *h = handle->data;

	if (--h->open_handles == 0) {
		MHD_stop_daemon(h->daemon);
		free(h);
	}
}

void kwg_http_close(struct kwg_http *h)
{
	if (!h)
		return;
	uv_close((uv_handle_t *)&h->poll, on_closed);
	uv_close((uv_handle_t *)&h->timer, on_closed);
}
