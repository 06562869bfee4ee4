/* SPDX-License-Identifier: Apache-2.0 */
/* The objects a task's templates read from remote storage, fetched between renders (fetch.h). */
#include "storage/fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"

enum obj_state { OBJ_WANTED, OBJ_FETCHING, OBJ_FETCHED, OBJ_MISSING, OBJ_TOO_BIG };

struct obj {
	struct kwg_storage_fetch *f;
	char *upath;
	enum obj_state state;
	char *data; /* OBJ_FETCHED: the bytes, NUL added */
	size_t len;
	struct kwg_storage_op *op; /* OBJ_FETCHING */
	char *tmp;                 /* OBJ_FETCHING: the temporary file */
};

struct kwg_storage_fetch {
	struct obj **objs;
	size_t n;
	size_t pending; /* objects being fetched */
	char *error;    /* the first failure of this round */
	kwg_storage_fetch_done_fn *done;
	void *userdata;
};

struct kwg_storage_fetch *kwg_storage_fetch_new(void)
{
	return calloc(1, sizeof(struct kwg_storage_fetch));
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
	free(f->error);
	free(f);
}

int kwg_storage_fetch_lookup(struct kwg_storage_fetch *f, const char *upath, const char **data,
                             size_t *len)
{
	struct obj *o, **objs;

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
	return n;
}

/* The downloaded file into o->data, or OBJ_TOO_BIG; -errno when it cannot be read. */
static int take_file(struct obj *o)
{
	cleanup_close int fd = open(o->tmp, O_RDONLY | O_CLOEXEC);
	struct kwg_buf b;
	struct stat st;
	int r = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > (off_t)KWG_STORAGE_FETCH_MAX_BYTES) {
		o->state = OBJ_TOO_BIG;
		return 0;
	}
	kwg_buf_init(&b, KWG_STORAGE_FETCH_MAX_BYTES);
	r = kwg_buf_read_fd(&b, fd);
	if (r < 0) {
		kwg_buf_done(&b);
		if (r != -EMSGSIZE)
			return r;
		o->state = OBJ_TOO_BIG; /* it grew while read */
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
	if (--f->pending > 0)
		return;
	/* done may free f. */
	cleanup_free char *msg = steal_ptr(&f->error);
	f->done(f->userdata, msg);
}

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
	return f->pending ? 0 : -EINVAL;
}
