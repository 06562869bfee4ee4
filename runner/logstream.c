/* SPDX-License-Identifier: Apache-2.0 */
#include "runner/logstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "protocol/log_entry.h"

struct stream_state {
	struct kwg_buf line; /* the current, unterminated line (raw bytes) */
	bool after_cr;       /* the last byte was \r: a following \n belongs to it */
	bool pieced;         /* the current line was delivered in pieces already */
	size_t lines;
};

struct kwg_logstream {
	size_t max_line_bytes;
	kwg_logstream_line_fn *on_line;
	void *userdata;
	bool docker;          /* Docker's splitting: empty lines dropped */
	struct kwg_buf clean; /* scratch for the sanitized line */
	struct stream_state streams[KWG_STREAM__COUNT];
};

int kwg_logstream_new(size_t max_line_bytes, kwg_logstream_line_fn *on_line, void *userdata,
                      struct kwg_logstream **ret)
{
	struct kwg_logstream *ls = calloc(1, sizeof(*ls));

	if (!ls)
		return -ENOMEM;
	ls->max_line_bytes = max_line_bytes < 16 ? 16 : max_line_bytes;
	ls->on_line = on_line;
	ls->userdata = userdata;
	/* Sanitizing can triple a line (each bad byte becomes three). */
	kwg_buf_init(&ls->clean, 3 * ls->max_line_bytes + 16);
	for (int i = 0; i < KWG_STREAM__COUNT; i++)
		kwg_buf_init(&ls->streams[i].line, ls->max_line_bytes);
	*ret = ls;
	return 0;
}

struct kwg_logstream *kwg_logstream_free(struct kwg_logstream *ls)
{
	if (ls) {
		kwg_buf_done(&ls->clean);
		for (int i = 0; i < KWG_STREAM__COUNT; i++)
			kwg_buf_done(&ls->streams[i].line);
		free(ls);
	}
	return NULL;
}

static int deliver(struct kwg_logstream *ls, enum kwg_stream stream, const char *data, size_t len)
{
	int r;

	kwg_buf_clear(&ls->clean);
	r = kwg_utf8_sanitize(&ls->clean, data, len);
	if (r < 0)
		return r;
	ls->streams[stream].lines++;
	ls->on_line(ls->userdata, stream, kwg_buf_str(&ls->clean), ls->clean.len);
	return 0;
}

/* Largest cut <= len that does not split a UTF-8 sequence (falls back to len). */
static size_t utf8_cut(const char *s, size_t len)
{
	size_t i = len;

	for (int back = 0; back < 4 && i > 0; back++, i--)
		if (((unsigned char)s[i - 1] & 0xc0) != 0x80)
			return (unsigned char)s[i - 1] < 0x80 ? len : i - 1;
	return len;
}

/* Appends to the current line; a line reaching the maximum is delivered in a piece first. */
static int line_append(struct kwg_logstream *ls, enum kwg_stream stream, const char *data,
                       size_t len)
{
	struct stream_state *st = &ls->streams[stream];
	int r;

	while (len > 0) {
		size_t room = ls->max_line_bytes - st->line.len;
		size_t n = len < room ? len : room;
		r = kwg_buf_append(&st->line, data, n);
		if (r < 0)
			return r;
		data += n;
		len -= n;
		if (st->line.len == ls->max_line_bytes) {
			size_t cut = utf8_cut(st->line.data, st->line.len);
			if (cut == 0)
				cut = st->line.len;
			r = deliver(ls, stream, st->line.data, cut);
			if (r < 0)
				return r;
			kwg_buf_consume(&st->line, cut);
			st->pieced = true;
		}
	}
	return 0;
}

int kwg_logstream_feed(struct kwg_logstream *ls, enum kwg_stream stream, const char *data,
                       size_t len)
{
	struct stream_state *st = &ls->streams[stream];
	const char *end = data + len;
	int r;

	while (data < end) {
		const char *eol;
		if (st->after_cr) {
			st->after_cr = false;
			if (*data == '\n') {
				data++;
				continue;
			}
		}
		for (eol = data; eol < end && *eol != '\n' && *eol != '\r'; eol++)
			;
		r = line_append(ls, stream, data, (size_t)(eol - data));
		if (r < 0 || eol == end)
			return r;
		/* The end of a line already delivered in pieces is no empty line of its own. */
		if (st->line.len > 0 || (!st->pieced && !ls->docker))
			r = deliver(ls, stream, kwg_buf_str(&st->line), st->line.len);
		if (r < 0)
			return r;
		kwg_buf_clear(&st->line);
		st->pieced = false;
		st->after_cr = *eol == '\r';
		data = eol + 1;
	}
	return 0;
}

int kwg_logstream_finish(struct kwg_logstream *ls, enum kwg_stream stream)
{
	struct stream_state *st = &ls->streams[stream];
	int r = 0;

	if (st->line.len > 0)
		r = deliver(ls, stream, st->line.data, st->line.len);
	kwg_buf_clear(&st->line);
	st->after_cr = false;
	st->pieced = false;
	return r;
}

void kwg_logstream_docker_lines(struct kwg_logstream *ls)
{
	ls->docker = true;
}

size_t kwg_logstream_lines(const struct kwg_logstream *ls, enum kwg_stream stream)
{
	return ls->streams[stream].lines;
}
