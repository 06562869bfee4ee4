/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes task property decoding: the input is the task object of an otherwise valid WorkerTask. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/script_task.h"
#include "protocol/worker_job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char head[] = "{\"taskRun\":{\"id\":\"r\",\"executionId\":\"e\",\"namespace\":"
	                           "\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":"
	                           "\"CREATED\"}},\"runContext\":{},\"task\":";
	size_t len = sizeof(head) - 1 + size + 1;
	char *json = malloc(len);
	struct kwg_err err;
	struct kwg_job *job = NULL;

	if (!json)
		return 0;
	memcpy(json, head, sizeof(head) - 1);
	memcpy(json + sizeof(head) - 1, data, size);
	json[len - 1] = '}';
	if (kwg_job_decode(json, len, &job, &err) == 0 && kwg_job_kind(job) == KWG_JOB_TASK) {
		struct kwg_script_task task;
		struct kwg_script_task_opts opts = {.working_dir = "/wd"};
		(void)kwg_script_task_decode(job, &opts, &task, &err);
		kwg_script_task_done(&task);
	}
	kwg_job_free(job);
	free(json);
	return 0;
}
