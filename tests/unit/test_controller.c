/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/controller (Kestra 2.x controller JSON) and transport/grpc/wire (gRPC framing, the
 * protobuf messages): heartbeats, replies, events, 2.x jobs and trigger results, round trips. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "protocol/controller.h"
#include "protocol/worker_job.h"
#include "transport/grpc/wire.h"

static const struct kwg_instance_info info = {
    .id = "w-1",
    .server_id = "s",
    .hostname = "h",
    .version = "0.1.0",
    .heartbeat_interval_ms = 3000,
    .liveness_interval_ms = 5000,
    .liveness_timeout_ms = 45000,
    .liveness_initial_delay_ms = 45000,
    .termination_grace_period_ms = 300000,
    .restart_strategy = "AFTER_TERMINATION_GRACE_PERIOD",
    .slots = 4,
};

static void test_controller_heartbeat_registration_then_state(void **state)
{
	char *reg = kwg_controller_heartbeat(&info, "default", true, KWG_SERVICE_RUNNING, NULL, 1);
	char *tick;

	(void)state;
	assert_non_null(reg);
	assert_non_null(strstr(reg, "\"newState\":null"));
	assert_non_null(strstr(reg, "\"state\":\"CREATED\""));
	assert_non_null(strstr(reg, "\"props\":{\"worker.group.id\":\"default\"}"));
	assert_non_null(strstr(reg, "\"timeout\":45"));
	tick = kwg_controller_heartbeat(&info, "default", false, KWG_SERVICE_RUNNING, NULL, 2);
	assert_non_null(strstr(tick, "\"newState\":\"RUNNING\""));
	assert_non_null(strstr(tick, "\"state\":\"RUNNING\""));
	free(reg);
	free(tick);
}

static void test_controller_reply_decodes_and_names_errors(void **state)
{
	static const char ok[] = "{\"instance\":{\"id\":\"w-1\",\"state\":\"RUNNING\"},"
	                         "\"result\":\"SUCCEEDED\",\"maintenance\":true}";
	static const char bad[] = "{\"result\":\"MAYBE\"}";
	static const char bad_m[] = "{\"result\":\"SUCCEEDED\",\"maintenance\":\"yes\"}";
	struct kwg_controller_reply r;
	struct kwg_err err = {{0}};

	(void)state;
	assert_int_equal(kwg_controller_reply_decode(ok, sizeof(ok) - 1, &r, &err), 0);
	assert_int_equal(r.result, KWG_CONTROLLER_SUCCEEDED);
	assert_true(r.maintenance);
	assert_int_equal(r.state, KWG_SERVICE_RUNNING);
	assert_non_null(strstr(r.instance, "w-1"));
	kwg_controller_reply_done(&r);
	assert_int_equal(kwg_controller_reply_decode(bad, sizeof(bad) - 1, &r, &err), -EBADMSG);
	assert_string_equal(err.msg, "$.result: unknown result 'MAYBE'");
	assert_int_equal(kwg_controller_reply_decode(bad_m, sizeof(bad_m) - 1, &r, &err), -EBADMSG);
	assert_string_equal(err.msg, "$.maintenance: expected a boolean");
}

static void test_controller_events_and_configs(void **state)
{
	static const char kill[] = "{\"type\":\"executionKilled\",\"payload\":{\"type\":"
	                           "\"execution\",\"state\":\"EXECUTED\",\"executionId\":\"x1\"}}";
	static const char other[] = "{\"type\":\"clusterEvent\",\"payload\":{}}";
	static const char configs[] = "{\"encryption.secret-key\":\"k\"}";
	struct kwg_err err = {{0}};
	struct kwg_kill k;
	char *key = NULL;

	(void)state;
	assert_int_equal(kwg_controller_event_decode(kill, sizeof(kill) - 1, &k, &err), 1);
	assert_true(k.act);
	assert_string_equal(k.execution_id, "x1");
	assert_int_equal(kwg_controller_event_decode(other, sizeof(other) - 1, &k, &err), 0);
	assert_int_equal(kwg_controller_configs_decode(configs, sizeof(configs) - 1, &key, &err),
	                 0);
	assert_string_equal(key, "k");
	free(key);
	assert_int_equal(kwg_controller_configs_decode("", 0, &key, &err), 0);
	assert_null(key);
}

static void test_job_decode2_and_trigger_result(void **state)
{
	static const char trig[] =
	    "{\"type\":\"trigger\",\"trigger\":{\"id\":\"tr\",\"type\":\"S\"},\"data\":{"
	    "\"tenantId\":\"main\",\"namespace\":\"n\",\"flowId\":\"f\"},\"dispatchEpoch\":7}";
	static const char nodata[] =
	    "{\"type\":\"task\",\"taskRun\":{\"id\":\"tr\",\"executionId\":\"x\",\"namespace\":"
	    "\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\","
	    "\"histories\":[]}},\"task\":{\"id\":\"t\",\"type\":\"T\"}}";
	struct kwg_err err = {{0}};
	struct kwg_job *job = NULL;
	char *key = NULL, *value = NULL;

	(void)state;
	assert_int_equal(kwg_job_decode2(trig, sizeof(trig) - 1, &job, &err), 0);
	assert_int_equal(kwg_job_kind(job), KWG_JOB_TRIGGER);
	assert_int_equal(kwg_job_trigger_failure(job, &key, &value), 0);
	assert_string_equal(key, "main_n_f_tr");
	assert_string_equal(value,
	                    "{\"id\":{\"tenantId\":\"main\",\"namespace\":\"n\",\"flowId\":"
	                    "\"f\",\"triggerId\":\"tr\"},\"type\":\"POLLING\",\"evaluation\":"
	                    "null,\"dispatchEpoch\":7}");
	free(key);
	free(value);
	kwg_job_free(job);
	assert_int_equal(kwg_job_decode2(nodata, sizeof(nodata) - 1, &job, &err), -EBADMSG);
	assert_non_null(job);
	assert_true(kwg_job_is_broken(job));
	assert_non_null(strstr(err.msg, "$.job.data"));
	kwg_job_free(job);
}

static void on_job(void *ctx, const char *id, const char *data, size_t len)
{
	int *n = ctx;

	assert_string_equal(id, "j1");
	assert_memory_equal(data, "{}", len);
	(*n)++;
}

static void on_event(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	(void)data;
	(void)len;
	fail();
}

static void test_wire_frames_round_trip(void **state)
{
	/* A WorkerJobResponse {jobs: [{jobId: "j1", jobData: "{}"}]}, by hand: field 2, length 8,
	 * then field 1 "j1" and field 2 "{}". */
	static const uint8_t resp[] = {0x12, 0x08, 0x0a, 0x02, 'j', '1', 0x12, 0x02, '{', '}'};
	struct kwg_grpc_who who = {"w-1", "2.0.0"};
	struct kwg_buf b;
	uint8_t *msg = NULL, *packed;
	size_t len = 0;
	int n = 0;

	(void)state;
	kwg_buf_init(&b, 1 << 20);
	assert_int_equal(kwg_grpc_frame(&b, resp, sizeof(resp)), 0);
	assert_int_equal(kwg_grpc_frame(&b, resp, sizeof(resp)), 0);
	assert_int_equal(b.len, 2 * (5 + sizeof(resp)));
	assert_int_equal(kwg_grpc_deframe(&b, 1 << 20, &msg, &len), 1);
	assert_int_equal(kwg_grpc_unpack_jobs(msg, len, on_job, on_event, &n), 0);
	assert_int_equal(n, 1);
	free(msg);
	assert_int_equal(kwg_grpc_deframe(&b, 4, &msg, &len), -EMSGSIZE);
	kwg_buf_clear(&b);
	assert_int_equal(kwg_buf_append(&b, "\0\0\0\0\5a", 6), 0);
	assert_int_equal(kwg_grpc_deframe(&b, 1 << 20, &msg, &len), 0); /* needs 4 more bytes */
	kwg_buf_clear(&b);
	assert_int_equal(kwg_buf_append(&b, "\1\0\0\0\0", 5), 0);
	assert_int_equal(kwg_grpc_deframe(&b, 1 << 20, &msg, &len), -EPROTO); /* compressed */
	kwg_buf_done(&b);
	/* An OpaqueData round trip. */
	packed = kwg_grpc_pack_opaque(&who, "{\"records\":[]}", 14, &len);
	assert_non_null(packed);
	{
		char *json = NULL;
		size_t jl = 0;
		assert_int_equal(kwg_grpc_unpack_opaque(packed, len, &json, &jl), 0);
		assert_string_equal(json, "{\"records\":[]}");
		free(json);
	}
	free(packed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_controller_heartbeat_registration_then_state),
	    cmocka_unit_test(test_controller_reply_decodes_and_names_errors),
	    cmocka_unit_test(test_controller_events_and_configs),
	    cmocka_unit_test(test_job_decode2_and_trigger_result),
	    cmocka_unit_test(test_wire_frames_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
