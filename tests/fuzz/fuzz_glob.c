/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the Java-glob compiler and matcher: the input's first line is the pattern, the rest the
 * path; the pattern is also compiled through the outputFiles and namespace-files rules. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/glob.h"

/* 0: rule 0 (plain), 1: outputFiles, 2: namespace files. */
static void try_one(int rule, const char *pattern, const char *path)
{
	struct kwg_glob *g = NULL;
	struct kwg_err err;
	int r;

	if (rule == 0)
		r = kwg_glob_compile(pattern, &g, &err);
	else if (rule == 1)
		r = kwg_glob_compile_output("/tmp/wd", pattern, &g, &err);
	else
		r = kwg_glob_compile_namespace(pattern, &g, &err);
	if (r == 0) {
		(void)kwg_glob_match(g, path);
		kwg_glob_free(g);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *path;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	path = strchr(buf, '\n');
	if (path)
		*path++ = '\0';
	else
		path = buf + size;
	for (int rule = 0; rule < 3; rule++)
		try_one(rule, buf, path);
	free(buf);
	return 0;
}
