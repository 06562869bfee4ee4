/* SPDX-License-Identifier: Apache-2.0 */
/* TLS for the controller's connection: OpenSSL driven through two memory BIOs, so that the
 * bytes still travel over the uv_tcp_t chan.c owns and no OpenSSL call ever touches a socket or
 * blocks. A context (CA, client certificate) is built once; a session per connection verifies
 * the server's certificate against a name (DNS or IP address), sends SNI and requires ALPN h2. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct kwg_grpc_tls_ctx;
struct kwg_grpc_tls;

/* Every path borrowed; NULL: the system's CA store, no client certificate. cert_file and
 * key_file come together (PEM; cert_file may hold the chain). */
struct kwg_grpc_tls_opts {
	const char *ca_file;
	const char *cert_file;
	const char *key_file;
};

/* The one check of the files (`kwg worker -n` and the transport's start call it): each readable,
 * cert_file with key_file; then loads the CA and the client certificate. 0 and *ret; -EINVAL
 * with err naming the setting at fault and the reason (errno's or OpenSSL's); -ENOMEM. */
int kwg_grpc_tls_ctx_new(const struct kwg_grpc_tls_opts *opts, struct kwg_grpc_tls_ctx **ret,
                         struct kwg_err *err);
/* Accepts NULL; returns NULL. Sessions still open keep what they need. */
struct kwg_grpc_tls_ctx *kwg_grpc_tls_ctx_free(struct kwg_grpc_tls_ctx *ctx);

/* A client session verifying name (a DNS name, or an IPv4/IPv6 literal without brackets;
 * borrowed); SNI is sent for DNS names. 0 and *ret; -ENOMEM; -EINVAL (a name OpenSSL refuses). */
int kwg_grpc_tls_new(struct kwg_grpc_tls_ctx *ctx, const char *name, struct kwg_grpc_tls **ret);
/* Accepts NULL; returns NULL. */
struct kwg_grpc_tls *kwg_grpc_tls_free(struct kwg_grpc_tls *tls);

/* Bytes read from the socket (borrowed). 0; -ENOMEM. */
int kwg_grpc_tls_feed(struct kwg_grpc_tls *tls, const uint8_t *data, size_t len);
/* Advances the handshake: 1 done (ALPN selected h2), 0 it needs more bytes from the server
 * (send kwg_grpc_tls_take's first), -EPROTO with err saying why (OpenSSL's reason, the
 * verification error). */
int kwg_grpc_tls_handshake(struct kwg_grpc_tls *tls, struct kwg_err *err);
/* Decrypts what was fed: n > 0 bytes into buf, 0 when no whole record waits, -EPIPE when the
 * server closed the session (close_notify), -EPROTO with err. */
int kwg_grpc_tls_read(struct kwg_grpc_tls *tls, uint8_t *buf, size_t size, struct kwg_err *err);
/* Encrypts data (borrowed). 0; -EPROTO with err; -ENOMEM. */
int kwg_grpc_tls_write(struct kwg_grpc_tls *tls, const uint8_t *data, size_t len,
                       struct kwg_err *err);
/* Moves the bytes waiting to go to the socket into out (appended). 0; -ENOMEM; -EMSGSIZE. */
int kwg_grpc_tls_take(struct kwg_grpc_tls *tls, struct kwg_buf *out);
/* What may explain the server closing the connection right after the handshake (a client
 * certificate asked for and none configured, or one configured: perhaps refused), "" if
 * nothing; borrowed, static. */
const char *kwg_grpc_tls_close_hint(const struct kwg_grpc_tls *tls);
/* The protocol negotiated ("TLSv1.3"); borrowed, static. */
const char *kwg_grpc_tls_version(const struct kwg_grpc_tls *tls);
