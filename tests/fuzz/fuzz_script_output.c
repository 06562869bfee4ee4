/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the "::{...}::" output protocol: the input is split into lines, each repaired to valid
 * UTF-8 as the line splitter delivers them, then fed; outputs and metrics are encoded at the end.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "protocol/log_entry.h"
#include "protocol/script_output.h"

static void on_log(void *userdata, enum kwg_level level, const char *message, size_t len)
{
	(void)userdata;
	(void)level;
	(void)message;
	(void)len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_script_output *so = NULL;
	struct kwg_taskrun_ref ref = {.task_run_id = "r", .attempt_number = 0};
	const char *p = (const char *)data, *end = p + size;
	struct kwg_buf line;

	if (kwg_script_output_new(&so) < 0)
		return 0;
	kwg_buf_init(&line, 3 * size + 16);
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct kwg_err err;
		kwg_buf_clear(&line);
		if (kwg_utf8_sanitize(&line, p, n) == 0)
			(void)kwg_script_output_feed(so, kwg_buf_str(&line), line.len, on_log, NULL,
			                             &err);
		if (!nl)
			break;
		p = nl + 1;
	}
	free(kwg_script_output_outputs_json(so, 0, NULL));
	for (size_t i = 0; i < kwg_script_output_metric_count(so); i++)
		free(kwg_script_output_metric_json(so, i, &ref, 0));
	kwg_buf_done(&line);
	kwg_script_output_free(so);
	return 0;
}
