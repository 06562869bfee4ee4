/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes WorkerJob decoding and every message built from a decoded job. */
#include <stdint.h>
#include <stdlib.h>

#include "protocol/script_task.h"
#include "protocol/worker_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_err err;
	struct kwg_job *job = NULL;
	struct kwg_state_rules rules;

	(void)kwg_job_decode((const char *)data, size, &job, &err);
	if (!job)
		return 0;
	if (kwg_job_kind(job) == KWG_JOB_TRIGGER) {
		char *k = NULL, *v = NULL;
		if (kwg_job_trigger_failure(job, &k, &v) == 0) {
			free(k);
			free(v);
		}
	} else if (kwg_job_is_broken(job)) {
		free(kwg_job_result_fail(job, KWG_STATE_FAILED, "w", 1));
	} else {
		struct kwg_script_task task;
		/* A key (bytes 0..15), so that encrypted inputs are decrypted (corpus:
		 * secret_input.json). */
		struct kwg_script_task_opts opts = {.working_dir = "/wd",
		                                    .encryption_key = "AAECAwQFBgcICQoLDA0ODw=="};
		(void)kwg_script_task_decode(job, &opts, &task, &err);
		kwg_script_task_done(&task);
		free(kwg_job_running_record(job, "w", "g"));
		free(kwg_job_result_running(job, "w", 1000));
		kwg_job_state_rules(job, 2000, &rules);
		free(kwg_job_result_final(job, KWG_STATE_SUCCESS, KWG_STATE_SUCCESS,
		                          "{\"vars\":{}}", 2000));
	}
	kwg_job_free(job);
	return 0;
}
