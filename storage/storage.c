/* SPDX-License-Identifier: Apache-2.0 */
/* Internal storage: the local backend does its file I/O inside the call and reports on the next
 * loop iteration (one zero-delay timer for every finished local operation); the S3 backend runs
 * each operation as a chain of HTTP requests on storage/curl_uv.c, signed by libcurl's
 * CURLOPT_AWS_SIGV4.
 *
 * KESTRA: storage-local LocalStorage.java @ 0ab909446bd6d3031b1c4100090873be65c3e4aa (basePath
 * and tenant layout, parents created, overwrite); storage-s3 S3Storage.java @
 * 092d684c712559c9de7e74bc25a7be3c79cd73f0 (mkdirs: a HEAD of the parent marker, then one empty
 * object per prefix when it is missing; allByPrefix skips the markers). */
#define KWG_LOG_MODULE "storage"
#include "storage/storage.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/lazylib.h"
#include "common/log.h"
#include "common/strv.h"
#include "storage/curl_uv.h"

/* Error and listing bodies kept in memory; object bodies go to files. */
#define MAX_ERROR_BODY (64u << 10)
#define MAX_LIST_BODY (8u << 20)
/* Listing bounds: pages of up to 1,000 keys, and entries (also for the local walk). */
#define MAX_LIST_PAGES 1000
#define MAX_LIST_ENTRIES 200000
#define MAX_WALK_DEPTH 64
/* A metadata request (HEAD, marker PUT, list page) ends in a minute; a transfer ends when it has
 * moved less than 1 KiB in a minute, or after 6 hours. */
#define META_TIMEOUT_MS 60000L
#define DATA_TIMEOUT_MS (6L * 3600 * 1000)
#define CONNECT_TIMEOUT_MS 10000L

enum op_kind { OP_PUT, OP_GET, OP_LIST };

enum s3_step {
	STEP_NONE,
	STEP_HEAD_MARKER, /* does the parent's marker exist? */
	STEP_PUT_MARKER,  /* markers[marker_i] */
	STEP_PUT,
	STEP_GET,
	STEP_LIST,
};

struct kwg_storage {
	uv_loop_t *loop;
	enum kwg_storage_layout layout;
	bool is_local;
	char *base_path; /* local */
	char *base_url;  /* s3: "http://host:9000/bucket" or "https://bucket.s3.r.amazonaws.com" */
	char *sigv4, *userpwd; /* s3 */
	struct kwg_curl_uv *cu;
	uv_timer_t local_timer; /* delivers finished local operations */
	struct kwg_storage_op *ops;
	bool freeing;
	unsigned closing;
};

struct kwg_storage_op {
	struct kwg_storage *s;
	struct kwg_storage_op *next, **pprev;
	enum op_kind kind;
	char *uri;        /* as given, for messages */
	char *uri_prefix; /* list: "kestra://" + path ending in '/' */
	char *key;        /* object key, or path under basePath */
	char *local_path;
	kwg_storage_done_fn *done;
	kwg_storage_entry_fn *entry;
	void *userdata;
	/* the outcome, for local operations: delivered by local_timer */
	bool ready;
	char *error;
	bool not_found;
	struct kwg_strv entries;
	/* S3 */
	enum s3_step step;
	CURL *easy;
	struct curl_slist *headers;
	int fd;
	char *tmp_path; /* get: the download, renamed over local_path at the end */
	struct kwg_buf body;
	char **markers;
	size_t marker_i, n_entries;
	char *token;
	unsigned pages;
	char curl_error[CURL_ERROR_SIZE];
};

/* A new formatted string, NULL when out of memory. */
static char *fmt(const char *f, ...) KWG_PRINTF(1, 2);
static char *fmt(const char *f, ...)
{
	va_list ap;
	char *p;
	int r;

	va_start(ap, f);
	r = vasprintf(&p, f, ap);
	va_end(ap);
	return r < 0 ? NULL : p;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void op_release_transfer(struct kwg_storage_op *op)
{
	if (op->easy) {
		kwg_curl_uv_remove(op->s->cu, op->easy);
		curl_easy_cleanup(op->easy);
		op->easy = NULL;
	}
	curl_slist_free_all(op->headers);
	op->headers = NULL;
	kwg_buf_done(&op->body);
}

/* Unlinks and frees; no callback fires. */
static void op_free(struct kwg_storage_op *op)
{
	*op->pprev = op->next;
	if (op->next)
		op->next->pprev = op->pprev;
	op_release_transfer(op);
	if (op->fd >= 0)
		(void)close(op->fd);
	if (op->tmp_path) {
		(void)unlink(op->tmp_path);
		free(op->tmp_path);
	}
	strv_free(op->markers);
	kwg_strv_done(&op->entries);
	free(op->uri);
	free(op->uri_prefix);
	free(op->key);
	free(op->local_path);
	free(op->error);
	free(op->token);
	free(op);
}

void kwg_storage_cancel(struct kwg_storage_op *op)
{
	if (op)
		op_free(op);
}

/* Calls done once and frees the op first: done may cancel others or free the storage. */
static void op_finish(struct kwg_storage_op *op, const char *error, bool not_found)
{
	kwg_storage_done_fn *done = op->done;
	void *userdata = op->userdata;
	char *copy = error ? strdup(error) : NULL;

	op_free(op);
	done(userdata, error ? (copy ? copy : "out of memory") : NULL, not_found);
	free(copy);
}

static void op_fail(struct kwg_storage_op *op, bool not_found, const char *fmt, ...)
    KWG_PRINTF(3, 4);
static void op_fail(struct kwg_storage_op *op, bool not_found, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n = snprintf(msg, sizeof(msg), "%.300s: ", op->uri);

	va_start(ap, fmt);
	(void)vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	op_finish(op, msg, not_found);
}

static struct kwg_storage_op *op_new(struct kwg_storage *s, enum op_kind kind, const char *uri,
                                     const char *local_path, kwg_storage_done_fn *done,
                                     void *userdata)
{
	struct kwg_storage_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	op->s = s;
	op->kind = kind;
	op->fd = -1;
	op->done = done;
	op->userdata = userdata;
	op->next = s->ops;
	if (s->ops)
		s->ops->pprev = &op->next;
	op->pprev = &s->ops;
	s->ops = op;
	op->uri = strdup(uri);
	if (!op->uri || (local_path && !(op->local_path = strdup(local_path)))) {
		op_free(op);
		return NULL;
	}
	return op;
}

static void arm_local(struct kwg_storage *s);

/* Records the outcome of a local operation; delivered from local_timer. */
static void local_ready(struct kwg_storage_op *op, bool not_found, const char *fmt, ...)
    KWG_PRINTF(3, 4);
static void local_ready(struct kwg_storage_op *op, bool not_found, const char *fmt, ...)
{
	op->ready = true;
	op->not_found = not_found;
	if (fmt) {
		char msg[1024];
		va_list ap;
		int n = snprintf(msg, sizeof(msg), "%.300s: ", op->uri);
		va_start(ap, fmt);
		(void)vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
		op->error = strdup(msg);
		if (!op->error)
			op->error = strdup("out of memory");
	}
	arm_local(op->s);
}

static void on_local_timer(uv_timer_t *t)
{
	struct kwg_storage *s = container_of(t, struct kwg_storage, local_timer);

	for (;;) {
		struct kwg_storage_op *op = s->ops;
		while (op && !op->ready)
			op = op->next;
		if (!op || s->freeing)
			return;
		/* entries first; an entry callback may cancel the op or free the storage */
		op->ready = false;
		while (op->n_entries < op->entries.n) {
			struct kwg_storage_op *o;
			op->entry(op->userdata, op->entries.v[op->n_entries++]);
			for (o = s->ops; o && o != op; o = o->next)
				;
			if (!o || s->freeing)
				break;
		}
		struct kwg_storage_op *o;
		for (o = s->ops; o && o != op; o = o->next)
			;
		if (!o || s->freeing)
			continue;
		if (op->error) {
			char *error = steal_ptr(&op->error);
			op_finish(op, error, op->not_found);
			free(error);
		} else {
			op_finish(op, NULL, false);
		}
	}
}

/* The outcomes are delivered on the next loop iteration, never inside the call. */
static void arm_local(struct kwg_storage *s)
{
	uv_timer_start(&s->local_timer, on_local_timer, 0, 0);
}

/* ---- local backend ---- */

/* mkdir -p of the parents of path (those under base exist or are made 0755). */
static int make_parents(char *path)
{
	for (char *p = strchr(path + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		int r = mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
		*p = '/';
		if (r < 0)
			return r;
	}
	return 0;
}

/* Copies in_fd to out_fd: copy_file_range, read/write where the kernel cannot. */
static int copy_fd(int in_fd, int out_fd)
{
	char buf[65536];
	bool use_cfr = true;

	for (;;) {
		ssize_t n;
		if (use_cfr) {
			n = copy_file_range(in_fd, NULL, out_fd, NULL, 1u << 30, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL ||
			              errno == EOPNOTSUPP)) {
				use_cfr = false;
				continue;
			}
			if (n < 0)
				return -errno;
			if (n == 0)
				return 0;
			continue;
		}
		n = read(in_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(out_fd, buf + off, (size_t)(n - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			off += w;
		}
	}
}

/* Writes src_fd's content to dst through a temporary file beside it, renamed over it. */
static int copy_to(int src_fd, const char *dst, mode_t mode)
{
	size_t n = strlen(dst) + 16;
	cleanup_free char *tmp = malloc(n);
	cleanup_close int out = -1;
	int r;

	if (!tmp)
		return -ENOMEM;
	(void)snprintf(tmp, n, "%s.kwgXXXXXX", dst);
	out = mkostemp(tmp, O_CLOEXEC);
	if (out < 0)
		return -errno;
	r = copy_fd(src_fd, out);
	if (r == 0 && fchmod(out, mode) < 0)
		r = -errno;
	if (r == 0 && close(steal_fd(&out)) < 0)
		r = -errno;
	if (r == 0 && rename(tmp, dst) < 0)
		r = -errno;
	if (r < 0)
		(void)unlink(tmp);
	return r;
}

static char *local_file(struct kwg_storage *s, const char *key)
{
	size_t n = strlen(s->base_path) + strlen(key) + 1;
	char *p = malloc(n);

	if (p)
		(void)snprintf(p, n, "%s%s", s->base_path, key);
	return p;
}

static void local_put(struct kwg_storage_op *op)
{
	cleanup_free char *dst = local_file(op->s, op->key);
	cleanup_close int in = -1;
	struct stat st;
	int r;

	if (!dst)
		return local_ready(op, false, "out of memory");
	in = open(op->local_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return local_ready(op, false, "cannot open '%s': %s", op->local_path,
		                   strerror(errno));
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
		return local_ready(op, false, "'%s' is not a regular file", op->local_path);
	r = make_parents(dst);
	if (r == 0)
		r = copy_to(in, dst, 0644);
	if (r < 0)
		return local_ready(op, false, "cannot write '%s': %s", dst, strerror(-r));
	local_ready(op, false, NULL);
}

static void local_get(struct kwg_storage_op *op)
{
	cleanup_free char *src = local_file(op->s, op->key);
	cleanup_close int in = -1;
	struct stat st;
	int r;

	if (!src)
		return local_ready(op, false, "out of memory");
	in = open(src, O_RDONLY | O_CLOEXEC);
	if (in < 0 && (errno == ENOENT || errno == ENOTDIR))
		return local_ready(op, true, "not found");
	if (in < 0)
		return local_ready(op, false, "cannot open '%s': %s", src, strerror(errno));
	if (fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
		return local_ready(op, true, "not found (not a file)");
	r = copy_to(in, op->local_path, 0600);
	if (r < 0)
		return local_ready(op, false, "cannot write '%s': %s", op->local_path,
		                   strerror(-r));
	local_ready(op, false, NULL);
}

/* Files under dir (its URI prefix uri, ending in '/'), recursively, without following links. */
static int walk(struct kwg_storage_op *op, const char *dir, const char *uri, unsigned depth)
{
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (depth > MAX_WALK_DEPTH)
		return -ELOOP;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;
	while (r == 0 && (e = readdir(d))) {
		struct stat st;
		char *path, *child;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!(path = fmt("%s/%s", dir, e->d_name))) {
			r = -ENOMEM;
			break;
		}
		if (lstat(path, &st) == 0 && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) {
			if (!(child =
			          fmt("%s%s%s", uri, e->d_name, S_ISDIR(st.st_mode) ? "/" : ""))) {
				r = -ENOMEM;
			} else if (S_ISDIR(st.st_mode)) {
				r = walk(op, path, child, depth + 1);
				free(child);
			} else if (op->entries.n >= MAX_LIST_ENTRIES) {
				free(child);
				r = -E2BIG;
			} else {
				r = kwg_strv_push_take(&op->entries, child);
			}
		}
		free(path);
	}
	(void)closedir(d);
	return r;
}

static void local_list(struct kwg_storage_op *op)
{
	cleanup_free char *dir = local_file(op->s, op->key);
	int r;

	if (!dir)
		return local_ready(op, false, "out of memory");
	r = walk(op, dir, op->uri_prefix, 0);
	if (r < 0)
		return local_ready(op, false, "cannot list '%s': %s", dir, strerror(-r));
	local_ready(op, false, NULL);
}

/* ---- S3 backend ---- */

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

/* SigV4's UriEncode: every byte but the unreserved ones as %XX; '/' kept when keep_slash. */
static int uri_encode(struct kwg_buf *b, const char *s, bool keep_slash)
{
	int r = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p && r == 0; p++) {
		if (is_unreserved(*p) || (keep_slash && *p == '/'))
			r = kwg_buf_putc(b, (char)*p);
		else
			r = kwg_buf_printf(b, "%%%02X", *p);
	}
	return r;
}

static size_t on_discard_or_keep(char *data, size_t size, size_t n, void *userdata);
static size_t on_read_file(char *data, size_t size, size_t n, void *userdata);
static int on_seek_file(void *userdata, curl_off_t offset, int origin);
static size_t on_write_file(char *data, size_t size, size_t n, void *userdata);

/* Starts one request of op: method on key (NULL: the bucket) with an optional query (already
 * sorted and encoded, as libcurl 7.88 signs the query string as it is). */
static int s3_request(struct kwg_storage_op *op, enum s3_step step, const char *method,
                      const char *key, const char *query)
{
	struct kwg_storage *s = op->s;
	struct kwg_buf url;
	int r;

	op_release_transfer(op);
	op->step = step;
	op->curl_error[0] = '\0';
	kwg_buf_init(&url, 16384);
	r = kwg_buf_puts(&url, s->base_url);
	if (r == 0)
		r = kwg_buf_putc(&url, '/');
	/* A leading-slash S3 key makes the path "/bucket//company/…": kept as it is (libcurl
	 * neither merges the slashes nor re-encodes the path it signs). */
	if (r == 0 && key)
		r = uri_encode(&url, key, true);
	if (r == 0 && query)
		r = kwg_buf_printf(&url, "?%s", query);
	op->easy = curl_easy_init();
	if (r < 0 || !op->easy) {
		kwg_buf_done(&url);
		return r < 0 ? r : -ENOMEM;
	}
	kwg_buf_init(&op->body, step == STEP_LIST ? MAX_LIST_BODY : MAX_ERROR_BODY);
	(void)curl_easy_setopt(op->easy, CURLOPT_URL, kwg_buf_str(&url));
	kwg_buf_done(&url);
	(void)curl_easy_setopt(op->easy, CURLOPT_PRIVATE, op);
	(void)curl_easy_setopt(op->easy, CURLOPT_ERRORBUFFER, op->curl_error);
	(void)curl_easy_setopt(op->easy, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(op->easy, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	(void)curl_easy_setopt(op->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(op->easy, CURLOPT_AWS_SIGV4, s->sigv4);
	(void)curl_easy_setopt(op->easy, CURLOPT_USERPWD, s->userpwd);
	(void)curl_easy_setopt(op->easy, CURLOPT_WRITEFUNCTION,
	                       step == STEP_GET ? on_write_file : on_discard_or_keep);
	(void)curl_easy_setopt(op->easy, CURLOPT_WRITEDATA, op);
	if (step == STEP_PUT || step == STEP_GET) {
		(void)curl_easy_setopt(op->easy, CURLOPT_TIMEOUT_MS, DATA_TIMEOUT_MS);
		(void)curl_easy_setopt(op->easy, CURLOPT_LOW_SPEED_LIMIT, 1024L);
		(void)curl_easy_setopt(op->easy, CURLOPT_LOW_SPEED_TIME, 60L);
	} else {
		(void)curl_easy_setopt(op->easy, CURLOPT_TIMEOUT_MS, META_TIMEOUT_MS);
	}
	/* The payload is not hashed (a file is streamed); S3 accepts this value over both http
	 * and https, and libcurl signs the header's value as the payload hash. No "Expect:"
	 * override: libcurl would sign it as an empty "expect" header the request never carries;
	 * its own "Expect: 100-continue" (uploads over 1 MiB) is added after signing. */
	op->headers = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	if (strcmp(method, "HEAD") == 0) {
		(void)curl_easy_setopt(op->easy, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "PUT") == 0) {
		struct stat st = {0};
		(void)curl_easy_setopt(op->easy, CURLOPT_UPLOAD, 1L);
		(void)curl_easy_setopt(op->easy, CURLOPT_READFUNCTION, on_read_file);
		(void)curl_easy_setopt(op->easy, CURLOPT_READDATA, op);
		(void)curl_easy_setopt(op->easy, CURLOPT_SEEKFUNCTION, on_seek_file);
		(void)curl_easy_setopt(op->easy, CURLOPT_SEEKDATA, op);
		if (step == STEP_PUT && (fstat(op->fd, &st) < 0 || lseek(op->fd, 0, SEEK_SET) < 0))
			return -errno;
		(void)curl_easy_setopt(op->easy, CURLOPT_INFILESIZE_LARGE,
		                       (curl_off_t)(step == STEP_PUT ? st.st_size : 0));
		op->headers = curl_slist_append(
		    op->headers, step == STEP_PUT ? "Content-Type: application/octet-stream"
		                                  : "Content-Type: application/x-directory");
	}
	if (!op->headers)
		return -ENOMEM;
	(void)curl_easy_setopt(op->easy, CURLOPT_HTTPHEADER, op->headers);
	return kwg_curl_uv_add(s->cu, op->easy);
}

static size_t on_read_file(char *data, size_t size, size_t n, void *userdata)
{
	struct kwg_storage_op *op = userdata;
	ssize_t got;

	if (op->step != STEP_PUT)
		return 0;
	do
		got = read(op->fd, data, size * n);
	while (got < 0 && errno == EINTR);
	return got < 0 ? CURL_READFUNC_ABORT : (size_t)got;
}

/* libcurl rewinds the upload when it must send it again (a redirect, a refused 100-continue). */
static int on_seek_file(void *userdata, curl_off_t offset, int origin)
{
	struct kwg_storage_op *op = userdata;

	if (op->step != STEP_PUT)
		return offset == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
	return lseek(op->fd, (off_t)offset, origin) < 0 ? CURL_SEEKFUNC_FAIL : CURL_SEEKFUNC_OK;
}

static long response_status(struct kwg_storage_op *op)
{
	long status = 0;

	(void)curl_easy_getinfo(op->easy, CURLINFO_RESPONSE_CODE, &status);
	return status;
}

/* An error body: its first MAX_ERROR_BODY bytes are kept (for the message), the rest dropped, so
 * that the HTTP status still reaches the caller. */
static size_t keep_error_body(struct kwg_storage_op *op, const char *data, size_t len)
{
	size_t room = op->body.len < MAX_ERROR_BODY ? MAX_ERROR_BODY - op->body.len : 0;

	if (room && op->body.max >= MAX_ERROR_BODY)
		(void)kwg_buf_append(&op->body, data, KWG_MIN(room, len));
	return len;
}

/* Listing pages (bounded: an overflow fails the transfer) and error bodies go to op->body;
 * others are dropped. */
static size_t on_discard_or_keep(char *data, size_t size, size_t n, void *userdata)
{
	struct kwg_storage_op *op = userdata;

	if (response_status(op) >= 300)
		return keep_error_body(op, data, size * n);
	if (op->step == STEP_LIST)
		return kwg_buf_append(&op->body, data, size * n) < 0 ? 0 : size * n;
	return size * n;
}

/* A 2xx body goes to the temporary file; an error body to op->body. */
static size_t on_write_file(char *data, size_t size, size_t n, void *userdata)
{
	struct kwg_storage_op *op = userdata;
	size_t len = size * n;

	if (response_status(op) >= 300)
		return keep_error_body(op, data, len);
	for (size_t off = 0; off < len;) {
		ssize_t w = write(op->fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return 0;
		off += (size_t)w;
	}
	return len;
}

/* "HTTP 403: AccessDenied: Access Denied" from an S3 error body. */
static void http_error(struct kwg_storage_op *op, long status, const char *what)
{
	char code[128], message[512];

	(void)kwg_storage_xml_text(op->body.data ? op->body.data : "", op->body.len, "Code", code,
	                           sizeof(code));
	(void)kwg_storage_xml_text(op->body.data ? op->body.data : "", op->body.len, "Message",
	                           message, sizeof(message));
	op_fail(op, status == 404 && op->step == STEP_GET, "%s: HTTP %ld%s%s%s%s", what, status,
	        *code ? ": " : "", code, *message ? ": " : "", message);
}

static void s3_start_put(struct kwg_storage_op *op);
static int s3_next_page(struct kwg_storage_op *op);

static void s3_step_failed(struct kwg_storage_op *op, int r)
{
	op_fail(op, false, "cannot start the request: %s", strerror(-r));
}

static void on_marker_checked(struct kwg_storage_op *op, long status)
{
	int r;

	if (status == 200) {
		s3_start_put(op);
		return;
	}
	if (status != 404)
		return http_error(op, status, "checking the directory marker");
	op->marker_i = 0;
	r = s3_request(op, STEP_PUT_MARKER, "PUT", op->markers[0], NULL);
	if (r < 0)
		s3_step_failed(op, r);
}

static void on_marker_put(struct kwg_storage_op *op, long status)
{
	int r;

	if (status < 200 || status >= 300)
		return http_error(op, status, "writing a directory marker");
	if (!op->markers[++op->marker_i]) {
		s3_start_put(op);
		return;
	}
	r = s3_request(op, STEP_PUT_MARKER, "PUT", op->markers[op->marker_i], NULL);
	if (r < 0)
		s3_step_failed(op, r);
}

static void s3_start_put(struct kwg_storage_op *op)
{
	int r = s3_request(op, STEP_PUT, "PUT", op->key, NULL);

	if (r < 0)
		s3_step_failed(op, r);
}

static void on_get_done(struct kwg_storage_op *op, long status)
{
	char *tmp;

	if (status < 200 || status >= 300)
		return http_error(op, status, "download");
	if (close(op->fd) < 0) {
		op->fd = -1;
		return op_fail(op, false, "cannot write '%s': %s", op->local_path, strerror(errno));
	}
	op->fd = -1;
	if (rename(op->tmp_path, op->local_path) < 0)
		return op_fail(op, false, "cannot rename to '%s': %s", op->local_path,
		               strerror(errno));
	tmp = steal_ptr(&op->tmp_path);
	free(tmp);
	op_finish(op, NULL, false);
}

struct page {
	struct kwg_storage_op *op;
	size_t prefix_len; /* of the listed key prefix */
	struct kwg_strv uris;
};

static int on_list_key(void *userdata, const char *key)
{
	struct page *pg = userdata;
	struct kwg_storage_op *op = pg->op;
	const char *rest;
	char *uri;

	/* KESTRA: allByPrefix drops the prefix itself and the directory markers */
	if (strncmp(key, op->key, pg->prefix_len) != 0)
		return 0;
	rest = key + pg->prefix_len;
	if (!*rest || rest[strlen(rest) - 1] == '/')
		return 0;
	if (++op->n_entries > MAX_LIST_ENTRIES)
		return -E2BIG;
	if (!(uri = fmt("%s%s", op->uri_prefix, rest)))
		return -ENOMEM;
	return kwg_strv_push_take(&pg->uris, uri);
}

static void on_list_page(struct kwg_storage_op *op, long status)
{
	struct kwg_storage *s = op->s;
	struct page pg = {.op = op, .prefix_len = strlen(op->key)};
	struct kwg_err err = {{0}};
	char *token = NULL;
	int r;

	if (status != 200)
		return http_error(op, status, "listing");
	r = kwg_storage_list_parse(kwg_buf_str(&op->body), op->body.len, on_list_key, &pg, &token,
	                           &err);
	if (r < 0) {
		kwg_strv_done(&pg.uris);
		if (r == -EINVAL)
			return op_fail(op, false, "listing: bad answer: %s", err.msg);
		return op_fail(op, false, "listing: %s", strerror(-r));
	}
	free(op->token);
	op->token = token;
	/* entries; each callback may cancel the op or free the storage */
	for (size_t i = 0; i < pg.uris.n; i++) {
		struct kwg_storage_op *o;
		op->entry(op->userdata, pg.uris.v[i]);
		for (o = s->ops; o && o != op; o = o->next)
			;
		if (!o || s->freeing) {
			kwg_strv_done(&pg.uris);
			return;
		}
	}
	kwg_strv_done(&pg.uris);
	if (!op->token)
		return op_finish(op, NULL, false);
	if (++op->pages >= MAX_LIST_PAGES)
		return op_fail(op, false, "listing: more than %d pages", MAX_LIST_PAGES);
	r = s3_next_page(op);
	if (r < 0)
		s3_step_failed(op, r);
}

/* Requests the next page of a listing. 0 or a negative errno (done not called). */
static int s3_next_page(struct kwg_storage_op *op)
{
	struct kwg_buf q;
	int r = 0;

	/* sorted by name: continuation-token < list-type < prefix */
	kwg_buf_init(&q, 16384);
	if (op->token) {
		r = kwg_buf_puts(&q, "continuation-token=");
		if (r == 0)
			r = uri_encode(&q, op->token, false);
		if (r == 0)
			r = kwg_buf_putc(&q, '&');
	}
	if (r == 0)
		r = kwg_buf_puts(&q, "list-type=2&prefix=");
	if (r == 0)
		r = uri_encode(&q, op->key, false);
	if (r == 0)
		r = s3_request(op, STEP_LIST, "GET", NULL, kwg_buf_str(&q));
	kwg_buf_done(&q);
	return r;
}

static void on_s3_done(void *userdata, CURL *easy, CURLcode result)
{
	struct kwg_storage_op *op = NULL;
	long status;

	(void)userdata;
	(void)curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&op);
	if (result != CURLE_OK)
		return op_fail(op, false, "%s (%s)",
		               *op->curl_error ? op->curl_error : curl_easy_strerror(result),
		               strerror(-kwg_curl_uv_errno(result)));
	status = response_status(op);
	switch (op->step) {
	case STEP_HEAD_MARKER:
		return on_marker_checked(op, status);
	case STEP_PUT_MARKER:
		return on_marker_put(op, status);
	case STEP_PUT:
		if (status < 200 || status >= 300)
			return http_error(op, status, "upload");
		return op_finish(op, NULL, false);
	case STEP_GET:
		return on_get_done(op, status);
	case STEP_LIST:
		return on_list_page(op, status);
	case STEP_NONE:
		break;
	}
	op_fail(op, false, "internal error: no step");
}

/* ---- the API ---- */

static void on_local_timer_closed(uv_handle_t *h)
{
	struct kwg_storage *s = container_of((uv_timer_t *)h, struct kwg_storage, local_timer);

	if (--s->closing == 0)
		free(s);
}

static void on_cu_closed(void *userdata)
{
	struct kwg_storage *s = userdata;

	if (--s->closing == 0)
		free(s);
}

void kwg_storage_free(struct kwg_storage *s)
{
	if (!s || s->freeing)
		return;
	s->freeing = true;
	while (s->ops)
		op_free(s->ops);
	free(s->base_path);
	free(s->base_url);
	free(s->sigv4);
	free(s->userpwd);
	s->closing = 1 + (s->cu != NULL);
	uv_close((uv_handle_t *)&s->local_timer, on_local_timer_closed);
	/* s lives until both are closed: a dispatch loop above us may still read it */
	kwg_curl_uv_free(s->cu);
}

static int check_config(const struct kwg_storage_config *cfg, struct kwg_err *err)
{
	if (!cfg->type)
		return kwg_err_set(err, -EINVAL, "storage type: missing (local, s3 or minio)");
	if (strcmp(cfg->type, "local") == 0) {
		if (!cfg->base_path || cfg->base_path[0] != '/')
			return kwg_err_set(err, -EINVAL,
			                   "storage base_path: an absolute path is needed");
		return 0;
	}
	if (strcmp(cfg->type, "s3") != 0 && strcmp(cfg->type, "minio") != 0)
		return kwg_err_set(err, -EINVAL, "storage type '%.64s': local, s3 or minio",
		                   cfg->type);
	if (!cfg->bucket || !*cfg->bucket || strpbrk(cfg->bucket, "/?#% "))
		return kwg_err_set(err, -EINVAL, "storage bucket: missing or not a bucket name");
	if (!cfg->access_key || !*cfg->access_key || !cfg->secret_key || !*cfg->secret_key)
		return kwg_err_set(err, -EINVAL,
		                   "storage access_key and secret_key: both are needed");
	if (strchr(cfg->access_key, ':'))
		return kwg_err_set(err, -EINVAL, "storage access_key: ':' is not allowed");
	if (cfg->endpoint && strncmp(cfg->endpoint, "http://", 7) != 0 &&
	    strncmp(cfg->endpoint, "https://", 8) != 0)
		return kwg_err_set(err, -EINVAL, "storage endpoint '%.200s': http:// or https://",
		                   cfg->endpoint);
	if (cfg->region && strpbrk(cfg->region, ":/ "))
		return kwg_err_set(err, -EINVAL, "storage region '%.64s': not a region name",
		                   cfg->region);
	return 0;
}

int kwg_storage_new(uv_loop_t *loop, const struct kwg_storage_config *cfg, struct kwg_storage **ret,
                    struct kwg_err *err)
{
	static const struct kwg_curl_uv_ops ops = {.on_done = on_s3_done,
	                                           .on_closed = on_cu_closed};
	struct kwg_storage *s;
	int r = check_config(cfg, err);

	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	uv_timer_init(loop, &s->local_timer);
	if (strcmp(cfg->type, "local") == 0) {
		s->is_local = true;
		s->layout = KWG_STORAGE_LOCAL;
		s->base_path = strdup(cfg->base_path);
		/* "/a/b/" and "/a/b" are one base */
		if (s->base_path)
			for (size_t n = strlen(s->base_path); n > 1 && s->base_path[n - 1] == '/';
			     n--)
				s->base_path[n - 1] = '\0';
		r = s->base_path ? 0 : -ENOMEM;
	} else {
		const char *region = cfg->region ? cfg->region : "us-east-1";
		size_t n = cfg->endpoint ? strlen(cfg->endpoint) : 0;
		s->layout = strcmp(cfg->type, "minio") == 0 ? KWG_STORAGE_MINIO : KWG_STORAGE_S3;
		while (n > 0 && cfg->endpoint[n - 1] == '/')
			n--;
		if (cfg->endpoint && (cfg->path_style || s->layout == KWG_STORAGE_MINIO))
			s->base_url = fmt("%.*s/%s", (int)n, cfg->endpoint, cfg->bucket);
		else if (cfg->endpoint) /* virtual-host style on a custom endpoint */
			s->base_url =
			    fmt("%.*s://%s.%.*s", (int)strcspn(cfg->endpoint, ":"), cfg->endpoint,
			        cfg->bucket,
			        (int)(n - (strstr(cfg->endpoint, "://") + 3 - cfg->endpoint)),
			        strstr(cfg->endpoint, "://") + 3);
		else if (cfg->path_style) /* AWS, path style (bucket names with dots) */
			s->base_url = fmt("https://s3.%s.amazonaws.com/%s", region, cfg->bucket);
		else
			s->base_url = fmt("https://%s.s3.%s.amazonaws.com", cfg->bucket, region);
		s->sigv4 = fmt("aws:amz:%s:s3", region);
		s->userpwd = fmt("%s:%s", cfg->access_key, cfg->secret_key);
		r = !s->base_url || !s->sigv4 || !s->userpwd
		        ? -ENOMEM
		        : kwg_curl_uv_new(loop, &ops, s, &s->cu);
		if (r == -ENOENT)
			(void)kwg_err_set(err, r, "%s", kwg_lazy_curl.error);
	}
	if (r < 0) {
		kwg_storage_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

/* Validates the URI and fills op->key and *ret_path (borrowed from uri). 0; 1 when the URI is
 * refused (the op then reports it on the next loop iteration, as every error); -ENOMEM. */
static int op_set_key(struct kwg_storage_op *op, const char *tenant, const char *uri,
                      const char **ret_path)
{
	struct kwg_err err = {{0}};

	/* SECURITY: the tenant is a path segment under basePath and a key prefix */
	if (tenant && (strspn(tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                              "0123456789_-") != strlen(tenant) ||
	               strlen(tenant) > 256))
		(void)kwg_err_set(&err, -EINVAL, "%.300s: tenant '%.64s' is not a tenant id", uri,
		                  tenant);
	else if (kwg_storage_uri_path(uri, ret_path, &err) == 0)
		err.msg[0] = '\0';
	if (err.msg[0]) {
		op->error = strdup(err.msg);
		if (!op->error)
			return -ENOMEM;
		op->ready = true;
		arm_local(op->s);
		return 1;
	}
	op->key = kwg_storage_key(op->s->layout, tenant, *ret_path);
	return op->key ? 0 : -ENOMEM;
}

/* A new op whose URI is checked and key set: NULL on OOM; *ret_refused when the URI was refused
 * (the op reports it on the next loop iteration: return it as it is). */
static struct kwg_storage_op *op_start(struct kwg_storage *s, enum op_kind kind, const char *tenant,
                                       const char *uri, const char *local_path,
                                       kwg_storage_done_fn *done, void *userdata,
                                       const char **ret_path, bool *ret_refused)
{
	struct kwg_storage_op *op = op_new(s, kind, uri, local_path, done, userdata);
	int r;

	if (!op)
		return NULL;
	r = op_set_key(op, tenant, uri, ret_path);
	if (r < 0) {
		op_free(op);
		return NULL;
	}
	*ret_refused = r > 0;
	return op;
}

struct kwg_storage_op *kwg_storage_put(struct kwg_storage *s, const char *tenant, const char *uri,
                                       const char *local_path, kwg_storage_done_fn *done,
                                       void *userdata)
{
	const char *path;
	bool refused;
	struct kwg_storage_op *op =
	    op_start(s, OP_PUT, tenant, uri, local_path, done, userdata, &path, &refused);
	struct stat st;
	size_t n = 0;
	int r;

	if (!op || refused)
		return op;
	if (s->is_local) {
		local_put(op);
		return op;
	}
	op->fd = open(local_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (op->fd < 0 || fstat(op->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		local_ready(op, false, "cannot read '%s': %s", local_path,
		            op->fd < 0 ? strerror(errno) : "not a regular file");
		return op;
	}
	op->markers = kwg_storage_marker_keys(s->layout, tenant, path);
	if (!op->markers) {
		op_free(op);
		return NULL;
	}
	/* KESTRA: S3Storage.mkdirs: the parent's marker is checked; if it is missing, every
	 * prefix's marker is written (a key at the top level has none) */
	while (op->markers[n])
		n++;
	if (n == 0)
		r = s3_request(op, STEP_PUT, "PUT", op->key, NULL);
	else
		r = s3_request(op, STEP_HEAD_MARKER, "HEAD", op->markers[n - 1], NULL);
	if (r < 0) {
		op_free(op);
		return NULL;
	}
	return op;
}

struct kwg_storage_op *kwg_storage_get(struct kwg_storage *s, const char *tenant, const char *uri,
                                       const char *local_path, kwg_storage_done_fn *done,
                                       void *userdata)
{
	const char *path;
	bool refused;
	struct kwg_storage_op *op =
	    op_start(s, OP_GET, tenant, uri, local_path, done, userdata, &path, &refused);
	int r;

	if (!op || refused)
		return op;
	if (s->is_local) {
		local_get(op);
		return op;
	}
	op->tmp_path = fmt("%s.kwgXXXXXX", local_path);
	if (!op->tmp_path) {
		op_free(op);
		return NULL;
	}
	op->fd = mkostemp(op->tmp_path, O_CLOEXEC);
	if (op->fd < 0) {
		local_ready(op, false, "cannot create '%s': %s", op->tmp_path, strerror(errno));
		free(steal_ptr(&op->tmp_path));
		return op;
	}
	r = s3_request(op, STEP_GET, "GET", op->key, NULL);
	if (r < 0) {
		op_free(op);
		return NULL;
	}
	return op;
}

struct kwg_storage_op *kwg_storage_list(struct kwg_storage *s, const char *tenant,
                                        const char *uri_prefix, kwg_storage_entry_fn *entry,
                                        kwg_storage_done_fn *done, void *userdata)
{
	const char *path;
	bool slash, refused;
	struct kwg_storage_op *op =
	    op_start(s, OP_LIST, tenant, uri_prefix, NULL, done, userdata, &path, &refused);

	if (!op)
		return NULL;
	op->entry = entry;
	if (refused)
		return op;
	/* The prefix is a directory on every backend: "kestra:///a/b" lists "a/b/…", never
	 * "a/bc" (S3 prefixes are plain strings; the local walk is by directory). */
	slash = uri_prefix[strlen(uri_prefix) - 1] == '/';
	op->uri_prefix = fmt("%s%s", uri_prefix, slash ? "" : "/");
	if (!op->uri_prefix) {
		op_free(op);
		return NULL;
	}
	if (!slash && !s->is_local) {
		char *key = fmt("%s/", op->key);
		if (!key) {
			op_free(op);
			return NULL;
		}
		free(op->key);
		op->key = key;
	}
	if (s->is_local) {
		local_list(op);
		return op;
	}
	if (s3_next_page(op) < 0) {
		op_free(op);
		return NULL;
	}
	return op;
}
