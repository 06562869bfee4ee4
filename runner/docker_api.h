/* SPDX-License-Identifier: Apache-2.0 */
/* A Docker Engine API client on the libuv loop: libcurl's multi interface over the daemon's Unix
 * socket, driven by libuv (one uv_poll per socket curl opens, one uv_timer: curl's documented
 * multi-socket pattern). No call blocks. The API version is the daemon's own (GET /version at
 * start, or at the first use of a held client), capped at the version kwg is written against. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#define KWG_DOCKER_API_MAX "1.41"
#define KWG_DOCKER_API_MIN "1.24"

struct kwg_docker;
struct kwg_docker_req;

/* The response: the HTTP status (0 when the daemon could not be reached or the connection broke,
 * error then says why), the body (buffered, NUL-terminated; empty for a streamed request). */
typedef void (*kwg_docker_done_fn)(void *userdata, long status, const char *body, size_t len,
                                   const char *error);
/* A streamed body, chunk by chunk as it arrives; return false to pause the transfer. */
typedef bool (*kwg_docker_data_fn)(void *userdata, const char *data, size_t len);

/* socket: the daemon's Unix socket path. 0 or a negative errno. libcurl (common/lazy_curl.c)
 * is loaded at the first request, not here. */
int kwg_docker_new(uv_loop_t *loop, const char *socket, struct kwg_docker **ret);
/* NULL when the client can work, else why not (libcurl cannot be loaded: the text names it).
 * Loads libcurl. */
const char *kwg_docker_client_error(void);
const char *kwg_docker_socket(const struct kwg_docker *d);
/* Asks the daemon for its version and API version, once; done gets the /version body. Passes a
 * held client's gate. */
int kwg_docker_negotiate(struct kwg_docker *d, kwg_docker_done_fn done, void *userdata);
const char *kwg_docker_api_version(const struct kwg_docker *d);

struct kwg_docker_body {
	const char *content_type; /* NULL: no body */
	const void *data;         /* copied */
	size_t len;
	const char *header; /* one extra "Name: value" header, or NULL */
};

/* Starts a request. path is the API path without the version ("/containers/create?name=x");
 * body may be NULL; on_data NULL buffers the body for done. done is called exactly once, never
 * inside this call, unless the request is cancelled first. NULL when out of memory. */
struct kwg_docker_req *kwg_docker_request(struct kwg_docker *d, const char *method,
                                          const char *path, const struct kwg_docker_body *body,
                                          kwg_docker_data_fn on_data, kwg_docker_done_fn done,
                                          void *userdata);
/* kwg_docker_request, passing a held client's gate (kwg_docker_hold): for the work that must
 * come before the others (the orphan sweep). */
struct kwg_docker_req *kwg_docker_request_first(struct kwg_docker *d, const char *method,
                                                const char *path,
                                                const struct kwg_docker_body *body,
                                                kwg_docker_data_fn on_data, kwg_docker_done_fn done,
                                                void *userdata);
/* Holds the client's requests: from now on each waits, in order, until kwg_docker_release (its
 * URL made then, with the API version negotiated meanwhile). first_use(userdata) is called
 * once, at the first request held, before it is made (it may make requests of its own with
 * kwg_docker_request_first, or release). A worker whose Docker runner may never be used defers
 * the version negotiation and the orphan sweep to its first Docker task this way, and libcurl
 * with them (docs/performance.md, round 4). */
void kwg_docker_hold(struct kwg_docker *d, void (*first_use)(void *userdata), void *userdata);
bool kwg_docker_holding(const struct kwg_docker *d);
/* Sends the held requests, oldest first. */
void kwg_docker_release(struct kwg_docker *d);
/* Calls on_open(userdata, status) once the response's headers have arrived (a stream is then
 * established: an attach before the start). Set right after kwg_docker_request. */
void kwg_docker_on_open(struct kwg_docker_req *r, void (*on_open)(void *userdata, long status));
/* Resumes a paused stream. */
void kwg_docker_resume(struct kwg_docker_req *r);
/* A done callback for requests whose answer changes nothing (a kill, a late remove). */
void kwg_docker_ignore_answer(void *userdata, long status, const char *body, size_t len,
                              const char *error);
/* Drops a request; its callbacks never fire. Accepts NULL. */
void kwg_docker_cancel(struct kwg_docker_req *r);
/* Cancels every request and frees the client once its handles are closed. Accepts NULL. */
void kwg_docker_free(struct kwg_docker *d);

/* The daemon's "message" of an error body, or the body itself; for error texts. */
const char *kwg_docker_error_message(const char *body, char *buf, size_t size);
