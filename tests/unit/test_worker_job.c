/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/worker_job: decoding WorkerJobs and encoding the worker's messages against reference
 * messages written from kestra-protocol.md (tests/unit/data). */
#include <errno.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "common/clock.h"
#include "protocol/kestra_schema.h"
#include "protocol/log_entry.h"
#include "protocol/queue.h"
#include "protocol/state.h"
#include "protocol/task_def.h"
#include "protocol/worker_job.h"
#include "test_util.h"

#define WORKER_ID "9f3c1c4e-6a44-4d89-9f1c-2b8d51d3a0e7"

static int64_t instant(const char *s)
{
	int64_t us = 0;

	assert_int_equal(kwg_clock_parse_instant(s, &us), 0);
	return us;
}

static struct kwg_job *decode_file(const char *name)
{
	struct kwg_err err = {{0}};
	struct kwg_job *job = NULL;
	size_t len;
	char *text = test_read_data(name, &len);

	assert_int_equal(kwg_job_decode(text, len, &job, &err), 0);
	free(text);
	return job;
}

static struct kwg_job *decode_str(const char *s, int expect, struct kwg_err *err)
{
	struct kwg_job *job = NULL;

	assert_int_equal(kwg_job_decode(s, strlen(s), &job, err), expect);
	return job;
}

static void test_worker_job_decodes_reference_task(void **state)
{
	struct kwg_job *job = decode_file("worker_task.json");
	struct kwg_taskrun_ref ref;

	(void)state;
	assert_int_equal(kwg_job_kind(job), KWG_JOB_TASK);
	assert_false(kwg_job_is_broken(job));
	assert_string_equal(kwg_job_task_run_id(job), "4wjtkzwVGBM9yKnjyVPJiX");
	assert_string_equal(kwg_job_execution_id(job), "5oEdgrDqXNTpL7cC9FQPpO");
	assert_string_equal(kwg_job_tenant_id(job), "main");
	assert_string_equal(kwg_job_task_type(job), "io.kestra.plugin.core.log.Log");
	kwg_job_ref(job, &ref);
	assert_string_equal(ref.flow_id, "hello_world");
	assert_string_equal(ref.namespace_, "company.team");
	assert_int_equal(ref.attempt_number, 0);
	kwg_job_free(job);
}

/* The final result of §5.7, built through RUNNING then SUCCESS, equals the reference. */
static void test_worker_job_results_match_reference(void **state)
{
	struct kwg_job *job = decode_file("worker_task.json");
	char *running, *final, *expected_text;
	json_t *got, *expected, *attempt;

	(void)state;
	running = kwg_job_result_running(job, WORKER_ID, instant("2025-09-02T10:15:30.204900Z"));
	assert_non_null(running);
	got = json_loads(running, 0, NULL);
	assert_string_equal(
	    json_string_value(json_object_get(
	        json_object_get(json_object_get(got, "taskRun"), "state"), "current")),
	    "RUNNING");
	attempt = json_array_get(json_object_get(json_object_get(got, "taskRun"), "attempts"), 0);
	assert_string_equal(json_string_value(json_object_get(attempt, "workerId")), WORKER_ID);
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(attempt, "state"), "histories")), 2);
	/* outputs is always written, null included */
	assert_true(json_is_null(json_object_get(json_object_get(got, "taskRun"), "outputs")));
	json_decref(got);
	free(running);

	final = kwg_job_result_final(job, KWG_STATE_SUCCESS, KWG_STATE_SUCCESS, NULL,
	                             instant("2025-09-02T10:15:30.512400Z"));
	assert_non_null(final);
	got = json_loads(final, 0, NULL);
	expected_text = test_read_data("worker_task_result_final.json", NULL);
	expected = json_loads(expected_text, 0, NULL);
	assert_non_null(got);
	assert_non_null(expected);
	if (!json_equal(got, expected)) {
		fprintf(stderr, "got:      %s\n", final);
		fail_msg("final result differs from worker_task_result_final.json");
	}
	json_decref(got);
	json_decref(expected);
	free(expected_text);
	free(final);
	kwg_job_free(job);
}

/* allowFailure and allowWarning rewrite the task run's state only: the attempt keeps the state it
 * ended in (Kestra's Worker.run: taskRun.withState), as the reference messages show. */
static void check_rule_reference(const char *property, enum kwg_state attempt_state,
                                 const char *reference)
{
	char *text = test_read_data("worker_task.json", NULL);
	json_t *root = json_loads(text, 0, NULL), *got, *expected;
	struct kwg_err err = {{0}};
	struct kwg_state_rules rules;
	struct kwg_job *job;
	char *task_json, *running, *final, *expected_text;

	assert_non_null(root);
	json_object_set_new(json_object_get(root, "task"), property, json_true());
	task_json = json_dumps(root, JSON_COMPACT);
	job = decode_str(task_json, 0, &err);
	running = kwg_job_result_running(job, WORKER_ID, instant("2025-09-02T10:15:30.204900Z"));
	assert_non_null(running);
	kwg_job_state_rules(job, instant("2025-09-02T10:15:30.512400Z"), &rules);
	final = kwg_job_result_final(job, attempt_state, kwg_state_final(attempt_state, &rules),
	                             NULL, instant("2025-09-02T10:15:30.512400Z"));
	assert_non_null(final);
	got = json_loads(final, 0, NULL);
	expected_text = test_read_data(reference, NULL);
	expected = json_loads(expected_text, 0, NULL);
	assert_non_null(got);
	assert_non_null(expected);
	if (!json_equal(got, expected)) {
		fprintf(stderr, "got:      %s\n", final);
		fail_msg("%s: final result differs from %s", property, reference);
	}
	json_decref(got);
	json_decref(expected);
	json_decref(root);
	free(expected_text);
	free(final);
	free(running);
	free(task_json);
	free(text);
	kwg_job_free(job);
}

static void test_worker_job_rules_leave_the_attempt_state(void **state)
{
	(void)state;
	check_rule_reference("allowFailure", KWG_STATE_FAILED,
	                     "worker_task_result_allow_failure.json");
	check_rule_reference("allowWarning", KWG_STATE_WARNING,
	                     "worker_task_result_allow_warning.json");
}

static void test_worker_job_running_record_has_worker_instance(void **state)
{
	struct kwg_job *job = decode_file("worker_task.json");
	char *rec = kwg_job_running_record(job, WORKER_ID, "gpu");
	char *ref_text = test_read_data("worker_job_running.json", NULL);
	json_t *got = json_loads(rec, 0, NULL), *ref = json_loads(ref_text, 0, NULL);

	(void)state;
	assert_true(json_equal(json_object_get(got, "workerInstance"),
	                       json_object_get(ref, "workerInstance")));
	assert_true(
	    json_equal(json_object_get(got, "partition"), json_object_get(ref, "partition")));
	assert_string_equal(json_string_value(json_object_get(got, "type")), "task");
	/* taskRun, task and runContext are copied unchanged */
	assert_non_null(json_object_get(got, "runContext"));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(got, "taskRun"), "id")),
	    "4wjtkzwVGBM9yKnjyVPJiX");
	json_decref(got);
	json_decref(ref);
	free(rec);
	free(ref_text);
	kwg_job_free(job);
}

static void test_worker_job_running_record_omits_null_group(void **state)
{
	struct kwg_job *job = decode_file("worker_task.json");
	char *rec = kwg_job_running_record(job, WORKER_ID, NULL);

	(void)state;
	assert_null(strstr(rec, "workerGroup"));
	assert_non_null(strstr(rec, "\"workerUuid\":\"" WORKER_ID "\""));
	free(rec);
	kwg_job_free(job);
}

static void test_log_entry_matches_reference(void **state)
{
	struct kwg_job *job = decode_file("worker_task.json");
	struct kwg_taskrun_ref ref;
	struct kwg_buf b;
	char *expected = test_read_data("log_entry.json", NULL);

	(void)state;
	expected[strcspn(expected, "\n")] = '\0';
	kwg_job_ref(job, &ref);
	kwg_buf_init(&b, 1 << 20);
	assert_int_equal(kwg_log_entry_encode(&b, &ref, instant("2025-09-02T10:15:30.300120Z"),
	                                      KWG_LEVEL_INFO, "kwg-worker", "Hello Kestra", 12),
	                 0);
	assert_string_equal(kwg_buf_str(&b), expected);
	kwg_buf_done(&b);
	free(expected);
	kwg_job_free(job);
}

static void test_log_entry_escapes_control_characters(void **state)
{
	struct kwg_taskrun_ref ref = {.task_run_id = "t", .attempt_number = -1};
	struct kwg_buf b;
	json_t *parsed;

	(void)state;
	kwg_buf_init(&b, 1 << 20);
	assert_int_equal(
	    kwg_log_entry_encode(&b, &ref, 0, KWG_LEVEL_ERROR, NULL, "a\"b\\c\x01\t", 7), 0);
	assert_non_null(strstr(kwg_buf_str(&b), "\"message\":\"a\\\"b\\\\c\\u0001\\t\""));
	assert_non_null(strstr(kwg_buf_str(&b), "\"attemptNumber\":null"));
	parsed = json_loads(kwg_buf_str(&b), 0, NULL);
	assert_non_null(parsed);
	json_decref(parsed);
	kwg_buf_done(&b);
}

static void test_worker_job_fail_adds_failed_attempt(void **state)
{
	struct kwg_job *job = decode_file("worker_task.json");
	char *s = kwg_job_result_fail(job, KWG_STATE_FAILED, WORKER_ID, 1756808130000000);
	json_t *j = json_loads(s, 0, NULL);
	json_t *tr = json_object_get(j, "taskRun");
	json_t *attempt = json_array_get(json_object_get(tr, "attempts"), 0);

	(void)state;
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(tr, "state"), "current")), "FAILED");
	/* §6.5: histories CREATED (as received), FAILED */
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(tr, "state"), "histories")), 2);
	assert_int_equal(
	    json_array_size(json_object_get(json_object_get(attempt, "state"), "histories")), 1);
	json_decref(j);
	free(s);
	kwg_job_free(job);
}

static void test_worker_job_missing_task_is_broken_but_identified(void **state)
{
	struct kwg_err err = {{0}};
	struct kwg_job *job = decode_str(
	    "{\"type\":\"task\",\"taskRun\":{\"id\":\"r1\",\"executionId\":\"e\",\"namespace\":"
	    "\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\"}},"
	    "\"runContext\":{}}",
	    -EBADMSG, &err);

	(void)state;
	assert_non_null(job);
	assert_true(kwg_job_is_broken(job));
	assert_string_equal(kwg_job_task_run_id(job), "r1");
	assert_string_equal(err.msg, "$.task: missing");
	assert_string_equal(kwg_job_error(job), "$.task: missing");
	kwg_job_free(job);
}

static void test_worker_job_rejects_unreadable_rows(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
	    {"[1,2]", "$: expected an object"},
	    {"{\"type\":\"task\"}", "$.taskRun: missing"},
	    {"{\"taskRun\":{\"id\":5}}", "$.taskRun.id: expected a string"},
	    {"{\"type\":\"other\"}", "$.type: unknown job type 'other'"},
	    {"{\"taskRun\":{\"id\":\"x\",\"executionId\":\"e\",\"namespace\":\"n\",\"flowId\":"
	     "\"f\",\"taskId\":\"t\",\"state\":{}}}",
	     "$.taskRun.state.current: missing"},
	    {"{\"a\":1,\"a\":2}", NULL},
	    {"{", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kwg_err err = {{0}};
		struct kwg_job *job = decode_str(cases[i].json, -EBADMSG, &err);
		assert_null(job);
		if (cases[i].msg)
			assert_string_equal(err.msg, cases[i].msg);
		else
			assert_true(strlen(err.msg) > 0);
	}
}

static void test_worker_job_rejects_deep_nesting(void **state)
{
	struct kwg_err err = {{0}};
	char buf[1024] = "{\"taskRun\":";
	size_t n = strlen(buf);

	(void)state;
	for (int i = 0; i < 200; i++)
		buf[n++] = '[';
	for (int i = 0; i < 200; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n] = '\0';
	assert_null(decode_str(buf, -EBADMSG, &err));
	assert_non_null(strstr(err.msg, "nested deeper"));
}

static void test_worker_job_rejects_huge_input(void **state)
{
	struct kwg_err err = {{0}};
	struct kwg_job *job = NULL;
	size_t len = KWG_JOB_MAX_BYTES + 1;
	char *big = malloc(len);

	(void)state;
	memset(big, ' ', len);
	assert_int_equal(kwg_job_decode(big, len, &job, &err), -EMSGSIZE);
	assert_null(job);
	free(big);
}

static void test_worker_job_decodes_trigger(void **state)
{
	struct kwg_err err = {{0}};
	struct kwg_job *job = decode_str(
	    "{\"type\":\"trigger\",\"triggerContext\":{\"tenantId\":\"main\",\"namespace\":\"n\","
	    "\"flowId\":\"f\",\"triggerId\":\"t\"},\"trigger\":{\"id\":\"t\"}}",
	    0, &err);
	char *key = NULL, *value = NULL;

	(void)state;
	assert_int_equal(kwg_job_kind(job), KWG_JOB_TRIGGER);
	assert_int_equal(kwg_job_trigger_failure(job, &key, &value), 0);
	assert_string_equal(key, "main_n_f_t");
	assert_null(strstr(value, "execution"));
	free(key);
	free(value);
	kwg_job_free(job);
}

static void test_worker_job_state_rules_allow_failure_without_retry(void **state)
{
	struct kwg_err err = {{0}};
	struct kwg_state_rules rules;
	struct kwg_job *job = decode_str(
	    "{\"taskRun\":{\"id\":\"r\",\"executionId\":\"e\",\"namespace\":\"n\",\"flowId\":\"f\","
	    "\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\"}},\"task\":{\"id\":\"t\",\"type\":"
	    "\"x\",\"allowFailure\":true,\"retry\":{\"type\":\"constant\",\"interval\":\"PT1S\","
	    "\"maxAttempts\":2}},\"runContext\":{}}",
	    0, &err);
	char *s;

	(void)state;
	s = kwg_job_result_running(job, WORKER_ID, 1000000);
	free(s);
	kwg_job_state_rules(job, 2000000, &rules);
	/* one attempt of two: the executor will retry, so allowFailure does not apply yet */
	assert_true(rules.allow_failure);
	assert_true(rules.will_retry);
	assert_int_equal(kwg_state_final(KWG_STATE_FAILED, &rules), KWG_STATE_FAILED);
	s = kwg_job_result_final(job, KWG_STATE_FAILED, KWG_STATE_FAILED, NULL, 2000000);
	free(s);
	s = kwg_job_result_running(job, WORKER_ID, 3000000);
	free(s);
	kwg_job_state_rules(job, 4000000, &rules);
	assert_false(rules.will_retry);
	assert_int_equal(kwg_state_final(KWG_STATE_FAILED, &rules), KWG_STATE_WARNING);
	kwg_job_free(job);
}

static void test_state_rules_table(void **state)
{
	struct kwg_state_rules none = {0}, af = {.allow_failure = true},
	                       aw = {.allow_warning = true},
	                       both = {.allow_failure = true, .allow_warning = true},
	                       wor = {.warning_on_retry_applies = true};

	(void)state;
	assert_int_equal(kwg_state_of_script(0, 0, true), KWG_STATE_SUCCESS);
	assert_int_equal(kwg_state_of_script(0, 1, true), KWG_STATE_WARNING);
	assert_int_equal(kwg_state_of_script(0, 1, false), KWG_STATE_SUCCESS);
	assert_int_equal(kwg_state_of_script(3, 0, false), KWG_STATE_FAILED);
	assert_int_equal(kwg_state_final(KWG_STATE_FAILED, &none), KWG_STATE_FAILED);
	assert_int_equal(kwg_state_final(KWG_STATE_FAILED, &af), KWG_STATE_WARNING);
	assert_int_equal(kwg_state_final(KWG_STATE_WARNING, &aw), KWG_STATE_SUCCESS);
	assert_int_equal(kwg_state_final(KWG_STATE_FAILED, &both), KWG_STATE_SUCCESS);
	assert_int_equal(kwg_state_final(KWG_STATE_FAILED, &aw), KWG_STATE_FAILED);
	assert_int_equal(kwg_state_final(KWG_STATE_SUCCESS, &wor), KWG_STATE_WARNING);
	assert_int_equal(kwg_state_final(KWG_STATE_KILLED, &both), KWG_STATE_KILLED);
	assert_int_equal(kwg_state_from_name("RUNNING"), KWG_STATE_RUNNING);
	assert_int_equal(kwg_state_from_name("running"), KWG_STATE_UNKNOWN);
}

static void test_kestra_schema_verdicts(void **state)
{
	const struct {
		bool gen1;
		const char *version;
		enum kwg_kestra_schema_verdict want;
		const char *says;
	} cases[] = {
	    {true, "1.41", KWG_KESTRA_SCHEMA_OK, "Flyway version 1.41"},
	    {true, "1.1", KWG_KESTRA_SCHEMA_OK, "Kestra 1.x database"},
	    {true, NULL, KWG_KESTRA_SCHEMA_UNKNOWN, "no Flyway history"},
	    {true, "", KWG_KESTRA_SCHEMA_UNKNOWN, "no Flyway history"},
	    {true, "3.1", KWG_KESTRA_SCHEMA_REFUSED, "version 3.1: kwg speaks Kestra 1.x"},
	    {true, "2.0.05", KWG_KESTRA_SCHEMA_REFUSED, "version 2.0.05"},
	    {true, "x", KWG_KESTRA_SCHEMA_REFUSED, "version x"},
	    {false, "1.41", KWG_KESTRA_SCHEMA_REFUSED,
	     "(Flyway version 1.41): it is not a Kestra 1.x"},
	    {false, NULL, KWG_KESTRA_SCHEMA_REFUSED, "consumer_group columns: it is not"},
	};
	char msg[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(
		    kwg_kestra_schema_judge(cases[i].gen1, cases[i].version, msg, sizeof(msg)),
		    cases[i].want);
		if (!strstr(msg, cases[i].says))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].says, msg);
	}
}

/* The generation from queues' columns (the catalog's "name:type" list). */
static void test_kestra_schema_generations(void **state)
{
	static const char gen1[] = "offset:bigint,type:queue_type,key:character varying(250),"
	                           "value:jsonb,updated:timestamp with time zone,"
	                           "consumer_worker:boolean,consumer_group:character varying(250)";
	static const char gen2[] = "offset:integer,type:character varying(250),"
	                           "routing_key:character varying(250),key:character varying(250),"
	                           "value:jsonb,created:timestamp with time zone";
	static const char gen2_dev[] = "offset:integer,type:integer,routing_key:character "
	                               "varying(250),key:character varying(250),value:jsonb,"
	                               "created:timestamp with time zone";
	static const char other[] = "offset:integer,type:text,key:text,value:jsonb";
	const struct {
		const char *cols, *version;
		enum kwg_kestra_schema_verdict want;
		enum kwg_kestra_gen gen;
		const char *says;
	} cases[] = {
	    {gen1, "1.41", KWG_KESTRA_SCHEMA_OK, KWG_KESTRA_GEN1, "Flyway version 1.41"},
	    {gen1, NULL, KWG_KESTRA_SCHEMA_UNKNOWN, KWG_KESTRA_GEN1, "no Flyway history"},
	    {gen1, "3.1", KWG_KESTRA_SCHEMA_REFUSED, KWG_KESTRA_GEN_NONE, "version 3.1"},
	    {gen2, NULL, KWG_KESTRA_SCHEMA_OK, KWG_KESTRA_GEN2,
	     "Kestra 2.x database (queues with routing_key and type character varying(250))"},
	    {gen2, "1.41", KWG_KESTRA_SCHEMA_OK, KWG_KESTRA_GEN2, "Flyway history up to 1.41"},
	    {gen2_dev, NULL, KWG_KESTRA_SCHEMA_REFUSED, KWG_KESTRA_GEN_NONE,
	     "its type column is integer, as in Kestra 2.0 development builds"},
	    {other, "1.41", KWG_KESTRA_SCHEMA_REFUSED, KWG_KESTRA_GEN_NONE,
	     "(columns found: offset:integer,type:text,key:text,value:jsonb) (Flyway version "
	     "1.41)"},
	    {"", NULL, KWG_KESTRA_SCHEMA_REFUSED, KWG_KESTRA_GEN_NONE, "table queues not found"},
	    {NULL, NULL, KWG_KESTRA_SCHEMA_REFUSED, KWG_KESTRA_GEN_NONE, "table queues not found"},
	    /* the configured table (kestra_queue_table) is named */
	    {NULL, NULL, KWG_KESTRA_SCHEMA_REFUSED, KWG_KESTRA_GEN_NONE,
	     "table kestra.kq not found (kestra_queue_table)"},
	    {"numeric_col:numeric(10,2),routing_key:text", NULL, KWG_KESTRA_SCHEMA_REFUSED,
	     KWG_KESTRA_GEN_NONE, "neither"},
	};
	enum kwg_kestra_gen gen;
	char msg[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(kwg_kestra_schema_detect(
		                     strstr(cases[i].says, "kestra.kq") ? "kestra.kq" : NULL,
		                     cases[i].cols, cases[i].version, &gen, msg, sizeof(msg)),
		                 cases[i].want);
		assert_int_equal(gen, cases[i].gen);
		if (!strstr(msg, cases[i].says))
			fail_msg("case %zu: '%s' not in '%s'", i, cases[i].says, msg);
	}
}

static void expect_json_file(const char *got_text, const char *file)
{
	char *expected_text = test_read_data(file, NULL);
	json_t *got = json_loads(got_text, 0, NULL), *expected = json_loads(expected_text, 0, NULL);

	assert_non_null(got);
	assert_non_null(expected);
	if (!json_equal(got, expected)) {
		fprintf(stderr, "got: %s\n", got_text);
		fail_msg("differs from %s", file);
	}
	json_decref(got);
	json_decref(expected);
	free(expected_text);
}

/* Kestra 2.x: a WorkerJobEvent {job} (kestra-2x-protocol.md §3.3), its worker_job_running record
 * (kestra-2x-queue.md §4.4) and results with the outputs beside the task run (§3.4). */
static void test_worker_job_gen2_reference(void **state)
{
	struct kwg_job *job = decode_file("worker_job_event.json");
	struct kwg_taskrun_ref ref;
	const json_t *rc, *vars;
	char *rec, *running, *final;
	json_t *got;

	(void)state;
	assert_int_equal(kwg_job_generation(job), 2);
	assert_int_equal(kwg_job_kind(job), KWG_JOB_TASK);
	assert_false(kwg_job_is_broken(job));
	assert_string_equal(kwg_job_task_run_id(job), "2xTaskRunZ5QpXvGJ0m4hYc");
	assert_string_equal(kwg_job_task_type(job), "io.kestra.plugin.scripts.shell.Commands");
	kwg_job_ref(job, &ref);
	assert_string_equal(ref.execution_kind, "TEST");
	assert_int_equal(ref.attempt_number, 0);
	/* the variables the worker rebuilds are there; secretInputs kept for the masking */
	rc = kwg_job_run_context(job);
	vars = json_object_get(rc, "variables");
	assert_string_equal(json_string_value(json_object_get(json_object_get(vars, "flow"), "id")),
	                    "hello_world");
	assert_true(json_is_object(json_object_get(vars, "envs")));
	assert_true(json_is_object(json_object_get(vars, "globals")));
	assert_true(json_is_object(json_object_get(vars, "kestra")));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(vars, "taskrun"), "startDate")),
	    "2026-09-02T10:15:30.101234Z");
	assert_string_equal(
	    json_string_value(json_array_get(json_object_get(rc, "secretInputs"), 0)), "password");

	rec = kwg_job_running_record(job, WORKER_ID, "kwg:gpu");
	expect_json_file(rec, "worker_job_running2.json");
	free(rec);

	running = kwg_job_result_running(job, WORKER_ID, instant("2026-09-02T10:15:30.304900Z"));
	got = json_loads(running, 0, NULL);
	assert_true(json_is_null(json_object_get(got, "outputs")));
	assert_true(json_is_null(json_object_get(json_object_get(got, "taskRun"), "outputs")));
	assert_true(json_is_array(json_object_get(got, "dynamicTaskRuns")));
	assert_false(kwg_task_result_is_terminal(running));
	assert_false(kwg_job_is_ended(job));
	json_decref(got);
	free(running);

	final = kwg_job_result_final(job, KWG_STATE_SUCCESS, KWG_STATE_SUCCESS,
	                             "{\"vars\":{\"answer\":42},\"exitCode\":0}",
	                             instant("2026-09-02T10:15:30.612400Z"));
	expect_json_file(final, "worker_task_result2_final.json");
	assert_true(kwg_task_result_is_terminal(final));
	assert_true(kwg_job_is_ended(job));
	free(final);
	kwg_job_free(job);
}

static void test_worker_job_gen2_bad_rows(void **state)
{
	struct kwg_err err = {{0}};
	struct kwg_job *job;

	(void)state;
	job = decode_str("{\"job\": 42}", -EBADMSG, &err);
	assert_null(job);
	assert_non_null(strstr(err.msg, "$.job: expected an object"));
	job =
	    decode_str("{\"job\": {\"type\": \"task\", \"taskRun\": {\"id\": 1}}}", -EBADMSG, &err);
	assert_null(job);
	assert_non_null(strstr(err.msg, "$.job.taskRun.id"));
	/* identified, but no data: broken, the error names the path */
	job = decode_str("{\"job\": {\"taskRun\": {\"id\": \"t1\", \"executionId\": \"e\", "
	                 "\"namespace\": \"n\", \"flowId\": \"f\", \"taskId\": \"t\", "
	                 "\"state\": {\"current\": \"SUBMITTED\"}}, \"task\": {\"id\": \"t\", "
	                 "\"type\": \"io.kestra.plugin.core.log.Log\"}}}",
	                 -EBADMSG, &err);
	assert_non_null(job);
	assert_true(kwg_job_is_broken(job));
	assert_int_equal(kwg_job_generation(job), 2);
	assert_non_null(strstr(kwg_job_error(job), "$.job.data"));
	kwg_job_free(job);
	job = decode_str("{\"job\": {\"type\": \"trigger\", \"trigger\": {}}}", 0, &err);
	assert_int_equal(kwg_job_kind(job), KWG_JOB_TRIGGER);
	kwg_job_free(job);
	job = decode_str("{\"job\": {\"type\": \"poll\"}}", -EBADMSG, &err);
	assert_non_null(strstr(err.msg, "$.job.type: unknown job type 'poll'"));
}

static void test_queue_names2(void **state)
{
	char name[KWG_QUEUE_NAME_MAX + 1], longp[300];

	(void)state;
	assert_int_equal(kwg_queue_name2(KWG_QUEUE_WORKER_JOB, NULL, name, sizeof(name)), 0);
	assert_string_equal(name, "worker_job_event");
	assert_int_equal(kwg_queue_name2(KWG_QUEUE_WORKER_TASK_RESULT, "", name, sizeof(name)), 0);
	assert_string_equal(name, "worker_task_result");
	assert_int_equal(kwg_queue_name2(KWG_QUEUE_LOG_ENTRY, "acme", name, sizeof(name)), 0);
	assert_string_equal(name, "acme__log_entry");
	assert_int_equal(kwg_queue_name2(KWG_QUEUE_FOLLOW_LOG_EVENT, NULL, name, sizeof(name)), 0);
	assert_string_equal(name, "follow_log_event");
	assert_int_equal(kwg_queue_name2(KWG_QUEUE_EXECUTION_KILLED, NULL, name, sizeof(name)), 0);
	assert_string_equal(name, "execution_killed");
	memset(longp, 'p', sizeof(longp) - 1);
	longp[sizeof(longp) - 1] = '\0';
	assert_int_equal(kwg_queue_name2(KWG_QUEUE_LOG_ENTRY, longp, name, sizeof(name)),
	                 -ENAMETOOLONG);
}

/* kwg submit on 2.x: the executor leaves out what the worker rebuilds. */
static void test_task_def_to_gen2(void **state)
{
	static const char def[] = "id: hello\ntype: io.kestra.plugin.core.log.Log\nmessage: hi\n";
	struct kwg_task_def_opts opts = {.now_us = 1};
	struct kwg_task_def td;
	struct kwg_err err = {{0}};
	struct kwg_job *job;
	char *event;
	json_t *j, *vars;

	(void)state;
	assert_int_equal(kwg_task_def_build(def, strlen(def), &opts, &td, &err), 0);
	assert_int_equal(kwg_task_def_to_gen2(td.worker_task, &event), 0);
	j = json_loads(event, 0, NULL);
	vars = json_object_get(json_object_get(json_object_get(j, "job"), "data"), "variables");
	assert_non_null(json_object_get(vars, "flow"));
	assert_null(json_object_get(vars, "envs"));
	assert_null(json_object_get(vars, "globals"));
	assert_null(json_object_get(vars, "kestra"));
	assert_null(json_object_get(vars, "task"));
	assert_null(json_object_get(vars, "taskrun"));
	assert_true(json_object_get(json_object_get(json_object_get(j, "job"), "data"),
	                            "traceParent") != NULL);
	job = decode_str(event, 0, &err);
	assert_int_equal(kwg_job_generation(job), 2);
	assert_string_equal(kwg_job_task_run_id(job), td.task_run_id);
	kwg_job_free(job);
	json_decref(j);
	free(event);
	kwg_task_def_done(&td);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_worker_job_decodes_reference_task),
	    cmocka_unit_test(test_worker_job_results_match_reference),
	    cmocka_unit_test(test_worker_job_running_record_has_worker_instance),
	    cmocka_unit_test(test_worker_job_running_record_omits_null_group),
	    cmocka_unit_test(test_log_entry_matches_reference),
	    cmocka_unit_test(test_log_entry_escapes_control_characters),
	    cmocka_unit_test(test_worker_job_fail_adds_failed_attempt),
	    cmocka_unit_test(test_worker_job_missing_task_is_broken_but_identified),
	    cmocka_unit_test(test_worker_job_rejects_unreadable_rows),
	    cmocka_unit_test(test_worker_job_rejects_deep_nesting),
	    cmocka_unit_test(test_worker_job_rejects_huge_input),
	    cmocka_unit_test(test_worker_job_decodes_trigger),
	    cmocka_unit_test(test_worker_job_state_rules_allow_failure_without_retry),
	    cmocka_unit_test(test_worker_job_rules_leave_the_attempt_state),
	    cmocka_unit_test(test_state_rules_table),
	    cmocka_unit_test(test_kestra_schema_verdicts),
	    cmocka_unit_test(test_kestra_schema_generations),
	    cmocka_unit_test(test_worker_job_gen2_reference),
	    cmocka_unit_test(test_worker_job_gen2_bad_rows),
	    cmocka_unit_test(test_queue_names2),
	    cmocka_unit_test(test_task_def_to_gen2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
