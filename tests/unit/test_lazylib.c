/* SPDX-License-Identifier: Apache-2.0 */
/* common/lazylib.c: libraries loaded at first use, their stubs, and the error naming a missing
 * library or function. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <archive.h>
#include <curl/curl.h>
#include <jq.h>
#include <nghttp2/nghttp2.h>
#include <yaml.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/lazylib.h"

static void test_lazylib_missing_library_is_named(void **state)
{
	static const char *const names[] = {"kwg_nothing"};
	void *fns[1] = {NULL};
	struct kwg_lazylib lib = {.soname = "libkwg-absent.so.7",
	                          .needed_by = "the test",
	                          .names = names,
	                          .fns = fns,
	                          .n = 1};

	(void)state;
	assert_int_equal(kwg_lazylib_load(&lib), -ENOENT);
	assert_non_null(strstr(lib.error, "cannot load libkwg-absent.so.7, which the test needs"));
	/* The outcome is kept: no second attempt, the stubs get NULL. */
	assert_int_equal(kwg_lazylib_load(&lib), -ENOENT);
	assert_null(kwg_lazylib_fn(&lib, 0));
}

static void test_lazylib_missing_function_is_named(void **state)
{
	static const char *const names[] = {"strlen", "kwg_no_such_function"};
	void *fns[2] = {NULL, NULL};
	struct kwg_lazylib lib = {
	    .soname = "libc.so.6", .needed_by = "the test", .names = names, .fns = fns, .n = 2};

	(void)state;
	assert_int_equal(kwg_lazylib_load(&lib), -ENOENT);
	assert_non_null(strstr(lib.error, "libc.so.6"));
	assert_non_null(strstr(lib.error, "kwg_no_such_function"));
}

static void test_lazylib_loads_on_first_call(void **state)
{
	(void)state;
	/* Nothing loaded libjq yet: the first stub call does, and forwards. */
	assert_int_equal(kwg_lazy_jq.state, 0);
	jv s = jv_string("kwg");
	assert_int_equal(kwg_lazy_jq.state, 1);
	assert_int_equal(jv_get_kind(s), JV_KIND_STRING);
	assert_string_equal(jv_string_value(s), "kwg");
	jv_free(s);

	struct archive *a = archive_read_new();
	assert_non_null(a);
	assert_int_equal(archive_read_free(a), ARCHIVE_OK);
	assert_int_equal(kwg_lazylib_load(&kwg_lazy_mhd), 0);

	nghttp2_session_callbacks *cbs = NULL;
	assert_int_equal(kwg_lazy_nghttp2.state, 0);
	assert_int_equal(nghttp2_session_callbacks_new(&cbs), 0);
	assert_int_equal(kwg_lazy_nghttp2.state, 1);
	assert_non_null(cbs);
	nghttp2_session_callbacks_del(cbs);
	assert_string_equal(nghttp2_http2_strerror(NGHTTP2_CANCEL), "CANCEL");

	yaml_parser_t parser;
	assert_int_equal(kwg_lazy_yaml.state, 0);
	assert_int_equal(yaml_parser_initialize(&parser), 1);
	assert_int_equal(kwg_lazy_yaml.state, 1);
	yaml_parser_delete(&parser);

	int ec;
	PCRE2_SIZE eo;
	assert_int_equal(kwg_lazy_pcre2.state, 0);
	pcre2_code *re = pcre2_compile((PCRE2_SPTR) "k(w)g", 5, 0, &ec, &eo, NULL);
	assert_non_null(re);
	assert_int_equal(kwg_lazy_pcre2.state, 1);
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
	assert_int_equal(pcre2_match(re, (PCRE2_SPTR) "a kwg", 5, 0, 0, md, NULL), 2);
	assert_int_equal(pcre2_get_ovector_pointer(md)[2], 3);
	pcre2_match_data_free(md);
	pcre2_code_free(re);
}

/* A missing libcurl: the constructors fail, and libcurl's own error text names the library, so
 * that the first Docker request or S3 transfer says why. Then libcurl is found again (the
 * outcome is reset here only; kwg keeps it for the process's life). */
static void test_lazylib_missing_curl_is_named(void **state)
{
	(void)state;
	assert_int_equal(kwg_lazy_curl.state, 0);
	kwg_lazy_curl.soname = "libcurl-kwg-absent.so.4";
	assert_null(curl_easy_init());
	assert_int_equal(kwg_lazy_curl.state, -ENOENT);
	assert_null(curl_multi_init());
	assert_int_equal(curl_global_init(CURL_GLOBAL_DEFAULT), CURLE_FAILED_INIT);
	assert_int_equal(curl_easy_setopt(NULL, CURLOPT_NOSIGNAL, 1L), CURLE_FAILED_INIT);
	assert_null(curl_slist_append(NULL, "Expect:"));
	assert_non_null(strstr(curl_easy_strerror(CURLE_OK),
	                       "cannot load libcurl-kwg-absent.so.4, which kwg's HTTP client (the "
	                       "Docker task runner, S3 storage) needs"));
	kwg_lazy_curl.soname = "libcurl.so.4";
	kwg_lazy_curl.state = 0;
}

struct sink {
	size_t bytes;
};

static size_t on_write(char *data, size_t size, size_t n, void *userdata)
{
	struct sink *s = userdata;

	(void)data;
	s->bytes += size * n;
	return size * n;
}

/* The variadic stubs pass each kind of option value as its own type: a long, an object pointer,
 * a function pointer, a curl_off_t; and getinfo's pointer back. A file:// transfer of this
 * test's own source shows them all arrive. */
static void test_lazylib_curl_forwards_variadic_options(void **state)
{
	struct sink sink = {0};
	char url[4096];
	void *priv = NULL;
	curl_off_t got = 0;
	CURL *c;

	(void)state;
	(void)snprintf(url, sizeof(url), "file://%s", __FILE__);
	c = curl_easy_init();
	assert_non_null(c);
	assert_int_equal(kwg_lazy_curl.state, 1);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_URL, url), CURLE_OK);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L), CURLE_OK);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write), CURLE_OK);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink), CURLE_OK);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_PRIVATE, &sink), CURLE_OK);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)1 << 40),
	                 CURLE_OK);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	assert_true(sink.bytes > 1000);
	assert_int_equal(curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&priv), CURLE_OK);
	assert_ptr_equal(priv, &sink);
	assert_int_equal(curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &got), CURLE_OK);
	assert_int_equal(got, (curl_off_t)sink.bytes);
	curl_easy_cleanup(c);
	/* Resumed 100 bytes in: the curl_off_t arrived as such. */
	size_t whole = sink.bytes;
	sink.bytes = 0;
	c = curl_easy_init();
	(void)curl_easy_setopt(c, CURLOPT_URL, url);
	(void)curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	(void)curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
	assert_int_equal(curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)100), CURLE_OK);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	assert_int_equal(sink.bytes, whole - 100);
	curl_easy_cleanup(c);
	CURLM *m = curl_multi_init();
	assert_non_null(m);
	assert_int_equal(curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, 4L), CURLM_OK);
	assert_int_equal(curl_multi_cleanup(m), CURLM_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lazylib_missing_library_is_named),
	    cmocka_unit_test(test_lazylib_missing_function_is_named),
	    cmocka_unit_test(test_lazylib_loads_on_first_call),
	    cmocka_unit_test(test_lazylib_missing_curl_is_named),
	    cmocka_unit_test(test_lazylib_curl_forwards_variadic_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
