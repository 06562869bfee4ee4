/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes template/datetime: the input is up to six lines, "text", "existing format", "zone",
 * "format", "unit" and "amount" (an empty line is NULL). The text is parsed, formatted, then
 * moved by the amount and formatted again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template/datetime.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy, *field[6] = {NULL, NULL, NULL, NULL, NULL, NULL}, *p;
	struct kwg_datetime d, moved;
	struct kwg_err err;
	char *out = NULL;
	int64_t amount;

	if (size > 4096)
		return 0;
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	p = copy;
	for (int i = 0; i < 6 && p; i++) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		field[i] = *p ? p : NULL;
		p = nl ? nl + 1 : NULL;
	}
	amount = field[5] ? strtoll(field[5], NULL, 10) : 1;
	if (kwg_datetime_parse(field[0] ? field[0] : "", field[1], field[2], &d, &err) == 0) {
		if (kwg_datetime_format(&d, field[3], field[2], &out, &err) == 0)
			free(out);
		if (kwg_datetime_add(&d, amount, field[4], &moved, &err) == 0 &&
		    kwg_datetime_format(&moved, field[3], NULL, &out, &err) == 0)
			free(out);
	}
	/* Any epoch value through any pattern: the range checks, not the parser, must hold. */
	kwg_datetime_from_epoch(amount, (int32_t)(amount % 2000000000), &d);
	if (kwg_datetime_format(&d, field[3], field[2], &out, &err) == 0)
		free(out);
	free(copy);
	return 0;
}
