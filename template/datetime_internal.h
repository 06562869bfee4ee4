/* SPDX-License-Identifier: Apache-2.0 */
/* The date code's inside, shared by datetime.c, datetime_format.c and datetime_parse.c
 * (template/datetime.h is its public side): broken-down fields, zones, the pattern reader, the
 * named formats, and the functions one file calls in another (kwg_dt_*). */
#pragma once
#include "template/datetime.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/cleanup.h"

#define TZ_ROOT "/usr/share/zoneinfo/"
#define TZ_MAX_FILE (256 * 1024)
#define MAX_PATTERN 1024
#define MAX_OUTPUT (64 * 1024)
#define MIN_YEAR 1
#define MAX_YEAR 9999

/* A local date and time, broken down, with the offset and zone name it is shown with. */
struct fields {
	int64_t year;
	int month, day, hour, minute, second;
	int32_t nano;
	int wday, yday;
	int32_t offset; /* seconds east of UTC */
	char abbr[16];  /* the zone's short name at that instant ("" = none) */
};

enum zone_kind {
	ZONE_OFFSET, /* java.time.ZoneOffset: "Z", "+02:00" */
	ZONE_FIXED,  /* a region with a fixed offset: "UTC", "GMT", "UTC+02:00" */
	ZONE_TZIF,   /* a region read from the tz database */
};

struct posix_date {
	char kind; /* 'M' month.week.day, 'J' julian 1-365 without Feb 29, 'N' zero-based day */
	int m, w, d, n;
	int32_t time; /* seconds after local midnight */
};

/* The TZ string at the end of a TZif v2+ file: the rule after the last transition. */
struct posix_tz {
	bool valid, has_dst;
	int32_t std_off, dst_off; /* seconds east of UTC */
	char std_abbr[16], dst_abbr[16];
	struct posix_date start, end;
};

struct zone {
	enum zone_kind kind;
	char id[64];
	int32_t fixed; /* ZONE_OFFSET, ZONE_FIXED */
	/* ZONE_TZIF: the 64-bit section of the file, read in place. */
	unsigned char *file; /* owned */
	const unsigned char *times, *idx, *types, *chars;
	uint32_t n_times, n_types, n_chars;
	struct posix_tz rule;
};

struct shown {
	const struct zone *zone;
	struct fields f;
};

/* Reads a Java pattern one token at a time: a run of one letter, one literal character (from
 * the text, a 'quoted' part or ''), or the start or end of an [optional] section. */
enum token_kind { TOKEN_END, TOKEN_FIELD, TOKEN_LITERAL, TOKEN_OPEN, TOKEN_CLOSE };

struct pattern_reader {
	const char *p;
	bool in_quote;
	int depth;
};

struct token {
	enum token_kind kind;
	char c;
	int count;
};

enum named {
	NAMED_NONE,
	NAMED_ISO_LOCAL_DATE,
	NAMED_ISO_DATE,
	NAMED_ISO_OFFSET_DATE,
	NAMED_ISO_LOCAL_TIME,
	NAMED_ISO_TIME,
	NAMED_ISO_OFFSET_TIME,
	NAMED_ISO_LOCAL_DATE_TIME,
	NAMED_ISO_OFFSET_DATE_TIME,
	NAMED_ISO_ZONED_DATE_TIME,
	NAMED_ISO_DATE_TIME,
	NAMED_ISO_INSTANT,
	NAMED_ISO_ORDINAL_DATE,
	NAMED_ISO_WEEK_DATE,
	NAMED_BASIC_ISO_DATE,
	NAMED_RFC_1123,
};

/* One of Kestra's named formats: a Java pattern, or one of the ISO formatters (pattern NULL). */
struct named_format {
	const char *name;
	const char *pattern;
	enum named named;
};

/* datetime_format.c: the English month and day names, the named formats. */
extern const char *const kwg_dt_month_names[12];
extern const char *const kwg_dt_day_names[7];
extern const struct named_format kwg_dt_named_formats[];

/* datetime.c */
int64_t kwg_dt_floor_div(int64_t a, int64_t b);
int64_t kwg_dt_floor_mod(int64_t a, int64_t b);
bool kwg_dt_is_leap(int64_t y);
int kwg_dt_month_days(int64_t y, int m);
int64_t kwg_dt_days_from_civil(int64_t y, int m, int d);
int kwg_dt_weekday(int64_t days);
void kwg_dt_fields_from_local(int64_t local_s, int32_t nano, struct fields *f);
void kwg_dt_zone_done(struct zone *z);
void kwg_dt_offset_id(int32_t off, char *buf, size_t size);
int kwg_dt_zone_load(const char *id, struct zone *z, struct kwg_err *err);
int32_t kwg_dt_zone_offset_at(const struct zone *z, int64_t t, char *abbr, size_t size);
int64_t kwg_dt_zone_local_to_instant(const struct zone *z, int64_t local_s, int32_t preferred,
                                     bool has_preferred);

/* datetime_format.c */
int kwg_dt_next_token(struct pattern_reader *rd, struct token *t, struct kwg_err *err);
int kwg_dt_format_pattern(struct kwg_buf *b, const char *p, const struct shown *s,
                          struct kwg_err *err);
int kwg_dt_find_named(const char *name);
int kwg_dt_shown_init(const struct kwg_datetime *d, const struct zone *z, struct shown *s,
                      struct kwg_err *err);
