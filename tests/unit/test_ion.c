/* SPDX-License-Identifier: Apache-2.0 */
/* storage/ion: Ion text as Kestra's KV store writes it (JacksonMapper.ofIon()) read into JSON,
 * and bad input refused with the offset. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "template/ion.h"

struct ion_case {
	const char *ion, *json; /* json NULL: must be refused */
};

static const struct ion_case cases[] = {
    /* What Jackson's Ion writer produces for the values a KV entry holds. */
    {"\"hello\"", "\"hello\""},
    {"42", "42"},
    {"-7", "-7"},
    {"3.5e0", "3.5"},
    {"1.25", "1.25"},
    {"true", "true"},
    {"false", "false"},
    {"null", "null"},
    {"null.string", "null"},
    {"{a:1,b:\"x\",c:[1,2]}", "{\"a\": 1, \"b\": \"x\", \"c\": [1, 2]}"},
    {"{'quoted field':1,\"f\":{}}", "{\"quoted field\": 1, \"f\": {}}"},
    {"[1,2,]", "[1, 2]"},
    {"{a:1,}", "{\"a\": 1}"},
    {"$ion_1_0 \"v\"", "\"v\""},
    {"2024-01-02T03:04:05.678Z", "\"2024-01-02T03:04:05.678Z\""},
    {"2024T", "\"2024T\""},
    {"PT5M", "\"PT5M\""}, /* a Duration, stored raw: a symbol */
    {"'sym bol'", "\"sym bol\""},
    {"ann::other::5", "5"},
    {"\"a\\tb\\u00e9\\U0001F600\\x41\"", "\"a\\tbé😀A\""},
    {"\"\\ud83d\\ude00\"", "\"😀\""},
    {"'''one ''' /* c */ '''two'''", "\"one two\""},
    {"0x1F", "31"},
    {"-0b101", "-5"},
    {"1_000", "1000"},
    {"1.5d2", "150.0"},
    {"nan", "\"NaN\""},
    {"[+inf, -inf]", "[\"Infinity\", \"-Infinity\"]"},
    {"(+ a 1)", "[\"+\", \"a\", 1]"},
    {"{{ aGVsbG8= }}", "\"aGVsbG8=\""},
    {"{{ \"clob\" }}", "\"clob\""},
    {"// comment\n[1] [2]", "[1]"},
    /* Refused. */
    {"", NULL},
    {"   ", NULL},
    {"\"open", NULL},
    {"[1 2]", NULL},
    {"{a 1}", NULL},
    {"{1:2}", NULL},
    {"007", NULL},
    {"1__0", NULL},
    {"0x", NULL},
    {"1e", NULL},
    {"\"\\q\"", NULL},
    {"\"\\ud800\"", NULL},
    {"\"\xff\"", NULL},
    {"/* open", NULL},
    {"{{ a#b }}", NULL},
    {"0x1FFFFFFFFFFFFFFFF", NULL},
    {"2024-01-0x", NULL},
    {"null.", NULL},
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct ion_case *c = &cases[i];
		struct kwg_err err = {{0}};
		json_t *v = NULL;
		int r = kwg_ion_parse(c->ion, strlen(c->ion), &v, &err);

		if (!c->json) {
			if (r != -EBADMSG)
				fail_msg("'%s': expected -EBADMSG, got %d", c->ion, r);
			if (!strstr(err.msg, "invalid Ion at offset"))
				fail_msg("'%s': message '%s'", c->ion, err.msg);
			continue;
		}
		if (r != 0)
			fail_msg("'%s': %s", c->ion, err.msg);
		json_t *want = json_loads(c->json, JSON_DECODE_ANY, NULL);
		assert_non_null(want);
		if (!json_equal(v, want)) {
			char *got = json_dumps(v, JSON_ENCODE_ANY);
			fail_msg("'%s': got %s, want %s", c->ion, got, c->json);
		}
		json_decref(want);
		json_decref(v);
	}
}

/* Containers nest at most KWG_ION_MAX_DEPTH deep; the text need not end with a NUL. */
static void test_bounds(void **state)
{
	char deep[2 * KWG_ION_MAX_DEPTH + 4];
	struct kwg_err err;
	json_t *v = NULL;
	size_t n = 0;

	(void)state;
	for (int i = 0; i <= KWG_ION_MAX_DEPTH; i++)
		deep[n++] = '[';
	for (int i = 0; i <= KWG_ION_MAX_DEPTH; i++)
		deep[n++] = ']';
	assert_int_equal(kwg_ion_parse(deep, n, &v, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "too deep"));
	assert_int_equal(kwg_ion_parse(deep + 1, n - 2, &v, &err), 0);
	json_decref(v);
	assert_int_equal(kwg_ion_parse("123456", 3, &v, &err), 0);
	assert_int_equal(json_integer_value(v), 123);
	json_decref(v);
}

/* A stream: each top-level value in turn (the version marker skipped), then 0 at the end. */
static void test_stream(void **state)
{
	static const char text[] = "$ion_1_0 {a:1} 2 /* c */ x::\"s\"\n";
	struct kwg_err err;
	json_t *v = NULL;
	size_t pos = 0;

	(void)state;
	assert_int_equal(kwg_ion_next(text, strlen(text), &pos, &v, &err), 1);
	assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
	json_decref(v);
	assert_int_equal(kwg_ion_next(text, strlen(text), &pos, &v, &err), 1);
	assert_int_equal(json_integer_value(v), 2);
	json_decref(v);
	assert_int_equal(kwg_ion_next(text, strlen(text), &pos, &v, &err), 1);
	assert_string_equal(json_string_value(v), "s");
	json_decref(v);
	assert_int_equal(kwg_ion_next(text, strlen(text), &pos, &v, &err), 0);
	assert_int_equal(pos, strlen(text));
	pos = 0;
	assert_int_equal(kwg_ion_next("1 [", 3, &pos, &v, &err), 1);
	json_decref(v);
	assert_int_equal(kwg_ion_next("1 [", 3, &pos, &v, &err), -EBADMSG);
	assert_int_equal(kwg_ion_parse("  ", 2, &v, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "expected a value"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cases),
	    cmocka_unit_test(test_bounds),
	    cmocka_unit_test(test_stream),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
