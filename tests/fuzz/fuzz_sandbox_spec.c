/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the sandbox spec decoder (kwg-exec's input) and re-encodes what decodes. */
#include <stdint.h>
#include <stdlib.h>

#include "sandbox/sandbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_sandbox_spec spec;
	struct kwg_err err;
	char *bytes;
	size_t len;

	if (kwg_sandbox_spec_decode((const char *)data, size, &spec, &err) == 0 &&
	    kwg_sandbox_spec_encode(&spec, &bytes, &len) == 0)
		free(bytes);
	kwg_sandbox_spec_done(&spec);
	return 0;
}
