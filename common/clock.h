/* SPDX-License-Identifier: Apache-2.0 */
/* Wall-clock instants in microseconds since the epoch, and Kestra's text forms of instants and
 * durations (kestra-protocol.md §4). */
#pragma once
#include <stdint.h>

#define KWG_INSTANT_LEN 80 /* room for any int year; a real instant takes 28 */

/* CLOCK_REALTIME in microseconds. */
int64_t kwg_clock_now_us(void);
/* "2025-09-02T10:15:30.101234Z" (microseconds, UTC). buf has KWG_INSTANT_LEN bytes. */
void kwg_clock_format_instant(int64_t us, char buf[KWG_INSTANT_LEN]);
/* Parses an ISO-8601 UTC instant with any fraction length (or none) and a 'Z' or +00:00 offset.
 * 0 or -EINVAL. */
int kwg_clock_parse_instant(const char *s, int64_t *ret_us);
