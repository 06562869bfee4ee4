/* SPDX-License-Identifier: Apache-2.0 */
/* The Docker runner's warm pool: containers created and started ahead, held at a gate until a
 * task takes one (docs/runners.md). */
#define KWG_LOG_MODULE "docker"
#include "runner/docker.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

/* ---- the warm pool ---- */

void kwg_docker_on_pool_removed(void *userdata, long status, const char *body, size_t len,
                                const char *error)
{
	struct kwg_docker_pool *p = userdata;
	char msg[512];

	(void)len;
	p->removing--;
	if (status != 204 && status != 404)
		kwg_log_warning("warm pool: cannot remove a container: %s",
		                kwg_docker_why(status, body, error, msg, sizeof(msg)));
}

static const char *const gate_files[] = {"go", "spec", "spec.new", "status"};

/* The gate directory and its files (the spec holds the task's environment). */
void kwg_docker_gate_remove(const char *gate)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(gate_files); i++) {
		(void)snprintf(path, sizeof(path), "%s/%s", gate, gate_files[i]);
		(void)unlink(path);
	}
	(void)rmdir(gate);
}

/* Whether a task may take a pooled container: what its container is created with beyond the
 * image and host config must be the pooled one's (no entrypoint, user, MOUNT bind, resume), and
 * what happens around the container must need no more than the pool does (wait, delete, no
 * pull of ALWAYS). */
bool kwg_docker_pool_fits(const struct kwg_docker_task_spec *spec)
{
	const struct kwg_docker_opts *o = spec->opts;

	return !o->mount_files && !o->entrypoint_set && !o->user && o->wait &&
	       o->delete_container && o->pull_policy != KWG_PULL_ALWAYS;
}

/* What creation fixes, as one string: equal strings, interchangeable containers. New. */
static char *pool_key_of(const struct kwg_docker_task_spec *spec)
{
	json_t *k = json_object();
	char *text;

	json_object_set_new(k, "Image", json_string(spec->opts->image));
	json_object_set_new(k, "Resume", json_boolean(spec->opts->resume));
	json_object_set_new(k, "HostConfig", kwg_docker_host_config(spec));
	text = json_dumps(k, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(k);
	return text;
}

static struct pool_key *pool_find_key(struct kwg_docker_pool *p, const char *key)
{
	for (size_t i = 0; i < p->n_keys; i++)
		if (strcmp(p->keys[i].key, key) == 0)
			return &p->keys[i];
	return NULL;
}

static void pool_unlink(struct kwg_docker_pool *p, struct kwg_docker_task *t)
{
	for (struct kwg_docker_task **pp = &p->entries; *pp; pp = &(*pp)->pool_next)
		if (*pp == t) {
			*pp = t->pool_next;
			t->pool_next = NULL;
			return;
		}
}

static bool pool_on_output(void *userdata, enum kwg_stream stream, const char *data, size_t len)
{
	(void)userdata;
	(void)stream;
	(void)data;
	(void)len;
	return true;
}

static void pool_on_log(void *userdata, enum kwg_level level, const char *msg)
{
	(void)userdata;
	(void)level;
	(void)msg;
}

/* A container that was being made ready, or waited, has ended (it is removed). */
static void pool_on_exit(void *userdata, int exit_code, const char *error)
{
	struct kwg_docker_task *t = userdata;
	struct kwg_docker_pool *p = t->pool;
	struct pool_key *k = pool_find_key(p, t->pool_key);

	(void)exit_code;
	pool_unlink(p, t);
	if (!p->draining && k && !k->failed) {
		k->failed = true;
		kwg_log_warning("warm pool: a container of image '%.200s' could not be held ready "
		                "(%s); tasks of its kind start cold until one asks again",
		                t->image, error ? error : "it ended");
	}
	kwg_docker_task_close(t);
}

/* Makes a gate: the directory, its FIFO (held open for reading and writing: never blocks, and
 * closes when kwg does), the status file any container user may write. */
static int gate_make(struct kwg_docker_task *t)
{
	char path[PATH_MAX];
	int fd;

	if (mkdir(t->gate, 0711) < 0)
		return -errno;
	(void)snprintf(path, sizeof(path), "%s/go", t->gate);
	if (mkfifo(path, 0644) < 0 || chmod(path, 0644) < 0)
		return -errno;
	t->gate_fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (t->gate_fd < 0)
		return -errno;
	(void)snprintf(path, sizeof(path), "%s/status", t->gate);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, 0666) < 0) {
		(void)close(fd);
		return -errno;
	}
	(void)close(fd);
	return 0;
}

/* One more container for an option set: create, attach, start; pool_on_exit if it fails. */
static void pool_add(struct kwg_docker_pool *p, const struct pool_key *k)
{
	struct kwg_docker_task *t = calloc(1, sizeof(*t));
	json_t *body = json_loads(k->create, 0, NULL);
	json_t *binds = json_object_get(json_object_get(body, "HostConfig"), "Binds");
	char *bind = NULL;
	int r = -ENOMEM;

	if (!t || !json_is_array(binds))
		goto fail;
	t->gate_fd = -1;
	t->d = p->d;
	t->pool = p;
	t->pool_state = POOL_FILLING;
	t->cbs = (struct kwg_docker_task_cbs){pool_on_output, pool_on_log, pool_on_exit};
	t->userdata = t;
	t->wait = t->delete_container = true;
	kwg_buf_init(&t->frames, 64u << 20);
	t->image = strdup(json_string_value(json_object_get(body, "Image")));
	t->pool_key = strdup(k->key);
	t->argv_text = strdup("");
	t->working_dir = strdup("/");
	t->task_run_id = strdup("");
	if (asprintf(&t->gate, "%s/%u", p->dir, ++p->seq) < 0)
		t->gate = NULL;
	if (!t->image || !t->pool_key || !t->argv_text || !t->working_dir || !t->task_run_id ||
	    !t->gate)
		goto fail;
	r = gate_make(t);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	if (asprintf(&bind, "%s:" HOLD_BIN ":ro", p->holder) < 0)
		goto fail;
	json_array_append_new(binds, json_string(bind));
	free(bind);
	if (asprintf(&bind, "%s:" HOLD_GATE ":rw", t->gate) < 0)
		goto fail;
	json_array_append_new(binds, json_string(bind));
	free(bind);
	t->create_body = json_dumps(body, JSON_COMPACT);
	if (!t->create_body)
		goto fail;
	json_decref(body);
	t->pool_next = p->entries;
	p->entries = t;
	kwg_docker_step_create(t);
	return;
fail:
	kwg_log_errno(KWG_LOG_WARNING, r, "warm pool: cannot prepare a container");
	json_decref(body);
	kwg_docker_task_close(t);
}

/* Tops an option set up towards the pool's size, one container at a time in the whole pool:
 * a start competes with the tasks' own containers for the daemon (a burst of starts slowed
 * every task down), so the next one is made once this one is ready (kwg_docker_pool_fill_next). */
static void pool_fill(struct kwg_docker_pool *p, struct pool_key *k)
{
	unsigned have = 0;

	if (p->draining || k->failed)
		return;
	for (struct kwg_docker_task *t = p->entries; t; t = t->pool_next) {
		if (t->pool_state == POOL_FILLING)
			return;
		have += strcmp(t->pool_key, k->key) == 0;
	}
	if (have < p->size)
		pool_add(p, k);
}

/* The next container wanted, of the option set asked for most recently. */
void kwg_docker_pool_fill_next(struct kwg_docker_pool *p)
{
	struct pool_key *best = NULL;

	for (size_t i = 0; i < p->n_keys; i++) {
		unsigned have = 0;
		if (p->keys[i].failed)
			continue;
		for (struct kwg_docker_task *t = p->entries; t; t = t->pool_next)
			have += strcmp(t->pool_key, p->keys[i].key) == 0;
		if (have < p->size && (!best || p->keys[i].used_ms > best->used_ms))
			best = &p->keys[i];
	}
	if (best)
		pool_fill(p, best);
}

/* Registers an option set as asked for now (its containers' create body). */
static struct pool_key *pool_want(struct kwg_docker_pool *p, const char *key,
                                  const struct kwg_docker_task_spec *spec)
{
	struct pool_key *k = pool_find_key(p, key), *keys;
	json_t *body, *labels;

	if (k) {
		k->used_ms = uv_now(p->loop);
		return k;
	}
	keys = realloc(p->keys, (p->n_keys + 1) * sizeof(*keys));
	if (!keys)
		return NULL;
	p->keys = keys;
	k = &keys[p->n_keys];
	*k = (struct pool_key){strdup(key), NULL, uv_now(p->loop), false};
	body = json_object();
	labels = json_object();
	json_object_set_new(labels, "kwg.worker", json_string(p->worker_id));
	/* What the orphan sweep reads: a task asking for resume keeps its container running. */
	json_object_set_new(labels, "kwg.resume",
	                    json_string(spec->opts->resume ? "true" : "false"));
	json_object_set_new(labels, "kwg.pool", json_string("true"));
	json_object_set_new(body, "Image", json_string(spec->opts->image));
	json_object_set_new(
	    body, "Entrypoint",
	    kwg_docker_strv_json((const char *[]){HOLD_BIN, "--hold", HOLD_GATE, NULL}));
	json_object_set_new(body, "Cmd", json_array());
	json_object_set_new(body, "Labels", labels);
	json_object_set_new(body, "AttachStdout", json_true());
	json_object_set_new(body, "AttachStderr", json_true());
	json_object_set_new(body, "Tty", json_false());
	json_object_set_new(body, "HostConfig", kwg_docker_host_config(spec));
	k->create = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!k->key || !k->create) {
		free(k->key);
		free(k->create);
		return NULL;
	}
	p->n_keys++;
	return k;
}

/* The spec the holder reads (sandbox/hold.h): working directory, argc, argv, env. */
static int gate_write_spec(const struct kwg_docker_task *t, const struct kwg_docker_task_spec *s)
{
	char path[PATH_MAX], final[PATH_MAX], count[24];
	struct kwg_buf b;
	size_t argc = 0;
	int fd, r = 0;

	while (s->argv[argc])
		argc++;
	(void)snprintf(count, sizeof(count), "%zu", argc);
	kwg_buf_init(&b, KWG_HOLD_SPEC_MAX_BYTES);
	if (kwg_buf_append(&b, s->working_dir, strlen(s->working_dir) + 1) < 0 ||
	    kwg_buf_append(&b, count, strlen(count) + 1) < 0)
		r = -EMSGSIZE;
	for (size_t i = 0; r == 0 && s->argv[i]; i++)
		r = kwg_buf_append(&b, s->argv[i], strlen(s->argv[i]) + 1);
	for (size_t i = 0; r == 0 && s->env && s->env[i]; i++)
		r = kwg_buf_append(&b, s->env[i], strlen(s->env[i]) + 1);
	if (r < 0) {
		kwg_buf_done(&b);
		return r;
	}
	(void)snprintf(path, sizeof(path), "%s/spec.new", t->gate);
	(void)snprintf(final, sizeof(final), "%s/spec", t->gate);
	/* Any container user reads it; the gate is the container's alone. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		kwg_buf_done(&b);
		return -errno;
	}
	for (size_t off = 0; off < b.len && r == 0;) {
		ssize_t n = write(fd, b.data + off, b.len - off);
		if (n < 0 && errno != EINTR)
			r = -errno;
		else if (n > 0)
			off += (size_t)n;
	}
	if (r == 0 && (fchmod(fd, 0644) < 0 || close(fd) < 0))
		r = -errno;
	else if (r < 0)
		(void)close(fd);
	if (r == 0 && rename(path, final) < 0)
		r = -errno;
	kwg_buf_done(&b);
	return r;
}

/* A ready container for the task, which takes over t's callbacks and strings (t is closed), or
 * NULL: the task starts cold (and its option set is filled for the next ones). */
struct kwg_docker_task *kwg_docker_pool_take(struct kwg_docker_pool *p,
                                             const struct kwg_docker_task_spec *spec,
                                             struct kwg_docker_task *t)
{
	cleanup_free char *key = NULL;
	struct kwg_docker_task *e = NULL;
	struct pool_key *k;
	int r;

	if (p->draining || p->size == 0)
		return NULL;
	key = pool_key_of(spec);
	k = key ? pool_want(p, key, spec) : NULL;
	if (!k)
		return NULL;
	k->failed = false;
	for (e = p->entries; e; e = e->pool_next)
		if (e->pool_state == POOL_READY && strcmp(e->pool_key, key) == 0)
			break;
	if (!e) {
		kwg_log_debug("warm pool: task run %.100s starts cold (option set %08x)",
		              t->task_run_id, kwg_docker_key_tag(key));
		pool_fill(p, k);
		return NULL;
	}
	pool_unlink(p, e);
	r = gate_write_spec(e, spec);
	if (r < 0) {
		kwg_log_errno(KWG_LOG_WARNING, r, "warm pool: cannot write a task's spec");
		kwg_docker_task_close(e);
		pool_fill(p, k);
		return NULL;
	}
	kwg_log_debug("warm pool: task run %.100s takes container %.12s (option set %08x)",
	              t->task_run_id, e->id, kwg_docker_key_tag(key));
	e->pool_state = POOL_TAKEN;
	e->cbs = t->cbs;
	e->userdata = t->userdata;
	e->files_back = t->files_back;
	e->kill_grace_ms = t->kill_grace_ms;
	e->attempt = t->attempt;
	e->find_by_name = t->find_by_name;
	e->resume = t->resume;
	free(e->argv_text);
	free(e->working_dir);
	free(e->task_run_id);
	e->argv_text = steal_ptr(&t->argv_text);
	e->working_dir = steal_ptr(&t->working_dir);
	e->task_run_id = steal_ptr(&t->task_run_id);
	kwg_docker_task_close(t);
	pool_fill(p, k);
	return e;
}

/* The task goes its own way (it re-attaches to its earlier container): the held one goes. */
void kwg_docker_pool_release(struct kwg_docker_task *t)
{
	char path[160];

	kwg_docker_cancel(steal_ptr(&t->logs));
	(void)snprintf(path, sizeof(path), "/containers/%s?force=1&v=1", t->id);
	if (kwg_docker_request(t->d, "DELETE", path, NULL, NULL, kwg_docker_on_pool_removed,
	                       t->pool))
		t->pool->removing++;
	*t->id = '\0';
	if (t->gate_fd >= 0)
		(void)close(steal_fd(&t->gate_fd));
	kwg_docker_gate_remove(t->gate);
	t->pool_state = POOL_NONE;
	t->pool = NULL;
	kwg_buf_clear(&t->frames);
}

static void pool_discard_if(struct kwg_docker_pool *p, const char *key)
{
	struct kwg_docker_task **pp = &p->entries;

	while (*pp) {
		struct kwg_docker_task *t = *pp;
		if (key && strcmp(t->pool_key, key) != 0) {
			pp = &t->pool_next;
			continue;
		}
		*pp = t->pool_next;
		kwg_docker_task_close(t);
	}
}

static void on_pool_tick(uv_timer_t *timer)
{
	struct kwg_docker_pool *p = timer->data;
	uint64_t now = uv_now(p->loop);

	for (size_t i = 0; i < p->n_keys;) {
		struct pool_key *k = &p->keys[i];
		if (now - k->used_ms < p->idle_ms) {
			pool_fill(p, k);
			i++;
			continue;
		}
		kwg_log_debug("warm pool: an option set of image unused for %llu ms: its "
		              "containers removed",
		              (unsigned long long)p->idle_ms);
		pool_discard_if(p, k->key);
		free(k->key);
		free(k->create);
		p->keys[i] = p->keys[--p->n_keys];
	}
}

/* kwg-exec must run in any image: a static executable has no PT_INTERP. */
static int holder_is_static(const char *path)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	unsigned char h[64], ph[56];

	if (fd < 0)
		return -errno;
	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) || memcmp(h, "\177ELF", 4) != 0 ||
	    h[4] != 2)
		return -ENOEXEC;
	uint64_t phoff = 0;
	uint16_t phentsize, phnum;
	memcpy(&phoff, h + 32, 8);
	memcpy(&phentsize, h + 54, 2);
	memcpy(&phnum, h + 56, 2);
	for (uint16_t i = 0; i < phnum; i++) {
		uint32_t type;
		if (phentsize < 4 ||
		    pread(fd, ph, sizeof(ph), (off_t)(phoff + (uint64_t)i * phentsize)) < 4)
			return -ENOEXEC;
		memcpy(&type, ph, 4);
		if (type == 3) /* PT_INTERP */
			return -ENOEXEC;
	}
	return 0;
}

int kwg_docker_pool_new(struct kwg_docker *d, const struct kwg_docker_pool_config *cfg,
                        struct kwg_docker_pool **ret)
{
	struct kwg_docker_pool *p;
	int r = holder_is_static(cfg->holder);

	if (r < 0)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->d = d;
	p->loop = cfg->loop;
	p->size = cfg->size;
	p->idle_ms = cfg->idle_ms ? cfg->idle_ms : 1;
	p->holder = strdup(cfg->holder);
	p->worker_id = strdup(cfg->worker_id);
	if (asprintf(&p->dir, "%s/docker-pool.%s", cfg->dir, cfg->worker_id) < 0)
		p->dir = NULL;
	if (!p->holder || !p->worker_id || !p->dir) {
		r = -ENOMEM;
	} else if (mkdir(p->dir, 0700) < 0 && errno != EEXIST) {
		r = -errno;
	}
	if (r < 0) {
		free(p->holder);
		free(p->worker_id);
		free(p->dir);
		free(p);
		return r;
	}
	uv_timer_init(p->loop, &p->timer);
	p->timer.data = p;
	uv_timer_start(&p->timer, on_pool_tick, 1000, 1000);
	*ret = p;
	return 0;
}

void kwg_docker_pool_drain(struct kwg_docker_pool *p)
{
	if (!p || p->draining)
		return;
	p->draining = true;
	uv_timer_stop(&p->timer);
	pool_discard_if(p, NULL);
}

bool kwg_docker_pool_idle(const struct kwg_docker_pool *p)
{
	return !p || (!p->entries && p->removing == 0);
}

unsigned kwg_docker_pool_ready(const struct kwg_docker_pool *p)
{
	unsigned n = 0;

	for (const struct kwg_docker_task *t = p ? p->entries : NULL; t; t = t->pool_next)
		n += t->pool_state == POOL_READY;
	return n;
}

static void on_pool_closed(uv_handle_t *h)
{
	free(h->data);
}

void kwg_docker_pool_free(struct kwg_docker_pool *p)
{
	if (!p)
		return;
	p->draining = true;
	pool_discard_if(p, NULL);
	for (size_t i = 0; i < p->n_keys; i++) {
		free(p->keys[i].key);
		free(p->keys[i].create);
	}
	free(p->keys);
	(void)rmdir(p->dir);
	free(p->dir);
	free(p->holder);
	free(p->worker_id);
	uv_close((uv_handle_t *)&p->timer, on_pool_closed);
}
