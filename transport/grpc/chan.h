/* SPDX-License-Identifier: Apache-2.0 */
/* One gRPC channel: an HTTP/2 connection (plain h2c, or over TLS by transport/grpc/tls.h; nghttp2
 * on the loop) to a controller, and the calls on it (unary or streaming; each message framed by
 * wire.h). The channel owns its calls; a call's end callback fires exactly once (unless the call
 * was cancelled), then the call is gone. When the connection ends, every call ends UNAVAILABLE
 * first, then on_closed fires once. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct kwg_grpc_chan;
struct kwg_grpc_call;
struct kwg_grpc_tls_ctx;

/* ready: the connection is open (the server's SETTINGS arrived); goaway: the server said GOAWAY
 * (no new call is taken; those running may finish); closed: it ended (goaway true after a
 * GOAWAY, a routine end; why says what happened otherwise). ch is the channel concerned. */
struct kwg_grpc_chan_ops {
	void (*on_ready)(void *ctx);
	void (*on_goaway)(void *ctx, struct kwg_grpc_chan *ch);
	void (*on_closed)(void *ctx, struct kwg_grpc_chan *ch, bool goaway, const char *why);
};

/* Where and how to connect; every pointer borrowed for the kwg_grpc_chan_new call only. */
struct kwg_grpc_chan_opts {
	const char *host; /* a name or an address (an IPv6 one without brackets) */
	const char *port;
	/* NULL: plaintext h2c. Else TLS with ALPN h2, the certificate verified against the
	 * authority's host (a DNS name or an address). */
	struct kwg_grpc_tls_ctx *tls;
	/* :authority (and the TLS name, without its port); NULL: HOST:PORT ([HOST]:PORT for IPv6).
	 */
	const char *authority;
	const char *authorization; /* an "authorization" header value (SECRET); NULL: none */
	size_t max_msg;            /* the largest inbound message */
	/* From connect to the server's SETTINGS (TCP, TLS handshake, HTTP/2 preface); 0: 20 s. */
	uint64_t ready_timeout_ms;
};

/* 0 and *ret (connecting at once), or -errno (-EINVAL: an authority the TLS layer refuses). */
int kwg_grpc_chan_new(uv_loop_t *loop, const struct kwg_grpc_chan_opts *opts,
                      const struct kwg_grpc_chan_ops *ops, void *ctx, struct kwg_grpc_chan **ret);
/* Closes the connection without any further callback (calls are dropped silently); freed once
 * libuv lets go. Accepts NULL. */
void kwg_grpc_chan_free(struct kwg_grpc_chan *ch);

/* on_message: one message (borrowed for the call); on_end: the call is over with a gRPC status
 * and its message ("" when none). */
struct kwg_grpc_call_ops {
	void (*on_message)(void *ctx, const uint8_t *msg, size_t len);
	void (*on_end)(void *ctx, int status, const char *message);
};

/* Opens a call to path ("/Service/method"). -ENOTCONN when the channel is not open (or going
 * away); no callback then. */
int kwg_grpc_call_new(struct kwg_grpc_chan *ch, const char *path,
                      const struct kwg_grpc_call_ops *ops, void *ctx, struct kwg_grpc_call **ret);
/* Sends one message (copied); end: half-close after it. 0; -ENOMEM; -EPIPE after end. */
int kwg_grpc_call_send(struct kwg_grpc_call *call, const uint8_t *msg, size_t len, bool end);
/* Resets the call; no callback comes any more. */
void kwg_grpc_call_cancel(struct kwg_grpc_call *call);
