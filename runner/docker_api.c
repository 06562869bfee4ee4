/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "docker"
#include "runner/docker_api.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/lazylib.h"
#include "common/log.h"
#include "storage/curl_uv.h"

#define MAX_BODY_BYTES (64u << 20)

struct kwg_docker {
	uv_loop_t *loop;
	struct kwg_curl_uv *cu; /* made at the first request: that loads libcurl */
	char *socket;
	char version[16]; /* "1.41" */
	struct kwg_docker_req *reqs;
	/* The version negotiation's caller (one at a time); nothing to free if it is cancelled. */
	kwg_docker_done_fn negotiated;
	void *negotiated_userdata;
	/* kwg_docker_hold: requests wait (held) until kwg_docker_release; first_use is called at
	 * the first one, then cleared. */
	bool holding;
	void (*first_use)(void *userdata);
	void *first_use_userdata;
};

struct kwg_docker_req {
	struct kwg_docker *d;
	struct kwg_docker_req *next, **pprev;
	CURL *easy;
	struct curl_slist *headers;
	struct kwg_buf body;
	kwg_docker_data_fn on_data;
	kwg_docker_done_fn done;
	void *userdata;
	char error[CURL_ERROR_SIZE];
	char *held_path; /* held by kwg_docker_hold: its path, made a URL at the release */
	bool paused;
	bool open_pending; /* headers in, on_open not called yet */
	long open_status;
	void (*on_open)(void *userdata, long status);
};

/* Why the socket refused us, in the operator's terms (curl only says it could not connect). */
static void connect_error(const char *socket, char *buf, size_t size)
{
	struct stat st;

	if (stat(socket, &st) < 0)
		(void)snprintf(buf, size, "no socket there (%s): is dockerd running?",
		               strerror(errno));
	else if (!S_ISSOCK(st.st_mode))
		(void)snprintf(buf, size, "it is not a socket");
	else if (access(socket, R_OK | W_OK) < 0)
		(void)snprintf(
		    buf, size,
		    "permission denied on the socket (the worker's user needs the docker "
		    "group)");
	else
		(void)snprintf(buf, size, "connection refused: the daemon does not answer");
}

/* A finished request: its done callback, after the request is unlinked and freed (done may start
 * or cancel other requests, or free the client). */
static void on_done(void *userdata, CURL *easy, CURLcode result)
{
	struct kwg_docker *d = userdata;
	struct kwg_docker_req *r = NULL;
	long status = 0;
	char why[CURL_ERROR_SIZE + 64];

	(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
	if (KWG_LOG_DEBUG <= kwg_log_max_level) {
		curl_off_t us = 0;
		const char *url = "";
		(void)curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &us);
		(void)curl_easy_getinfo(easy, CURLINFO_EFFECTIVE_URL, &url);
		kwg_log_debug("%s answered in %.1f ms", url + strlen("http://docker"),
		              (double)us / 1000);
	}
	if (result == CURLE_OK)
		(void)curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	else if (result == CURLE_COULDNT_CONNECT)
		connect_error(d->socket, why, sizeof(why));
	else
		(void)snprintf(why, sizeof(why), "%s",
		               *r->error ? r->error : curl_easy_strerror(result));
	/* Unlinked first: done may start or cancel other requests. */
	kwg_docker_done_fn done = r->done;
	void *ud = r->userdata;
	struct kwg_buf body = r->body;
	r->body = (struct kwg_buf){0};
	kwg_docker_cancel(r);
	done(ud, status, kwg_buf_str(&body), body.len, status ? NULL : why);
	kwg_buf_done(&body);
}

static void notify_open(void *userdata)
{
	struct kwg_docker *d = userdata;

	for (;;) {
		struct kwg_docker_req *r = d->reqs;
		while (r && !r->open_pending)
			r = r->next;
		if (!r)
			return;
		r->open_pending = false;
		void (*on_open)(void *, long) = r->on_open;
		r->on_open = NULL;
		on_open(r->userdata, r->open_status);
	}
}

static void on_closed(void *userdata)
{
	struct kwg_docker *d = userdata;

	free(d->socket);
	free(d);
}

int kwg_docker_new(uv_loop_t *loop, const char *socket, struct kwg_docker **ret)
{
	struct kwg_docker *d = calloc(1, sizeof(*d));

	if (!d || !(d->socket = strdup(socket))) {
		free(d);
		return -ENOMEM;
	}
	d->loop = loop;
	(void)snprintf(d->version, sizeof(d->version), "%s", KWG_DOCKER_API_MAX);
	*ret = d;
	return 0;
}

/* The multi handle on the loop, at the first request (libcurl loads there). 0, -ENOMEM, or
 * -ENOENT when libcurl cannot be loaded (logged once, naming it). */
static int ensure_cu(struct kwg_docker *d)
{
	static const struct kwg_curl_uv_ops ops = {
	    .on_action = notify_open, .on_done = on_done, .on_closed = on_closed};

	if (d->cu)
		return 0;
	if (kwg_lazylib_load(&kwg_lazy_curl) < 0)
		return -ENOENT;
	return kwg_curl_uv_new(d->loop, &ops, d, &d->cu);
}

const char *kwg_docker_client_error(void)
{
	return kwg_lazylib_load(&kwg_lazy_curl) < 0 ? kwg_lazy_curl.error : NULL;
}

void kwg_docker_hold(struct kwg_docker *d, void (*first_use)(void *userdata), void *userdata)
{
	d->holding = true;
	d->first_use = first_use;
	d->first_use_userdata = userdata;
}

bool kwg_docker_holding(const struct kwg_docker *d)
{
	return d->holding;
}

static void set_url(struct kwg_docker_req *r, const char *path)
{
	char url[4096];

	if (*r->d->version)
		(void)snprintf(url, sizeof(url), "http://docker/v%s%s", r->d->version, path);
	else
		(void)snprintf(url, sizeof(url), "http://docker%s", path);
	(void)curl_easy_setopt(r->easy, CURLOPT_URL, url);
}

void kwg_docker_release(struct kwg_docker *d)
{
	d->holding = false;
	d->first_use = NULL;
	/* Oldest first (d->reqs is newest first); looked for afresh each time, since a failed
	 * request's done may cancel others. A few requests at most. */
	for (;;) {
		struct kwg_docker_req *r, *oldest = NULL;
		for (r = d->reqs; r; r = r->next)
			if (r->held_path)
				oldest = r;
		if (!oldest)
			return;
		set_url(oldest, oldest->held_path);
		free(steal_ptr(&oldest->held_path));
		if (kwg_curl_uv_add(d->cu, oldest->easy) < 0) {
			kwg_docker_done_fn done = oldest->done;
			void *ud = oldest->userdata;
			kwg_docker_cancel(oldest);
			done(ud, 0, "", 0, "out of memory");
		}
	}
}

const char *kwg_docker_socket(const struct kwg_docker *d)
{
	return d->socket;
}

const char *kwg_docker_api_version(const struct kwg_docker *d)
{
	return d->version;
}

/* "1.41" as 1041, for comparing. */
static long version_number(const char *v)
{
	char *end;
	long major = strtol(v, &end, 10), minor = *end == '.' ? strtol(end + 1, NULL, 10) : 0;

	return major * 1000 + minor;
}

static void on_version(void *userdata, long status, const char *body, size_t len, const char *error)
{
	struct kwg_docker *d = userdata;
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	const char *v = json_string_value(json_object_get(j, "ApiVersion"));

	if (v && version_number(v) < version_number(KWG_DOCKER_API_MAX))
		(void)snprintf(d->version, sizeof(d->version), "%s", v);
	json_decref(j);
	d->negotiated(d->negotiated_userdata, status, body, len, error);
}

int kwg_docker_negotiate(struct kwg_docker *d, kwg_docker_done_fn done, void *userdata)
{
	d->negotiated = done;
	d->negotiated_userdata = userdata;
	/* Unversioned: the daemon answers whatever its API version. */
	d->version[0] = '\0';
	if (!kwg_docker_request_first(d, "GET", "/version", NULL, NULL, on_version, d))
		return -ENOMEM;
	(void)snprintf(d->version, sizeof(d->version), "%s", KWG_DOCKER_API_MAX);
	return 0;
}

/* The end of the response's headers ("\r\n" alone) tells on_open; 1xx answers are skipped. */
static size_t on_header(char *data, size_t size, size_t n, void *userdata)
{
	struct kwg_docker_req *r = userdata;
	long status = 0;

	if (r->on_open && size * n == 2 && data[0] == '\r') {
		(void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		/* Told after curl returns: no request may start inside its callbacks. */
		if (status >= 200) {
			r->open_pending = true;
			r->open_status = status;
		}
	}
	return size * n;
}

void kwg_docker_on_open(struct kwg_docker_req *r, void (*on_open)(void *userdata, long status))
{
	r->on_open = on_open;
	(void)curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	(void)curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
}

static size_t on_write(char *data, size_t size, size_t n, void *userdata)
{
	struct kwg_docker_req *r = userdata;
	size_t len = size * n;

	if (r->on_data) {
		if (!r->on_data(r->userdata, data, len)) {
			r->paused = true;
			(void)curl_easy_pause(r->easy, CURLPAUSE_RECV);
		}
		return len;
	}
	return kwg_buf_append(&r->body, data, len) < 0 ? 0 : len;
}

static struct kwg_docker_req *make_request(struct kwg_docker *d, const char *method,
                                           const char *path, const struct kwg_docker_body *body,
                                           kwg_docker_data_fn on_data, kwg_docker_done_fn done,
                                           void *userdata, bool gated)
{
	struct kwg_docker_req *r;
	bool hold = gated && d->holding;

	if (hold && d->first_use) {
		void (*first_use)(void *) = d->first_use;
		d->first_use = NULL;
		first_use(d->first_use_userdata);
		hold = d->holding;
	}
	if (ensure_cu(d) < 0 || !(r = calloc(1, sizeof(*r))))
		return NULL;
	r->d = d;
	r->on_data = on_data;
	r->done = done;
	r->userdata = userdata;
	kwg_buf_init(&r->body, MAX_BODY_BYTES);
	r->easy = curl_easy_init();
	if (!r->easy) {
		free(r);
		return NULL;
	}
	if (hold && !(r->held_path = strdup(path))) {
		curl_easy_cleanup(r->easy);
		free(r);
		return NULL;
	}
	if (!hold)
		set_url(r, path);
	(void)curl_easy_setopt(r->easy, CURLOPT_UNIX_SOCKET_PATH, d->socket);
	(void)curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
	(void)curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	(void)curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_write);
	(void)curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	(void)curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->error);
	(void)curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	r->headers = curl_slist_append(NULL, "Expect:");
	if (body && body->content_type) {
		char ct[128];
		(void)snprintf(ct, sizeof(ct), "Content-Type: %s", body->content_type);
		r->headers = curl_slist_append(r->headers, ct);
		(void)curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
		(void)curl_easy_setopt(r->easy, CURLOPT_COPYPOSTFIELDS, body->data);
	} else if (strcmp(method, "POST") == 0) {
		(void)curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, 0L);
		(void)curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, "");
	}
	if (body && body->header)
		r->headers = curl_slist_append(r->headers, body->header);
	(void)curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	if (!hold && kwg_curl_uv_add(d->cu, r->easy) < 0) {
		curl_slist_free_all(r->headers);
		curl_easy_cleanup(r->easy);
		kwg_buf_done(&r->body);
		free(r);
		return NULL;
	}
	r->next = d->reqs;
	if (d->reqs)
		d->reqs->pprev = &r->next;
	r->pprev = &d->reqs;
	d->reqs = r;
	return r;
}

struct kwg_docker_req *kwg_docker_request(struct kwg_docker *d, const char *method,
                                          const char *path, const struct kwg_docker_body *body,
                                          kwg_docker_data_fn on_data, kwg_docker_done_fn done,
                                          void *userdata)
{
	return make_request(d, method, path, body, on_data, done, userdata, true);
}

struct kwg_docker_req *kwg_docker_request_first(struct kwg_docker *d, const char *method,
                                                const char *path,
                                                const struct kwg_docker_body *body,
                                                kwg_docker_data_fn on_data, kwg_docker_done_fn done,
                                                void *userdata)
{
	return make_request(d, method, path, body, on_data, done, userdata, false);
}

void kwg_docker_resume(struct kwg_docker_req *r)
{
	if (r && r->paused) {
		r->paused = false;
		(void)curl_easy_pause(r->easy, CURLPAUSE_CONT);
	}
}

void kwg_docker_cancel(struct kwg_docker_req *r)
{
	if (!r)
		return;
	*r->pprev = r->next;
	if (r->next)
		r->next->pprev = r->pprev;
	kwg_curl_uv_remove(r->d->cu, r->easy);
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	kwg_buf_done(&r->body);
	free(r->held_path);
	free(r);
}

void kwg_docker_free(struct kwg_docker *d)
{
	if (!d)
		return;
	while (d->reqs)
		kwg_docker_cancel(d->reqs);
	/* d is released by on_closed: the loop that called us may still read d->reqs */
	if (d->cu)
		kwg_curl_uv_free(d->cu);
	else
		on_closed(d);
}

void kwg_docker_ignore_answer(void *userdata, long status, const char *body, size_t len,
                              const char *error)
{
	(void)userdata;
	(void)status;
	(void)body;
	(void)len;
	(void)error;
}

const char *kwg_docker_error_message(const char *body, char *buf, size_t size)
{
	json_t *j = json_loads(body ? body : "", 0, NULL);
	const char *m = json_string_value(json_object_get(j, "message"));

	(void)snprintf(buf, size, "%s", m ? m : body ? body : "");
	json_decref(j);
	/* one line */
	buf[strcspn(buf, "\r\n")] = '\0';
	return buf;
}
