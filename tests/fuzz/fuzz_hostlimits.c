/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the host-limit parsers (cgroup limit files, cpu.max, CFS quota, /proc/meminfo,
 * /proc/self/cgroup) with one NUL-terminated copy of the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sandbox/hostlimits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), buf[64];
	const char *half;
	uint64_t v;
	uint32_t m;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	(void)kwg_host_parse_limit(text, &v);
	(void)kwg_host_parse_cpu_max(text, &m);
	(void)kwg_host_parse_meminfo(text, "MemTotal", &v);
	(void)kwg_host_parse_cgroup(text, "memory", buf, sizeof(buf));
	(void)kwg_host_parse_cgroup(text, "cpu", buf, sizeof(buf));
	(void)kwg_host_parse_cgroup(text, NULL, buf, sizeof(buf));
	half = text + strlen(text) / 2;
	(void)kwg_host_parse_cfs(text, half, &m);
	free(text);
	return 0;
}
