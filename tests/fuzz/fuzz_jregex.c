/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the Java-regex translator and matcher (template/jregex.h): the input's first line is
 * the pattern, the second the replacement, the rest the subject; the pattern is compiled, then
 * used for Matcher.replaceAll, String.split (limits 0, -1, 2) and the find loop. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "template/jregex.h"

static int piece(void *data, const char *p, size_t len)
{
	(void)p;
	*(size_t *)data += len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *rep, *subject;
	struct kwg_jregex *re;
	struct kwg_err err;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	rep = strchr(buf, '\n');
	rep = rep ? (*rep = '\0', rep + 1) : buf + size;
	subject = strchr(rep, '\n');
	subject = subject ? (*subject = '\0', subject + 1) : buf + size;
	if (kwg_jregex_new(buf, strlen(buf), &re, &err) == 0) {
		size_t n = size - (size_t)(subject - buf), total = 0, s, e;
		struct kwg_buf out;
		struct kwg_jregex_iter it;

		kwg_buf_init(&out, 1u << 20);
		(void)kwg_jregex_replace_all(re, subject, n, rep, &out, NULL, NULL, &err);
		kwg_buf_done(&out);
		(void)kwg_jregex_split(re, subject, n, 0, piece, NULL, &total, &err);
		(void)kwg_jregex_split(re, subject, n, -1, piece, NULL, &total, &err);
		(void)kwg_jregex_split(re, subject, n, 2, piece, NULL, &total, &err);
		kwg_jregex_iter_init(&it, re, subject, n);
		for (int k = 0; k < 1000 && kwg_jregex_find(&it, &err) > 0; k++)
			for (size_t g = 0; g <= kwg_jregex_groups(re); g++)
				(void)kwg_jregex_group(re, g, &s, &e);
		kwg_jregex_free(re);
	}
	free(buf);
	return 0;
}
