/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes what a kwg worker does with a job kwg routing held (protocol/route.c): the input is the
 * holding group, a newline, then the workerGroup JSON the database gave (the part kwg reads from
 * outside: a task's or a flow's workerGroup, any JSON, or a Pebble key to render). The job is a
 * fixed WorkerTask with a few variables. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/route.h"

static const char job_json[] =
    "{\"type\":\"task\",\"taskRun\":{\"tenantId\":\"main\",\"id\":\"tr\",\"executionId\":\"x\","
    "\"namespace\":\"n\",\"flowId\":\"f\",\"taskId\":\"t\",\"state\":{\"current\":\"CREATED\","
    "\"histories\":[{\"state\":\"CREATED\",\"date\":\"2025-09-02T10:15:30.101234Z\"}]}},"
    "\"task\":{\"id\":\"t\",\"type\":\"io.kestra.plugin.core.log.Log\",\"message\":\"m\"},"
    "\"runContext\":{\"variables\":{\"inputs\":{\"pool\":\"gpu\",\"bad\":\"a b\","
    "\"list\":[1,2]}}}}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_route_decision d;
	struct kwg_err err = {{0}};
	struct kwg_job *job = NULL;
	char *text = malloc(size + 1), *nl;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nl = strchr(text, '\n');
	if (nl && kwg_job_decode(job_json, sizeof(job_json) - 1, &job, &err) == 0) {
		*nl = '\0';
		if (kwg_route_decide(job, text, nl + 1, 1, &d) == 0 &&
		    d.action == KWG_ROUTE_TO_GROUP) {
			if (!kwg_group_key_valid(d.group))
				abort();
			kwg_route_fallback_end(&d);
		}
	}
	(void)kwg_group_key_valid(text);
	kwg_job_free(job);
	free(text);
	return 0;
}
