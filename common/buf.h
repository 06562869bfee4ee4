/* SPDX-License-Identifier: Apache-2.0 */
/* struct kwg_buf: a growable byte buffer with a hard maximum set at init. Its data is always
 * NUL-terminated (the NUL is not counted in len), so text can be used as a C string. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/compat.h"

struct kwg_buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* len never exceeds it */
};

void kwg_buf_init(struct kwg_buf *b, size_t max);
/* Frees the data; b may be reused after kwg_buf_init. */
void kwg_buf_done(struct kwg_buf *b);
/* Forgets the content and keeps the memory. */
void kwg_buf_clear(struct kwg_buf *b);
/* 0; -EMSGSIZE when len would pass max (nothing is appended); -ENOMEM. */
int kwg_buf_append(struct kwg_buf *b, const void *data, size_t n);
int kwg_buf_puts(struct kwg_buf *b, const char *s);
int kwg_buf_putc(struct kwg_buf *b, char c);
int kwg_buf_printf(struct kwg_buf *b, const char *fmt, ...) KWG_PRINTF(2, 3);
/* Drops the first n bytes (n <= len). */
void kwg_buf_consume(struct kwg_buf *b, size_t n);
/* Returns the data as a new NUL-terminated string (never NULL unless OOM) and empties b. */
char *kwg_buf_steal(struct kwg_buf *b);
/* Appends what a blocking fd gives until its end: 0, -EMSGSIZE past b's maximum (earlier reads
 * stay), -ENOMEM, or -errno of a failed read (EINTR retried). */
int kwg_buf_read_fd(struct kwg_buf *b, int fd);
/* The content as a C string ("" when empty); borrowed, valid until the next change. */
const char *kwg_buf_str(const struct kwg_buf *b);
