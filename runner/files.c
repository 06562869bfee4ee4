/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "files"
#include "runner/files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/id.h"
#include "common/log.h"
#include "common/strv.h"
#include "protocol/glob.h"
#include "storage/storage_path.h"

/* Bounds on what a task may hand over: files walked and uploaded. */
#define MAX_WALK_ENTRIES 100000
#define MAX_WALK_DEPTH 64

enum op_kind {
	OP_GET,   /* uri -> path */
	OP_PUT,   /* path -> uri */
	OP_WRITE, /* text -> path */
	/* uri (a namespace file's object, "scripts/a.py.v2") -> path, through the meta source
	 * (Kestra 2.x CONTROLLER worker access) */
	OP_CONTENT,
};

struct op {
	enum op_kind kind;
	char *uri, *path, *text;
};

struct kwg_files {
	struct kwg_files_ctx ctx;
	struct op *ops;
	size_t n_ops, cap_ops, next;
	struct kwg_storage_op *cur;
	kwg_files_done_fn *done;
	void *userdata;
	bool in_call; /* inside stage_in/stage_out: finish synchronously */
	bool finished;
	/* namespace files: the listing phase */
	struct kwg_glob **inc, **exc;
	size_t n_inc, n_exc;
	char *ns_prefix;
	struct kwg_strv listed; /* every namespace file listed, filtered or not */
	void *meta_handle;      /* the namespace_file_metadata question under way */
	void *content_handle;   /* OP_CONTENT: the read under way */
	int content_fd;         /* OP_CONTENT: the file written, -1 */
	int content_error;      /* OP_CONTENT: the write's error */
	struct kwg_script_task *task;
	char error[512];
};

static int push_op(struct kwg_files *f, enum op_kind kind, const char *uri, const char *path,
                   const char *text)
{
	struct op *o;

	if (f->n_ops == f->cap_ops) {
		size_t cap = f->cap_ops ? 2 * f->cap_ops : 8;
		struct op *ops = realloc(f->ops, cap * sizeof(*ops));
		if (!ops)
			return -ENOMEM;
		f->ops = ops;
		f->cap_ops = cap;
	}
	o = &f->ops[f->n_ops];
	*o = (struct op){.kind = kind};
	o->uri = uri ? strdup(uri) : NULL;
	o->path = strdup(path);
	o->text = text ? strdup(text) : NULL;
	if ((uri && !o->uri) || !o->path || (text && !o->text)) {
		free(o->uri);
		free(o->path);
		free(o->text);
		return -ENOMEM;
	}
	f->n_ops++;
	return 0;
}

static struct kwg_files *files_new(const struct kwg_files_ctx *ctx, kwg_files_done_fn *done,
                                   void *userdata)
{
	struct kwg_files *f = calloc(1, sizeof(*f));

	if (f) {
		f->ctx = *ctx;
		f->content_fd = -1;
		f->done = done;
		f->userdata = userdata;
	}
	return f;
}

void kwg_files_free(struct kwg_files *f)
{
	if (!f)
		return;
	kwg_storage_cancel(f->cur);
	if (f->meta_handle)
		f->ctx.meta->cancel(f->ctx.meta->ctx, f->meta_handle);
	if (f->content_handle)
		f->ctx.meta->cancel(f->ctx.meta->ctx, f->content_handle);
	if (f->content_fd >= 0)
		(void)close(f->content_fd);
	for (size_t i = 0; i < f->n_ops; i++) {
		free(f->ops[i].uri);
		free(f->ops[i].path);
		free(f->ops[i].text);
	}
	free(f->ops);
	for (size_t i = 0; i < f->n_inc; i++)
		kwg_glob_free(f->inc[i]);
	for (size_t i = 0; i < f->n_exc; i++)
		kwg_glob_free(f->exc[i]);
	free(f->inc);
	free(f->exc);
	free(f->ns_prefix);
	kwg_strv_done(&f->listed);
	free(f);
}

static int give(const struct kwg_files *f, int fd, const char *path)
{
	if (f->ctx.uid < 0)
		return 0;
	if ((fd >= 0 ? fchown(fd, (uid_t)f->ctx.uid, (gid_t)f->ctx.gid)
	             : lchown(path, (uid_t)f->ctx.uid, (gid_t)f->ctx.gid)) < 0)
		return -errno;
	return 0;
}

/* mkdir -p of rel's parent directories under the working directory, owned by the task user.
 * rel is checked to stay inside (no "..", not absolute) by its producer. */
static int make_parents(const struct kwg_files *f, const char *path)
{
	size_t base = strlen(f->ctx.working_dir);
	char buf[PATH_MAX];

	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (char *p = buf + base + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		if (mkdir(buf, 0755) == 0) {
			int r = give(f, -1, buf);
			if (r < 0)
				return r;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

static int write_text(const struct kwg_files *f, const char *path, const char *text)
{
	cleanup_close int fd = -1;
	size_t len = strlen(text), off = 0;
	int r = make_parents(f, path);

	if (r < 0)
		return r;
	/* KESTRA: input files overwrite (namespace files included), no execute bit. */
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	r = give(f, fd, path);
	while (r >= 0 && off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno != EINTR)
			return -errno;
		off += n > 0 ? (size_t)n : 0;
	}
	return r;
}

static void finish(struct kwg_files *f, const char *error)
{
	f->finished = true;
	if (error)
		(void)snprintf(f->error, sizeof(f->error), "%s", error);
	if (!f->in_call) {
		f->done(f->userdata, error ? f->error : NULL);
		kwg_files_free(f);
	}
}

static void run_ops(struct kwg_files *f);

static void on_transfer_done(void *userdata, const char *error, bool not_found)
{
	struct kwg_files *f = userdata;
	struct op *o = &f->ops[f->next];
	char why[512];

	(void)not_found;
	f->cur = NULL;
	if (error) {
		(void)snprintf(why, sizeof(why), "%s", error);
		finish(f, why);
		return;
	}
	if (o->kind == OP_GET || o->kind == OP_CONTENT) {
		/* KESTRA: files come in with the default umask's 0644, readable by a container's
		 * non-root user too. */
		int r = chmod(o->path, 0644) < 0 ? -errno : give(f, -1, o->path);
		if (r < 0) {
			(void)snprintf(why, sizeof(why),
			               "cannot hand '%.200s' to the task user: %s", o->path,
			               strerror(-r));
			finish(f, why);
			return;
		}
	}
	f->next++;
	run_ops(f);
}

static int content_chunk(void *userdata, const uint8_t *data, size_t len)
{
	struct kwg_files *f = userdata;

	while (len > 0) {
		ssize_t n = write(f->content_fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return f->content_error = -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static void content_restart(void *userdata)
{
	struct kwg_files *f = userdata;

	if (ftruncate(f->content_fd, 0) < 0 || lseek(f->content_fd, 0, SEEK_SET) < 0)
		f->content_error = -errno;
}

static void content_done(void *userdata, const char *error, int status)
{
	struct kwg_files *f = userdata;
	struct op *o = &f->ops[f->next];
	char why[512];

	f->content_handle = NULL;
	if (close(f->content_fd) < 0 && !status && !error)
		status = -errno;
	f->content_fd = -1;
	if (f->content_error && !error)
		status = f->content_error;
	if (error || status < 0) {
		(void)snprintf(why, sizeof(why), "namespace file '%.200s' in '%.100s': %s", o->uri,
		               f->ctx.namespace_,
		               error               ? error
		               : status == -ENOENT ? "the controller has no content for it "
		                                     "(NamespaceFileContentService/get NOT_FOUND)"
		                                   : strerror(-status));
		on_transfer_done(f, why, false);
		return;
	}
	on_transfer_done(f, NULL, false);
}

static const struct kwg_content_sink content_sink = {
    .chunk = content_chunk,
    .restart = content_restart,
    .done = content_done,
};

/* OP_CONTENT: the file opened, its content asked through the meta source. */
static int start_content(struct kwg_files *f, const struct op *o)
{
	/* KESTRA: input files overwrite (namespace files included). */
	f->content_fd = open(o->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (f->content_fd < 0)
		return -errno;
	f->content_error = 0;
	f->content_handle = f->ctx.meta->read(f->ctx.meta->ctx, KWG_META_NSFILE, f->ctx.tenant,
	                                      f->ctx.namespace_, o->uri, &content_sink, f);
	return f->content_handle ? 0 : -ENOMEM;
}

static void run_ops(struct kwg_files *f)
{
	char why[512];

	while (f->next < f->n_ops) {
		struct op *o = &f->ops[f->next];
		int r;
		if (o->kind == OP_WRITE) {
			r = write_text(f, o->path, o->text);
			if (r < 0) {
				(void)snprintf(
				    why, sizeof(why), "cannot write input file '%.200s': %s",
				    o->path + strlen(f->ctx.working_dir) + 1, strerror(-r));
				finish(f, why);
				return;
			}
			f->next++;
			continue;
		}
		if ((o->kind == OP_GET || o->kind == OP_CONTENT) &&
		    (r = make_parents(f, o->path)) < 0) {
			(void)snprintf(why, sizeof(why),
			               "cannot create the directory of '%.200s': %s", o->path,
			               strerror(-r));
			finish(f, why);
			return;
		}
		if (o->kind == OP_CONTENT) {
			r = start_content(f, o);
			if (r < 0) {
				(void)snprintf(why, sizeof(why), "cannot stage '%.200s': %s",
				               o->path + strlen(f->ctx.working_dir) + 1,
				               strerror(-r));
				finish(f, why);
				return;
			}
			f->in_call = false;
			return;
		}
		f->cur = o->kind == OP_GET ? kwg_storage_get(f->ctx.storage, f->ctx.tenant, o->uri,
		                                             o->path, on_transfer_done, f)
		                           : kwg_storage_put(f->ctx.storage, f->ctx.tenant, o->uri,
		                                             o->path, on_transfer_done, f);
		if (!f->cur) {
			finish(f, "out of memory");
			return;
		}
		/* Leaving a synchronous call: the rest goes through the callback. */
		f->in_call = false;
		return;
	}
	finish(f, NULL);
}

static int no_storage(struct kwg_err *err, const char *what)
{
	return kwg_err_set(err, -EINVAL,
	                   "%s needs Kestra's internal storage, which this worker has not been "
	                   "given (set storage_type and its settings, see docs/config.md)",
	                   what);
}

/* A new name for a downloaded file: <19 digits>.tmp (Kestra: Files.createTempFile). */
static void temp_name(char out[32])
{
	uint64_t n;

	kwg_random_bytes(&n, sizeof(n));
	(void)snprintf(out, 32, "%019llu.tmp", (unsigned long long)(n % 10000000000000000000ull));
}

static bool uri_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("-%._+~#=/", c);
}

/* KESTRA: ScriptService.replaceInternalStorage — every kestra://[-a-zA-Z0-9%._+~#=/]* in s is
 * downloaded into a new file of the working directory and replaced by its absolute path. */
static int replace_uris(struct kwg_files *f, char **s, struct kwg_err *err)
{
	const char *p = *s, *hit;
	struct kwg_buf out;
	int r = 0;

	if (!*s || !strstr(*s, "kestra://"))
		return 0;
	if (!f->ctx.storage)
		return no_storage(err, "a kestra:// URI in the command");
	kwg_buf_init(&out, 64u << 20);
	while (r >= 0 && (hit = strstr(p, "kestra://"))) {
		size_t n = 9;
		char name[32], path[PATH_MAX];
		cleanup_free char *uri = NULL;
		while (hit[n] && uri_char(hit[n]))
			n++;
		uri = strndup(hit, n);
		temp_name(name);
		(void)snprintf(path, sizeof(path), "%s/%s", f->ctx.working_dir, name);
		r = uri ? kwg_buf_append(&out, p, (size_t)(hit - p)) : -ENOMEM;
		if (r >= 0)
			r = kwg_buf_puts(&out, path);
		if (r >= 0)
			r = push_op(f, OP_GET, uri, path, NULL);
		p = hit + n;
	}
	if (r >= 0)
		r = kwg_buf_puts(&out, p);
	if (r >= 0) {
		free(*s);
		*s = kwg_buf_steal(&out);
		r = *s ? 0 : -ENOMEM;
	}
	kwg_buf_done(&out);
	return r;
}

static int queue_inputs(struct kwg_files *f, struct kwg_script_task *t, struct kwg_err *err)
{
	int r = 0;

	for (size_t i = 0; r >= 0 && i + 1 < t->input_files.n; i += 2) {
		const char *name = t->input_files.v[i], *content = t->input_files.v[i + 1];
		char path[PATH_MAX];
		if (snprintf(path, sizeof(path), "%s/%s", f->ctx.working_dir, name) >=
		    (int)sizeof(path))
			return kwg_err_set(err, -ENAMETOOLONG, "input file name too long: '%.200s'",
			                   name);
		if (strncmp(content, "kestra://", 9) == 0) {
			if (!f->ctx.storage)
				return no_storage(err, "an input file from a kestra:// URI");
			r = push_op(f, OP_GET, content, path, NULL);
		} else {
			r = push_op(f, OP_WRITE, NULL, path, content);
		}
	}
	for (size_t i = 0; r >= 0 && i < t->argv.n; i++)
		r = replace_uris(f, &t->argv.v[i], err);
	if (r >= 0)
		r = replace_uris(f, &t->script_body, err);
	return r;
}

static int compile_all(const struct kwg_strv *patterns, struct kwg_glob ***ret, size_t *ret_n,
                       struct kwg_err *err)
{
	*ret = calloc(patterns->n + 1, sizeof(**ret));
	if (!*ret)
		return -ENOMEM;
	for (size_t i = 0; i < patterns->n; i++) {
		int r = kwg_glob_compile_namespace(patterns->v[i], &(*ret)[i], err);
		if (r < 0)
			return r;
		(*ret_n)++;
	}
	return 0;
}

static bool any_match(struct kwg_glob **globs, size_t n, const char *path)
{
	for (size_t i = 0; i < n; i++)
		if (kwg_glob_match(globs[i], path))
			return true;
	return false;
}

/* A relative path of plain names: no empty, "." or ".." part (a storage listing is outside
 * input: an S3 key may hold "../"). rel starts with "/". */
static bool plain_path(const char *rel)
{
	for (const char *p = rel + 1;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* KESTRA: Wrapper.run — a namespace file is kept when it matches an include (or there are
 * none) and no exclude, matched on its path with a leading "/". */
/* A namespace file at rel ("/a/b.txt") whose content is uri: staged unless filtered out. */
static void add_ns_file(struct kwg_files *f, const char *rel, const char *uri, bool content)
{
	char path[PATH_MAX];

	if (f->error[0] || rel[0] != '/' || !rel[1])
		return;
	if (!plain_path(rel)) {
		(void)snprintf(f->error, sizeof(f->error),
		               "namespace file '%.200s': not a plain relative path", rel);
		return;
	}
	if (kwg_strv_push(&f->listed, rel) < 0) {
		(void)snprintf(f->error, sizeof(f->error), "out of memory");
		return;
	}
	if ((f->n_inc && !any_match(f->inc, f->n_inc, rel)) || any_match(f->exc, f->n_exc, rel))
		return;
	if (snprintf(path, sizeof(path), "%s%s", f->ctx.working_dir, rel) >= (int)sizeof(path) ||
	    push_op(f, content ? OP_CONTENT : OP_GET, uri, path, NULL) < 0)
		(void)snprintf(f->error, sizeof(f->error), "namespace file '%.200s': %s", rel,
		               "cannot be staged (name too long or out of memory)");
}

/* KESTRA: Wrapper.run — a namespace file is kept when it matches an include (or there are
 * none) and no exclude, matched on its path with a leading "/". */
static void on_ns_entry(void *userdata, const char *uri)
{
	struct kwg_files *f = userdata;
	size_t plen = strlen(f->ns_prefix);

	if (strncmp(uri, f->ns_prefix, plen) == 0)
		add_ns_file(f, uri + plen, uri, false);
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* On a database without namespace_file_metadata (storage listed), a file with a second revision
 * beside it (<path>.v2, Kestra 1.2+'s layout) would be staged stale: the task fails naming it. */
static const char *revised_file(struct kwg_files *f)
{
	size_t plen = strlen(f->ns_prefix);
	char v2[PATH_MAX];

	if (f->listed.n == 0)
		return NULL;
	qsort(f->listed.v, f->listed.n, sizeof(*f->listed.v), strcmp_p);
	for (size_t i = 0; i < f->n_ops; i++) {
		const char *rel = f->ops[i].uri ? f->ops[i].uri + plen : NULL;
		const char *key = v2;
		if (f->ops[i].kind != OP_GET || !rel ||
		    strncmp(f->ops[i].uri, f->ns_prefix, plen) != 0 ||
		    snprintf(v2, sizeof(v2), "%s.v2", rel) >= (int)sizeof(v2))
			continue;
		if (bsearch(&key, f->listed.v, f->listed.n, sizeof(*f->listed.v), strcmp_p))
			return rel;
	}
	return NULL;
}

static void on_ns_listed(void *userdata, const char *error, bool not_found)
{
	struct kwg_files *f = userdata;
	struct kwg_err err = {{0}};
	char why[512];

	f->cur = NULL;
	if (error && !not_found) {
		(void)snprintf(why, sizeof(why),
		               "cannot list the namespace files of '%.100s': %.300s",
		               f->ctx.namespace_, error);
		finish(f, why);
		return;
	}
	if (f->error[0]) {
		(void)snprintf(why, sizeof(why), "%s", f->error);
		finish(f, why);
		return;
	}
	const char *revised = revised_file(f);
	if (revised) {
		(void)snprintf(
		    why, sizeof(why),
		    "namespace file '%.200s' has several revisions: Kestra keeps the "
		    "current one in its namespace_file_metadata table, which kwg does not "
		    "read yet",
		    revised);
		finish(f, why);
		return;
	}
	if (queue_inputs(f, f->task, &err) < 0) {
		finish(f, err.msg[0] ? err.msg : "out of memory");
		return;
	}
	run_ops(f);
}

bool kwg_files_stage_in_needed(const struct kwg_script_task *t)
{
	if (t->namespace_files || t->input_files.n ||
	    (t->script_body && strstr(t->script_body, "kestra://")))
		return true;
	for (size_t i = 0; i < t->argv.n; i++)
		if (strstr(t->argv.v[i], "kestra://"))
			return true;
	return false;
}

bool kwg_files_stage_out_needed(const struct kwg_script_task *t)
{
	return t->output_files.n > 0;
}

/* Runs the queue from inside the caller's call: 1 when it all completed there, 0 when a
 * transfer continues (done follows), or the synchronous error. */
static int start(struct kwg_files *f, struct kwg_files **ret, struct kwg_err *err)
{
	f->in_call = true;
	run_ops(f);
	if (f->finished && f->in_call) {
		int r = f->error[0] ? kwg_err_set(err, -EIO, "%s", f->error) : 1;
		kwg_files_free(f);
		return r;
	}
	f->in_call = false;
	*ret = f;
	return 0;
}

/* KESTRA 2.x CONTROLLER worker access: namespace-file contents come through the controller. */
static bool contents_via_meta(const struct kwg_files_ctx *ctx)
{
	return ctx->meta && ctx->meta->read && ctx->meta->nsfile_content;
}

static int list_storage(struct kwg_files *f)
{
	f->cur = kwg_storage_list(f->ctx.storage, f->ctx.tenant, f->ns_prefix, on_ns_entry,
	                          on_ns_listed, f);
	return f->cur ? 0 : -ENOMEM;
}

/* KESTRA 1.2+: Namespace.all() — the files are the current rows of namespace_file_metadata,
 * revision N >= 2 stored as <path>.vN; without the table, the storage listing. */
static void on_ns_rows(void *userdata, const char *error, bool table,
                       const struct kwg_meta_file *files, size_t n)
{
	struct kwg_files *f = userdata;
	char why[512], *uri = NULL;

	f->meta_handle = NULL;
	if (error) {
		(void)snprintf(
		    why, sizeof(why),
		    "cannot list the namespace files of '%.100s' (their metadata): %.300s",
		    f->ctx.namespace_, error);
		finish(f, why);
		return;
	}
	if (!table) {
		if (list_storage(f) < 0)
			finish(f, "out of memory");
		return;
	}
	/* KESTRA 2.x CONTROLLER worker access: the contents through the controller, each by its
	 * revision's object relative to the namespace-files root ("scripts/a.py.v2"). */
	bool content = contents_via_meta(&f->ctx);
	const char *prefix = content ? "" : f->ns_prefix;
	for (size_t i = 0; i < n && !f->error[0]; i++) {
		const char *p = files[i].path + (content && files[i].path[0] == '/');
		int r = files[i].version > 1
		            ? asprintf(&uri, "%s%s.v%lld", prefix, p, files[i].version)
		            : asprintf(&uri, "%s%s", prefix, p);
		if (r < 0) {
			(void)snprintf(f->error, sizeof(f->error), "out of memory");
			break;
		}
		add_ns_file(f, files[i].path, uri, content);
		free(steal_ptr(&uri));
	}
	/* The listed revisions are the current ones: nothing to refuse. */
	kwg_strv_done(&f->listed);
	on_ns_listed(f, NULL, false);
}

int kwg_files_stage_in(const struct kwg_files_ctx *ctx, struct kwg_script_task *task,
                       kwg_files_done_fn *done, void *userdata, struct kwg_files **ret,
                       struct kwg_err *err)
{
	struct kwg_files *f = files_new(ctx, done, userdata);
	int r;

	if (!f)
		return -ENOMEM;
	f->task = task;
	if (!task->namespace_files) {
		r = queue_inputs(f, task, err);
		if (r < 0) {
			kwg_files_free(f);
			return r;
		}
		return start(f, ret, err);
	}
	if (!ctx->storage && !contents_via_meta(ctx)) {
		kwg_files_free(f);
		return no_storage(err, "namespaceFiles");
	}
	r = compile_all(&task->ns_include, &f->inc, &f->n_inc, err);
	if (r >= 0)
		r = compile_all(&task->ns_exclude, &f->exc, &f->n_exc, err);
	if (r >= 0 && !(f->ns_prefix = kwg_storage_namespace_prefix(ctx->namespace_)))
		r = -ENOMEM;
	if (r >= 0 && ctx->meta && ctx->meta->list_files) {
		f->meta_handle = ctx->meta->list_files(ctx->meta->ctx, ctx->tenant, ctx->namespace_,
		                                       on_ns_rows, f);
		if (!f->meta_handle)
			r = -ENOMEM;
	} else if (r >= 0) {
		r = list_storage(f);
	}
	if (r < 0) {
		kwg_files_free(f);
		return r;
	}
	*ret = f;
	return 0;
}

/* Characters java.net.URI refuses in a path: such an output file fails the task as in Kestra. */
static bool uri_safe(const char *name)
{
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("\"<>\\^`{|}", *p))
			return false;
	return true;
}

struct walk {
	struct kwg_files *f;
	struct kwg_glob **globs;
	size_t n_globs;
	struct kwg_strv *outputs;
	size_t entries;
	struct kwg_err *err;
};

static int walk_dir(struct walk *w, const char *dir, int depth)
{
	DIR *d;
	struct dirent *e;
	int r = 0;

	int fd;

	if (depth > MAX_WALK_DEPTH)
		return 0;
	/* Never through a link, even one swapped in after the lstat. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		int err_no = errno;
		if (fd >= 0)
			(void)close(fd);
		return err_no == ENOENT || err_no == ELOOP || err_no == ENOTDIR ? 0 : -err_no;
	}
	while (r >= 0 && (e = readdir(d))) {
		char path[PATH_MAX], name[KWG_ID_LEN];
		struct stat st;
		cleanup_free char *uri = NULL;
		const char *rel;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (++w->entries > MAX_WALK_ENTRIES) {
			r = kwg_err_set(w->err, -E2BIG,
			                "the working directory holds more than %d entries",
			                MAX_WALK_ENTRIES);
			break;
		}
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
		    lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			r = walk_dir(w, path, depth + 1);
			continue;
		}
		/* KESTRA: only regular files; links are not followed. */
		if (!S_ISREG(st.st_mode) || !any_match(w->globs, w->n_globs, path))
			continue;
		rel = path + strlen(w->f->ctx.working_dir) + 1;
		if (!uri_safe(rel)) {
			r = kwg_err_set(
			    w->err, -EINVAL,
			    "output file '%.200s': its name cannot be part of a kestra:// "
			    "URI (spaces and \"<>\\^`{|} are not allowed)",
			    rel);
			break;
		}
		kwg_id_friendly(name);
		if (asprintf(&uri, "%s/%s-%s", w->f->ctx.task_prefix, name, e->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		r = push_op(w->f, OP_PUT, uri, path, NULL);
		if (r >= 0)
			r = kwg_strv_push(w->outputs, rel);
		if (r >= 0)
			r = kwg_strv_push(w->outputs, uri);
	}
	closedir(d);
	return r;
}

int kwg_files_stage_out(const struct kwg_files_ctx *ctx, const struct kwg_script_task *task,
                        struct kwg_strv *ret_outputs, kwg_files_done_fn *done, void *userdata,
                        struct kwg_files **ret, struct kwg_err *err)
{
	struct kwg_files *f;
	struct walk w = {.outputs = ret_outputs, .err = err};
	int r = 0;

	if (!ctx->storage)
		return no_storage(err, "outputFiles");
	f = files_new(ctx, done, userdata);
	if (!f)
		return -ENOMEM;
	w.f = f;
	w.globs = calloc(task->output_files.n + 1, sizeof(*w.globs));
	if (!w.globs)
		r = -ENOMEM;
	for (size_t i = 0; r >= 0 && i < task->output_files.n; i++) {
		struct kwg_err gerr = {{0}};
		r = kwg_glob_compile_output(ctx->working_dir, task->output_files.v[i], &w.globs[i],
		                            &gerr);
		if (r >= 0)
			w.n_globs++;
		else if (r != -ENOMEM)
			r = kwg_err_set(err, r, "property 'outputFiles': %s", gerr.msg);
	}
	if (r >= 0)
		r = walk_dir(&w, ctx->working_dir, 0);
	for (size_t i = 0; i < w.n_globs; i++)
		kwg_glob_free(w.globs[i]);
	free(w.globs);
	if (r < 0) {
		kwg_files_free(f);
		return r;
	}
	return start(f, ret, err);
}
