/* SPDX-License-Identifier: Apache-2.0 */
/* runner/logstream: line splitting as Java's readLine, UTF-8 repair, bounded long lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "runner/logstream.h"

struct collected {
	char lines[64][256];
	enum kwg_stream streams[64];
	size_t lens[64];
	size_t n;
	size_t total_bytes;
};

static void on_line(void *userdata, enum kwg_stream stream, const char *line, size_t len)
{
	struct collected *c = userdata;

	c->total_bytes += len;
	if (c->n < 64) {
		size_t copy = len < 255 ? len : 255;
		memcpy(c->lines[c->n], line, copy);
		c->lines[c->n][copy] = '\0';
		c->lens[c->n] = len;
		c->streams[c->n] = stream;
	}
	c->n++;
}

static struct kwg_logstream *new_ls(struct collected *c, size_t max)
{
	struct kwg_logstream *ls = NULL;

	memset(c, 0, sizeof(*c));
	assert_int_equal(kwg_logstream_new(max, on_line, c, &ls), 0);
	return ls;
}

static void feed(struct kwg_logstream *ls, enum kwg_stream s, const char *text)
{
	assert_int_equal(kwg_logstream_feed(ls, s, text, strlen(text)), 0);
}

static void test_logstream_splits_like_readline(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 1024);

	(void)state;
	feed(ls, KWG_STREAM_STDOUT, "a\nb\r\nc\rd\n\nlast");
	assert_int_equal(c.n, 5);
	assert_string_equal(c.lines[0], "a");
	assert_string_equal(c.lines[1], "b");
	assert_string_equal(c.lines[2], "c");
	assert_string_equal(c.lines[3], "d");
	assert_string_equal(c.lines[4], ""); /* empty lines are kept (Process runner) */
	assert_int_equal(kwg_logstream_finish(ls, KWG_STREAM_STDOUT), 0);
	assert_int_equal(c.n, 6);
	assert_string_equal(c.lines[5], "last");
	assert_int_equal(kwg_logstream_lines(ls, KWG_STREAM_STDOUT), 6);
	kwg_logstream_free(ls);
}

static void test_logstream_crlf_across_reads_is_one_break(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 1024);

	(void)state;
	feed(ls, KWG_STREAM_STDOUT, "x\r");
	feed(ls, KWG_STREAM_STDOUT, "\ny\n");
	assert_int_equal(c.n, 2);
	assert_string_equal(c.lines[0], "x");
	assert_string_equal(c.lines[1], "y");
	kwg_logstream_free(ls);
}

static void test_logstream_keeps_streams_apart(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 1024);

	(void)state;
	feed(ls, KWG_STREAM_STDOUT, "out-part-");
	feed(ls, KWG_STREAM_STDERR, "err\n");
	feed(ls, KWG_STREAM_STDOUT, "end\n");
	assert_int_equal(c.n, 2);
	assert_string_equal(c.lines[0], "err");
	assert_int_equal(c.streams[0], KWG_STREAM_STDERR);
	assert_string_equal(c.lines[1], "out-part-end");
	assert_int_equal(kwg_logstream_lines(ls, KWG_STREAM_STDERR), 1);
	kwg_logstream_free(ls);
}

static void test_logstream_repairs_invalid_utf8_and_nul(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 1024);
	static const char bytes[] = {'a', (char)0xff, 'b', 0, 'c', '\n'};

	(void)state;
	assert_int_equal(kwg_logstream_feed(ls, KWG_STREAM_STDOUT, bytes, sizeof(bytes)), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.lines[0], "a\xef\xbf\xbd"
	                                "b\xef\xbf\xbd"
	                                "c");
	kwg_logstream_free(ls);
}

static void test_logstream_utf8_split_across_reads_survives(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 1024);

	(void)state;
	feed(ls, KWG_STREAM_STDOUT, "\xf0\x9f");
	feed(ls, KWG_STREAM_STDOUT, "\x91\x8b!\n");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.lines[0], "\xf0\x9f\x91\x8b!");
	kwg_logstream_free(ls);
}

static void test_logstream_long_line_in_pieces_without_loss(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 64);
	char line[1001];

	(void)state;
	memset(line, 'x', 1000);
	line[1000] = '\0';
	feed(ls, KWG_STREAM_STDOUT, line);
	feed(ls, KWG_STREAM_STDOUT, "\n");
	assert_int_equal(c.total_bytes, 1000);
	assert_true(c.n >= 1000 / 64);
	for (size_t i = 0; i < c.n && i < 64; i++)
		assert_true(c.lens[i] <= 64);
	kwg_logstream_free(ls);
}

static void test_logstream_long_line_never_splits_a_character(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 16);

	(void)state;
	/* 15 ASCII bytes then a 2-byte character straddling the 16-byte limit */
	feed(ls, KWG_STREAM_STDOUT, "123456789012345\xc3\xa9z\n");
	assert_int_equal(c.n, 2);
	assert_string_equal(c.lines[0], "123456789012345");
	assert_string_equal(c.lines[1], "\xc3\xa9z");
	kwg_logstream_free(ls);
}

static void test_logstream_exact_multiple_has_no_empty_tail(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 16);

	(void)state;
	feed(ls, KWG_STREAM_STDOUT, "0123456789abcdef\nnext\n\n");
	assert_int_equal(c.n, 3);
	assert_string_equal(c.lines[0], "0123456789abcdef");
	assert_string_equal(c.lines[1], "next");
	assert_string_equal(c.lines[2], ""); /* a real empty line stays */
	kwg_logstream_free(ls);
}

static void test_logstream_docker_rules(void **state)
{
	struct collected c;
	struct kwg_logstream *ls = new_ls(&c, 1024);

	(void)state;
	kwg_logstream_docker_lines(ls);
	/* KESTRA: LogConsumerTest.testWithMultipleCrInSameFrame: 9 CR-separated pieces and a
	 * last one make 10 lines; empty lines are dropped */
	feed(ls, KWG_STREAM_STDOUT, "1\r2\r3\r4\r5\r6\r7\r8\r9\r10\n\n\r\n");
	assert_int_equal(c.n, 10);
	assert_string_equal(c.lines[9], "10");
	/* a character split across frames survives; a last piece waits for the end */
	feed(ls, KWG_STREAM_STDERR, "caf\xc3");
	feed(ls, KWG_STREAM_STDERR, "\xa9\nrest");
	assert_int_equal(c.n, 11);
	assert_string_equal(c.lines[10], "caf\xc3\xa9");
	assert_int_equal(kwg_logstream_finish(ls, KWG_STREAM_STDERR), 0);
	assert_int_equal(c.n, 12);
	assert_string_equal(c.lines[11], "rest");
	kwg_logstream_free(ls);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_logstream_splits_like_readline),
	    cmocka_unit_test(test_logstream_crlf_across_reads_is_one_break),
	    cmocka_unit_test(test_logstream_keeps_streams_apart),
	    cmocka_unit_test(test_logstream_repairs_invalid_utf8_and_nul),
	    cmocka_unit_test(test_logstream_utf8_split_across_reads_survives),
	    cmocka_unit_test(test_logstream_long_line_in_pieces_without_loss),
	    cmocka_unit_test(test_logstream_long_line_never_splits_a_character),
	    cmocka_unit_test(test_logstream_exact_multiple_has_no_empty_tail),
	    cmocka_unit_test(test_logstream_docker_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
