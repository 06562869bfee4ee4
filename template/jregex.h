/* SPDX-License-Identifier: Apache-2.0 */
/* Java regular expressions (java.util.regex) on UTF-8 text through PCRE2: a Java pattern is
 * translated to PCRE2 syntax (or refused, naming the Java construct PCRE2 lacks), compiled with
 * JIT where available, and matched under match, depth and heap limits so that a hostile pattern
 * fails instead of stalling the worker. Java's Matcher.replaceAll and String.split on top.
 * Pure: no I/O, no global state. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

struct kwg_jregex;

/* Longest pattern accepted, in bytes. */
#define KWG_JREGEX_MAX_PATTERN 65536

/* Compiles the Java pattern pat (len bytes, UTF-8). Returns 0 and *ret (new); -EINVAL with err
 * naming the pattern and the problem (Java would refuse it, or it uses a Java construct kwg
 * cannot translate); -ENOMEM. */
int kwg_jregex_new(const char *pat, size_t len, struct kwg_jregex **ret, struct kwg_err *err);
/* Accepts NULL. */
void kwg_jregex_free(struct kwg_jregex *re);
/* The pattern as given (borrowed). */
const char *kwg_jregex_pattern(const struct kwg_jregex *re);
/* Java's groupCount(). */
size_t kwg_jregex_groups(const struct kwg_jregex *re);

/* Java Matcher.find() over one subject, match after match. Set up with kwg_jregex_iter_init;
 * the subject (s, n bytes, UTF-8) is borrowed for the life of the iterator. */
struct kwg_jregex_iter {
	struct kwg_jregex *re; /* borrowed */
	const char *s;
	size_t n;
	size_t next;  /* where the next search starts */
	bool checked; /* the subject passed PCRE2's UTF-8 check */
	bool done;
};

void kwg_jregex_iter_init(struct kwg_jregex_iter *it, struct kwg_jregex *re, const char *s,
                          size_t n);
/* The next match: 1 (the groups are then readable), 0 when there is none; -EINVAL with err when
 * the subject is not UTF-8; -E2BIG with err when a limit stopped the match (the pattern
 * backtracks too much on this subject). */
int kwg_jregex_find(struct kwg_jregex_iter *it, struct kwg_err *err);
/* Group g of the last match (0: the whole match): true and its byte span, false when the group
 * took no part in the match. g <= kwg_jregex_groups(). */
bool kwg_jregex_group(const struct kwg_jregex *re, size_t g, size_t *ret_start, size_t *ret_end);

/* Java Matcher.replaceAll(rep) on s (n bytes), appended to out: $n and ${name} are groups,
 * \x is a literal x. 0; -EINVAL with err (Java's IllegalArgumentException or "No group N" for a
 * bad replacement, as Java only once a match needs it); -E2BIG as kwg_jregex_find; -EMSGSIZE
 * when out is full; -ENOMEM. steps, when not NULL, is called once a match and may stop the
 * walk by returning a negative errno (which is returned). */
int kwg_jregex_replace_all(struct kwg_jregex *re, const char *s, size_t n, const char *rep,
                           struct kwg_buf *out, int (*steps)(void *data), void *data,
                           struct kwg_err *err);

/* Java String.split(regex, limit) on s (n bytes): calls piece() with each piece in order.
 * 0, or the first negative value piece()/steps() returned, or what kwg_jregex_find returned. */
int kwg_jregex_split(struct kwg_jregex *re, const char *s, size_t n, long long limit,
                     int (*piece)(void *data, const char *p, size_t len), int (*steps)(void *data),
                     void *data, struct kwg_err *err);
