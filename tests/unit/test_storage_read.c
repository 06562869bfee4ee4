/* SPDX-License-Identifier: Apache-2.0 */
/* storage/read and storage/kv: read(), fileURI() and kv() of templates on a made-up local
 * storage tree: Kestra's allowed paths, the read budget, namespace inheritance, expiry, and the
 * messages a task's log shows. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "storage/fetch.h"
#include "storage/kv.h"
#include "storage/read.h"

static void put(const char *root, const char *path, const char *text)
{
	char full[PATH_MAX];
	FILE *f;

	(void)snprintf(full, sizeof(full), "%s%s", root, path);
	for (char *p = full + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(full, 0755);
		*p = '/';
	}
	f = fopen(full, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm_tree(const char *root)
{
	char cmd[PATH_MAX + 16];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

/* A task of flow "My Flow" in company.team, execution ex1, tenant main. */
static struct kwg_storage_reader reader(const char *root)
{
	return (struct kwg_storage_reader){.local_base = root,
	                                   .tenant = "main",
	                                   .namespace_ = "company.team",
	                                   .flow_id = "My Flow",
	                                   .execution_id = "ex1"};
}

static void test_read_allowed(void **state)
{
	const char *ns = "company.team", *flow = "My Flow", *ex = "ex1";

	(void)state;
	assert_true(kwg_storage_read_allowed(ns, flow, ex, "/company/team/_files/a/b.txt"));
	assert_true(
	    kwg_storage_read_allowed(ns, flow, ex, "/company/team/my-flow/executions/ex1/x"));
	assert_true(kwg_storage_read_allowed(
	    ns, flow, ex, "/company/team/other/executions/ex9/tasks/t/r/out.txt"));
	assert_false(
	    kwg_storage_read_allowed(ns, flow, ex, "/company/team/my-flow/executions/ex2/x"));
	assert_false(kwg_storage_read_allowed(ns, flow, ex, "/company/teamx/_files/a.txt"));
	assert_false(kwg_storage_read_allowed(ns, flow, ex, "/company/_files/a.txt"));
	assert_false(kwg_storage_read_allowed(ns, flow, ex, "/other/ns/_files/x.txt"));
}

static void test_read(void **state)
{
	char root[] = "/tmp/kwg-storage-read.XXXXXX";
	struct kwg_err err = {{0}};
	struct kwg_storage_reader rd;
	char *text = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(root));
	rd = reader(root);
	put(root, "/main/company/team/_files/scripts/main.py", "print(1)\n");
	put(root, "/main/company/team/my-flow/executions/ex1/in.txt", "0123456789");

	assert_int_equal(kwg_storage_read(&rd, "/scripts/main.py", &text, &len, &err), 0);
	assert_string_equal(text, "print(1)\n");
	assert_int_equal(len, 9);
	free(text);
	assert_int_equal(kwg_storage_read(&rd,
	                                  "kestra:///company/team/my-flow/executions/ex1/in.txt",
	                                  &text, &len, &err),
	                 0);
	assert_string_equal(text, "0123456789");
	free(text);
	assert_int_equal(rd.read_bytes, 19);

	assert_int_equal(
	    kwg_storage_read(&rd, "kestra:///other/ns/_files/x.txt", &text, &len, &err), -EINVAL);
	assert_string_equal(err.msg, "read('kestra:///other/ns/_files/x.txt'): not a file of this "
	                             "flow's namespace or execution");
	assert_int_equal(kwg_storage_read(&rd, "missing.txt", &text, &len, &err), -EINVAL);
	assert_string_equal(err.msg, "read('missing.txt'): no such file");
	assert_int_equal(
	    kwg_storage_read(&rd, "kestra:///company/team/_files/../x", &text, &len, &err),
	    -EINVAL);

	/* The task's budget: 3 bytes left, a 10-byte file is refused and not counted. */
	rd.read_bytes = KWG_STORAGE_READ_TOTAL_BYTES - 3;
	assert_int_equal(kwg_storage_read(&rd,
	                                  "kestra:///company/team/my-flow/executions/ex1/in.txt",
	                                  &text, &len, &err),
	                 -EINVAL);
	assert_non_null(strstr(err.msg, "): past 16 MiB, or 64 MiB read by the task"));
	assert_int_equal(rd.read_bytes, KWG_STORAGE_READ_TOTAL_BYTES - 3);

	rd.local_base = NULL;
	assert_int_equal(kwg_storage_read(&rd, "scripts/main.py", &text, &len, &err), -EOPNOTSUPP);
	assert_string_equal(
	    err.msg, "read('scripts/main.py'): this worker has no internal storage configured");
	rm_tree(root);
}

/* fileSize, fileExists, isFileEmpty: the same files as read(), not read, not counted. */
static void test_stat(void **state)
{
	char root[] = "/tmp/kwg-storage-stat.XXXXXX";
	struct kwg_err err = {{0}};
	struct kwg_storage_reader rd;
	int64_t size = -1;

	(void)state;
	assert_non_null(mkdtemp(root));
	rd = reader(root);
	put(root, "/main/company/team/_files/empty.txt", "");
	put(root, "/main/company/team/my-flow/executions/ex1/in.txt", "0123456789");
	put(root, "/main/company/team/my-flow/executions/ex1/sub/f.txt", "f");

	assert_int_equal(kwg_storage_stat(&rd, "fileSize", "empty.txt", &size, &err), 0);
	assert_int_equal(size, 0);
	assert_int_equal(kwg_storage_stat(&rd, "fileSize",
	                                  "kestra:///company/team/my-flow/executions/ex1/in.txt",
	                                  &size, &err),
	                 0);
	assert_int_equal(size, 10);
	assert_int_equal(rd.read_bytes, 0);
	assert_int_equal(kwg_storage_stat(&rd, "fileExists", "nope.txt", &size, &err), -ENOENT);
	assert_string_equal(err.msg, "fileExists('nope.txt'): no such file");
	assert_int_equal(kwg_storage_stat(&rd, "fileSize", "empty.txt/x", &size, &err), -ENOENT);
	/* A directory is not a file. */
	assert_int_equal(kwg_storage_stat(&rd, "isFileEmpty",
	                                  "kestra:///company/team/my-flow/executions/ex1/sub",
	                                  &size, &err),
	                 -ENOENT);
	assert_int_equal(
	    kwg_storage_stat(&rd, "fileSize", "kestra:///other/ns/_files/x.txt", &size, &err),
	    -EINVAL);
	assert_string_equal(err.msg, "fileSize('kestra:///other/ns/_files/x.txt'): not a file of "
	                             "this flow's namespace or execution");
	/* A second revision beside a namespace file (Kestra 1.2+): refused, not read stale. */
	put(root, "/main/company/team/_files/empty.txt.v2", "x");
	assert_int_equal(kwg_storage_stat(&rd, "fileSize", "empty.txt", &size, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "several revisions"));
	rd.local_base = NULL;
	assert_int_equal(kwg_storage_stat(&rd, "fileSize", "empty.txt", &size, &err), -EOPNOTSUPP);
	rm_tree(root);
}

static void test_file_uri(void **state)
{
	char *uri;

	(void)state;
	uri = kwg_storage_file_uri("company.team", "//scripts/main.py");
	assert_string_equal(uri, "kestra:///company/team/_files/scripts/main.py");
	free(uri);
}

static void test_kv(void **state)
{
	char root[] = "/tmp/kwg-storage-kv.XXXXXX";
	struct kwg_err err = {{0}};
	struct kwg_storage_reader rd;
	json_t *v = NULL;

	(void)state;
	assert_non_null(mkdtemp(root));
	rd = reader(root);
	put(root, "/main/company/team/_kv/greeting.ion", "\"hello\"");
	put(root, "/main/company/_kv/inherited.ion", "{n:1}");
	put(root, "/main/company/team/_kv/gone.ion", "\"old\"");
	put(root, "/main/company/team/_kv/gone.ion.metadata",
	    "{expirationDate:\"2020-01-01T00:00:00Z\"}");
	put(root, "/main/company/team/_kv/fresh.ion", "2");
	put(root, "/main/company/team/_kv/fresh.ion.metadata",
	    "{expirationDate:2999-01-01T00:00:00Z}");
	put(root, "/main/company/team/_kv/bad.ion", "{broken");
	put(root, "/main/company/team/_kv/rev.ion", "\"r1\"");
	put(root, "/main/company/team/_kv/rev.ion.v2", "\"r2\"");

	assert_int_equal(kwg_storage_kv_get(&rd, "greeting", NULL, &v, &err), 0);
	assert_string_equal(json_string_value(v), "hello");
	json_decref(v);
	/* Inherited from the parent namespace without a namespace; not with one. */
	assert_int_equal(kwg_storage_kv_get(&rd, "inherited", NULL, &v, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(v, "n")), 1);
	json_decref(v);
	assert_int_equal(kwg_storage_kv_get(&rd, "inherited", "company.team", &v, &err), -ENOENT);
	assert_int_equal(kwg_storage_kv_get(&rd, "nothing", NULL, &v, &err), -ENOENT);
	assert_int_equal(kwg_storage_kv_get(&rd, "gone", NULL, &v, &err), -ESTALE);
	assert_int_equal(kwg_storage_kv_get(&rd, "fresh", NULL, &v, &err), 0);
	assert_int_equal(json_integer_value(v), 2);
	json_decref(v);

	assert_int_equal(kwg_storage_kv_get(&rd, "bad", NULL, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "kv('bad') in 'company.team': "));
	assert_int_equal(kwg_storage_kv_get(&rd, "rev", NULL, &v, &err), -EOPNOTSUPP);
	assert_non_null(
	    strstr(err.msg, "kv('rev'): the key has several revisions in 'company.team'"));
	assert_int_equal(kwg_storage_kv_get(&rd, ".dot", NULL, &v, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "Key must start with an alphanumeric character"));
	assert_int_equal(kwg_storage_kv_get(&rd, "k", "a..b", &v, &err), -EINVAL);
	assert_string_equal(err.msg, "kv('k'): invalid namespace 'a..b'");
	rd.local_base = NULL;
	assert_int_equal(kwg_storage_kv_get(&rd, "greeting", NULL, &v, &err), -EOPNOTSUPP);
	assert_string_equal(err.msg,
	                    "kv('greeting'): this worker has no internal storage configured");
	rm_tree(root);
}

static void on_fetched(void *userdata, const char *error)
{
	*(char **)userdata = strdup(error ? error : "ok");
}

/* Remote storage: reads find nothing until a fetch round brings what they wanted (the local
 * backend stands in for S3 here: the same asynchronous get). */
static void test_fetch(void **state)
{
	char root[] = "/tmp/kwg-storage-fetch.XXXXXX", tmp[PATH_MAX];
	struct kwg_storage_config cfg = {.type = "local"};
	struct kwg_err err = {{0}};
	struct kwg_storage_reader rd;
	struct kwg_storage *s = NULL;
	uv_loop_t loop;
	char *text = NULL, *done = NULL;
	json_t *v = NULL;
	int64_t size = -1;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(root));
	put(root, "/main/company/team/_files/a.txt", "hello");
	put(root, "/main/company/_kv/greeting.ion", "\"from the parent\"");
	(void)snprintf(tmp, sizeof(tmp), "%s/work", root);
	assert_int_equal(mkdir(tmp, 0700), 0);
	assert_int_equal(uv_loop_init(&loop), 0);
	cfg.base_path = root;
	assert_int_equal(kwg_storage_new(&loop, &cfg, &s, &err), 0);
	rd = reader(root);
	rd.local_base = NULL;
	rd.fetch = kwg_storage_fetch_new(NULL);
	assert_non_null(rd.fetch);

	assert_int_equal(kwg_storage_read(&rd, "a.txt", &text, &len, &err), -EAGAIN);
	assert_int_equal(kwg_storage_kv_get(&rd, "greeting", NULL, &v, &err), -EAGAIN);
	assert_int_equal(kwg_storage_stat(&rd, "fileExists", "nope.txt", &size, &err), -EAGAIN);
	/* a.txt and a.txt.v2; value, .v2 and .metadata in company.team and company; nope.txt and
	 * nope.txt.v2 */
	assert_int_equal(kwg_storage_fetch_wanted(rd.fetch), 10);
	assert_int_equal(kwg_storage_fetch_start(rd.fetch, s, "main", tmp, on_fetched, &done), 0);
	assert_null(done); /* never inside the call */
	while (!done)
		assert_true(uv_run(&loop, UV_RUN_ONCE) >= 0);
	assert_string_equal(done, "ok");
	assert_int_equal(kwg_storage_fetch_wanted(rd.fetch), 0);

	assert_int_equal(kwg_storage_read(&rd, "a.txt", &text, &len, &err), 0);
	assert_string_equal(text, "hello");
	free(text);
	assert_int_equal(rd.read_bytes, 5);
	assert_int_equal(kwg_storage_kv_get(&rd, "greeting", NULL, &v, &err), 0);
	assert_string_equal(json_string_value(v), "from the parent");
	json_decref(v);
	assert_int_equal(kwg_storage_stat(&rd, "fileExists", "nope.txt", &size, &err), -ENOENT);
	assert_int_equal(kwg_storage_stat(&rd, "fileSize", "a.txt", &size, &err), 0);
	assert_int_equal(size, 5);
	/* The temporary copies are gone. */
	(void)snprintf(tmp, sizeof(tmp), "rmdir '%s/work'", root);
	assert_int_equal(system(tmp), 0);

	kwg_storage_fetch_free(rd.fetch);
	kwg_storage_free(s);
	while (uv_run(&loop, UV_RUN_NOWAIT) != 0)
		;
	assert_int_equal(uv_loop_close(&loop), 0);
	free(done);
	rm_tree(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_read_allowed), cmocka_unit_test(test_read),
	    cmocka_unit_test(test_stat),         cmocka_unit_test(test_file_uri),
	    cmocka_unit_test(test_kv),           cmocka_unit_test(test_fetch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
