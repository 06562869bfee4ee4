/* SPDX-License-Identifier: Apache-2.0 */
/* storage/storage_path: Kestra's Slugify, the URI prefixes of task outputs and namespace files,
 * URI validation, and the keys and directory markers of the local, S3 and MinIO layouts
 * (kestra-script-tasks.md §7.1, §7.3, §7.4). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/storage_path.h"

static void expect_slug(const char *in, const char *out)
{
	char *s = kwg_slugify(in);

	assert_non_null(s);
	if (strcmp(s, out) != 0)
		fail_msg("slugify('%s') = '%s', expected '%s'", in, s, out);
	free(s);
}

static void test_storage_path_slugify_as_kestra(void **state)
{
	(void)state;
	expect_slug("new_shell_with_file", "new-shell-with-file");
	expect_slug("Hello World", "hello-world");
	expect_slug("  lead and trail  ", "lead-and-trail");
	expect_slug("a__b--c  d", "a-b-c-d");
	expect_slug("_x_", "x");
	expect_slug("tab\there\nnewline", "tab-here-newline");
	expect_slug("Crème Brûlée", "creme-brulee");
	expect_slug("ÀÉÎÕÜÇÑÝÿ", "aeioucnyy");
	expect_slug("Łódź Żółć", "odz-zoc"); /* Ł ł have no decomposition: dropped, as in Java */
	expect_slug("Straße", "strae");
	expect_slug("ĞğİŞşČčŘřŮůŽž", "ggissccrruuzz");
	expect_slug("a.b/c:d", "abcd");
	expect_slug("日本語", "");
	expect_slug("x 日本 y", "x-y");
	expect_slug("", "");
	expect_slug("---", "");
	expect_slug("v1.2_final", "v12-final");
	expect_slug("\xff\xfe bad", "bad");
	/* NFD over all of Unicode (protocol/unicode.h), not only Latin-1 and Latin Extended-A */
	expect_slug("Tiếng Việt", "tieng-viet");
	expect_slug("\u212a\u212b", "ka"); /* KELVIN SIGN, ANGSTROM SIGN: canonical singletons */
	expect_slug("Ǖber Știință", "uber-stiinta");
	expect_slug("ﬁ æ", ""); /* compatibility and undecomposable letters go */
}

static void expect_str(char *got, const char *expected)
{
	assert_non_null(got);
	assert_string_equal(got, expected);
	free(got);
}

static void test_storage_path_prefixes(void **state)
{
	(void)state;
	expect_str(kwg_storage_task_prefix("company.team", "new_shell_with_file", "5wXy", "My Task",
	                                   "3ABC"),
	           "kestra:///company/team/new-shell-with-file/executions/5wXy/tasks/my-task/3ABC");
	expect_str(kwg_storage_namespace_prefix("company.team.sub"),
	           "kestra:///company/team/sub/_files");
}

static void expect_path(const char *uri, const char *path)
{
	const char *got = NULL;
	struct kwg_err err = {{0}};

	if (kwg_storage_uri_path(uri, &got, &err) != 0)
		fail_msg("'%s' refused: %s", uri, err.msg);
	assert_string_equal(got, path);
}

static void expect_refused(const char *uri)
{
	const char *got = NULL;
	struct kwg_err err = {{0}};

	if (kwg_storage_uri_path(uri, &got, &err) != -EINVAL)
		fail_msg("'%s' accepted", uri);
	assert_null(got);
	assert_non_null(strstr(err.msg, "'"));
}

static void test_storage_path_uri_validation(void **state)
{
	(void)state;
	expect_path("kestra:///company/team/f/executions/e/tasks/t/r/out.txt",
	            "/company/team/f/executions/e/tasks/t/r/out.txt");
	expect_path("kestra:///", "/");
	expect_path("kestra:///company/_files/", "/company/_files/");
	expect_path("kestra:///a/file..txt", "/a/file..txt"); /* not a ".." segment */
	expect_refused("s3:///a");
	expect_refused("kestra://host/a");
	expect_refused("kestra:a");
	expect_refused("kestra:///a/../b");
	expect_refused("kestra:///a/..");
	expect_refused("kestra:///../etc/passwd");
	expect_refused("kestra:///a/./b");
	expect_refused("kestra:///a//b");
	expect_refused("kestra:///a/%2e%2e/b");
	expect_refused("kestra:///a/b?x=1");
	expect_refused("kestra:///a/b#f");
	expect_refused("kestra:///a/b\nc");
	expect_refused("kestra:///a\\..\\b");
}

static void test_storage_path_keys(void **state)
{
	(void)state;
	expect_str(kwg_storage_key(KWG_STORAGE_LOCAL, NULL, "/company/team/out.txt"),
	           "/company/team/out.txt");
	expect_str(kwg_storage_key(KWG_STORAGE_LOCAL, "main", "/company/team/out.txt"),
	           "/main/company/team/out.txt");
	expect_str(kwg_storage_key(KWG_STORAGE_S3, NULL, "/company/team/out.txt"),
	           "/company/team/out.txt");
	expect_str(kwg_storage_key(KWG_STORAGE_S3, "", "/company/team/out.txt"),
	           "/company/team/out.txt");
	expect_str(kwg_storage_key(KWG_STORAGE_S3, "main", "/company/team/out.txt"),
	           "/main/company/team/out.txt");
	expect_str(kwg_storage_key(KWG_STORAGE_MINIO, NULL, "/company/team/out.txt"),
	           "company/team/out.txt");
	expect_str(kwg_storage_key(KWG_STORAGE_MINIO, "main", "/company/team/out.txt"),
	           "main/company/team/out.txt");
}

static void expect_markers(char **keys, const char *const *expected)
{
	size_t i;

	assert_non_null(keys);
	for (i = 0; expected[i]; i++) {
		if (!keys[i])
			fail_msg("marker %zu missing, expected '%s'", i, expected[i]);
		assert_string_equal(keys[i], expected[i]);
	}
	if (keys[i])
		fail_msg("unexpected marker '%s'", keys[i]);
	for (i = 0; keys[i]; i++)
		free(keys[i]);
	free(keys);
}

static void test_storage_path_markers(void **state)
{
	static const char *const s3[] = {"/", "/company/", "/company/team/", NULL};
	static const char *const s3_tenant[] = {"/", "/main/", "/main/company/",
	                                        "/main/company/team/", NULL};
	static const char *const minio[] = {"company/", "company/team/", NULL};
	static const char *const minio_tenant[] = {"main/", "main/company/", "main/company/team/",
	                                           NULL};
	static const char *const none[] = {NULL};

	(void)state;
	expect_markers(kwg_storage_marker_keys(KWG_STORAGE_S3, NULL, "/company/team/out.txt"), s3);
	expect_markers(kwg_storage_marker_keys(KWG_STORAGE_S3, "main", "/company/team/out.txt"),
	               s3_tenant);
	expect_markers(kwg_storage_marker_keys(KWG_STORAGE_MINIO, NULL, "/company/team/out.txt"),
	               minio);
	expect_markers(kwg_storage_marker_keys(KWG_STORAGE_MINIO, "main", "/company/team/out.txt"),
	               minio_tenant);
	expect_markers(kwg_storage_marker_keys(KWG_STORAGE_MINIO, NULL, "/top.txt"), none);
	expect_markers(kwg_storage_marker_keys(KWG_STORAGE_LOCAL, "main", "/company/out.txt"),
	               none);
}

struct keys {
	char text[1024];
};

static int on_key(void *userdata, const char *key)
{
	struct keys *k = userdata;
	size_t used = strlen(k->text);

	snprintf(k->text + used, sizeof(k->text) - used, "%s%s", used ? "|" : "", key);
	return 0;
}

static void test_storage_path_list_parse(void **state)
{
	static const char page[] =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"x\">"
	    "<Name>b</Name><Prefix>/</Prefix><IsTruncated>true</IsTruncated>"
	    "<Contents><Key>/</Key><Size>0</Size></Contents>"
	    "<Contents><Key>/a &amp; b&lt;&gt;&quot;&apos;&#233;&#x1F600;.txt</Key></Contents>"
	    "<NextContinuationToken>t+/=&amp;</NextContinuationToken></ListBucketResult>";
	static const char last[] = "<ListBucketResult><IsTruncated>false</IsTruncated>"
	                           "<Contents><Key>k</Key></Contents></ListBucketResult>";
	struct keys k = {""};
	struct kwg_err err = {{0}};
	char *token = NULL;

	(void)state;
	assert_int_equal(kwg_storage_list_parse(page, strlen(page), on_key, &k, &token, &err), 0);
	assert_string_equal(k.text, "/|/a & b<>\"'é😀.txt");
	assert_string_equal(token, "t+/=&");
	free(token);
	k.text[0] = '\0';
	assert_int_equal(kwg_storage_list_parse(last, strlen(last), on_key, &k, &token, &err), 0);
	assert_string_equal(k.text, "k");
	assert_null(token);
}

static void expect_bad_list(const char *xml, const char *what)
{
	struct keys k = {""};
	struct kwg_err err = {{0}};
	char *token = NULL;

	assert_int_equal(kwg_storage_list_parse(xml, strlen(xml), on_key, &k, &token, &err),
	                 -EINVAL);
	if (!strstr(err.msg, what))
		fail_msg("'%s': error '%s' does not say '%s'", xml, err.msg, what);
}

static void test_storage_path_list_parse_refuses_bad_pages(void **state)
{
	char *huge = malloc(6000);

	(void)state;
	expect_bad_list("<Error><Code>AccessDenied</Code></Error>", "not a ListBucketResult");
	expect_bad_list("<ListBucketResult><Key>abc", "unterminated");
	expect_bad_list("<ListBucketResult><Key>a&bogus;</Key>", "bad entity");
	expect_bad_list("<ListBucketResult><Key>a&#0;</Key>", "bad entity");
	expect_bad_list("<ListBucketResult><Key>a&#xD800;</Key>", "bad entity");
	expect_bad_list("<ListBucketResult><Key>a&amp</Key>", "bad entity");
	expect_bad_list("<ListBucketResult><Key></Key>", "bad entity");
	expect_bad_list("<ListBucketResult><IsTruncated>true</IsTruncated>",
	                "without a usable NextContinuationToken");
	strcpy(huge, "<ListBucketResult><Key>");
	memset(huge + strlen(huge), 'a', 5000);
	strcpy(huge + strlen("<ListBucketResult><Key>") + 5000, "</Key>");
	expect_bad_list(huge, "longer than 4096 bytes");
	free(huge);
}

static void test_storage_path_xml_text(void **state)
{
	static const char body[] = "<Error><Code>NoSuchKey</Code><Message>The key &quot;k&quot; "
	                           "does not exist.</Message></Error>";
	char buf[64];

	(void)state;
	assert_string_equal(kwg_storage_xml_text(body, strlen(body), "Code", buf, sizeof(buf)),
	                    "NoSuchKey");
	assert_string_equal(kwg_storage_xml_text(body, strlen(body), "Message", buf, sizeof(buf)),
	                    "The key \"k\" does not exist.");
	assert_string_equal(kwg_storage_xml_text(body, strlen(body), "Resource", buf, sizeof(buf)),
	                    "");
	assert_string_equal(kwg_storage_xml_text(body, strlen(body), "Message", buf, 8), "The key");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_storage_path_slugify_as_kestra),
	    cmocka_unit_test(test_storage_path_prefixes),
	    cmocka_unit_test(test_storage_path_uri_validation),
	    cmocka_unit_test(test_storage_path_keys),
	    cmocka_unit_test(test_storage_path_markers),
	    cmocka_unit_test(test_storage_path_list_parse),
	    cmocka_unit_test(test_storage_path_list_parse_refuses_bad_pages),
	    cmocka_unit_test(test_storage_path_xml_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
