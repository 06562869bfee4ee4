/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP/2 by nghttp2 over a uv_tcp_t: nghttp2 is driven with its memory interface
 * (mem_recv on what the socket read, mem_send into one uv_write per flush), so no callback of
 * nghttp2 touches the socket. With TLS, OpenSSL sits between them the same way (tls.h: memory
 * BIOs): what the socket read is decrypted before mem_recv, what mem_send gives is encrypted
 * before the write. A timer bounds the time from connect to the server's SETTINGS. */
#define KWG_LOG_MODULE "grpc"
#include "transport/grpc/chan.h"

#include <errno.h>
#include <nghttp2/nghttp2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/compat.h"
#include "common/lazylib.h"
#include "common/log.h"
#include "transport/grpc/tls.h"
#include "transport/grpc/wire.h"

/* What one call may queue to send (a WorkerTaskResult is at most what the controller takes). */
#define CALL_OUT_MAX (64u << 20)
/* Flow-control windows: large enough that a job of several MiB does not wait for updates. */
#define WINDOW_BYTES (16 << 20)
/* From connect to the server's SETTINGS, unless the caller says otherwise. */
#define READY_TIMEOUT_MS 20000

enum chan_state {
	CHAN_RESOLVING,
	CHAN_CONNECTING,
	CHAN_HANDSHAKE, /* TLS: the handshake runs; HTTP/2 starts when it is done */
	CHAN_OPEN,
	CHAN_CLOSED, /* ended: callbacks delivered, waiting for kwg_grpc_chan_free */
};

struct kwg_grpc_call {
	struct kwg_grpc_chan *ch;
	struct kwg_grpc_call *prev, *next;
	int32_t stream_id;
	struct kwg_buf out; /* framed messages not yet taken by nghttp2 */
	bool out_end, deferred;
	struct kwg_buf in; /* bytes received, not yet a whole message */
	int http_status, grpc_status;
	char grpc_message[256];
	const struct kwg_grpc_call_ops *ops;
	void *ctx;
};

struct kwg_grpc_chan {
	uv_loop_t *loop;
	enum chan_state state;
	uv_getaddrinfo_t gai;
	uv_connect_t connect_req;
	uv_tcp_t tcp;
	uv_timer_t ready_timer; /* connect to SETTINGS */
	uint64_t ready_timeout_ms;
	bool tcp_open, timer_open, freed, goaway, ready;
	bool in_recv; /* inside nghttp2_session_mem_recv: no mem_send, no free */
	int pending;  /* libuv requests and handles in flight: freed when 0 after kwg_grpc_chan_free
	               */
	nghttp2_session *ng;
	struct kwg_grpc_tls *tls; /* NULL: plaintext h2c */
	char *host, *port, *authority, *authorization;
	size_t max_msg;
	struct kwg_grpc_call *calls;
	const struct kwg_grpc_chan_ops *ops;
	void *ctx;
};

struct write_req {
	uv_write_t req;
	struct kwg_grpc_chan *ch;
	char data[];
};

static void chan_fail(struct kwg_grpc_chan *ch, bool goaway, const char *why);

static void chan_release(struct kwg_grpc_chan *ch)
{
	if (!ch->freed || ch->pending > 0 || ch->in_recv)
		return;
	nghttp2_session_del(ch->ng);
	kwg_grpc_tls_free(ch->tls);
	free(ch->host);
	free(ch->port);
	free(ch->authority);
	free(ch->authorization);
	free(ch);
}

static void call_free(struct kwg_grpc_call *call)
{
	struct kwg_grpc_chan *ch = call->ch;

	if (call->prev)
		call->prev->next = call->next;
	else
		ch->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	if (ch->ng && call->stream_id > 0)
		(void)nghttp2_session_set_stream_user_data(ch->ng, call->stream_id, NULL);
	kwg_buf_done(&call->out);
	kwg_buf_done(&call->in);
	free(call);
}

/* The call is over: its callback, then it is gone. */
static void call_end(struct kwg_grpc_call *call, int status, const char *message)
{
	const struct kwg_grpc_call_ops *ops = call->ops;
	void *ctx = call->ctx;
	char msg[256];

	(void)snprintf(msg, sizeof(msg), "%s", message ? message : "");
	call_free(call);
	if (ops && ops->on_end)
		ops->on_end(ctx, status, msg);
}

static void on_write(uv_write_t *req, int status)
{
	struct write_req *w = container_of(req, struct write_req, req);
	struct kwg_grpc_chan *ch = w->ch;

	free(w);
	ch->pending--;
	if (ch->freed) {
		chan_release(ch);
		return;
	}
	if (status < 0 && ch->state == CHAN_OPEN)
		chan_fail(ch, false, uv_strerror(status));
}

/* TLS: b's plaintext encrypted, with whatever else OpenSSL has to send (the handshake). */
static int tls_wrap(struct kwg_grpc_chan *ch, struct kwg_buf *b, struct kwg_err *err)
{
	struct kwg_buf wire;
	int r = 0;

	kwg_buf_init(&wire, SIZE_MAX / 2);
	if (b->len > 0)
		r = kwg_grpc_tls_write(ch->tls, (const uint8_t *)b->data, b->len, err);
	if (r >= 0)
		r = kwg_grpc_tls_take(ch->tls, &wire);
	kwg_buf_done(b);
	*b = wire;
	return r;
}

/* Everything nghttp2 (and OpenSSL) wants to send, in one write. */
static void chan_flush(struct kwg_grpc_chan *ch)
{
	struct kwg_err err = {{0}};
	struct kwg_buf b;
	struct write_req *w;
	uv_buf_t buf;
	int r = 0;

	if ((ch->state != CHAN_OPEN && ch->state != CHAN_HANDSHAKE) || ch->in_recv)
		return;
	kwg_buf_init(&b, SIZE_MAX / 2);
	while (ch->state == CHAN_OPEN) {
		const uint8_t *data;
		ssize_t n = nghttp2_session_mem_send(ch->ng, &data);
		if (n < 0) {
			kwg_buf_done(&b);
			chan_fail(ch, false, nghttp2_strerror((int)n));
			return;
		}
		if (n == 0)
			break;
		r = kwg_buf_append(&b, data, (size_t)n);
		if (r < 0)
			break;
	}
	if (r >= 0 && ch->tls) {
		r = tls_wrap(ch, &b, &err);
		if (r == -EPROTO) {
			kwg_buf_done(&b);
			chan_fail(ch, false, err.msg);
			return;
		}
	}
	if (r >= 0 && b.len > 0) {
		w = malloc(sizeof(*w) + b.len);
		if (w) {
			w->ch = ch;
			memcpy(w->data, b.data, b.len);
			buf = uv_buf_init(w->data, (unsigned)b.len);
			r = uv_write(&w->req, (uv_stream_t *)&ch->tcp, &buf, 1, on_write);
			if (r < 0)
				free(w);
			else
				ch->pending++;
		} else {
			r = -ENOMEM;
		}
	}
	kwg_buf_done(&b);
	if (r < 0) {
		chan_fail(ch, false, r == -ENOMEM ? "out of memory" : uv_strerror(r));
		return;
	}
	if (ch->state == CHAN_OPEN && !nghttp2_session_want_read(ch->ng) &&
	    !nghttp2_session_want_write(ch->ng))
		chan_fail(ch, ch->goaway, "connection finished");
}

static void on_tcp_closed(uv_handle_t *h)
{
	struct kwg_grpc_chan *ch = container_of((uv_tcp_t *)h, struct kwg_grpc_chan, tcp);

	ch->pending--;
	chan_release(ch);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct kwg_grpc_chan *ch = container_of((uv_timer_t *)h, struct kwg_grpc_chan, ready_timer);

	ch->pending--;
	chan_release(ch);
}

static void close_handles(struct kwg_grpc_chan *ch)
{
	if (ch->tcp_open) {
		ch->tcp_open = false;
		uv_close((uv_handle_t *)&ch->tcp, on_tcp_closed);
	}
	if (ch->timer_open) {
		ch->timer_open = false;
		uv_close((uv_handle_t *)&ch->ready_timer, on_timer_closed);
	}
}

/* The connection is over: every call ends UNAVAILABLE, then on_closed (unless freed). */
static void chan_fail(struct kwg_grpc_chan *ch, bool goaway, const char *why)
{
	char reason[256];

	if (ch->state == CHAN_CLOSED)
		return;
	(void)snprintf(reason, sizeof(reason), "%s", why);
	ch->state = CHAN_CLOSED;
	close_handles(ch);
	while (ch->calls)
		call_end(ch->calls, KWG_GRPC_UNAVAILABLE, reason);
	if (!ch->freed && ch->ops->on_closed)
		ch->ops->on_closed(ch->ctx, ch, goaway, reason);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char slab[65536];

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(slab, sizeof(slab));
}

static int h2_start(struct kwg_grpc_chan *ch);

/* HTTP/2 bytes from the server: false when the channel is gone or failed (stop there). */
static bool h2_recv(struct kwg_grpc_chan *ch, const uint8_t *data, size_t len)
{
	ssize_t used;

	ch->in_recv = true;
	used = nghttp2_session_mem_recv(ch->ng, data, len);
	ch->in_recv = false;
	if (ch->freed) {
		chan_release(ch);
		return false;
	}
	if (used < 0) {
		chan_fail(ch, false, nghttp2_strerror((int)used));
		return false;
	}
	return ch->state == CHAN_OPEN;
}

/* TLS: the bytes read go through the handshake, then are decrypted for nghttp2. */
static void tls_recv(struct kwg_grpc_chan *ch, const uint8_t *data, size_t len)
{
	static uint8_t plain[16384];
	struct kwg_err err = {{0}};
	int r = kwg_grpc_tls_feed(ch->tls, data, len);

	if (r < 0) {
		chan_fail(ch, false, "out of memory");
		return;
	}
	if (ch->state == CHAN_HANDSHAKE) {
		r = kwg_grpc_tls_handshake(ch->tls, &err);
		if (r < 0) {
			chan_fail(ch, false, err.msg);
			return;
		}
		if (r == 0) {
			chan_flush(ch);
			return;
		}
		kwg_log_debug("TLS session with %s: %s", ch->authority,
		              kwg_grpc_tls_version(ch->tls));
		if (h2_start(ch) < 0) {
			chan_fail(ch, false, "cannot start the HTTP/2 session");
			return;
		}
	}
	for (;;) {
		r = kwg_grpc_tls_read(ch->tls, plain, sizeof(plain), &err);
		if (r == 0)
			break;
		if (r < 0) {
			chan_fail(ch, ch->goaway,
			          r == -EPIPE ? "the controller closed the connection" : err.msg);
			return;
		}
		if (!h2_recv(ch, plain, (size_t)r))
			return;
	}
	chan_flush(ch);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct kwg_grpc_chan *ch = container_of((uv_tcp_t *)s, struct kwg_grpc_chan, tcp);

	if (n == 0)
		return;
	if (n < 0) {
		char why[300];
		if (n == UV_EOF && ch->tls && !ch->ready)
			(void)snprintf(why, sizeof(why),
			               "the controller closed the connection %s%s",
			               ch->state == CHAN_HANDSHAKE ? "during the TLS handshake"
			                                           : "after the TLS handshake",
			               kwg_grpc_tls_close_hint(ch->tls));
		else if (n == UV_EOF && !ch->ready)
			(void)snprintf(why, sizeof(why),
			               "the controller closed the connection before "
			               "HTTP/2 started (does it expect TLS? "
			               "controller_tls)");
		else
			(void)snprintf(why, sizeof(why), "%s",
			               n == UV_EOF ? "the controller closed the connection"
			                           : uv_strerror((int)n));
		chan_fail(ch, ch->goaway, why);
		return;
	}
	if (ch->tls) {
		tls_recv(ch, (const uint8_t *)buf->base, (size_t)n);
		return;
	}
	if (h2_recv(ch, (const uint8_t *)buf->base, (size_t)n))
		chan_flush(ch);
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
	struct kwg_grpc_call *call = nghttp2_session_get_stream_user_data(ng, frame->hd.stream_id);
	char v[16];

	(void)flags;
	(void)user;
	if (!call || frame->hd.type != NGHTTP2_HEADERS)
		return 0;
	if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
		(void)snprintf(v, sizeof(v), "%.*s", (int)(valuelen < 15 ? valuelen : 15),
		               (const char *)value);
		call->http_status = (int)strtol(v, NULL, 10);
	} else if (namelen == 11 && memcmp(name, "grpc-status", 11) == 0) {
		(void)snprintf(v, sizeof(v), "%.*s", (int)(valuelen < 15 ? valuelen : 15),
		               (const char *)value);
		call->grpc_status = (int)strtol(v, NULL, 10);
	} else if (namelen == 12 && memcmp(name, "grpc-message", 12) == 0) {
		(void)snprintf(call->grpc_message, sizeof(call->grpc_message), "%.*s",
		               (int)(valuelen < 255 ? valuelen : 255), (const char *)value);
	}
	return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user)
{
	struct kwg_grpc_call *call = nghttp2_session_get_stream_user_data(ng, stream_id);
	struct kwg_grpc_chan *ch = user;
	int r;

	(void)flags;
	if (!call)
		return 0;
	r = kwg_buf_append(&call->in, data, len);
	while (r >= 0) {
		uint8_t *msg = NULL;
		size_t n = 0;
		r = kwg_grpc_deframe(&call->in, ch->max_msg, &msg, &n);
		if (r <= 0)
			break;
		call->ops->on_message(call->ctx, msg, n);
		free(msg);
		/* on_message may have cancelled the call. */
		call = nghttp2_session_get_stream_user_data(ng, stream_id);
		if (!call)
			return 0;
	}
	if (r < 0) {
		(void)nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_CANCEL);
		call_end(call, r == -EMSGSIZE ? KWG_GRPC_RESOURCE_EXHAUSTED : KWG_GRPC_INTERNAL,
		         r == -EMSGSIZE ? "a message larger than the inbound limit"
		         : r == -EPROTO ? "a compressed message (none was asked for)"
		                        : "out of memory");
	}
	return 0;
}

static int http_to_grpc(int http)
{
	switch (http) {
	case 400:
		return KWG_GRPC_INTERNAL;
	case 401:
		return KWG_GRPC_UNAUTHENTICATED;
	case 404:
		return KWG_GRPC_UNIMPLEMENTED;
	case 429:
	case 502:
	case 503:
	case 504:
		return KWG_GRPC_UNAVAILABLE;
	default:
		return KWG_GRPC_UNKNOWN;
	}
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code, void *user)
{
	struct kwg_grpc_call *call = nghttp2_session_get_stream_user_data(ng, stream_id);
	char msg[300];

	(void)user;
	if (!call)
		return 0;
	call->stream_id = 0; /* the stream is gone: nothing to unset */
	if (call->grpc_status >= 0) {
		call_end(call, call->grpc_status, call->grpc_message);
	} else if (call->http_status && call->http_status != 200) {
		(void)snprintf(msg, sizeof(msg), "HTTP status %d", call->http_status);
		call_end(call, http_to_grpc(call->http_status), msg);
	} else {
		(void)snprintf(msg, sizeof(msg), "stream closed without a status (%s)",
		               nghttp2_http2_strerror(error_code));
		/* REFUSED_STREAM (after GOAWAY) was never processed: safe to retry. */
		call_end(call,
		         error_code == NGHTTP2_REFUSED_STREAM || error_code == NGHTTP2_NO_ERROR
		             ? KWG_GRPC_UNAVAILABLE
		             : KWG_GRPC_INTERNAL,
		         msg);
	}
	return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
	struct kwg_grpc_chan *ch = user;

	(void)ng;
	if (frame->hd.type == NGHTTP2_SETTINGS && !(frame->hd.flags & NGHTTP2_FLAG_ACK) &&
	    !ch->ready) {
		ch->ready = true;
		(void)uv_timer_stop(&ch->ready_timer);
		if (ch->ops->on_ready)
			ch->ops->on_ready(ch->ctx);
	} else if (frame->hd.type == NGHTTP2_GOAWAY) {
		/* KESTRA: max-connection-age; the calls it covers still finish. */
		if (!ch->goaway && ch->ops->on_goaway) {
			ch->goaway = true;
			ch->ops->on_goaway(ch->ctx, ch);
		}
		ch->goaway = true;
	}
	return 0;
}

static ssize_t on_read_data(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *data_flags, nghttp2_data_source *source, void *user)
{
	struct kwg_grpc_call *call = source->ptr;
	size_t n;

	(void)ng;
	(void)stream_id;
	(void)user;
	if (!call)
		return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
	n = call->out.len < length ? call->out.len : length;
	if (n == 0 && !call->out_end) {
		call->deferred = true;
		return NGHTTP2_ERR_DEFERRED;
	}
	if (n)
		memcpy(buf, call->out.data, n);
	kwg_buf_consume(&call->out, n);
	if (call->out_end && call->out.len == 0)
		*data_flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

/* The connection preface: our SETTINGS and window; the server's SETTINGS make the channel ready. */
static int h2_start(struct kwg_grpc_chan *ch)
{
	nghttp2_settings_entry settings[] = {
	    {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
	    {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, WINDOW_BYTES},
	    {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 65536},
	};
	int r;

	ch->state = CHAN_OPEN;
	r = nghttp2_submit_settings(ch->ng, NGHTTP2_FLAG_NONE, settings, ARRAY_SIZE(settings));
	if (r == 0)
		r = nghttp2_session_set_local_window_size(ch->ng, NGHTTP2_FLAG_NONE, 0,
		                                          WINDOW_BYTES);
	return r == 0 ? 0 : -ENOMEM;
}

static void on_ready_timeout(uv_timer_t *timer)
{
	struct kwg_grpc_chan *ch = container_of(timer, struct kwg_grpc_chan, ready_timer);
	char why[200];

	(void)snprintf(why, sizeof(why), "%s within %llu ms",
	               ch->state == CHAN_CONNECTING ? "no TCP connection"
	               : ch->state == CHAN_HANDSHAKE
	                   ? "the TLS handshake did not finish"
	                   : "no HTTP/2 SETTINGS from the controller (is it a gRPC server, and "
	                     "does it speak TLS when kwg does not, or the reverse?)",
	               (unsigned long long)ch->ready_timeout_ms);
	chan_fail(ch, false, why);
}

static void on_connect(uv_connect_t *req, int status)
{
	struct kwg_grpc_chan *ch = container_of(req, struct kwg_grpc_chan, connect_req);
	struct kwg_err err = {{0}};
	int r;

	ch->pending--;
	if (ch->freed) {
		chan_release(ch);
		return;
	}
	if (status < 0) {
		chan_fail(ch, false, uv_strerror(status));
		return;
	}
	(void)uv_tcp_nodelay(&ch->tcp, 1);
	r = uv_read_start((uv_stream_t *)&ch->tcp, on_alloc, on_read);
	if (r != 0) {
		chan_fail(ch, false, uv_strerror(r));
		return;
	}
	if (ch->tls) {
		/* The ClientHello; the rest comes in on_read. */
		ch->state = CHAN_HANDSHAKE;
		r = kwg_grpc_tls_handshake(ch->tls, &err);
		if (r < 0) {
			chan_fail(ch, false, err.msg);
			return;
		}
	} else if (h2_start(ch) < 0) {
		chan_fail(ch, false, "cannot start the HTTP/2 session");
		return;
	}
	chan_flush(ch);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct kwg_grpc_chan *ch = container_of(req, struct kwg_grpc_chan, gai);
	char why[300];
	int r;

	ch->pending--;
	if (ch->freed) {
		uv_freeaddrinfo(res);
		chan_release(ch);
		return;
	}
	if (status < 0) {
		(void)snprintf(why, sizeof(why), "cannot resolve '%s': %s", ch->host,
		               uv_strerror(status));
		chan_fail(ch, false, why);
		return;
	}
	r = uv_tcp_init(ch->loop, &ch->tcp);
	if (r == 0) {
		ch->tcp_open = true;
		ch->pending++;
		r = uv_tcp_connect(&ch->connect_req, &ch->tcp, res->ai_addr, on_connect);
		if (r == 0)
			ch->pending++;
	}
	if (r == 0)
		r = uv_timer_start(&ch->ready_timer, on_ready_timeout, ch->ready_timeout_ms, 0);
	uv_freeaddrinfo(res);
	if (r < 0) {
		chan_fail(ch, false, uv_strerror(r));
		return;
	}
	ch->state = CHAN_CONNECTING;
}

static int session_new(struct kwg_grpc_chan *ch)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	int r;

	/* (a missing libnghttp2 is logged there, naming it) */
	if (kwg_lazylib_load(&kwg_lazy_nghttp2) < 0)
		return -ENOENT;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return -ENOMEM;
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cbs);
		return -ENOMEM;
	}
	nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
	/* gRPC uses trailers and te; no HTTP messaging checks beyond nghttp2's defaults. */
	r = nghttp2_session_client_new2(&ch->ng, cbs, ch, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	return r == 0 ? 0 : -ENOMEM;
}

/* The name the certificate must carry: the authority without its port (and brackets). */
static char *tls_name(const char *authority)
{
	const char *colon = strchr(authority, ':');

	if (authority[0] == '[') {
		const char *end = strchr(authority, ']');
		return end ? strndup(authority + 1, (size_t)(end - authority - 1)) : NULL;
	}
	if (colon && !strchr(colon + 1, ':')) /* NAME:PORT; more colons: a bare IPv6 address */
		return strndup(authority, (size_t)(colon - authority));
	return strdup(authority);
}

int kwg_grpc_chan_new(uv_loop_t *loop, const struct kwg_grpc_chan_opts *opts,
                      const struct kwg_grpc_chan_ops *ops, void *ctx, struct kwg_grpc_chan **ret)
{
	struct kwg_grpc_chan *ch = calloc(1, sizeof(*ch));
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	cleanup_free char *name = NULL;
	int r;

	if (!ch)
		return -ENOMEM;
	ch->loop = loop;
	ch->ops = ops;
	ch->ctx = ctx;
	ch->max_msg = opts->max_msg;
	ch->ready_timeout_ms = opts->ready_timeout_ms ? opts->ready_timeout_ms : READY_TIMEOUT_MS;
	ch->host = strdup(opts->host);
	ch->port = strdup(opts->port);
	ch->authorization = opts->authorization ? strdup(opts->authorization) : NULL;
	if (opts->authority)
		ch->authority = strdup(opts->authority);
	else if (asprintf(&ch->authority, strchr(opts->host, ':') ? "[%s]:%s" : "%s:%s", opts->host,
	                  opts->port) < 0)
		ch->authority = NULL;
	if (!ch->host || !ch->port || !ch->authority ||
	    (opts->authorization && !ch->authorization)) {
		ch->freed = true;
		chan_release(ch);
		return -ENOMEM;
	}
	r = session_new(ch);
	if (r == 0 && opts->tls) {
		name = opts->authority ? tls_name(opts->authority) : strdup(opts->host);
		r = name ? kwg_grpc_tls_new(opts->tls, name, &ch->tls) : -ENOMEM;
	}
	if (r == 0)
		r = uv_timer_init(loop, &ch->ready_timer);
	if (r == 0) {
		ch->timer_open = true;
		ch->pending++; /* its close */
		r = uv_getaddrinfo(loop, &ch->gai, on_resolved, ch->host, ch->port, &hints);
	}
	if (r < 0) {
		ch->freed = true;
		close_handles(ch);
		chan_release(ch);
		return r;
	}
	ch->pending++;
	*ret = ch;
	return 0;
}

void kwg_grpc_chan_free(struct kwg_grpc_chan *ch)
{
	if (!ch)
		return;
	ch->freed = true;
	if (ch->state == CHAN_RESOLVING)
		(void)uv_cancel((uv_req_t *)&ch->gai);
	if (ch->state == CHAN_OPEN) {
		(void)nghttp2_session_terminate_session(ch->ng, NGHTTP2_NO_ERROR);
		chan_flush(ch);
	}
	ch->state = CHAN_CLOSED;
	while (ch->calls) {
		ch->calls->ops = NULL;
		call_free(ch->calls);
	}
	close_handles(ch);
	chan_release(ch);
}

#define NV(n, v)                                                                                   \
	{                                                                                          \
		(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v),                          \
		    NGHTTP2_NV_FLAG_NO_COPY_NAME                                                   \
	}

int kwg_grpc_call_new(struct kwg_grpc_chan *ch, const char *path,
                      const struct kwg_grpc_call_ops *ops, void *ctx, struct kwg_grpc_call **ret)
{
	struct kwg_grpc_call *call;
	nghttp2_nv nva[8] = {
	    NV(":method", "POST"),
	    NV(":scheme", ch->tls ? "https" : "http"),
	    NV(":path", path),
	    NV(":authority", ch->authority),
	    NV("content-type", "application/grpc"),
	    NV("te", "trailers"),
	    NV("user-agent", "kwg/" KWG_VERSION),
	};
	size_t n = 7;
	nghttp2_data_provider prd;
	int32_t id;

	if (ch->state != CHAN_OPEN || ch->goaway)
		return -ENOTCONN;
	if (ch->authorization)
		nva[n++] = (nghttp2_nv)NV("authorization", ch->authorization);
	call = calloc(1, sizeof(*call));
	if (!call)
		return -ENOMEM;
	call->ch = ch;
	call->ops = ops;
	call->ctx = ctx;
	call->grpc_status = -1;
	kwg_buf_init(&call->out, CALL_OUT_MAX);
	kwg_buf_init(&call->in, ch->max_msg + 5);
	prd.source.ptr = call;
	prd.read_callback = on_read_data;
	id = nghttp2_submit_request(ch->ng, NULL, nva, n, &prd, call);
	if (id < 0) {
		free(call);
		return id == NGHTTP2_ERR_NOMEM ? -ENOMEM : -ENOTCONN;
	}
	call->stream_id = id;
	call->next = ch->calls;
	if (ch->calls)
		ch->calls->prev = call;
	ch->calls = call;
	*ret = call;
	return 0;
}

int kwg_grpc_call_send(struct kwg_grpc_call *call, const uint8_t *msg, size_t len, bool end)
{
	struct kwg_grpc_chan *ch = call->ch;
	int r;

	if (call->out_end)
		return -EPIPE;
	r = kwg_grpc_frame(&call->out, msg, len);
	if (r < 0)
		return r;
	call->out_end = end;
	if (call->deferred) {
		call->deferred = false;
		(void)nghttp2_session_resume_data(ch->ng, call->stream_id);
	}
	/* A send from inside a callback of this channel is flushed when that callback returns. */
	chan_flush(ch);
	return 0;
}

void kwg_grpc_call_cancel(struct kwg_grpc_call *call)
{
	struct kwg_grpc_chan *ch = call->ch;

	if (call->stream_id > 0 && ch->state == CHAN_OPEN)
		(void)nghttp2_submit_rst_stream(ch->ng, NGHTTP2_FLAG_NONE, call->stream_id,
		                                NGHTTP2_CANCEL);
	call->ops = NULL;
	call_free(call);
	chan_flush(ch);
}
