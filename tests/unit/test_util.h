/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by unit tests: reading files from tests/unit/data. */
#pragma once
#include <stdio.h>
#include <stdlib.h>

/* Reads KWG_TEST_DATA/name into a new NUL-terminated string; aborts the test run on failure. */
static inline char *test_read_data(const char *name, size_t *ret_len)
{
	char path[1024];
	FILE *f;
	char *buf;
	long n;

	snprintf(path, sizeof(path), "%s/%s", KWG_TEST_DATA, name);
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "cannot open %s\n", path);
		abort();
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		abort();
	buf[n] = '\0';
	fclose(f);
	if (ret_len)
		*ret_len = (size_t)n;
	return buf;
}
