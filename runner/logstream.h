/* SPDX-License-Identifier: Apache-2.0 */
/* Splits a task's stdout and stderr bytes into lines the way Kestra's Process runner reads them
 * (Java BufferedReader.readLine: \n, \r or \r\n end a line; empty lines kept; a last line without
 * terminator delivered at EOF), as valid UTF-8 (invalid bytes and NUL become U+FFFD). A line longer
 * than max_line_bytes is delivered in pieces of at most that size, so memory stays bounded and no
 * byte is lost. Owns its buffers. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum kwg_stream {
	KWG_STREAM_STDOUT,
	KWG_STREAM_STDERR,
	KWG_STREAM__COUNT,
};

struct kwg_logstream;

/* line is borrowed for the call: len bytes of valid UTF-8, no terminator, no NUL. */
typedef void kwg_logstream_line_fn(void *userdata, enum kwg_stream stream, const char *line,
                                   size_t len);

/* 0 and *ret (new); -ENOMEM. max_line_bytes >= 16. */
int kwg_logstream_new(size_t max_line_bytes, kwg_logstream_line_fn *on_line, void *userdata,
                      struct kwg_logstream **ret);
/* Splits as Kestra's Docker runner does instead (kestra-script-tasks.md §5.2): a line is one or
 * more characters ended by \r or \n, so empty lines are dropped and a lone \r ends a line. */
void kwg_logstream_docker_lines(struct kwg_logstream *ls);
/* Borrows data. Calls on_line for every complete line. 0 or -ENOMEM. */
int kwg_logstream_feed(struct kwg_logstream *ls, enum kwg_stream stream, const char *data,
                       size_t len);
/* End of a stream: delivers its unterminated last line, if any. 0 or -ENOMEM. */
int kwg_logstream_finish(struct kwg_logstream *ls, enum kwg_stream stream);
/* Lines delivered so far on a stream. */
size_t kwg_logstream_lines(const struct kwg_logstream *ls, enum kwg_stream stream);
/* Accepts NULL. Returns NULL. */
struct kwg_logstream *kwg_logstream_free(struct kwg_logstream *ls);
