/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/script_output: the "::{...}::" protocol of kestra-script-tasks.md §4, with the E5
 * example lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/script_output.h"

struct logs {
	char text[1024];
};

static void on_log(void *userdata, enum kwg_level level, const char *message, size_t len)
{
	struct logs *l = userdata;
	size_t used = strlen(l->text);

	snprintf(l->text + used, sizeof(l->text) - used, "%s%s:%.*s", used ? "|" : "",
	         kwg_level_name(level), (int)len, message);
}

static int feed(struct kwg_script_output *so, const char *line, struct logs *l, struct kwg_err *err)
{
	return kwg_script_output_feed(so, line, strlen(line), on_log, l, err);
}

static struct kwg_script_output *new_so(void)
{
	struct kwg_script_output *so = NULL;

	assert_int_equal(kwg_script_output_new(&so), 0);
	return so;
}

static void assert_outputs(struct kwg_script_output *so, int code, const char *expected)
{
	char *s = kwg_script_output_outputs_json(so, code, NULL);

	assert_string_equal(s, expected);
	free(s);
}

static void test_script_output_text_lines_are_not_protocol(void **state)
{
	struct kwg_script_output *so = new_so();
	struct logs l = {""};
	struct kwg_err err = {{0}};

	(void)state;
	assert_int_equal(feed(so, "hello", &l, &err), KWG_SCRIPT_LINE_TEXT);
	assert_int_equal(feed(so, " ::{\"outputs\":{}}::", &l, &err), KWG_SCRIPT_LINE_TEXT);
	assert_int_equal(feed(so, "::{\"outputs\":{}}:: ", &l, &err), KWG_SCRIPT_LINE_TEXT);
	assert_int_equal(
	    feed(so, "{\"outputs\":{\"ignored\":\"because no :: markers\"}}", &l, &err),
	    KWG_SCRIPT_LINE_TEXT);
	assert_int_equal(feed(so, "::{}::", &l, &err), KWG_SCRIPT_LINE_APPLIED);
	assert_outputs(so, 0, "{\"vars\":{},\"exitCode\":0,\"outputFiles\":{}}");
	kwg_script_output_free(so);
}

static void test_script_output_merges_outputs_later_wins_nulls_kept(void **state)
{
	struct kwg_script_output *so = new_so();
	struct logs l = {""};
	struct kwg_err err = {{0}};

	(void)state;
	assert_int_equal(feed(so,
	                      "::{\"outputs\":{\"test\":\"value\",\"int\":2,\"bool\":true,"
	                      "\"float\":3.65}}::",
	                      &l, &err),
	                 KWG_SCRIPT_LINE_APPLIED);
	assert_int_equal(feed(so, "::{\"outputs\": {\"int\": 3, \"extract\": null}}::", &l, &err),
	                 KWG_SCRIPT_LINE_APPLIED);
	assert_outputs(so, 7,
	               "{\"vars\":{\"test\":\"value\",\"int\":3,\"bool\":true,\"float\":3.65,"
	               "\"extract\":null},\"exitCode\":7,\"outputFiles\":{}}");
	kwg_script_output_free(so);
}

static void test_script_output_e5_metrics_and_logs(void **state)
{
	struct kwg_script_output *so = new_so();
	struct kwg_taskrun_ref ref = {
	    .tenant_id = "main", .task_run_id = "r1", .attempt_number = 0};
	struct logs l = {""};
	struct kwg_err err = {{0}};
	char *m0, *m1;

	(void)state;
	assert_int_equal(
	    feed(so,
	         "::{\"metrics\":[{\"name\":\"count\",\"type\":\"counter\",\"value\":1,"
	         "\"tags\":{\"tag1\":\"i\",\"tag2\":\"win\"}}]}::",
	         &l, &err),
	    KWG_SCRIPT_LINE_APPLIED);
	assert_int_equal(
	    feed(so,
	         "::{\"metrics\":[{\"name\":\"time\",\"type\":\"timer\",\"value\":2.12,"
	         "\"tags\":{\"tag1\":\"i\",\"tag2\":\"destroy\"}}]}::",
	         &l, &err),
	    KWG_SCRIPT_LINE_APPLIED);
	assert_int_equal(feed(so,
	                      "::{\"logs\": [{\"level\":\"DEBUG\",\"message\":\"Hello World from "
	                      "logs!\"},{\"level\":\"INFO\",\"message\":\"Hello World!\"}]}::",
	                      &l, &err),
	                 KWG_SCRIPT_LINE_APPLIED);
	assert_string_equal(l.text, "DEBUG:Hello World from logs!|INFO:Hello World!");
	assert_int_equal(kwg_script_output_metric_count(so), 2);
	m0 = kwg_script_output_metric_json(so, 0, &ref, 1756808130512300);
	m1 = kwg_script_output_metric_json(so, 1, &ref, 1756808130512300);
	assert_string_equal(
	    m0, "{\"tenantId\":\"main\",\"taskRunId\":\"r1\",\"type\":\"counter\","
	        "\"name\":\"count\",\"value\":1.0,\"timestamp\":\"2025-09-02T10:15:30."
	        "512300Z\",\"tags\":{\"tag1\":\"i\",\"tag2\":\"win\"},\"deleted\":false}");
	/* a timer number is seconds; MetricEntry.value is milliseconds */
	assert_non_null(strstr(m1, "\"type\":\"timer\",\"name\":\"time\",\"value\":2120.0,"));
	free(m0);
	free(m1);
	kwg_script_output_free(so);
}

static void test_script_output_sums_equal_metrics_only(void **state)
{
	struct kwg_script_output *so = new_so();
	struct kwg_taskrun_ref ref = {.task_run_id = "r", .attempt_number = 0};
	struct logs l = {""};
	struct kwg_err err = {{0}};
	char *m;

	(void)state;
	feed(so,
	     "::{\"metrics\":[{\"name\":\"n\",\"type\":\"counter\",\"value\":1.5,\"tags\":{\"a\":"
	     "\"1\",\"b\":\"2\"}}]}::",
	     &l, &err);
	feed(so,
	     "::{\"metrics\":[{\"name\":\"n\",\"type\":\"counter\",\"value\":2,\"tags\":{\"b\":"
	     "\"2\",\"a\":1}}]}::",
	     &l, &err);
	feed(so,
	     "::{\"metrics\":[{\"name\":\"n\",\"type\":\"counter\",\"value\":5,\"tags\":{\"a\":"
	     "\"other\"}}]}::",
	     &l, &err);
	feed(so,
	     "::{\"metrics\":[{\"name\":\"n\",\"type\":\"timer\",\"value\":\"PT1.5S\"},{\"name\":"
	     "\"n\",\"type\":\"timer\",\"value\":\"2.5\"}]}::",
	     &l, &err);
	assert_int_equal(kwg_script_output_metric_count(so), 3);
	m = kwg_script_output_metric_json(so, 0, &ref, 0);
	assert_non_null(strstr(m, "\"value\":3.5,")); /* tag order and tag types do not matter */
	free(m);
	m = kwg_script_output_metric_json(so, 2, &ref, 0);
	assert_non_null(strstr(m, "\"type\":\"timer\",\"name\":\"n\",\"value\":4000.0,"));
	free(m);
	kwg_script_output_free(so);
}

static void test_script_output_invalid_line_applies_nothing(void **state)
{
	static const struct {
		const char *line;
		const char *msg; /* substring of the message */
	} cases[] = {
	    {"::{\"outputs\":{\"a\":1},\"logs\":[{\"level\":\"warning\",\"message\":\"x\"}]}::",
	     "logs[0].level: unknown level 'warning'"},
	    {"::{\"outputs\":{\"a\":1},\"metrics\":[{\"name\":\"m\",\"type\":\"gauge\",\"value\":1}"
	     "]}::",
	     "metrics[0].type"},
	    {"::{\"outputs\":1}::", "outputs: expected an object"},
	    {"::{\"outputs\":{\"a\":1}::", "column"},
	    {"::{\"a\":\"\\u0000\"}::", "NUL"},
	    {"::{\"metrics\":[{\"name\":\"t\",\"type\":\"timer\",\"value\":\"soon\"}]}::",
	     "not a duration"},
	};
	struct kwg_script_output *so = new_so();
	struct logs l = {""};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kwg_err err = {{0}};
		assert_int_equal(feed(so, cases[i].line, &l, &err), KWG_SCRIPT_LINE_INVALID);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].msg, err.msg);
	}
	assert_string_equal(l.text, "");
	assert_int_equal(kwg_script_output_metric_count(so), 0);
	assert_outputs(so, 0, "{\"vars\":{},\"exitCode\":0,\"outputFiles\":{}}");
	kwg_script_output_free(so);
}

static void test_script_output_rejects_deep_nesting(void **state)
{
	struct kwg_script_output *so = new_so();
	struct logs l = {""};
	struct kwg_err err = {{0}};
	char line[1024] = "::{\"outputs\":{\"a\":";
	size_t n = strlen(line);

	(void)state;
	for (int i = 0; i < 200; i++)
		line[n++] = '[';
	for (int i = 0; i < 200; i++)
		line[n++] = ']';
	memcpy(line + n, "}}::", 5);
	assert_int_equal(feed(so, line, &l, &err), KWG_SCRIPT_LINE_INVALID);
	kwg_script_output_free(so);
}

static void test_script_output_large_value(void **state)
{
	struct kwg_script_output *so = new_so();
	struct logs l = {""};
	struct kwg_err err = {{0}};
	size_t n = 10000;
	char *line = malloc(n + 64), *out;

	(void)state;
	strcpy(line, "::{\"outputs\":{\"big\":\"");
	memset(line + strlen(line), 'x', n);
	strcpy(line + strlen("::{\"outputs\":{\"big\":\"") + n, "\"}}::");
	assert_int_equal(feed(so, line, &l, &err), KWG_SCRIPT_LINE_APPLIED);
	out = kwg_script_output_outputs_json(so, 0, NULL);
	assert_int_equal(strlen(out),
	                 n + strlen("{\"vars\":{\"big\":\"\"},\"exitCode\":0,\"outputFiles\":{}}"));
	free(out);
	free(line);
	kwg_script_output_free(so);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_script_output_text_lines_are_not_protocol),
	    cmocka_unit_test(test_script_output_merges_outputs_later_wins_nulls_kept),
	    cmocka_unit_test(test_script_output_e5_metrics_and_logs),
	    cmocka_unit_test(test_script_output_sums_equal_metrics_only),
	    cmocka_unit_test(test_script_output_invalid_line_applies_nothing),
	    cmocka_unit_test(test_script_output_rejects_deep_nesting),
	    cmocka_unit_test(test_script_output_large_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
