/* SPDX-License-Identifier: Apache-2.0 */
/* Compiler helpers shared by every layer. Owns nothing. */
#pragma once
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#define KWG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
/* A deliberate fall-through between switch labels (gcc and clang). */
#define KWG_FALLTHROUGH __attribute__((fallthrough))
#define KWG_NORETURN __attribute__((noreturn))
#define KWG_UNUSED __attribute__((unused))
#define KWG_WARN_UNUSED __attribute__((warn_unused_result))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Programming errors only, never input. Always on, also in release builds. */
#define kwg_assert(expr)                                                                           \
	do {                                                                                       \
		if (!(expr)) {                                                                     \
			fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__, __LINE__,       \
			        #expr);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define KWG_MIN(a, b) ((a) < (b) ? (a) : (b))
#define KWG_MAX(a, b) ((a) > (b) ? (a) : (b))
