/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes what the controller's job stream brings (transport/grpc/wire.c): gRPC-framed
 * WorkerJobResponse messages, each job's jobData decoded as a 2.x WorkerJob and its results
 * built, each event decoded; each message also read as a StreamChunk (a KV value or a namespace
 * file's content through the controller). */
#include <stdint.h>
#include <stdlib.h>

#include "common/buf.h"
#include "protocol/controller.h"
#include "protocol/worker_job.h"
#include "transport/grpc/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void on_job(void *ctx, const char *job_id, const char *data, size_t len)
{
	struct kwg_err err;
	struct kwg_job *job = NULL;

	(void)ctx;
	(void)job_id;
	(void)kwg_job_decode2(data, len, &job, &err);
	if (!job)
		return;
	if (kwg_job_kind(job) == KWG_JOB_TASK && kwg_job_is_broken(job)) {
		free(kwg_job_result_fail(job, KWG_STATE_FAILED, "w", 1));
	} else if (kwg_job_kind(job) == KWG_JOB_TASK) {
		char *final;
		free(kwg_job_result_running(job, "w", 1000));
		final = kwg_job_result_final(job, KWG_STATE_SUCCESS, KWG_STATE_SUCCESS, "{}", 2000);
		if (final)
			free(kwg_task_result_refused(final, 3000));
		free(final);
	}
	kwg_job_free(job);
}

static void on_event(void *ctx, const char *data, size_t len)
{
	struct kwg_err err;
	struct kwg_kill kill;

	(void)ctx;
	(void)kwg_controller_event_decode(data, len, &kill, &err);
}

static int on_chunk(void *ctx, const uint8_t *data, size_t len)
{
	size_t *total = ctx;

	*total += len && data ? len : 0;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t total = 0;
	struct kwg_buf in;
	uint8_t *msg = NULL;
	size_t len = 0;

	kwg_buf_init(&in, 1u << 20);
	if (kwg_buf_append(&in, data, size) < 0) {
		kwg_buf_done(&in);
		return 0;
	}
	while (kwg_grpc_deframe(&in, 1u << 20, &msg, &len) == 1) {
		(void)kwg_grpc_unpack_jobs(msg, len, on_job, on_event, NULL);
		(void)kwg_grpc_unpack_chunk(msg, len, on_chunk, &total);
		free(msg);
	}
	kwg_buf_done(&in);
	return 0;
}
