/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the DecimalFormat pattern reader and formatter (template/jdecimal.h): the input is the
 * pattern, formatted with a few longs and doubles (negative, zero, huge, tiny, NaN, infinite). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template/jdecimal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const double dv[] = {0.0,    -0.0,       0.125, -3.7,    1e308,
	                            5e-324, 123456.789, NAN,   INFINITY};
	static const int64_t iv[] = {0, -1, 1234567, INT64_MAX, INT64_MIN};
	char *pattern = malloc(size + 1), *out;
	struct kwg_err err;

	if (!pattern)
		return 0;
	memcpy(pattern, data, size);
	pattern[size] = '\0';
	for (size_t i = 0; i < sizeof(dv) / sizeof(dv[0]); i++)
		if (kwg_jdecimal_format(pattern, false, 0, dv[i], &out, &err) == 0)
			free(out);
	for (size_t i = 0; i < sizeof(iv) / sizeof(iv[0]); i++)
		if (kwg_jdecimal_format(pattern, true, iv[i], 0, &out, &err) == 0)
			free(out);
	free(pattern);
	return 0;
}
