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
#include <jq.h>

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
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lazylib_missing_library_is_named),
	    cmocka_unit_test(test_lazylib_missing_function_is_named),
	    cmocka_unit_test(test_lazylib_loads_on_first_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
