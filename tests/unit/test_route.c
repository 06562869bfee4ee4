/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/route: what a kwg worker does with a job kwg routing held (render, re-route, or end
 * the task run with a message naming the key or group). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/route.h"

static const char job_json[] =
    "{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"tr\",\"executionId\":\"x\","
    "\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\","
    "\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},"
    "\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"m\"},"
    "\"runContext\":{\"variables\":{\"inputs\":{\"pool\":\"gpu\",\"bad\":\"a b\"}}}}";

static void decide(const char *held, const char *wg, struct kwg_route_decision *d)
{
	struct kwg_err err = {{0}};
	struct kwg_job *job = NULL;

	assert_int_equal(kwg_job_decode(job_json, sizeof(job_json) - 1, &job, &err), 0);
	assert_int_equal(kwg_route_decide(job, held, wg, 1, d), 0);
	kwg_job_free(job);
}

static void test_route_key_rule(void **state)
{
	char long_key[KWG_GROUP_KEY_MAX + 2];

	(void)state;
	assert_true(kwg_group_key_valid("gpu"));
	assert_true(kwg_group_key_valid("GPU_a-1"));
	assert_false(kwg_group_key_valid(""));
	assert_false(kwg_group_key_valid("a b"));
	assert_false(kwg_group_key_valid("kwg:render"));
	assert_false(kwg_group_key_valid("{{ x }}"));
	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[KWG_GROUP_KEY_MAX] = '\0';
	assert_true(kwg_group_key_valid(long_key));
	long_key[KWG_GROUP_KEY_MAX] = 'k';
	long_key[KWG_GROUP_KEY_MAX + 1] = '\0';
	assert_false(kwg_group_key_valid(long_key));
}

static void test_route_renders_a_pebble_key(void **state)
{
	struct kwg_route_decision d;

	(void)state;
	decide("kwg:render", "{\"key\":\"{{ inputs.pool }}\",\"fallback\":\"CANCEL\"}", &d);
	assert_int_equal(d.action, KWG_ROUTE_TO_GROUP);
	assert_string_equal(d.group, "gpu");
	assert_true(d.strict);
	assert_int_equal(d.fallback_state, KWG_STATE_CANCELLED);
	kwg_route_fallback_end(&d);
	assert_int_equal(d.action, KWG_ROUTE_END);
	assert_int_equal(d.state, KWG_STATE_CANCELLED);
	assert_non_null(strstr(d.message, "worker group 'gpu'"));
	assert_non_null(strstr(d.message, "fallback is CANCEL"));
}

static void test_route_fails_what_cannot_render(void **state)
{
	struct kwg_route_decision d;

	(void)state;
	decide("kwg:render", "{\"key\":\"{{ inputs.nope }}\"}", &d);
	assert_int_equal(d.action, KWG_ROUTE_END);
	assert_int_equal(d.state, KWG_STATE_FAILED);
	assert_non_null(
	    strstr(d.message, "workerGroup.key '{{ inputs.nope }}' cannot be rendered"));
	decide("kwg:render", "{\"key\":\"{{ inputs.bad }}\"}", &d);
	assert_int_equal(d.action, KWG_ROUTE_END);
	assert_non_null(strstr(d.message, "renders to 'a b', which is not a worker group key"));
}

static void test_route_fails_invalid_keys_naming_them(void **state)
{
	struct kwg_route_decision d;

	(void)state;
	decide("kwg:invalid", "{\"key\":\"\"}", &d);
	assert_int_equal(d.action, KWG_ROUTE_END);
	assert_non_null(strstr(d.message, "invalid workerGroup.key '':"));
	decide("kwg:invalid", "{\"key\":7}", &d);
	assert_non_null(strstr(d.message, "invalid workerGroup.key 7:"));
	decide("kwg:invalid", "\"not json\"", &d);
	assert_non_null(strstr(d.message, "invalid workerGroup \"not json\": expected an object"));
	decide("kwg:invalid", "{\"kwg.error\":\"boom\"}", &d);
	assert_non_null(strstr(d.message, "cannot be read (kwg routing): boom"));
	/* A valid key held as invalid: the trigger failed; never run in a wrong group. */
	decide("kwg:invalid", "{\"key\":\"gpu\"}", &d);
	assert_int_equal(d.action, KWG_ROUTE_END);
	assert_non_null(strstr(d.message, "could not route workerGroup.key 'gpu'"));
}

static void test_route_fallback(void **state)
{
	struct kwg_route_decision d;

	(void)state;
	decide("kwg:fallback", "{\"key\":\"gpu\",\"fallback\":\"FAIL\"}", &d);
	assert_int_equal(d.action, KWG_ROUTE_END);
	assert_int_equal(d.state, KWG_STATE_FAILED);
	assert_non_null(strstr(d.message, "no worker of worker group 'gpu' is alive"));
	/* Held for a fallback that now says WAIT (the flow changed): routed to its group. */
	decide("kwg:fallback", "{\"key\":\"gpu\"}", &d);
	assert_int_equal(d.action, KWG_ROUTE_TO_GROUP);
	assert_string_equal(d.group, "gpu");
	assert_false(d.strict);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_key_rule),
	    cmocka_unit_test(test_route_renders_a_pebble_key),
	    cmocka_unit_test(test_route_fails_what_cannot_render),
	    cmocka_unit_test(test_route_fails_invalid_keys_naming_them),
	    cmocka_unit_test(test_route_fallback),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
