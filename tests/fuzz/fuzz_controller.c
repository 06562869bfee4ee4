/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the controller's JSON (protocol/controller.c): heartbeat replies, connect's
 * worker_configs, broadcast events. */
#include <stdint.h>
#include <stdlib.h>

#include "protocol/controller.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_controller_reply reply;
	struct kwg_kill kill;
	struct kwg_err err;
	char *key = NULL;

	if (kwg_controller_reply_decode((const char *)data, size, &reply, &err) == 0)
		kwg_controller_reply_done(&reply);
	if (kwg_controller_configs_decode((const char *)data, size, &key, &err) == 0)
		free(key);
	(void)kwg_controller_event_decode((const char *)data, size, &kill, &err);
	return 0;
}
