/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes `kwg submit`'s YAML/JSON task definitions. */
#include <stdint.h>
#include <stdlib.h>

#include "protocol/task_def.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_task_def_opts opts = {.now_us = 1};
	struct kwg_task_def def;
	struct kwg_err err;
	char *json = NULL;

	if (kwg_task_def_build((const char *)data, size, &opts, &def, &err) == 0)
		kwg_task_def_done(&def);
	if (kwg_yaml_to_json((const char *)data, size, &json, &err) == 0)
		free(json);
	return 0;
}
