/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the Ion text reader (template/ion.h): any bytes, not NUL-terminated, read as a stream
 * value by value (kwg_ion_next must advance or stop); each value read must serialise back to
 * JSON. */
#include <stdint.h>
#include <stdlib.h>

#include "template/ion.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_err err;
	json_t *v = NULL;
	size_t pos = 0, last;

	for (;;) {
		last = pos;
		if (kwg_ion_next((const char *)data, size, &pos, &v, &err) <= 0)
			break;
		if (pos <= last || pos > size)
			abort();
		char *s = json_dumps(v, JSON_ENCODE_ANY);
		if (!s)
			abort();
		free(s);
		json_decref(v);
	}
	return 0;
}
