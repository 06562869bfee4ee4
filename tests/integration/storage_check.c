/* SPDX-License-Identifier: Apache-2.0 */
/* Drives storage/storage.c against one backend on a real loop with a deadline: put, get back,
 * list, a missing URI, refused URIs, a cancelled operation, and for S3/MinIO the raw object keys
 * and directory markers the layout promises (kestra-script-tasks.md §7.3, §7.4).
 * usage: storage_check local BASE_PATH [TENANT]
 *        storage_check s3|minio ENDPOINT BUCKET ACCESS SECRET [TENANT]
 * Prints "ok …" / "FAIL …" lines; exits 1 on any failure. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "common/buf.h"
#include "storage/storage.h"
#include "storage/storage_path.h"

#define DEADLINE_MS 20000

static int failures;
static uv_loop_t loop;

static void check(bool cond, const char *what)
{
	printf("%s %s\n", cond ? "ok  " : "FAIL", what);
	if (!cond)
		failures++;
}

struct result {
	bool done, in_call, not_found;
	char error[1024];
	char *entries[64];
	int n_entries;
};

static void on_done(void *userdata, const char *error, bool not_found)
{
	struct result *r = userdata;

	if (r->in_call)
		check(false, "a callback fired inside the call");
	r->done = true;
	uv_stop(&loop);
	r->not_found = not_found;
	(void)snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
}

static void on_entry(void *userdata, const char *uri)
{
	struct result *r = userdata;

	if (r->n_entries < 64)
		r->entries[r->n_entries++] = strdup(uri);
}

static void on_never(void *userdata, const char *error, bool not_found)
{
	(void)userdata;
	(void)error;
	(void)not_found;
	check(false, "a cancelled operation called back");
}

/* The first of several operations to finish frees the storage: the others never call back. */
static struct kwg_storage *freed_by_callback;
static int callbacks_after_free;

static void on_done_free(void *userdata, const char *error, bool not_found)
{
	if (!freed_by_callback) {
		callbacks_after_free++;
		return;
	}
	kwg_storage_free(freed_by_callback);
	freed_by_callback = NULL;
	on_done(userdata, error, not_found);
}

static void on_deadline(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Runs the loop until r->done or the deadline. */
static bool wait_done(struct result *r, const char *what)
{
	uv_timer_t deadline;
	bool ok;

	uv_timer_init(&loop, &deadline);
	uv_timer_start(&deadline, on_deadline, DEADLINE_MS, 0);
	/* on_done and on_deadline stop the loop */
	while (!r->done && uv_is_active((uv_handle_t *)&deadline))
		uv_run(&loop, UV_RUN_DEFAULT);
	ok = r->done;
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
	if (!ok)
		printf("FAIL timed out (%d ms) waiting for: %s\n", DEADLINE_MS, what);
	failures += !ok;
	return ok;
}

static void write_file(const char *path, size_t size, unsigned seed)
{
	FILE *f = fopen(path, "we");

	if (!f) {
		perror(path);
		exit(1);
	}
	for (size_t i = 0; i < size; i++)
		fputc((int)((i * 31 + seed) % 251), f);
	fclose(f);
}

static bool same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "re"), *fb = fopen(b, "re");
	bool same = fa && fb;
	int ca, cb;

	while (same) {
		ca = fgetc(fa);
		cb = fgetc(fb);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

struct raw_keys {
	char *keys[256];
	int n;
};

static int on_raw_key(void *userdata, const char *key)
{
	struct raw_keys *rk = userdata;

	if (rk->n < 256)
		rk->keys[rk->n++] = strdup(key);
	return 0;
}

static size_t on_raw_body(char *data, size_t size, size_t n, void *userdata)
{
	return kwg_buf_append(userdata, data, size * n) < 0 ? 0 : size * n;
}

/* Every key of the bucket, listed outside kwg_storage (one page is plenty here). */
static void list_bucket(const char *endpoint, const char *bucket, const char *access,
                        const char *secret, struct raw_keys *rk)
{
	CURL *c = curl_easy_init();
	struct kwg_buf body;
	struct curl_slist *h = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
	char url[1024], userpwd[256];
	struct kwg_err err = {{0}};
	char *token = NULL;
	long status = 0;

	kwg_buf_init(&body, 8u << 20);
	(void)snprintf(url, sizeof(url), "%s/%s?list-type=2", endpoint, bucket);
	(void)snprintf(userpwd, sizeof(userpwd), "%s:%s", access, secret);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, "aws:amz:us-east-1:s3");
	curl_easy_setopt(c, CURLOPT_USERPWD, userpwd);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_raw_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	check(curl_easy_perform(c) == CURLE_OK, "raw listing of the bucket answered");
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	check(status == 200, "raw listing: HTTP 200");
	check(kwg_storage_list_parse(kwg_buf_str(&body), body.len, on_raw_key, rk, &token, &err) ==
	          0,
	      "raw listing parses");
	free(token);
	kwg_buf_done(&body);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
}

static bool has_key(const struct raw_keys *rk, const char *key)
{
	for (int i = 0; i < rk->n; i++)
		if (strcmp(rk->keys[i], key) == 0)
			return true;
	return false;
}

static void expect_key(const struct raw_keys *rk, const char *key, const char *what)
{
	char msg[512];

	(void)snprintf(msg, sizeof(msg), "%s: key '%s'", what, key);
	check(has_key(rk, key), msg);
}

int main(int argc, char **argv)
{
	struct kwg_storage_config cfg = {0};
	struct kwg_storage *s = NULL;
	struct kwg_storage_op *op;
	struct kwg_err err = {{0}};
	const char *tenant = NULL, *type;
	char tmp[] = "/tmp/kwg-storage-check.XXXXXX", src[256], src2[256], dst[256], msg[2048];
	char *prefix, uri[512], uri2[512], uri3[512];

	if (argc < 3) {
		fprintf(stderr,
		        "usage: %s local BASE [TENANT] | s3|minio ENDPOINT BUCKET ACCESS "
		        "SECRET [TENANT]\n",
		        argv[0]);
		return 2;
	}
	type = argv[1];
	cfg.type = type;
	if (strcmp(type, "local") == 0) {
		cfg.base_path = argv[2];
		tenant = argc > 3 ? argv[3] : NULL;
	} else {
		if (argc < 6)
			return 2;
		cfg.endpoint = argv[2];
		cfg.bucket = argv[3];
		cfg.access_key = argv[4];
		cfg.secret_key = argv[5];
		cfg.path_style = true;
		tenant = argc > 6 ? argv[6] : NULL;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	uv_loop_init(&loop);
	if (kwg_storage_new(&loop, &cfg, &s, &err) < 0) {
		printf("FAIL kwg_storage_new: %s\n", err.msg);
		return 1;
	}
	printf("# %s, tenant '%s'\n", type, tenant ? tenant : "");

	prefix = kwg_storage_task_prefix("company.team", "my_flow", "exec1", "task_1", "run1");
	(void)snprintf(uri, sizeof(uri), "%s/out.bin", prefix);
	(void)snprintf(uri2, sizeof(uri2), "%s/sub/nested.txt", prefix);
	/* SigV4 encodes every byte but A-Za-z0-9-._~ (and '/' in paths) */
	(void)snprintf(uri3, sizeof(uri3), "%s/a b+c=d&é!(x)~.txt", prefix);
	(void)snprintf(src, sizeof(src), "%s/src.bin", tmp);
	(void)snprintf(src2, sizeof(src2), "%s/src2.txt", tmp);
	(void)snprintf(dst, sizeof(dst), "%s/dst.bin", tmp);
	write_file(src, 1500000, 7); /* over 1 MiB: libcurl sends Expect: 100-continue */
	write_file(src2, 1000, 3);

	/* put twice (the second finds the markers), then get back */
	struct result put = {.in_call = true};
	op = kwg_storage_put(s, tenant, uri, src, on_done, &put);
	put.in_call = false;
	check(op != NULL, "put started");
	if (wait_done(&put, "put")) {
		(void)snprintf(msg, sizeof(msg), "put succeeded (%s)", put.error);
		check(!*put.error, msg);
	}
	struct result put2 = {.in_call = true};
	op = kwg_storage_put(s, tenant, uri2, src2, on_done, &put2);
	put2.in_call = false;
	if (wait_done(&put2, "second put")) {
		(void)snprintf(msg, sizeof(msg), "a second put succeeded (%s)", put2.error);
		check(!*put2.error, msg);
	}
	struct result put3 = {.in_call = true};
	op = kwg_storage_put(s, tenant, uri3, src2, on_done, &put3);
	put3.in_call = false;
	if (wait_done(&put3, "put of a name with reserved characters")) {
		(void)snprintf(msg, sizeof(msg), "a name with spaces and reserved characters (%s)",
		               put3.error);
		check(!*put3.error, msg);
	}
	struct result get3 = {.in_call = true};
	op = kwg_storage_get(s, tenant, uri3, dst, on_done, &get3);
	get3.in_call = false;
	if (wait_done(&get3, "get of a name with reserved characters"))
		check(!*get3.error && same_file(src2, dst), "and it comes back");
	struct result get = {.in_call = true};
	op = kwg_storage_get(s, tenant, uri, dst, on_done, &get);
	get.in_call = false;
	if (wait_done(&get, "get")) {
		(void)snprintf(msg, sizeof(msg), "get succeeded (%s)", get.error);
		check(!*get.error, msg);
		check(same_file(src, dst), "the bytes got back are the bytes put");
		struct stat st;
		check(stat(dst, &st) == 0 && (st.st_mode & 0777) == 0600, "the file got is 0600");
	}

	/* list the task prefix: the two files, no markers */
	struct result list = {.in_call = true};
	op = kwg_storage_list(s, tenant, prefix, on_entry, on_done, &list);
	list.in_call = false;
	if (wait_done(&list, "list")) {
		bool a = false, b = false, c = false;
		(void)snprintf(msg, sizeof(msg), "list succeeded (%s)", list.error);
		check(!*list.error, msg);
		for (int i = 0; i < list.n_entries; i++) {
			a |= strcmp(list.entries[i], uri) == 0;
			b |= strcmp(list.entries[i], uri2) == 0;
			c |= strcmp(list.entries[i], uri3) == 0;
		}
		(void)snprintf(msg, sizeof(msg), "list gives the three files and nothing else (%d)",
		               list.n_entries);
		check(a && b && c && list.n_entries == 3, msg);
	}
	/* a prefix that is a string prefix but not a directory lists nothing */
	struct result list2 = {.in_call = true};
	char partial[600];
	(void)snprintf(partial, sizeof(partial), "%.*s", (int)strlen(prefix) - 1, prefix);
	op = kwg_storage_list(s, tenant, partial, on_entry, on_done, &list2);
	list2.in_call = false;
	if (wait_done(&list2, "partial list"))
		check(!*list2.error && list2.n_entries == 0,
		      "a prefix that is not a directory lists nothing");

	/* missing */
	struct result missing = {.in_call = true};
	char missing_uri[600];
	(void)snprintf(missing_uri, sizeof(missing_uri), "%s/missing.txt", prefix);
	op = kwg_storage_get(s, tenant, missing_uri, dst, on_done, &missing);
	missing.in_call = false;
	if (wait_done(&missing, "get of a missing URI")) {
		check(missing.not_found, "a missing URI is not_found");
		check(strstr(missing.error, missing_uri) != NULL, "and the error names the URI");
		check(same_file(src, dst), "and the local file is left alone");
	}

	/* refused URIs, reported through the callback */
	const char *bad[] = {"kestra:///company/../etc/passwd", "kestra://host/x", "file:///x",
	                     "kestra:///a/%2e%2e/b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct result r = {.in_call = true};
		op = kwg_storage_put(s, tenant, bad[i], src, on_done, &r);
		r.in_call = false;
		if (wait_done(&r, bad[i])) {
			(void)snprintf(msg, sizeof(msg), "'%s' refused (%s)", bad[i], r.error);
			check(*r.error && !r.not_found && strstr(r.error, bad[i]), msg);
		}
	}
	struct result badtenant = {.in_call = true};
	op = kwg_storage_put(s, "../x", uri, src, on_done, &badtenant);
	badtenant.in_call = false;
	if (wait_done(&badtenant, "put with tenant '../x'"))
		check(strstr(badtenant.error, "is not a tenant id") != NULL,
		      "a tenant that is not an id is refused");
	struct result badget = {.in_call = true};
	op = kwg_storage_get(s, tenant, "kestra:///a/../../b", dst, on_done, &badget);
	badget.in_call = false;
	if (wait_done(&badget, "get with '..'"))
		check(*badget.error != '\0', "a get with '..' is refused");

	/* a cancelled operation never calls back */
	op = kwg_storage_get(s, tenant, uri, dst, on_never, NULL);
	kwg_storage_cancel(op);
	struct result after = {.in_call = true};
	op = kwg_storage_get(s, tenant, uri, dst, on_done, &after);
	after.in_call = false;
	if (wait_done(&after, "get after a cancel"))
		check(!*after.error, "a get after a cancelled one works");

	/* the layout, seen from outside */
	const char *t = tenant ? tenant : "";
	const char *tail = "company/team/my-flow/executions/exec1/tasks/task-1/run1/out.bin";
	char key[600];
	if (strcmp(type, "local") == 0) {
		struct stat st;
		(void)snprintf(key, sizeof(key), "%s%s%s/%s", cfg.base_path, *t ? "/" : "", t,
		               tail);
		(void)snprintf(msg, sizeof(msg), "the file is at %s", key);
		check(stat(key, &st) == 0 && S_ISREG(st.st_mode), msg);
	} else {
		struct raw_keys rk = {.n = 0};
		bool s3 = strcmp(type, "s3") == 0;
		/* S3: "/" + tenant + path, or the path; MinIO: [tenant "/"] + path without "/" */
		char base[128];
		(void)snprintf(base, sizeof(base), "%s%s%s%s", s3 ? "/" : "", t, *t ? "/" : "", "");
		list_bucket(cfg.endpoint, cfg.bucket, cfg.access_key, cfg.secret_key, &rk);
		(void)snprintf(key, sizeof(key), "%s%s", base, tail);
		expect_key(&rk, key, "the object");
		(void)snprintf(
		    key, sizeof(key), "%s%s", base,
		    "company/team/my-flow/executions/exec1/tasks/task-1/run1/sub/nested.txt");
		expect_key(&rk, key, "the second object");
		if (s3)
			expect_key(&rk, "/", "S3's root marker");
		if (*t) {
			(void)snprintf(key, sizeof(key), "%s%s/", s3 ? "/" : "", t);
			expect_key(&rk, key, "the tenant's marker");
		}
		const char *dirs[] = {
		    "company/", "company/team/", "company/team/my-flow/",
		    "company/team/my-flow/executions/exec1/tasks/task-1/run1/",
		    "company/team/my-flow/executions/exec1/tasks/task-1/run1/sub/"};
		for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
			(void)snprintf(key, sizeof(key), "%s%s", base, dirs[i]);
			expect_key(&rk, key, "a directory marker");
		}
		/* nothing of the other layout */
		(void)snprintf(key, sizeof(key), "%s%s%s%s", s3 ? "" : "/", t, *t ? "/" : "", tail);
		check(!has_key(&rk, key), "no key of the other layout");
		for (int i = 0; i < rk.n; i++)
			free(rk.keys[i]);
	}

	/* a done callback frees the storage while others are under way */
	struct result fr = {.in_call = true};
	freed_by_callback = s;
	(void)kwg_storage_get(s, tenant, uri, dst, on_done_free, &fr);
	(void)kwg_storage_get(s, tenant, missing_uri, dst, on_done_free, &fr);
	(void)kwg_storage_list(s, tenant, prefix, on_entry, on_done_free, &fr);
	(void)kwg_storage_put(s, tenant, uri2, src2, on_done_free, &fr);
	fr.in_call = false;
	if (wait_done(&fr, "the operation that frees the storage")) {
		uv_run(&loop, UV_RUN_DEFAULT);
		check(callbacks_after_free == 0,
		      "after a callback freed the storage, no other operation called back");
	}
	for (int i = 0; i < fr.n_entries; i++)
		free(fr.entries[i]);
	s = NULL;
	uv_run(&loop, UV_RUN_DEFAULT);
	check(uv_loop_close(&loop) == 0, "every handle closed (uv_loop_close)");
	for (int i = 0; i < list.n_entries; i++)
		free(list.entries[i]);
	free(prefix);
	(void)unlink(src);
	(void)unlink(src2);
	(void)unlink(dst);
	(void)rmdir(tmp);
	curl_global_cleanup();
	printf("%s: %d failure(s)\n", type, failures);
	return failures ? 1 : 0;
}
