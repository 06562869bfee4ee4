/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "docker"
#include "runner/docker.h"

#include <archive.h>
#include <archive_entry.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/log.h"
#include "protocol/json.h"
#include "runner/docker_internal.h"
#include "sandbox/hold.h"

/* A short tag of an option set for the log (FNV-1a). */
uint32_t kwg_docker_key_tag(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h;
}

/* "Starting command…", once: when the start answers, or for a held container when its command
 * shows it runs (first output, or its exit), so that one that cannot start says nothing, as
 * with Docker's start. */
static void log_started(struct kwg_docker_task *t)
{
	char *line = NULL;

	if (t->start_logged)
		return;
	t->start_logged = true;
	/* The whole command line: the run masks its secrets, which a cut could split. */
	if (asprintf(&line, "Starting command with container id %.12s [%s]", t->id, t->argv_text) >=
	    0) {
		t->cbs.on_log(t->userdata, KWG_LEVEL_DEBUG, line);
		free(line);
	}
}
static void step_remove(struct kwg_docker_task *t);
static void step_go(struct kwg_docker_task *t);
static void step_upload(struct kwg_docker_task *t);
static void step_earlier(struct kwg_docker_task *t);

/* The end: the container is gone (or kept, delete false); on_exit once. */
static void finish(struct kwg_docker_task *t)
{
	if (t->finished)
		return;
	t->finished = true;
	t->cbs.on_exit(t->userdata, t->error ? -1 : t->exit_code, t->error);
}

/* A step failed: say why, then remove what was made. */
static void fail(struct kwg_docker_task *t, const char *fmt, ...) KWG_PRINTF(2, 3);
static void fail(struct kwg_docker_task *t, const char *fmt, ...)
{
	va_list ap;

	if (!t->error) {
		va_start(ap, fmt);
		if (vasprintf(&t->error, fmt, ap) < 0)
			t->error = NULL;
		va_end(ap);
		if (!t->error)
			t->error = strdup("out of memory");
	}
	step_remove(t);
}

/* The daemon's answer as one line: its message, or the transport error. */
const char *kwg_docker_why(long status, const char *body, const char *error, char *buf, size_t size)
{
	if (!status) {
		(void)snprintf(buf, size, "%s", error ? error : "no answer");
		return buf;
	}
	if (!*kwg_docker_error_message(body, buf, size))
		(void)snprintf(buf, size, "HTTP %ld", status);
	return buf;
}

static void request(struct kwg_docker_task *t, const char *method, const char *path,
                    const struct kwg_docker_body *body, kwg_docker_done_fn done)
{
	t->req = kwg_docker_request(t->d, method, path, body, NULL, done, t);
	if (!t->req)
		fail(t, "out of memory");
}

/* ---- remove ---- */

static void on_removed(void *userdata, long status, const char *body, size_t len, const char *error)
{
	struct kwg_docker_task *t = userdata;
	char msg[512];

	(void)len;
	t->req = NULL;
	t->removed = true;
	if (status != 204 && status != 404)
		kwg_log_warning("cannot remove container %s: %s", t->id,
		                kwg_docker_why(status, body, error, msg, sizeof(msg)));
	finish(t);
}

static void step_remove(struct kwg_docker_task *t)
{
	char path[160];

	kwg_docker_cancel(steal_ptr(&t->logs));
	kwg_docker_cancel(steal_ptr(&t->waiter));
	kwg_docker_cancel(steal_ptr(&t->req));
	if (!*t->id || !t->delete_container || t->pool_state == POOL_TAKEN) {
		/* A pooled container is removed off the task's path, once the end is reported:
		 * kwg_docker_task_close. */
		finish(t);
		return;
	}
	(void)snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", t->id);
	t->req = kwg_docker_request(t->d, "DELETE", path, NULL, NULL, on_removed, t);
	if (!t->req)
		finish(t);
}

/* A query value, percent-encoded by libcurl (all but A-Z a-z 0-9 - . _ ~). */
static void query_escape(char *out, size_t size, const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);

	(void)snprintf(out, size, "%s", e ? e : "");
	curl_free(e);
}

/* ---- the working directory back (VOLUME) ---- */

/* Whether a relative path has a ".." component. */
static bool has_dotdot(const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return true;
		p += n;
		p += *p == '/';
	}
	return false;
}

/* Unpacks the container's archive of the working directory over the local one: its first path
 * part (the directory's own name) removed; regular files and directories only, never a path
 * that leaves the directory. The number of files, or -errno with why. */
static int unpack(const char *dir, const char *data, size_t len, char *why, size_t why_size)
{
	struct archive *in = archive_read_new(), *out = archive_write_disk_new();
	struct archive_entry *e;
	int files = 0, r = 0, h = ARCHIVE_EOF;

	if (!in || !out) {
		archive_read_free(in);
		archive_write_free(out);
		return -ENOMEM;
	}
	(void)archive_read_support_format_tar(in);
	(void)archive_write_disk_set_options(out, ARCHIVE_EXTRACT_SECURE_SYMLINKS |
	                                              ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (archive_read_open_memory(in, data, len) != ARCHIVE_OK) {
		(void)snprintf(why, why_size, "not a tar archive");
		r = -EBADMSG;
	}
	while (r == 0 &&
	       ((h = archive_read_next_header(in, &e)) == ARCHIVE_OK || h == ARCHIVE_WARN)) {
		const char *name = archive_entry_pathname(e), *rest = strchr(name, '/');
		mode_t type = archive_entry_filetype(e);
		char path[PATH_MAX];
		if (!rest || !rest[1] || (type != AE_IFREG && type != AE_IFDIR))
			continue;
		rest++;
		if (*rest == '/' || has_dotdot(rest)) {
			(void)snprintf(why, why_size,
			               "a path leaves the working directory: '%.200s'", name);
			r = -EPERM;
			break;
		}
		if (snprintf(path, sizeof(path), "%s/%s", dir, rest) >= (int)sizeof(path)) {
			(void)snprintf(why, why_size, "a path is too long: '%.200s'", name);
			r = -ENAMETOOLONG;
			break;
		}
		archive_entry_set_pathname(e, path);
		if (archive_write_header(out, e) != ARCHIVE_OK) {
			(void)snprintf(why, why_size, "%.200s", archive_error_string(out));
			r = -EIO;
			break;
		}
		if (type == AE_IFREG) {
			const void *buf;
			size_t n;
			la_int64_t off;
			while (archive_read_data_block(in, &buf, &n, &off) == ARCHIVE_OK)
				if (archive_write_data_block(out, buf, n, off) < 0) {
					(void)snprintf(why, why_size, "%.200s",
					               archive_error_string(out));
					r = -EIO;
					break;
				}
			files++;
		}
		(void)archive_write_finish_entry(out);
	}
	if (r == 0 && h != ARCHIVE_EOF) {
		/* A broken archive ends the copy: say so rather than keep half of it quietly. */
		(void)snprintf(why, why_size, "%.200s", archive_error_string(in));
		r = -EBADMSG;
	}
	archive_read_free(in);
	archive_write_free(out);
	return r < 0 ? r : files;
}

static void on_downloaded(void *userdata, long status, const char *body, size_t len,
                          const char *error)
{
	struct kwg_docker_task *t = userdata;
	char msg[512];
	int n;

	t->req = NULL;
	if (status != 200) {
		fail(t, "copying the working directory back from the container failed: %s",
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	n = unpack(t->working_dir, body, len, msg, sizeof(msg));
	if (n < 0) {
		fail(t, "copying the working directory back from the container failed: %s", msg);
		return;
	}
	(void)snprintf(msg, sizeof(msg), "%d file(s) copied back from the container", n);
	t->cbs.on_log(t->userdata, KWG_LEVEL_DEBUG, msg);
	step_remove(t);
}

/* KESTRA: with VOLUME, the working directory comes back, on zero and non-zero exits alike. */
static void step_download(struct kwg_docker_task *t)
{
	char path[PATH_MAX * 3 + 200], escaped[PATH_MAX * 3];

	if (t->mount_files || (!t->uploaded && !t->files_back)) {
		step_remove(t);
		return;
	}
	query_escape(escaped, sizeof(escaped), t->working_dir);
	(void)snprintf(path, sizeof(path), "/containers/%s/archive?path=%s", t->id, escaped);
	request(t, "GET", path, NULL, on_downloaded);
}

/* ---- after the exit: OOM? ---- */

static void on_inspected(void *userdata, long status, const char *body, size_t len,
                         const char *error)
{
	struct kwg_docker_task *t = userdata;
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;

	(void)error;
	t->req = NULL;
	if (json_is_true(json_object_get(json_object_get(j, "State"), "OOMKilled")))
		t->cbs.on_log(t->userdata, KWG_LEVEL_ERROR,
		              "the container was killed by its memory limit (OOMKilled: "
		              "taskRunner.memory.memory)");
	else if (t->exit_code == 128 + 9 && !t->stop_sent)
		t->cbs.on_log(t->userdata, KWG_LEVEL_ERROR,
		              "the container was killed from outside kwg (SIGKILL: docker kill or "
		              "stop, or the Docker daemon stopping or restarting)");
	json_decref(j);
	step_download(t);
}

static void maybe_done(struct kwg_docker_task *t)
{
	char path[160];

	if (!t->logs_done || !t->wait_done || t->error)
		return;
	(void)snprintf(path, sizeof(path), "/containers/%s/json", t->id);
	request(t, "GET", path, NULL, on_inspected);
}

/* ---- running: logs and wait ---- */

/* Docker's multiplexed stream: frames of an 8-byte header (stream, 0, 0, 0, big-endian size)
 * and the payload. */
static bool on_log_data(void *userdata, const char *data, size_t len)
{
	struct kwg_docker_task *t = userdata;
	bool more = true;

	/* A held container's command printed: it started (its start line comes first). */
	if (t->go_sent)
		log_started(t);
	if (kwg_buf_append(&t->frames, data, len) < 0) {
		/* A frame past 64 MiB: the daemon's frames are small; say so rather than lose it
		 * quietly. */
		t->cbs.on_log(t->userdata, KWG_LEVEL_WARN,
		              "container output lost: a frame larger than 64 MiB");
		kwg_buf_clear(&t->frames);
		return true;
	}
	while (t->frames.len >= 8) {
		const unsigned char *h = (const unsigned char *)t->frames.data;
		size_t size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
		if (t->frames.len < 8 + size)
			break;
		if (size > 0 && !t->cbs.on_output(t->userdata,
		                                  h[0] == 2 ? KWG_STREAM_STDERR : KWG_STREAM_STDOUT,
		                                  t->frames.data + 8, size))
			more = false;
		kwg_buf_consume(&t->frames, 8 + size);
	}
	return more;
}

static void on_logs_end(void *userdata, long status, const char *body, size_t len,
                        const char *error)
{
	struct kwg_docker_task *t = userdata;
	char msg[512];

	(void)len;
	t->logs = NULL;
	t->logs_done = true;
	if (t->pool_state == POOL_FILLING || t->pool_state == POOL_READY) {
		fail(t, "the held container ended before a task took it");
		return;
	}
	if (status != 200 && !t->stopping) {
		fail(t, "the container's log stream broke: %s",
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	maybe_done(t);
}

static void on_waited(void *userdata, long status, const char *body, size_t len, const char *error)
{
	struct kwg_docker_task *t = userdata;
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *code = json_object_get(j, "StatusCode");
	char msg[512];

	t->waiter = NULL;
	t->wait_done = true;
	if (!json_is_integer(code)) {
		json_decref(j);
		fail(t, "waiting for the container failed (is the Docker daemon restarting?): %s",
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	t->exit_code = (int)json_integer_value(code);
	json_decref(j);
	maybe_done(t);
}

static void send_stop(struct kwg_docker_task *t)
{
	char path[160];
	struct kwg_docker_req *r;

	t->stop_sent = true;
	if (t->kill_grace_ms > 0)
		(void)snprintf(path, sizeof(path), "/containers/%s/stop?t=%lld", t->id,
		               (long long)((t->kill_grace_ms + 999) / 1000));
	else
		(void)snprintf(path, sizeof(path), "/containers/%s/kill", t->id);
	/* The wait request ends when the container does; this answer is not needed. */
	r = kwg_docker_request(t->d, "POST", path, NULL, NULL, kwg_docker_ignore_answer, NULL);
	(void)r;
}

/* The container runs: wait for its exit (the output comes through the attach or the logs). */
static void open_wait(struct kwg_docker_task *t)
{
	char path[200];

	t->started = true;
	(void)snprintf(path, sizeof(path), "/containers/%s/wait", t->id);
	t->waiter = kwg_docker_request(t->d, "POST", path, NULL, NULL, on_waited, t);
	if (!t->waiter) {
		fail(t, "out of memory");
		return;
	}
	if (t->stopping)
		send_stop(t);
}

/* ---- a pooled container: the go ---- */

/* The holder could not run the command: what it wrote to its gate's status ("STAGE ERRNO"),
 * as Docker says it when the start fails; NULL when it wrote nothing. */
static const char *hold_failure(const struct kwg_docker_task *t, char *buf, size_t size)
{
	char path[PATH_MAX], line[64] = "", stage[16];
	struct stat st;
	int fd, err;
	ssize_t n;

	(void)snprintf(path, sizeof(path), "%s/status", t->gate);
	/* SECURITY: the gate is writable from the container, whose task has run: the status is
	 * read only as the regular file kwg made, never through a link the task put there. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		(void)close(fd);
		return NULL;
	}
	n = read(fd, line, sizeof(line) - 1);
	(void)close(fd);
	if (n <= 0 || sscanf(line, "%15s %d", stage, &err) != 2)
		return NULL;
	if (strcmp(stage, "exec") == 0) {
		/* Docker's words: argv[0] (the command line's first word), searched in PATH unless
		 * it has a '/'. */
		int n0 = (int)strcspn(t->argv_text, " ");
		if (err == ENOENT && memchr(t->argv_text, '/', (size_t)n0))
			(void)snprintf(
			    buf, size,
			    "OCI runtime create failed: unable to start container process: "
			    "exec: \"%.*s\": stat %.*s: no such file or directory: unknown",
			    n0 > 200 ? 200 : n0, t->argv_text, n0 > 200 ? 200 : n0, t->argv_text);
		else
			(void)snprintf(
			    buf, size,
			    "OCI runtime create failed: unable to start container process: "
			    "exec: \"%.*s\": %s: unknown",
			    n0 > 200 ? 200 : n0, t->argv_text,
			    err == ENOENT ? "executable file not found in $PATH" : strerror(err));
	} else {
		(void)snprintf(buf, size, "OCI runtime create failed: %s: %s: unknown", stage,
		               strerror(err));
	}
	return buf;
}

static void on_go_waited(void *userdata, long status, const char *body, size_t len,
                         const char *error)
{
	struct kwg_docker_task *t = userdata;
	json_t *j = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	json_int_t code = json_integer_value(json_object_get(j, "StatusCode"));
	char msg[512];

	json_decref(j);
	/* The holder exits 125-127 when the command could not start, as Docker's start fails. */
	if ((code == 125 || code == 126 || code == 127) && hold_failure(t, msg, sizeof(msg))) {
		t->waiter = NULL;
		t->wait_done = true;
		fail(t, "starting the container failed: %s", msg);
		return;
	}
	log_started(t);
	on_waited(userdata, status, body, len, error);
}

/* Whether a task run id can be part of a container name (and of the name filter's regular
 * expression, as is). */
static bool named_ok(const char *id)
{
	return *id && strlen(id) <= 100 &&
	       !id[strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")];
}

/* A held container is made without the task run's labels: its name says whose it is, for a
 * resubmission of the task run to find it (step_earlier), as Docker's names allow. */
static void name_after_task(struct kwg_docker_task *t)
{
	char path[400];

	if (!named_ok(t->task_run_id))
		return;
	(void)snprintf(path, sizeof(path), "/containers/%s/rename?name=kwg-tr-%.200s-%d", t->id,
	               t->task_run_id, t->attempt);
	(void)kwg_docker_request(t->d, "POST", path, NULL, NULL, kwg_docker_ignore_answer, NULL);
}

/* The wait is registered (its headers came): open the gate. */
static void on_go_wait_open(void *userdata, long status)
{
	struct kwg_docker_task *t = userdata;
	ssize_t n;

	if (status != 200)
		return; /* on_go_waited says why */
	if (t->stopping) {
		fail(t, "stopped before the container started");
		return;
	}
	do
		n = write(t->gate_fd, "g", 1);
	while (n < 0 && errno == EINTR);
	if (n != 1) {
		fail(t, "starting the container failed: its gate is closed: %s",
		     strerror(n < 0 ? errno : EIO));
		return;
	}
	t->go_sent = true;
	name_after_task(t);
}

/* The task's files are in (or there are none): wait for the exit, then let the holder go. */
static void step_go(struct kwg_docker_task *t)
{
	char path[200];

	if (t->stopping) {
		fail(t, "stopped before the container started");
		return;
	}
	t->started = true;
	(void)snprintf(path, sizeof(path), "/containers/%s/wait", t->id);
	t->waiter = kwg_docker_request(t->d, "POST", path, NULL, NULL, on_go_waited, t);
	if (!t->waiter) {
		fail(t, "out of memory");
		return;
	}
	kwg_docker_on_open(t->waiter, on_go_wait_open);
}

/* Re-attached to a container that already ran: its output from the start, through the logs. */
static void follow(struct kwg_docker_task *t)
{
	char path[200];

	(void)snprintf(path, sizeof(path), "/containers/%s/logs?follow=1&stdout=1&stderr=1", t->id);
	t->logs = kwg_docker_request(t->d, "GET", path, NULL, on_log_data, on_logs_end, t);
	if (!t->logs) {
		fail(t, "out of memory");
		return;
	}
	open_wait(t);
}

static void on_started(void *userdata, long status, const char *body, size_t len, const char *error)
{
	struct kwg_docker_task *t = userdata;
	char msg[512];

	(void)len;
	t->req = NULL;
	if (status != 204 && status != 304) {
		fail(t, "starting the container failed: %s",
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	if (t->pool_state == POOL_FILLING) {
		t->pool_state = POOL_READY; /* the holder waits at its gate */
		kwg_log_debug(
		    "warm pool: container %.12s of image '%.200s' ready (option set %08x)", t->id,
		    t->image, kwg_docker_key_tag(t->pool_key));
		kwg_docker_pool_fill_next(t->pool);
		return;
	}
	log_started(t);
	if (!t->wait) {
		/* KESTRA: wait false starts the container and ends at once, exit code 0. */
		t->started = true;
		t->delete_container = false;
		finish(t);
		return;
	}
	open_wait(t);
}

static void step_start(struct kwg_docker_task *t)
{
	char path[160];

	if (t->stopping) {
		fail(t, "stopped before the container started");
		return;
	}
	(void)snprintf(path, sizeof(path), "/containers/%s/start", t->id);
	request(t, "POST", path, NULL, on_started);
}

/* ---- attach: the output straight from the container's stdio, before it starts (the log
 * driver's copy may lose a last partial line when a short container exits) ---- */

static void on_attached(void *userdata, long status)
{
	struct kwg_docker_task *t = userdata;

	if (status != 200 && status != 101) {
		fail(t, "attaching to the container failed (HTTP %ld)", status);
		return;
	}
	step_start(t);
}

static void step_attach(struct kwg_docker_task *t)
{
	char path[200];

	if (!t->wait) {
		step_start(t);
		return;
	}
	(void)snprintf(path, sizeof(path), "/containers/%s/attach?stream=1&stdout=1&stderr=1",
	               t->id);
	t->logs = kwg_docker_request(t->d, "POST", path, NULL, on_log_data, on_logs_end, t);
	if (!t->logs) {
		fail(t, "out of memory");
		return;
	}
	kwg_docker_on_open(t->logs, on_attached);
}

/* ---- the working directory in (VOLUME) ---- */

struct tar_walk {
	struct archive *a;
	size_t prefix; /* bytes of the working directory path without its leading '/' */
	int r;
};

static struct tar_walk *walk;

static int add_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	struct archive_entry *e;
	char buf[65536];

	(void)ftw;
	if (flag != FTW_F && flag != FTW_D)
		return 0; /* symlinks and the rest stay behind */
	e = archive_entry_new();
	archive_entry_copy_stat(e, st);
	archive_entry_set_pathname(e, path + 1);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	/* Any container user may write into the working directory, as into a fresh volume. */
	if (flag == FTW_D)
		archive_entry_set_perm(e, 0777);
	if (archive_write_header(walk->a, e) != ARCHIVE_OK) {
		walk->r = -EIO;
	} else if (flag == FTW_F) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ssize_t n;
		while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
			if (archive_write_data(walk->a, buf, (size_t)n) < 0)
				walk->r = -EIO;
		if (fd < 0)
			walk->r = -errno;
		else
			(void)close(fd);
	}
	archive_entry_free(e);
	return walk->r < 0;
}

static la_ssize_t tar_write(struct archive *a, void *userdata, const void *data, size_t len)
{
	(void)a;
	return kwg_buf_append(userdata, data, len) < 0 ? -1 : (la_ssize_t)len;
}

/* The working directory as a tar with its full path (extracted at "/", so that no directory
 * has to exist in the container first). -errno. */
static int working_dir_tar(const char *dir, struct kwg_buf *out)
{
	struct tar_walk w = {archive_write_new(), strlen(dir), 0};

	if (!w.a)
		return -ENOMEM;
	(void)archive_write_set_format_pax_restricted(w.a);
	if (archive_write_open(w.a, out, NULL, tar_write, NULL) != ARCHIVE_OK) {
		archive_write_free(w.a);
		return -EIO;
	}
	walk = &w;
	if (nftw(dir, add_entry, 16, FTW_PHYS) < 0 && w.r == 0)
		w.r = -errno;
	walk = NULL;
	if (archive_write_close(w.a) != ARCHIVE_OK && w.r == 0)
		w.r = -EIO;
	archive_write_free(w.a);
	return w.r;
}

static bool dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	while (d && empty && (e = readdir(d)))
		empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
	if (d)
		closedir(d);
	return empty;
}

static void on_uploaded(void *userdata, long status, const char *body, size_t len,
                        const char *error)
{
	struct kwg_docker_task *t = userdata;
	char msg[512];

	(void)len;
	t->req = NULL;
	if (status != 200) {
		fail(t, "copying the working directory into the container failed: %s",
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	if (t->pool_state == POOL_TAKEN) {
		step_go(t);
		return;
	}
	step_attach(t);
}

static void step_upload(struct kwg_docker_task *t)
{
	struct kwg_buf tar;
	char path[160];
	int r;

	if (t->mount_files || dir_is_empty(t->working_dir)) {
		if (t->pool_state == POOL_TAKEN)
			step_go(t);
		else
			step_attach(t);
		return;
	}
	kwg_buf_init(&tar, MAX_TAR_BYTES);
	r = working_dir_tar(t->working_dir, &tar);
	if (r < 0) {
		kwg_buf_done(&tar);
		fail(t, "cannot archive the working directory: %s", strerror(-r));
		return;
	}
	(void)snprintf(path, sizeof(path), "/containers/%s/archive?path=/", t->id);
	t->uploaded = true;
	request(t, "PUT", path,
	        &(struct kwg_docker_body){"application/x-tar", tar.data, tar.len, NULL},
	        on_uploaded);
	kwg_buf_done(&tar);
}

/* ---- create ---- */

static void on_created(void *userdata, long status, const char *body, size_t len, const char *error)
{
	struct kwg_docker_task *t = userdata;
	json_t *j = status == 201 ? json_loadb(body, len, 0, NULL) : NULL;
	const char *id = json_string_value(json_object_get(j, "Id"));
	char msg[512];

	t->req = NULL;
	if (!id) {
		json_decref(j);
		fail(t, "creating the container failed: %s",
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	(void)snprintf(t->id, sizeof(t->id), "%s", id);
	json_decref(j);
	if (t->stopping) {
		fail(t, "stopped before the container started");
		return;
	}
	if (t->pool_state == POOL_FILLING) {
		step_attach(t);
		return;
	}
	step_upload(t);
}

void kwg_docker_step_create(struct kwg_docker_task *t)
{
	request(t, "POST", "/containers/create",
	        &(struct kwg_docker_body){"application/json", t->create_body,
	                                  strlen(t->create_body), NULL},
	        on_created);
}

/* ---- image ---- */

static void on_pulled(void *userdata, long status, const char *body, size_t len, const char *error)
{
	struct kwg_docker_task *t = userdata;
	const char *e;
	char msg[512];

	(void)len;
	t->req = NULL;
	t->pulling = false;
	if (status != 200) {
		fail(t, "pulling image '%s' failed: %s", t->image,
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	/* The pull answers 200 and streams progress; a failure is a {"error": …} line in it. */
	e = strstr(body, "{\"error");
	if (!e)
		e = strstr(body, "\"errorDetail\"");
	if (e) {
		fail(t, "pulling image '%s' failed: %s", t->image,
		     kwg_docker_error_message(e, msg, sizeof(msg)));
		return;
	}
	(void)snprintf(msg, sizeof(msg), "Image pulled [%.400s]", t->image);
	t->cbs.on_log(t->userdata, KWG_LEVEL_DEBUG, msg);
	kwg_docker_step_create(t);
}

static void step_pull(struct kwg_docker_task *t)
{
	char path[2048], repo[1024], tag[256] = "latest", name[512];
	const char *slash = strrchr(t->image, '/'), *colon = strrchr(t->image, ':');

	(void)snprintf(name, sizeof(name), "%s", t->image);
	if (!strchr(t->image, '@') && colon && (!slash || colon > slash)) {
		name[colon - t->image] = '\0';
		(void)snprintf(tag, sizeof(tag), "%s", colon + 1);
	}
	query_escape(repo, sizeof(repo), name);
	(void)snprintf(path, sizeof(path), "/images/create?fromImage=%s&tag=%s", repo, tag);
	t->pulling = true;
	request(t, "POST", path, &(struct kwg_docker_body){NULL, NULL, 0, t->auth_header},
	        on_pulled);
}

static void on_image_inspected(void *userdata, long status, const char *body, size_t len,
                               const char *error)
{
	struct kwg_docker_task *t = userdata;
	char msg[512];

	(void)len;
	t->req = NULL;
	if (status == 200) {
		kwg_docker_step_create(t);
	} else if (status == 404 && t->pull_policy == KWG_PULL_NEVER) {
		fail(t, "image '%s' is not on this Docker host and pullPolicy is NEVER", t->image);
	} else if (status == 404) {
		step_pull(t);
	} else {
		fail(t, "cannot reach the Docker daemon at %s: %s", kwg_docker_socket(t->d),
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
	}
}

/* ---- a container of the same task run (a worker died, Kestra resubmitted the task) ---- */

static void step_image(struct kwg_docker_task *t)
{
	char path[1200];

	if (t->pool_state == POOL_TAKEN) {
		step_upload(t); /* the held container has its image */
		return;
	}
	if (t->pull_policy == KWG_PULL_ALWAYS) {
		step_pull(t);
	} else {
		(void)snprintf(path, sizeof(path), "/images/%s/json", t->image);
		request(t, "GET", path, NULL, on_image_inspected);
	}
}

static void on_earlier_removed(void *userdata, long status, const char *body, size_t len,
                               const char *error)
{
	struct kwg_docker_task *t = userdata;
	char msg[512];

	(void)len;
	t->req = NULL;
	if (status != 204 && status != 404) {
		fail(t, "cannot remove the earlier container of this task run: %s",
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	step_image(t);
}

static void on_earlier(void *userdata, long status, const char *body, size_t len, const char *error)
{
	struct kwg_docker_task *t = userdata;
	json_t *list = status == 200 ? json_loadb(body, len, 0, NULL) : NULL;
	json_t *c = json_array_get(list, 0);
	const char *id = json_string_value(json_object_get(c, "Id"));
	const char *state = json_string_value(json_object_get(c, "State"));
	char msg[512], path[160];

	t->req = NULL;
	if (!json_is_array(list)) {
		json_decref(list);
		fail(t, "cannot reach the Docker daemon at %s: %s", kwg_docker_socket(t->d),
		     kwg_docker_why(status, body, error, msg, sizeof(msg)));
		return;
	}
	if (!id && t->find_by_name) {
		/* None by name: one by Kestra's label (made cold, or by another worker). */
		json_decref(list);
		t->find_by_name = false;
		step_earlier(t);
		return;
	}
	if (!id) {
		json_decref(list);
		step_image(t);
		return;
	}
	if (t->resume && state && (strcmp(state, "running") == 0 || strcmp(state, "exited") == 0)) {
		/* KESTRA: resume re-attaches to the container the earlier attempt started. */
		if (t->pool_state == POOL_TAKEN)
			kwg_docker_pool_release(t);
		(void)snprintf(t->id, sizeof(t->id), "%s", id);
		(void)snprintf(msg, sizeof(msg), "Resuming the existing container %.12s (%s)",
		               t->id, state);
		json_decref(list);
		t->cbs.on_log(t->userdata, KWG_LEVEL_INFO, msg);
		follow(t);
		return;
	}
	(void)snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", id);
	json_decref(list);
	request(t, "DELETE", path, NULL, on_earlier_removed);
}

static void step_earlier(struct kwg_docker_task *t)
{
	char filter[256], escaped[512], path[700];

	if (t->find_by_name) /* a held container took the task run's name (name_after_task) */
		(void)snprintf(filter, sizeof(filter), "{\"name\":[\"^/kwg-tr-%.100s-[0-9]+$\"]}",
		               t->task_run_id);
	else
		(void)snprintf(filter, sizeof(filter), "{\"label\":[\"kestra.io/taskrun-id=%s\"]}",
		               t->task_run_id);
	query_escape(escaped, sizeof(escaped), filter);
	(void)snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", escaped);
	request(t, "GET", path, NULL, on_earlier);
}

/* ---- the create body ---- */

/* KESTRA: ScriptService.labels: values cut to 63 characters, then trailing - . _ removed. */
static void label_value(char *v, size_t size, const char *value)
{
	size_t n;

	(void)snprintf(v, size, "%s", value ? value : "");
	for (n = strlen(v); n > 0 && strchr("-._", v[n - 1]); n--)
		v[n - 1] = '\0';
}

static void set_label(json_t *labels, const char *key, const char *value)
{
	char v[64];

	label_value(v, sizeof(v), value);
	json_object_set_new(labels, key, json_string(v));
}

json_t *kwg_docker_strv_json(const char *const *v)
{
	json_t *a = json_array();

	for (; v && *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

static json_t *list_json(const struct kwg_strv *sv)
{
	return kwg_docker_strv_json((const char *const *)sv->v);
}

static void set_bytes(json_t *hc, const char *key, int64_t v)
{
	if (v != KWG_DOCKER_UNSET)
		json_object_set_new(hc, key, json_integer(v));
}

/* The container's HostConfig: binds (the working directory with MOUNT, the task's volumes),
 * network, resources. New. */
json_t *kwg_docker_host_config(const struct kwg_docker_task_spec *s)
{
	const struct kwg_docker_opts *o = s->opts;
	json_t *hc = json_object(), *binds = json_array();

	if (o->mount_files) {
		char *bind = NULL;
		if (asprintf(&bind, "%s:%s:rw", s->working_dir, s->working_dir) > 0)
			json_array_append_new(binds, json_string(bind));
		free(bind);
	}
	for (size_t i = 0; i < o->volumes.n; i++)
		json_array_append_new(binds, json_string(o->volumes.v[i]));
	json_object_set_new(hc, "Binds", binds);
	if (o->network_mode)
		json_object_set_new(hc, "NetworkMode", json_string(o->network_mode));
	if (o->extra_hosts.n)
		json_object_set_new(hc, "ExtraHosts", list_json(&o->extra_hosts));
	set_bytes(hc, "Memory", o->memory);
	set_bytes(hc, "MemorySwap", o->memory_swap);
	set_bytes(hc, "MemoryReservation", o->memory_reservation);
	set_bytes(hc, "MemorySwappiness", o->memory_swappiness);
	set_bytes(hc, "ShmSize", o->shm_size);
	if (o->oom_kill_disable >= 0)
		json_object_set_new(hc, "OomKillDisable", json_boolean(o->oom_kill_disable));
	if (o->nano_cpus)
		json_object_set_new(hc, "NanoCpus", json_integer(o->nano_cpus));
	if (o->device_requests)
		json_object_set_new(hc, "DeviceRequests", json_loads(o->device_requests, 0, NULL));
	if (o->privileged)
		json_object_set_new(hc, "Privileged", json_true());
	return hc;
}

static int create_body(const struct kwg_docker_task_spec *s, char **ret, char *err, size_t err_size)
{
	const struct kwg_docker_opts *o = s->opts;
	json_t *body, *labels;
	char attempt[16];

	if (o->volumes.n > 0 && !s->allow_volumes) {
		(void)snprintf(err, err_size,
		               "property 'taskRunner.volumes' needs host volumes enabled by the "
		               "operator (docker_volumes)");
		return -EPERM;
	}
	if (o->privileged && !s->allow_privileged) {
		(void)snprintf(
		    err, err_size,
		    "property 'taskRunner.privileged' needs privileged containers enabled "
		    "by the operator (docker_privileged)");
		return -EPERM;
	}
	body = json_object();
	labels = json_object();
	set_label(labels, "kestra.io/namespace", s->ref->namespace_);
	set_label(labels, "kestra.io/flow-id", s->ref->flow_id);
	set_label(labels, "kestra.io/task-id", s->ref->task_id);
	set_label(labels, "kestra.io/execution-id", s->ref->execution_id);
	set_label(labels, "kestra.io/taskrun-id", s->ref->task_run_id);
	(void)snprintf(attempt, sizeof(attempt), "%d", s->ref->attempt_number);
	set_label(labels, "kestra.io/taskrun-attempt", attempt);
	json_object_set_new(labels, "kwg.worker", json_string(s->worker_id));
	json_object_set_new(labels, "kwg.resume", json_string(o->resume ? "true" : "false"));
	json_object_set_new(body, "Image", json_string(o->image));
	json_object_set_new(body, "Cmd", kwg_docker_strv_json(s->argv));
	json_object_set_new(body, "Env", kwg_docker_strv_json(s->env));
	json_object_set_new(body, "WorkingDir", json_string(s->working_dir));
	json_object_set_new(body, "Labels", labels);
	json_object_set_new(body, "AttachStdout", json_true());
	json_object_set_new(body, "AttachStderr", json_true());
	json_object_set_new(body, "Tty", json_false());
	/* KESTRA: the runner's default entryPoint [""] clears the image's, so Cmd runs as is. */
	json_object_set_new(body, "Entrypoint",
	                    o->entrypoint_set ? list_json(&o->entrypoint)
	                                      : kwg_docker_strv_json((const char *[]){"", NULL}));
	if (o->user)
		json_object_set_new(body, "User", json_string(o->user));
	json_object_set_new(body, "HostConfig", kwg_docker_host_config(s));
	*ret = kwg_json_dump(body);
	json_decref(body);
	return *ret ? 0 : -ENOMEM;
}

/* X-Registry-Auth: the AuthConfig JSON in base64url. */
static char *auth_header(const char *json)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const unsigned char *s = (const unsigned char *)json;
	size_t n = strlen(json), o;
	char *out = malloc(strlen("X-Registry-Auth: ") + (n + 2) / 3 * 4 + 1);

	if (!out)
		return NULL;
	o = (size_t)sprintf(out, "X-Registry-Auth: ");
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) |
		             (i + 2 < n ? s[i + 2] : 0);
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? b64[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

int kwg_docker_task_start(struct kwg_docker *d, const struct kwg_docker_task_spec *spec,
                          const struct kwg_docker_task_cbs *cbs, void *userdata,
                          struct kwg_docker_task **ret, char *err, size_t err_size)
{
	struct kwg_docker_task *t = calloc(1, sizeof(*t));
	const struct kwg_docker_opts *o = spec->opts;
	struct kwg_buf argv;
	char sock[PATH_MAX + 8];
	int r;

	if (!t)
		return -ENOMEM;
	t->gate_fd = -1;
	t->d = d;
	t->cbs = *cbs;
	t->userdata = userdata;
	t->pull_policy = o->pull_policy;
	t->mount_files = o->mount_files;
	t->files_back = spec->files_back;
	t->delete_container = o->delete_container;
	t->wait = o->wait;
	t->kill_grace_ms = o->kill_grace_ms;
	t->resume = o->resume;
	t->attempt = spec->ref->attempt_number;
	kwg_buf_init(&t->frames, 64u << 20);
	kwg_buf_init(&argv, 1u << 20);
	for (size_t i = 0; spec->argv[i]; i++)
		(void)kwg_buf_printf(&argv, "%s%s", i ? " " : "", spec->argv[i]);
	t->argv_text = kwg_buf_steal(&argv);
	t->image = strdup(o->image);
	t->working_dir = strdup(spec->working_dir);
	t->task_run_id = strdup(spec->ref->task_run_id ? spec->ref->task_run_id : "");
	t->auth_header = o->registry_auth ? auth_header(o->registry_auth) : NULL;
	/* With a pool, a held container taken by an earlier attempt is known by its name. */
	t->find_by_name = spec->pool && t->task_run_id && named_ok(t->task_run_id);
	if (!t->argv_text || !t->image || !t->working_dir || !t->task_run_id ||
	    (o->registry_auth && !t->auth_header)) {
		kwg_docker_task_close(t);
		return -ENOMEM;
	}
	(void)snprintf(sock, sizeof(sock), "unix://%s", kwg_docker_socket(d));
	if (o->host && strcmp(o->host, sock) != 0) {
		(void)snprintf(
		    err, err_size,
		    "property 'taskRunner.host': kwg uses the worker's Docker daemon (%s), "
		    "not '%.200s'",
		    sock, o->host);
		r = -EPERM;
	} else {
		r = create_body(spec, &t->create_body, err, err_size);
	}
	if (r < 0) {
		kwg_docker_task_close(t);
		return r;
	}
	if (spec->pool && kwg_docker_pool_fits(spec)) {
		struct kwg_docker_task *e = kwg_docker_pool_take(spec->pool, spec, t);
		if (e) {
			*ret = e;
			step_earlier(e);
			return 0;
		}
	}
	*ret = t;
	step_earlier(t);
	return 0;
}

static void on_stopped_early(void *userdata, long status, const char *body, size_t len,
                             const char *error)
{
	struct kwg_docker_task *t = userdata;

	(void)status;
	(void)body;
	(void)len;
	(void)error;
	t->req = NULL;
	fail(t, "stopped while pulling image '%s', before the container started", t->image);
}

void kwg_docker_task_stop(struct kwg_docker_task *t)
{
	if (t->stopping || t->finished)
		return;
	t->stopping = true;
	if (t->pool_state == POOL_TAKEN && !t->go_sent)
		return; /* the go is not given: step_go or on_go_wait_open ends it */
	if (t->started && !t->wait_done) {
		send_stop(t);
	} else if (t->pulling) {
		/* A pull may take minutes: stop waiting for it (the daemon drops it with the
		 * connection). The end comes through a request, never inside this call. */
		kwg_docker_cancel(steal_ptr(&t->req));
		t->pulling = false;
		request(t, "GET", "/_ping", NULL, on_stopped_early);
	}
}

void kwg_docker_task_resume_output(struct kwg_docker_task *t)
{
	kwg_docker_resume(t->logs);
}

const char *kwg_docker_task_container_id(const struct kwg_docker_task *t)
{
	return t->id;
}

void kwg_docker_task_close(struct kwg_docker_task *t)
{
	if (!t)
		return;
	kwg_docker_cancel(t->req);
	kwg_docker_cancel(t->logs);
	kwg_docker_cancel(t->waiter);
	if (*t->id && !t->removed && t->delete_container) {
		char path[160];
		(void)snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", t->id);
		if (t->pool) {
			/* The pool counts it: a stop waits for its containers to be gone. */
			if (kwg_docker_request(t->d, "DELETE", path, NULL, NULL,
			                       kwg_docker_on_pool_removed, t->pool))
				t->pool->removing++;
		} else {
			(void)kwg_docker_request(t->d, "DELETE", path, NULL, NULL,
			                         kwg_docker_ignore_answer, NULL);
		}
	}
	if (t->gate_fd >= 0)
		(void)close(t->gate_fd);
	if (t->gate) {
		kwg_docker_gate_remove(t->gate);
		free(t->gate);
	}
	free(t->pool_key);
	kwg_buf_done(&t->frames);
	free(t->image);
	free(t->create_body);
	free(t->auth_header);
	free(t->working_dir);
	free(t->argv_text);
	free(t->task_run_id);
	free(t->error);
	free(t);
}
