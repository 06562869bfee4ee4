/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/sql: the encoders of statement parameters and COPY data (text arrays, COPY fields). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "protocol/sql.h"

static void expect_field(const char *in, const char *out)
{
	struct kwg_buf b;

	kwg_buf_init(&b, 1024);
	assert_int_equal(kwg_sql_copy_field(&b, in), 0);
	if (strcmp(kwg_buf_str(&b), out) != 0)
		fail_msg("copy field of '%s' = '%s', expected '%s'", in, kwg_buf_str(&b), out);
	kwg_buf_done(&b);
}

static void test_sql_copy_field_escapes(void **state)
{
	(void)state;
	expect_field("", "");
	expect_field("plain {\"json\":1}", "plain {\"json\":1}");
	/* A JSON escape keeps its backslash: COPY reads "\\" back as one. */
	expect_field("{\"m\":\"a\\nb\"}", "{\"m\":\"a\\\\nb\"}");
	expect_field("t\tn\nr\r", "t\\tn\\nr\\r");
	expect_field("\\\\", "\\\\\\\\");
}

static void test_sql_copy_field_bounded(void **state)
{
	struct kwg_buf b;

	(void)state;
	kwg_buf_init(&b, 4);
	assert_true(kwg_sql_copy_field(&b, "\t\t\t") < 0);
	kwg_buf_done(&b);
}

static void test_sql_text_array(void **state)
{
	const char *items[] = {"a", "b\"c", "d\\e"};
	struct kwg_buf b;

	(void)state;
	kwg_buf_init(&b, 1024);
	assert_int_equal(kwg_sql_text_array(&b, items, 3), 0);
	assert_string_equal(kwg_buf_str(&b), "{\"a\",\"b\\\"c\",\"d\\\\e\"}");
	kwg_buf_done(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sql_copy_field_escapes),
	    cmocka_unit_test(test_sql_copy_field_bounded),
	    cmocka_unit_test(test_sql_text_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
