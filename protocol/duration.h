/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's durations: ISO-8601 text (PT1M, P1DT2H, PT0.5S), numbers of seconds, and the
 * "H:mm:ss.SSS" form of timeout messages. Pure. */
#pragma once
#include <stdint.h>

/* Parses an ISO-8601 duration as java.time.Duration.parse accepts it (PnDTnHnMn.nS, sign
 * allowed, case-insensitive) or a plain number of seconds ("30", "1.5"). 0 or -EINVAL/-ERANGE. */
int kwg_duration_parse(const char *s, int64_t *ret_ms);
/* "H:mm:ss.SSS", as Kestra's "Timeout after …" message (Apache DurationFormatUtils). */
void kwg_duration_format_hms(int64_t ms, char buf[32]);
/* Kestra's wire form of a Duration: seconds with a 9-digit fraction ("0.307339000"). */
void kwg_duration_format_seconds(int64_t us, char buf[32]);
