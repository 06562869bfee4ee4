/* SPDX-License-Identifier: Apache-2.0 */
#include "common/buf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void kwg_buf_init(struct kwg_buf *b, size_t max)
{
	*b = (struct kwg_buf){.max = max};
}

void kwg_buf_done(struct kwg_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

void kwg_buf_clear(struct kwg_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int buf_reserve(struct kwg_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max - b->len)
		return -EMSGSIZE;
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int kwg_buf_append(struct kwg_buf *b, const void *data, size_t n)
{
	int r = buf_reserve(b, n);

	if (r < 0)
		return r;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int kwg_buf_puts(struct kwg_buf *b, const char *s)
{
	return kwg_buf_append(b, s, strlen(s));
}

int kwg_buf_putc(struct kwg_buf *b, char c)
{
	return kwg_buf_append(b, &c, 1);
}

int kwg_buf_printf(struct kwg_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, r;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	r = buf_reserve(b, (size_t)n);
	if (r < 0)
		return r;
	va_start(ap, fmt);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

void kwg_buf_consume(struct kwg_buf *b, size_t n)
{
	if (n >= b->len) {
		kwg_buf_clear(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *kwg_buf_steal(struct kwg_buf *b)
{
	char *p = b->data;

	if (!p)
		return strdup("");
	b->data = NULL;
	b->len = b->cap = 0;
	return p;
}

const char *kwg_buf_str(const struct kwg_buf *b)
{
	return b->data ? b->data : "";
}

int kwg_buf_read_fd(struct kwg_buf *b, int fd)
{
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : 0;
		r = kwg_buf_append(b, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
}
