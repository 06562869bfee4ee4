/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the controller's address (common/parse.c kwg_parse_host_port, `controller` from the
 * operator's configuration): accepted, the host is not empty and holds no ':' unless it came in
 * brackets, the port is 1-65535 in digits, and both are parts of the input; refused, a reason; the
 * check-only call (NULL outputs) agrees. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/compat.h"
#include "common/parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *host, *port;
	const char *why, *why_check;
	int r;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	r = kwg_parse_host_port(text, &host, &port, &why);
	/* A check-only call (no outputs) gives the same answer, for the same reason. */
	kwg_assert(kwg_parse_host_port(text, NULL, NULL, &why_check) == r && why_check == why);
	if (r == 0) {
		long p = strtol(port, NULL, 10);
		kwg_assert(*host && strstr(text, host) &&
		           strspn(port, "0123456789") == strlen(port));
		kwg_assert(p >= 1 && p <= 65535);
		kwg_assert(!strchr(host, ':') || text[0] == '[');
		free(host);
		free(port);
	} else {
		kwg_assert(why && *why && !host && !port);
	}
	free(text);
	return 0;
}
