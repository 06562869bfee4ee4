/* SPDX-License-Identifier: Apache-2.0 */
/* Dates as Kestra's Pebble filters and functions handle them (pebble/AbstractDate.java and the
 * date, dateAdd, timestamp*, now members of kestra-script-tasks.md §8.4): parsing a date value,
 * formatting with Java DateTimeFormatter patterns and Kestra's named formats, adding amounts in
 * ChronoUnits, time zones by ID (read from the system's tz database, /usr/share/zoneinfo) or
 * offset. Pure apart from reading the tz database. Years 0001-9999 only; anything outside is
 * -EINVAL. */
#pragma once
#include <stdint.h>

#include "common/err.h"

/* An instant and the zone it is shown in. */
struct kwg_datetime {
	int64_t epoch_s; /* seconds since 1970-01-01T00:00:00Z */
	int32_t nano;    /* 0 … 999,999,999 */
	char zone[64];   /* "UTC", "Z", "+02:00", "Europe/Paris"; "" = UTC */
};

/* Reads text as Kestra reads a date value: with existing_format (a Java pattern or a named
 * format, may be NULL) by that format; otherwise ISO-8601 forms in Kestra's order (offset
 * date-time, zoned date-time with [Zone], local date-time, local date at midnight), a local value
 * taken in zone (NULL or "" = UTC). A pattern without a zone or offset also reads a local value
 * in zone (Java would refuse it); missing time fields are 0. The pattern letters z, O, N, A (so
 * the styles full and long) and the named formats iso_time, iso_local_time, iso_offset_time and
 * iso_week_date only format (Kestra cannot make a date of them either); rfc_1123_date_time
 * parses ("Tue, 3 Jun 2008 11:05:30 GMT", the day name and seconds optional, GMT or +HHMM).
 * 0 and *ret, or -EINVAL with err naming the text. */
int kwg_datetime_parse(const char *text, const char *existing_format, const char *zone,
                       struct kwg_datetime *ret, struct kwg_err *err);
/* An epoch number as date filters read one: seconds since the epoch. */
void kwg_datetime_from_epoch(int64_t epoch_s, int32_t nano, struct kwg_datetime *ret);

/* Formats d with format (NULL = "iso": yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX), shown in zone (NULL =
 * d's own zone). Named formats: iso, iso_sec, sql, sql_seq, iso_date_time, iso_date, iso_time,
 * iso_local_date, iso_local_time, iso_local_date_time, iso_offset_date_time, iso_offset_date,
 * iso_offset_time, iso_zoned_date_time, iso_instant, iso_ordinal_date, iso_week_date,
 * basic_iso_date, rfc_1123_date_time, full, long, medium, short (case-insensitive). Anything else
 * is a Java DateTimeFormatter pattern. 0 and *ret (new), -EINVAL (err names the pattern letter or
 * zone), -ENOMEM. */
int kwg_datetime_format(const struct kwg_datetime *d, const char *format, const char *zone,
                        char **ret, struct kwg_err *err);

/* d plus amount of unit (a ChronoUnit name as Kestra takes it: NANOS, MICROS, MILLIS, SECONDS,
 * MINUTES, HOURS, HALF_DAYS, DAYS, WEEKS, MONTHS, YEARS, DECADES, CENTURIES, MILLENNIA), calendar
 * units counted in d's zone. 0 and *ret, -EINVAL. */
int kwg_datetime_add(const struct kwg_datetime *d, int64_t amount, const char *unit,
                     struct kwg_datetime *ret, struct kwg_err *err);
