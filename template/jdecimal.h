/* SPDX-License-Identifier: Apache-2.0 */
/* Java's java.text.DecimalFormat in the English (ROOT/en_US) symbols, for Pebble's
 * `numberformat` filter: the common subset of its patterns. Pure.
 *
 * Supported: a prefix and a suffix (literal text, 'quoted' text, '' for a quote), the digits
 * `0` and `#`, grouping `,` (the size is the count of digits after the last `,` of the integer
 * part), the decimal point `.`, minimum and maximum fraction digits, `%` (x 100) and `‰`
 * (U+2030, x 1000) in the prefix or suffix, a negative subpattern after `;` (its prefix and
 * suffix), and scientific notation `E` with a minimum exponent digit count when the integer part
 * has only `0`s. Rounding is HALF_EVEN on the exact binary value of a double, as Java 8+ does.
 * Refused with -EINVAL naming the pattern: an empty digit part, `E` with `#` in the integer
 * part (engineering notation), currency `¤`, padding `*`, misplaced characters. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

/* The value is iv when is_int (a Java Long), else dv (a Java Double). pattern NULL is
 * NumberFormat.getInstance(Locale.US): "#,##0.###". 0 and *ret (new, NUL-terminated); -ENOMEM;
 * -EINVAL with err. */
int kwg_jdecimal_format(const char *pattern, bool is_int, int64_t iv, double dv, char **ret,
                        struct kwg_err *err);
