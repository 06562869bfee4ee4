/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the Ion text reader (storage/ion.h): any bytes, not NUL-terminated; a value read must
 * serialise back to JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "storage/ion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_err err;
	json_t *v = NULL;

	if (kwg_ion_parse((const char *)data, size, &v, &err) == 0) {
		char *s = json_dumps(v, JSON_ENCODE_ANY);
		if (!s)
			abort();
		free(s);
		json_decref(v);
	}
	return 0;
}
