/* SPDX-License-Identifier: Apache-2.0 */
/* Java's String operations on UTF-8 text, through libunistring (Debian's libunistring, the GNU
 * Unicode library kept by the distribution): full case mapping as String.toUpperCase and
 * toLowerCase (SpecialCasing: "ß" → "SS", final sigma), Character.toTitleCase and
 * Character.isWhitespace, canonical decomposition (Normalizer NFD), and UTF-16 indexes as Java
 * counts them; Kestra's Slugify on top of NFD. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* s (n bytes, valid UTF-8) upper- or lower-cased as Java's toUpperCase()/toLowerCase() in a
 * language-neutral locale. 0 and *ret (new, NUL-terminated) with *ret_len; -ENOMEM; -EINVAL
 * when s is not UTF-8. */
int kwg_java_case(const char *s, size_t n, bool upper, char **ret, size_t *ret_len);

/* Pebble's capitalize (title = false: the first non-whitespace char) and title (the first char
 * after each run of whitespace) with Character.toTitleCase. Same contract as kwg_java_case. */
int kwg_java_titlecase(const char *s, size_t n, bool title, char **ret, size_t *ret_len);

/* Character.isWhitespace. */
bool kwg_java_is_whitespace(uint32_t cp);

/* s in Unicode NFD (Normalizer.Form.NFD). Same contract as kwg_java_case. */
int kwg_nfd(const char *s, size_t n, char **ret, size_t *ret_len);

/* The byte offset in s (n bytes, UTF-8) of Java's char index k (UTF-16 units; a character past
 * U+FFFF is 2). An index inside such a pair gives the offset after the whole character; n when
 * k is at or past the end. */
size_t kwg_utf16_offset(const char *s, size_t n, size_t k);

/* Java's String.length() of s (len bytes of UTF-8): UTF-16 code units. */
size_t kwg_utf16_units(const char *s, size_t len);

/* Kestra's Slugify. New string, NULL on OOM. */
char *kwg_slugify(const char *s);
