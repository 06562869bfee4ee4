/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the generation verdict (protocol/kestra_schema.c): the input is the column list of
 * queues as the catalog gives it ("name:type,…"), a newline, then the Flyway version. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/kestra_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *nl, msg[512];
	enum kwg_kestra_gen gen;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	(void)kwg_kestra_schema_detect("queues", text, nl ? nl + 1 : NULL, &gen, msg, sizeof(msg));
	free(text);
	return 0;
}
