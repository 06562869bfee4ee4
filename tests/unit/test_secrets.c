/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/secrets: SECRET_* variables as Kestra's open-source edition reads them (base64, names
 * upper-cased, bad values skipped) and the log masking of their values (kestra-script-tasks.md
 * §8.7, §5.1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/secrets.h"

static int bad_count;
static void on_bad(void *userdata, const char *name)
{
	(void)userdata;
	assert_string_equal(name, "BROKEN");
	bad_count++;
}

static void test_secrets_from_env(void **state)
{
	char *env[] = {
	    (char *)"PATH=/bin",
	    (char *)"SECRET_MY_PASS=czNjcjN0",   /* s3cr3t */
	    (char *)"secret_lower=eA==",         /* not SECRET_: ignored */
	    (char *)"SECRET_Api_Key=YWJj\nZGVm", /* a line break inside is dropped */
	    (char *)"SECRET_NOPAD=YWI",          /* padding optional: "ab" */
	    (char *)"SECRET_BROKEN=***",
	    (char *)"SECRET_=eA==",
	    NULL,
	};
	struct kwg_secrets *s;

	(void)state;
	bad_count = 0;
	assert_int_equal(kwg_secrets_new(env, on_bad, NULL, &s), 0);
	assert_int_equal(bad_count, 1);
	assert_int_equal(kwg_secrets_count(s), 3);
	assert_string_equal(kwg_secrets_get(s, "my_pass"), "s3cr3t");
	assert_string_equal(kwg_secrets_get(s, "MY_PASS"), "s3cr3t");
	assert_string_equal(kwg_secrets_get(s, "api_key"), "abcdef");
	assert_string_equal(kwg_secrets_get(s, "NOPAD"), "ab");
	assert_null(kwg_secrets_get(s, "BROKEN"));
	assert_null(kwg_secrets_get(s, "LOWER"));
	assert_null(kwg_secrets_get(NULL, "X"));
	kwg_secrets_free(s);
}

static void test_secrets_mask(void **state)
{
	static const struct {
		const char *masks[3];
		const char *msg, *want; /* want NULL: unchanged */
	} cases[] = {
	    {{"pw"}, "user pw here", "user ** here"},
	    {{"s3cr3t-value-42"}, "pass=s3cr3t-value-42!", "pass=**masked*******!"},
	    {{"s3cr3t-value-42"},
	     "a s3cr3t-value-42 b s3cr3t-value-42",
	     "a **masked******* b ***************"},
	    {{"abc", "12345678"}, "abc 12345678 abc", "*** ******** ***"},
	    {{"abcd", "efghi"}, "abcdefghi", "**masked*"},
	    {{"x"}, "nothing here", NULL},
	    {{"é"}, "café", "caf*"},
	    {{""}, "empty secrets mask nothing", NULL},
	};
	struct kwg_buf out;

	(void)state;
	kwg_buf_init(&out, 1 << 20);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kwg_strv masks = {0};
		for (size_t j = 0; j < 3 && cases[i].masks[j]; j++)
			assert_int_equal(kwg_strv_push(&masks, cases[i].masks[j]), 0);
		bool changed = kwg_secrets_mask(&masks, cases[i].msg, strlen(cases[i].msg), &out);
		if (cases[i].want) {
			assert_true(changed);
			assert_string_equal(kwg_buf_str(&out), cases[i].want);
		} else {
			assert_false(changed);
		}
		kwg_strv_done(&masks);
	}
	assert_false(kwg_secrets_mask(NULL, "x", 1, &out));
	kwg_buf_done(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_secrets_from_env),
	    cmocka_unit_test(test_secrets_mask),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
