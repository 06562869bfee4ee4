/* SPDX-License-Identifier: Apache-2.0 */
/* The objects a task's templates read from remote storage, fetched between renders (fetch.h). */
#include "storage/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"

enum obj_state { OBJ_WANTED, OBJ_FETCHING, OBJ_FETCHED, OBJ_MISSING, OBJ_TOO_BIG, OBJ_EXPIRED };

struct obj {
	struct kwg_storage_fetch *f;
	char *upath;
	enum obj_state state;
	char *data; /* OBJ_FETCHED: the bytes, NUL added */
	size_t len;
	struct kwg_storage_op *op; /* OBJ_FETCHING */
	char *tmp;                 /* OBJ_FETCHING: the temporary file */
};

/* A metadata question and, once answered, its row; or (content) a content read through the
 * source and, once answered, the bytes. */
struct meta {
	struct kwg_storage_fetch *f;
	enum kwg_meta_kind kind;
	char *ns, *name;
	enum obj_state state; /* OBJ_WANTED, OBJ_FETCHING, OBJ_FETCHED (content: all of them) */
	struct kwg_meta_row row;
	void *handle; /* OBJ_FETCHING */
	bool content;
	struct kwg_buf data; /* content: the bytes so far */
};

struct kwg_storage_fetch {
	struct kwg_meta_source meta;
	bool no_storage; /* only content is read (through meta): objects are not */
	struct meta **metas;
	size_t n_metas;
	struct obj **objs;
	size_t n;
	size_t pending; /* objects being fetched */
	char *error;    /* the first failure of this round */
	kwg_storage_fetch_done_fn *done;
	void *userdata;
};

struct kwg_storage_fetch *kwg_storage_fetch_new(const struct kwg_meta_source *meta)
{
	struct kwg_storage_fetch *f = calloc(1, sizeof(*f));

	if (f && meta && meta->lookup)
		f->meta = *meta;
	return f;
}

void kwg_storage_fetch_without_storage(struct kwg_storage_fetch *f)
{
	f->no_storage = true;
}

bool kwg_storage_fetch_has_storage(const struct kwg_storage_fetch *f)
{
	return f && !f->no_storage;
}

bool kwg_storage_fetch_has_meta(const struct kwg_storage_fetch *f)
{
	return f->meta.lookup != NULL;
}

static void obj_stop(struct obj *o)
{
	kwg_storage_cancel(o->op);
	o->op = NULL;
	if (o->tmp)
		(void)unlink(o->tmp);
	free(steal_ptr(&o->tmp));
}

void kwg_storage_fetch_free(struct kwg_storage_fetch *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++) {
		obj_stop(f->objs[i]);
		free(f->objs[i]->upath);
		free(f->objs[i]->data);
		free(f->objs[i]);
	}
	free(f->objs);
	for (size_t i = 0; i < f->n_metas; i++) {
		if (f->metas[i]->handle)
			f->meta.cancel(f->meta.ctx, f->metas[i]->handle);
		free(f->metas[i]->ns);
		free(f->metas[i]->name);
		kwg_buf_done(&f->metas[i]->data);
		free(f->metas[i]);
	}
	free(f->metas);
	free(f->error);
	free(f);
}

/* The question (kind, ns, name) of content or not: 1 and *ret when it was asked before, 0 and
 * *ret (new, wanted) when not, -E2BIG or -ENOMEM. */
static int find_meta(struct kwg_storage_fetch *f, bool content, enum kwg_meta_kind kind,
                     const char *ns, const char *name, struct meta **ret)
{
	struct meta *m, **metas;

	for (size_t i = 0; i < f->n_metas; i++) {
		m = f->metas[i];
		if (m->content != content || m->kind != kind || strcmp(m->ns, ns) != 0 ||
		    strcmp(m->name, name) != 0)
			continue;
		*ret = m;
		return 1;
	}
	if (f->n_metas >= KWG_STORAGE_FETCH_MAX_OBJECTS)
		return -E2BIG;
	metas = realloc(f->metas, (f->n_metas + 1) * sizeof(*metas));
	if (!metas)
		return -ENOMEM;
	f->metas = metas;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->ns = strdup(ns)) || !(m->name = strdup(name))) {
		if (m)
			free(m->ns);
		free(m);
		return -ENOMEM;
	}
	*m = (struct meta){f, kind, m->ns, m->name, OBJ_WANTED, {0}, NULL, content, {0}};
	kwg_buf_init(&m->data, KWG_STORAGE_FETCH_MAX_BYTES);
	f->metas[f->n_metas++] = m;
	*ret = m;
	return 0;
}

int kwg_storage_fetch_meta(struct kwg_storage_fetch *f, enum kwg_meta_kind kind, const char *ns,
                           const char *name, const struct kwg_meta_row **ret)
{
	struct meta *m;
	int r = find_meta(f, false, kind, ns, name, &m);

	if (r <= 0)
		return r < 0 ? r : -EAGAIN;
	if (m->state != OBJ_FETCHED)
		return -EAGAIN;
	*ret = &m->row;
	return 0;
}

bool kwg_storage_fetch_reads(const struct kwg_storage_fetch *f, enum kwg_meta_kind kind)
{
	return f && f->meta.read &&
	       (kind == KWG_META_KV ? f->meta.kv_content : f->meta.nsfile_content);
}

int kwg_storage_fetch_content(struct kwg_storage_fetch *f, enum kwg_meta_kind kind, const char *ns,
                              const char *name, const char **data, size_t *len)
{
	struct meta *m;
	int r = find_meta(f, true, kind, ns, name, &m);

	if (r <= 0)
		return r < 0 ? r : -EAGAIN;
	switch (m->state) {
	case OBJ_FETCHED:
		*data = kwg_buf_str(&m->data);
		*len = m->data.len;
		return 0;
	case OBJ_MISSING:
		return -ENOENT;
	case OBJ_EXPIRED:
		return -ESTALE;
	case OBJ_TOO_BIG:
		return -EMSGSIZE;
	default:
		return -EAGAIN;
	}
}

int kwg_storage_fetch_lookup(struct kwg_storage_fetch *f, const char *upath, const char **data,
                             size_t *len)
{
	struct obj *o, **objs;

	if (f->no_storage)
		return -EOPNOTSUPP;
	for (size_t i = 0; i < f->n; i++) {
		o = f->objs[i];
		if (strcmp(o->upath, upath) != 0)
			continue;
		switch (o->state) {
		case OBJ_FETCHED:
			*data = o->data;
			*len = o->len;
			return 0;
		case OBJ_MISSING:
			return -ENOENT;
		case OBJ_TOO_BIG:
			return -EMSGSIZE;
		default:
			return -EAGAIN;
		}
	}
	if (f->n >= KWG_STORAGE_FETCH_MAX_OBJECTS)
		return -E2BIG;
	objs = realloc(f->objs, (f->n + 1) * sizeof(*objs));
	if (!objs)
		return -ENOMEM;
	f->objs = objs;
	o = calloc(1, sizeof(*o));
	if (!o || !(o->upath = strdup(upath))) {
		free(o);
		return -ENOMEM;
	}
	o->f = f;
	o->state = OBJ_WANTED;
	f->objs[f->n++] = o;
	return -EAGAIN;
}

size_t kwg_storage_fetch_wanted(const struct kwg_storage_fetch *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += f->objs[i]->state == OBJ_WANTED || f->objs[i]->state == OBJ_FETCHING;
	for (size_t i = 0; i < f->n_metas; i++)
		n += f->metas[i]->state == OBJ_WANTED || f->metas[i]->state == OBJ_FETCHING;
	return n;
}

/* The downloaded file into o->data, or OBJ_TOO_BIG; -errno when it cannot be read. */
static int take_file(struct obj *o)
{
	cleanup_close int fd = open(o->tmp, O_RDONLY | O_CLOEXEC);
	struct kwg_buf b;
	int r;

	if (fd < 0)
		return -errno;
	kwg_buf_init(&b, KWG_STORAGE_FETCH_MAX_BYTES);
	r = kwg_buf_read_fd(&b, fd);
	if (r < 0) {
		kwg_buf_done(&b);
		if (r != -EMSGSIZE)
			return r;
		o->state = OBJ_TOO_BIG;
		return 0;
	}
	o->len = b.len;
	o->data = kwg_buf_steal(&b);
	if (!o->data)
		return -ENOMEM;
	o->state = OBJ_FETCHED;
	return 0;
}

/* Keeps the round's first failure. */
static void note_error(struct kwg_storage_fetch *f, const char *what, int r)
{
	if (f->error)
		return;
	if ((r ? asprintf(&f->error, "cannot read the copy of '%.200s': %s", what, strerror(-r))
	       : asprintf(&f->error, "%s", what)) < 0)
		f->error = strdup("out of memory");
}

/* One answer of the round came; the last one reports the round. */
static void round_step(struct kwg_storage_fetch *f)
{
	if (--f->pending > 0)
		return;
	/* done may free f. */
	cleanup_free char *msg = steal_ptr(&f->error);
	f->done(f->userdata, msg);
}

static void on_got(void *userdata, const char *error, bool not_found)
{
	struct obj *o = userdata;
	struct kwg_storage_fetch *f = o->f;
	int r;

	o->op = NULL;
	if (not_found) {
		o->state = OBJ_MISSING;
	} else if (error) {
		o->state = OBJ_WANTED;
		note_error(f, error, 0);
	} else if ((r = take_file(o)) < 0) {
		o->state = OBJ_WANTED;
		note_error(f, o->upath, r);
	}
	obj_stop(o);
	round_step(f);
}

static void on_meta(void *userdata, const char *error, const struct kwg_meta_row *row)
{
	struct meta *m = userdata;

	m->handle = NULL;
	if (error) {
		/* The question in the task's words: the key or the file, then why. */
		cleanup_free char *what = NULL;
		m->state = OBJ_WANTED;
		if ((m->kind == KWG_META_KV
		         ? asprintf(&what, "kv('%.100s') in '%.200s': %s", m->name, m->ns, error)
		         : asprintf(&what, "namespace file '%.200s' in '%.200s': %s", m->name,
		                    m->ns, error)) < 0)
			what = NULL;
		note_error(m->f, what ? what : error, 0);
	} else {
		m->row = *row;
		m->state = OBJ_FETCHED;
	}
	round_step(m->f);
}

static int on_chunk(void *userdata, const uint8_t *data, size_t len)
{
	struct meta *m = userdata;

	return kwg_buf_append(&m->data, data, len);
}

static void on_restart(void *userdata)
{
	struct meta *m = userdata;

	kwg_buf_clear(&m->data);
}

static void on_content(void *userdata, const char *error, int status)
{
	struct meta *m = userdata;

	m->handle = NULL;
	if (error ||
	    (status < 0 && status != -ENOENT && status != -ESTALE && status != -EMSGSIZE)) {
		cleanup_free char *what = NULL;
		kwg_buf_clear(&m->data);
		m->state = OBJ_WANTED;
		if ((m->kind == KWG_META_KV
		         ? asprintf(&what, "kv('%.100s') in '%.200s': %s", m->name, m->ns,
		                    error ? error : strerror(-status))
		         : asprintf(&what, "namespace file '%.200s' in '%.200s': %s", m->name,
		                    m->ns, error ? error : strerror(-status))) < 0)
			what = NULL;
		note_error(m->f, what ? what : "out of memory", 0);
	} else {
		m->state = status == -ENOENT     ? OBJ_MISSING
		           : status == -ESTALE   ? OBJ_EXPIRED
		           : status == -EMSGSIZE ? OBJ_TOO_BIG
		                                 : OBJ_FETCHED;
		if (status < 0)
			kwg_buf_done(&m->data);
	}
	round_step(m->f);
}

static const struct kwg_content_sink content_sink = {
    .chunk = on_chunk,
    .restart = on_restart,
    .done = on_content,
};

int kwg_storage_fetch_start(struct kwg_storage_fetch *f, struct kwg_storage *s, const char *tenant,
                            const char *dir, kwg_storage_fetch_done_fn *done, void *userdata)
{
	f->done = done;
	f->userdata = userdata;
	for (size_t i = 0; i < f->n; i++) {
		struct obj *o = f->objs[i];
		cleanup_free char *uri = NULL;

		if (o->state != OBJ_WANTED)
			continue;
		if (asprintf(&o->tmp, "%s/.kwg-fetch-%zu", dir, i) < 0)
			o->tmp = NULL;
		if (!o->tmp || asprintf(&uri, "kestra://%s", o->upath) < 0 ||
		    !(o->op = kwg_storage_get(s, tenant, uri, o->tmp, on_got, o))) {
			/* Nothing of this round may report: stop what started. */
			for (size_t j = 0; j <= i; j++)
				if (f->objs[j]->state == OBJ_FETCHING || f->objs[j] == o) {
					obj_stop(f->objs[j]);
					f->objs[j]->state = OBJ_WANTED;
				}
			f->pending = 0;
			return -ENOMEM;
		}
		o->state = OBJ_FETCHING;
		f->pending++;
	}
	for (size_t i = 0; i < f->n_metas; i++) {
		struct meta *m = f->metas[i];
		if (m->state != OBJ_WANTED)
			continue;
		m->handle = m->content ? f->meta.read(f->meta.ctx, m->kind, tenant, m->ns, m->name,
		                                      &content_sink, m)
		                       : f->meta.lookup(f->meta.ctx, m->kind, tenant, m->ns,
		                                        m->name, on_meta, m);
		if (!m->handle) {
			/* Nothing of this round may report: what started is dropped. */
			for (size_t j = 0; j < f->n; j++)
				if (f->objs[j]->state == OBJ_FETCHING) {
					obj_stop(f->objs[j]);
					f->objs[j]->state = OBJ_WANTED;
				}
			for (size_t j = 0; j < i; j++)
				if (f->metas[j]->handle) {
					f->meta.cancel(f->meta.ctx,
					               steal_ptr(&f->metas[j]->handle));
					f->metas[j]->state = OBJ_WANTED;
				}
			f->pending = 0;
			return -ENOMEM;
		}
		m->state = OBJ_FETCHING;
		f->pending++;
	}
	return f->pending ? 0 : -EINVAL;
}
