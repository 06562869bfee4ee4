/* SPDX-License-Identifier: Apache-2.0 */
/* The management HTTP server (GET only): libmicrohttpd without threads of its own, driven from the
 * loop through its epoll descriptor, so handlers run on the loop like everything else. Owns the
 * daemon and its handles. */
#pragma once
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"

struct kwg_http;

/* Fills body and *content_type for path; returns the HTTP status (404 for unknown paths). */
typedef int kwg_http_handler_fn(void *ctx, const char *path, struct kwg_buf *body,
                                const char **content_type);

/* Listens on port (all addresses). 0 and *ret, or a negative errno (e.g. -EADDRINUSE). */
int kwg_http_new(uv_loop_t *loop, uint16_t port, kwg_http_handler_fn *handler, void *ctx,
                 struct kwg_http **ret);
/* Accepts NULL. */
void kwg_http_close(struct kwg_http *h);
