/* SPDX-License-Identifier: Apache-2.0 */
/* Dates as Kestra's Pebble date filters see them. KESTRA: pebble/AbstractDate.java @
 * 004e08aaa1c490b1a01c8f9e93ed983b9bc8f9e5 (named formats, styles, convert); the pattern letters
 * and ISO formatters follow the java.time.format.DateTimeFormatter javadoc (JDK 17), checked
 * against OpenJDK 17 output. Years 0001-9999 only. */
#include "template/datetime.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"

#define TZ_ROOT "/usr/share/zoneinfo/"
#define TZ_MAX_FILE (256 * 1024)
#define MAX_PATTERN 1024
#define MAX_OUTPUT (64 * 1024)
#define MIN_YEAR 1
#define MAX_YEAR 9999

/* ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	return a - floor_div(a, b) * b;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*ret_d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*ret_m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*ret_y = yoe + era * 400 + (*ret_m <= 2);
}

/* ISO day of week, 1 = Monday … 7 = Sunday. */
static int weekday(int64_t days)
{
	return (int)floor_mod(days + 3, 7) + 1;
}

/* A local date and time, broken down, with the offset and zone name it is shown with. */
struct fields {
	int64_t year;
	int month, day, hour, minute, second;
	int32_t nano;
	int wday, yday;
	int32_t offset; /* seconds east of UTC */
	char abbr[16];  /* the zone's short name at that instant ("" = none) */
};

static void fields_from_local(int64_t local_s, int32_t nano, struct fields *f)
{
	int64_t days = floor_div(local_s, 86400), secs = floor_mod(local_s, 86400);

	civil_from_days(days, &f->year, &f->month, &f->day);
	f->hour = (int)(secs / 3600);
	f->minute = (int)(secs / 60 % 60);
	f->second = (int)(secs % 60);
	f->nano = nano;
	f->wday = weekday(days);
	f->yday = (int)(days - days_from_civil(f->year, 1, 1)) + 1;
}

/* ---- zones ---- */

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

static void zone_done(struct zone *z)
{
	free(z->file);
	z->file = NULL;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Reads [+-]hh[:mm[:ss]] as POSIX writes times and offsets (hours up to 167). */
static const char *posix_time(const char *s, int32_t *ret)
{
	int sign = 1, part[3] = {0, 0, 0};

	if (*s == '+' || *s == '-')
		sign = *s++ == '-' ? -1 : 1;
	for (int i = 0; i < 3; i++) {
		int n = 0, v = 0;
		if (i > 0) {
			if (*s != ':')
				break;
			s++;
		}
		while (isdigit((unsigned char)*s) && n < 3) {
			v = v * 10 + (*s++ - '0');
			n++;
		}
		if (n == 0 || (i == 0 && v > 167) || (i > 0 && v > 59))
			return NULL;
		part[i] = v;
	}
	*ret = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
	return s;
}

static const char *posix_abbr(const char *s, char *abbr, size_t size)
{
	size_t n = 0;

	if (*s == '<') {
		s++;
		while (*s && *s != '>' && n + 1 < size)
			abbr[n++] = *s++;
		if (*s++ != '>')
			return NULL;
	} else {
		while (isalpha((unsigned char)*s) && n + 1 < size)
			abbr[n++] = *s++;
	}
	abbr[n] = '\0';
	return n >= 3 ? s : NULL;
}

/* "m.w.d" of an M rule date. */
static const char *posix_month_rule(const char *s, struct posix_date *d)
{
	long v[3];
	char *end;

	for (int i = 0; i < 3; i++) {
		if ((i > 0 && *s++ != '.') || !isdigit((unsigned char)*s))
			return NULL;
		v[i] = strtol(s, &end, 10);
		s = end;
	}
	if (v[0] < 1 || v[0] > 12 || v[1] < 1 || v[1] > 5 || v[2] < 0 || v[2] > 6)
		return NULL;
	d->m = (int)v[0];
	d->w = (int)v[1];
	d->d = (int)v[2];
	return s;
}

static const char *posix_rule_date(const char *s, struct posix_date *d)
{
	d->time = 7200;
	if (*s == 'M') {
		d->kind = 'M';
		s = posix_month_rule(s + 1, d);
	} else {
		long v;
		char *end;
		d->kind = *s == 'J' ? 'J' : 'N';
		s += *s == 'J';
		if (!isdigit((unsigned char)*s))
			return NULL;
		v = strtol(s, &end, 10);
		s = end;
		if (v < (d->kind == 'J' ? 1 : 0) || v > 365)
			return NULL;
		d->n = (int)v;
	}
	if (s && *s == '/')
		s = posix_time(s + 1, &d->time);
	return s;
}

static void parse_posix_tz(const char *s, struct posix_tz *tz)
{
	int32_t v;

	memset(tz, 0, sizeof(*tz));
	s = posix_abbr(s, tz->std_abbr, sizeof(tz->std_abbr));
	if (!s || !(s = posix_time(s, &v)))
		return;
	tz->std_off = -v;
	if (*s == '\0') {
		tz->valid = true;
		return;
	}
	s = posix_abbr(s, tz->dst_abbr, sizeof(tz->dst_abbr));
	if (!s)
		return;
	tz->dst_off = tz->std_off + 3600;
	if (*s != ',') {
		if (!(s = posix_time(s, &v)))
			return;
		tz->dst_off = -v;
	}
	if (*s++ != ',' || !(s = posix_rule_date(s, &tz->start)) || *s++ != ',' ||
	    !(s = posix_rule_date(s, &tz->end)) || *s != '\0')
		return;
	tz->has_dst = true;
	tz->valid = true;
}

/* The local seconds (since the epoch, in local time) at which a rule date falls in year y. */
static int64_t posix_date_local(const struct posix_date *d, int64_t y)
{
	int64_t days;

	if (d->kind == 'M') {
		int64_t first = days_from_civil(y, d->m, 1);
		int dow = weekday(first) % 7; /* 0 = Sunday */
		int day = 1 + (d->d - dow + 7) % 7 + (d->w - 1) * 7;
		while (day > month_days(y, d->m))
			day -= 7;
		days = first + day - 1;
	} else if (d->kind == 'J') {
		days = days_from_civil(y, 1, 1) + d->n - 1 + (is_leap(y) && d->n >= 60);
	} else {
		days = days_from_civil(y, 1, 1) + d->n;
	}
	return days * 86400 + d->time;
}

static void posix_offset_at(const struct posix_tz *tz, int64_t t, int32_t *ret_off,
                            const char **ret_abbr)
{
	int64_t y, start, end;
	int m, d;
	bool dst;

	if (!tz->has_dst) {
		*ret_off = tz->std_off;
		*ret_abbr = tz->std_abbr;
		return;
	}
	civil_from_days(floor_div(t + tz->std_off, 86400), &y, &m, &d);
	start = posix_date_local(&tz->start, y) - tz->std_off;
	end = posix_date_local(&tz->end, y) - tz->dst_off;
	if (start < end)
		dst = t >= start && t < end;
	else
		dst = !(t >= end && t < start);
	*ret_off = dst ? tz->dst_off : tz->std_off;
	*ret_abbr = dst ? tz->dst_abbr : tz->std_abbr;
}

/* Checks the TZif header and locates the 64-bit data block. */
static int tzif_index(struct zone *z, size_t size)
{
	const unsigned char *p = z->file, *end = z->file + size;
	uint32_t c[6];
	size_t v1;

	if (size < 44 || memcmp(p, "TZif", 4) != 0 || p[4] < '2')
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		c[i] = be32(p + 20 + 4 * i);
	/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
	v1 = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
	if (v1 > size - 44)
		return -EINVAL;
	p += 44 + v1;
	if ((size_t)(end - p) < 44 || memcmp(p, "TZif", 4) != 0)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		c[i] = be32(p + 20 + 4 * i);
	if (c[4] == 0 || c[4] > 256 || c[3] > 100000 || c[5] > 65536 || c[2] > 100000)
		return -EINVAL;
	p += 44;
	if ((size_t)(end - p) <
	    (size_t)c[3] * 9 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 12 + c[1] + c[0])
		return -EINVAL;
	z->n_times = c[3];
	z->n_types = c[4];
	z->n_chars = c[5];
	z->times = p;
	z->idx = p + (size_t)c[3] * 8;
	z->types = z->idx + c[3];
	z->chars = z->types + (size_t)c[4] * 6;
	for (uint32_t i = 0; i < z->n_times; i++) {
		if (z->idx[i] >= z->n_types)
			return -EINVAL;
	}
	p = z->chars + c[5] + (size_t)c[2] * 12 + c[1] + c[0];
	/* The footer: "\n<POSIX TZ>\n". */
	if (p < end && *p == '\n') {
		const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
		char tzs[128];
		if (nl && (size_t)(nl - p - 1) < sizeof(tzs)) {
			memcpy(tzs, p + 1, (size_t)(nl - p - 1));
			tzs[nl - p - 1] = '\0';
			parse_posix_tz(tzs, &z->rule);
		}
	}
	return 0;
}

static int tzif_load(struct zone *z, const char *id)
{
	cleanup_close int fd = -1;
	char path[sizeof(TZ_ROOT) + 64];
	struct stat st;
	size_t got = 0;

	snprintf(path, sizeof(path), TZ_ROOT "%s", id);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 44 || st.st_size > TZ_MAX_FILE)
		return -EINVAL;
	z->file = malloc((size_t)st.st_size);
	if (!z->file)
		return -ENOMEM;
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, z->file + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EINVAL;
		got += (size_t)n;
	}
	return tzif_index(z, got);
}

/* Java's ZoneOffset.of: "Z", ±h, ±hh, ±hh:mm, ±hhmm, ±hh:mm:ss, ±hhmmss; |offset| <= 18:00. */
static bool parse_offset_id(const char *s, int32_t *ret)
{
	/* The forms after the sign; '9' is a digit. */
	static const char *const forms[] = {"9", "99", "99:99", "9999", "99:99:99", "999999"};
	int digits[6] = {0}, n = 0, h, m, sec;

	if (strcmp(s, "Z") == 0) {
		*ret = 0;
		return true;
	}
	if (s[0] != '+' && s[0] != '-')
		return false;
	for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]) && n == 0; f++) {
		size_t len = strlen(forms[f]), i;
		if (strlen(s + 1) != len)
			continue;
		for (i = 0; i < len; i++) {
			if (forms[f][i] == '9' ? !isdigit((unsigned char)s[1 + i])
			                       : s[1 + i] != ':')
				break;
		}
		for (size_t j = 0; i == len && j < len; j++) {
			if (forms[f][j] == '9')
				digits[n++] = s[1 + j] - '0';
		}
	}
	if (n == 0)
		return false;
	h = n == 1 ? digits[0] : digits[0] * 10 + digits[1];
	m = n >= 4 ? digits[2] * 10 + digits[3] : 0;
	sec = n >= 6 ? digits[4] * 10 + digits[5] : 0;
	if (h > 18 || m > 59 || sec > 59 || (h == 18 && (m || sec)))
		return false;
	*ret = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60 + sec);
	return true;
}

/* The normalised ID of a ZoneOffset: "Z", "+02:00", "-05:30:15". */
static void offset_id(int32_t off, char *buf, size_t size)
{
	int32_t a = off < 0 ? -off : off;

	if (off == 0)
		snprintf(buf, size, "Z");
	else if (a % 60)
		snprintf(buf, size, "%c%02d:%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60,
		         a % 60);
	else
		snprintf(buf, size, "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
}

static bool valid_region_id(const char *id)
{
	static const char *const refused[] = {"posixrules", "localtime", "Factory"};
	size_t n = strlen(id);

	/* SECURITY: the ID becomes a path under TZ_ROOT; no "..", no absolute path. */
	if (n < 2 || n > 60 || !isalpha((unsigned char)id[0]) || strstr(id, "..") ||
	    strstr(id, "//") || id[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)id[i]) && !strchr("~/._+-", id[i]))
			return false;
	}
	if (strncmp(id, "posix/", 6) == 0 || strncmp(id, "right/", 6) == 0)
		return false;
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		if (strcmp(id, refused[i]) == 0)
			return false;
	}
	return true;
}

/* Java's ZoneId.of. id NULL or "" is UTC. On success z may own a file (zone_done). */
static int zone_load(const char *id, struct zone *z, struct kwg_err *err)
{
	static const char *const prefixes[] = {"UTC", "GMT", "UT"};
	int32_t off;
	int r;

	memset(z, 0, sizeof(*z));
	if (!id || !*id)
		id = "UTC";
	if (strlen(id) >= sizeof(z->id))
		return kwg_err_set(err, -EINVAL, "invalid time zone '%.64s'", id);
	if (strcmp(id, "Z") == 0 || id[0] == '+' || id[0] == '-') {
		if (!parse_offset_id(id, &off))
			return kwg_err_set(err, -EINVAL, "invalid time zone offset '%s'", id);
		z->kind = ZONE_OFFSET;
		z->fixed = off;
		offset_id(off, z->id, sizeof(z->id));
		return 0;
	}
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(id, prefixes[i], n) != 0)
			continue;
		if (id[n] == '\0') {
			z->kind = ZONE_FIXED;
			snprintf(z->id, sizeof(z->id), "%s", id);
			return 0;
		}
		if (id[n] == '+' || id[n] == '-') {
			char oid[16];
			if (!parse_offset_id(id + n, &off))
				return kwg_err_set(err, -EINVAL, "invalid time zone '%s'", id);
			z->kind = ZONE_FIXED;
			z->fixed = off;
			offset_id(off, oid, sizeof(oid));
			snprintf(z->id, sizeof(z->id), "%s%s", prefixes[i], off ? oid : "");
			return 0;
		}
	}
	if (!valid_region_id(id))
		return kwg_err_set(err, -EINVAL, "invalid time zone '%s'", id);
	z->kind = ZONE_TZIF;
	snprintf(z->id, sizeof(z->id), "%s", id);
	r = tzif_load(z, id);
	if (r < 0) {
		zone_done(z);
		return kwg_err_set(err, -EINVAL, "unknown time zone '%s'", id);
	}
	return 0;
}

/* The offset in force at instant t, and the zone's short name then. */
static int32_t zone_offset_at(const struct zone *z, int64_t t, char *abbr, size_t size)
{
	const unsigned char *type;
	const char *a = "";
	uint32_t lo = 0, hi;
	int32_t off;

	if (z->kind != ZONE_TZIF) {
		if (abbr)
			abbr[0] = '\0'; /* the zone's ID is its name */
		return z->fixed;
	}
	if (z->n_times > 0 && t >= be64(z->times + 8 * (size_t)(z->n_times - 1)) && z->rule.valid) {
		posix_offset_at(&z->rule, t, &off, &a);
		if (abbr)
			snprintf(abbr, size, "%s", a);
		return off;
	}
	if (z->n_times == 0 && z->rule.valid) {
		posix_offset_at(&z->rule, t, &off, &a);
		if (abbr)
			snprintf(abbr, size, "%s", a);
		return off;
	}
	type = z->types;
	if (z->n_times > 0 && t >= be64(z->times)) {
		/* The last transition at or before t. */
		hi = z->n_times;
		while (hi - lo > 1) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (be64(z->times + 8 * (size_t)mid) <= t)
				lo = mid;
			else
				hi = mid;
		}
		type = z->types + 6 * (size_t)z->idx[lo];
	}
	off = (int32_t)be32(type);
	if (abbr) {
		uint32_t ai = type[5];
		if (ai < z->n_chars) {
			size_t n = strnlen((const char *)z->chars + ai, z->n_chars - ai);
			snprintf(abbr, size, "%.*s", (int)n, (const char *)z->chars + ai);
		} else {
			abbr[0] = '\0';
		}
	}
	return off;
}

/* Java's ZonedDateTime.ofLocal: the instant of local time local_s in z. In an overlap the
 * preferred offset is kept when valid, else the earlier one; in a gap the time moves later by the
 * length of the gap. */
static int64_t zone_local_to_instant(const struct zone *z, int64_t local_s, int32_t preferred,
                                     bool has_preferred)
{
	int32_t before, after;
	bool before_ok, after_ok;

	if (z->kind != ZONE_TZIF)
		return local_s - z->fixed;
	before = zone_offset_at(z, local_s - 86400 - 18 * 3600, NULL, 0);
	after = zone_offset_at(z, local_s + 86400 + 18 * 3600, NULL, 0);
	before_ok = zone_offset_at(z, local_s - before, NULL, 0) == before;
	after_ok = zone_offset_at(z, local_s - after, NULL, 0) == after;
	if (before_ok && after_ok && before != after) {
		if (has_preferred && preferred == after)
			return local_s - after;
		return local_s - before;
	}
	if (before_ok)
		return local_s - before;
	if (after_ok)
		return local_s - after;
	return local_s - before; /* the gap */
}

/* ---- formatting ---- */

static const char *const month_names[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
static const char *const day_names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                         "Friday", "Saturday", "Sunday"};

/* Long names of the short zone names Java (CLDR, English) knows; others print the short name. */
static const char *const zone_long_names[][2] = {
    {"UTC", "Coordinated Universal Time"},
    {"GMT", "Greenwich Mean Time"},
    {"BST", "British Summer Time"},
    {"IST", "India Standard Time"},
    {"WET", "Western European Standard Time"},
    {"WEST", "Western European Summer Time"},
    {"CET", "Central European Standard Time"},
    {"CEST", "Central European Summer Time"},
    {"EET", "Eastern European Standard Time"},
    {"EEST", "Eastern European Summer Time"},
    {"MSK", "Moscow Standard Time"},
    {"EST", "Eastern Standard Time"},
    {"EDT", "Eastern Daylight Time"},
    {"CST", "Central Standard Time"},
    {"CDT", "Central Daylight Time"},
    {"MST", "Mountain Standard Time"},
    {"MDT", "Mountain Daylight Time"},
    {"PST", "Pacific Standard Time"},
    {"PDT", "Pacific Daylight Time"},
    {"AKST", "Alaska Standard Time"},
    {"AKDT", "Alaska Daylight Time"},
    {"HST", "Hawaii-Aleutian Standard Time"},
    {"JST", "Japan Standard Time"},
    {"KST", "Korean Standard Time"},
    {"AEST", "Australian Eastern Standard Time"},
    {"AEDT", "Australian Eastern Daylight Time"},
};

struct shown {
	const struct zone *zone;
	struct fields f;
};

static int put_num(struct kwg_buf *b, int64_t v, int width)
{
	return kwg_buf_printf(b, "%0*lld", width, (long long)v);
}

/* Java's offset patterns: "+HH", "+HHmm", "+HH:mm", "+HHMM", "+HH:MM", "+HHMMss", "+HH:MM:ss",
 * "+HHMMSS", "+HH:MM:SS" (lower case: only when not zero). */
static int put_offset(struct kwg_buf *b, int32_t off, int style, const char *zero_text)
{
	int32_t a = off < 0 ? -off : off;
	int mm = a / 60 % 60, ss = a % 60;
	bool colon = style == 2 || style == 4 || style == 6 || style == 8;
	bool print_m = style >= 3 || (style >= 1 && (mm || ss));
	bool print_s = style == 7 || style == 8 || (style >= 5 && ss);
	int r;

	if (off == 0)
		return kwg_buf_puts(b, zero_text);
	r = kwg_buf_printf(b, "%c%02d", off < 0 ? '-' : '+', a / 3600);
	if (r == 0 && print_m)
		r = kwg_buf_printf(b, "%s%02d", colon ? ":" : "", mm);
	if (r == 0 && print_s)
		r = kwg_buf_printf(b, "%s%02d", colon ? ":" : "", ss);
	return r;
}

/* "GMT+2", "GMT+5:30" (short) or "GMT+02:00" (full); "GMT" for zero. */
static int put_localized_offset(struct kwg_buf *b, int32_t off, bool full)
{
	int32_t a = off < 0 ? -off : off;
	int r;

	if (off == 0)
		return kwg_buf_puts(b, "GMT");
	if (full) {
		r = kwg_buf_printf(b, "GMT%c%02d:%02d", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
	} else {
		r = kwg_buf_printf(b, "GMT%c%d", off < 0 ? '-' : '+', a / 3600);
		if (r == 0 && (a / 60 % 60 || a % 60))
			r = kwg_buf_printf(b, ":%02d", a / 60 % 60);
	}
	if (r == 0 && a % 60)
		r = kwg_buf_printf(b, ":%02d", a % 60);
	return r;
}

static int put_zone_name(struct kwg_buf *b, const struct shown *s, bool full)
{
	const char *abbr = s->f.abbr;

	if (s->zone->kind != ZONE_TZIF)
		abbr = s->zone->id;
	else if (abbr[0] == '\0' || abbr[0] == '+' || abbr[0] == '-')
		return put_localized_offset(b, s->f.offset, true);
	if (full) {
		for (size_t i = 0; i < sizeof(zone_long_names) / sizeof(zone_long_names[0]); i++) {
			if (strcmp(abbr, zone_long_names[i][0]) == 0)
				return kwg_buf_puts(b, zone_long_names[i][1]);
		}
	}
	return kwg_buf_puts(b, abbr);
}

/* The fraction of a second: trimmed (0 = nothing printed, as ISO_LOCAL_TIME) or in groups of
 * three digits (ISO_INSTANT). */
static int put_fraction(struct kwg_buf *b, int32_t nano, bool groups_of_3)
{
	char digits[10];
	int n = 9;

	if (nano == 0)
		return 0;
	snprintf(digits, sizeof(digits), "%09d", (int)nano);
	while (n > 0 && digits[n - 1] == '0')
		n--;
	if (groups_of_3)
		n = (n + 2) / 3 * 3;
	return kwg_buf_printf(b, ".%.*s", n, digits);
}

static const char *ordinal_suffix(int n)
{
	static const char *const s[4] = {"st", "nd", "rd", "th"};

	return s[n >= 1 && n <= 3 ? n - 1 : 3];
}

/* The largest run of each pattern letter Java accepts (DateTimeFormatterBuilder.appendPattern). */
static const struct {
	char letter;
	int max;
} letter_counts[] = {
    {'G', 5},  {'y', 19}, {'u', 19}, {'M', 5}, {'L', 5}, {'Q', 5}, {'q', 5}, {'d', 2}, {'D', 3},
    {'E', 5},  {'a', 1},  {'h', 2},  {'K', 2}, {'k', 2}, {'H', 2}, {'m', 2}, {'s', 2}, {'S', 9},
    {'n', 19}, {'N', 19}, {'A', 19}, {'V', 2}, {'z', 4}, {'O', 4}, {'X', 5}, {'x', 5}, {'Z', 5},
};

/* 0 when kwg prints and reads count letters c, else -EINVAL naming the letter. */
static int check_letter(char c, int count, struct kwg_err *err)
{
	if (strchr("YwWecFgBv", c))
		return kwg_err_set(err, -EINVAL, "unsupported pattern letter: %c", c);
	if (c == 'V' && count != 2)
		return kwg_err_set(err, -EINVAL, "pattern letter count must be 2: V");
	if (c == 'O' && count != 1 && count != 4)
		return kwg_err_set(err, -EINVAL, "pattern letter count must be 1 or 4: O");
	for (size_t i = 0; i < sizeof(letter_counts) / sizeof(letter_counts[0]); i++) {
		if (letter_counts[i].letter != c)
			continue;
		if (count > letter_counts[i].max)
			return kwg_err_set(err, -EINVAL, "too many pattern letters: %c", c);
		return 0;
	}
	return kwg_err_set(err, -EINVAL, "unknown pattern letter: %c", c);
}

/* Text, or its first 3 letters (count 3), or its first letter (narrow, count 5). */
static int put_text(struct kwg_buf *b, const char *text, int count)
{
	return kwg_buf_printf(b, "%.*s", count == 4 ? 64 : count == 5 ? 1 : 3, text);
}

static int put_quarter(struct kwg_buf *b, int month, int count)
{
	int quarter = (month - 1) / 3 + 1;

	if (count == 3)
		return kwg_buf_printf(b, "Q%d", quarter);
	if (count == 4)
		return kwg_buf_printf(b, "%d%s quarter", quarter, ordinal_suffix(quarter));
	return put_num(b, quarter, count == 2 ? 2 : 1);
}

static int64_t nano_of_day(const struct fields *f)
{
	return ((int64_t)f->hour * 3600 + f->minute * 60 + f->second) * 1000000000 + f->nano;
}

/* V, z, O, X, x, Z. */
static int put_zone_field(struct kwg_buf *b, char c, int count, const struct shown *s)
{
	static const char *const x_zero[6] = {"", "+00", "+0000", "+00:00", "+0000", "+00:00"};
	int32_t off = s->f.offset;

	switch (c) {
	case 'V':
		return kwg_buf_puts(b, s->zone->id);
	case 'z':
		return put_zone_name(b, s, count == 4);
	case 'O':
		return put_localized_offset(b, off, count == 4);
	case 'X':
		return put_offset(b, off, count == 1 ? 1 : count + 1, "Z");
	case 'x':
		return put_offset(b, off, count == 1 ? 1 : count + 1, x_zero[count]);
	default: /* Z */
		if (count == 4)
			return put_localized_offset(b, off, true);
		return count == 5 ? put_offset(b, off, 6, "Z") : put_offset(b, off, 3, "+0000");
	}
}

/* Prints one pattern letter run, or -EINVAL naming it. */
static int put_field(struct kwg_buf *b, char c, int count, const struct shown *s,
                     struct kwg_err *err)
{
	static const int32_t pow10[10] = {1,      10,      100,      1000,      10000,
	                                  100000, 1000000, 10000000, 100000000, 1000000000};
	const struct fields *f = &s->f;
	int r = check_letter(c, count, err);

	if (r < 0)
		return r;
	switch (c) {
	case 'G':
		return kwg_buf_puts(b, count == 4 ? "Anno Domini" : count == 5 ? "A" : "AD");
	case 'y':
	case 'u':
		return put_num(b, count == 2 ? f->year % 100 : f->year, count);
	case 'M':
	case 'L':
		if (count <= 2)
			return put_num(b, f->month, count);
		return put_text(b, month_names[f->month - 1], count);
	case 'Q':
	case 'q':
		return put_quarter(b, f->month, count);
	case 'd':
		return put_num(b, f->day, count);
	case 'D':
		return put_num(b, f->yday, count);
	case 'E':
		return put_text(b, day_names[f->wday - 1], count);
	case 'a':
		return kwg_buf_puts(b, f->hour < 12 ? "AM" : "PM");
	case 'h':
		return put_num(b, f->hour % 12 == 0 ? 12 : f->hour % 12, count);
	case 'K':
		return put_num(b, f->hour % 12, count);
	case 'k':
		return put_num(b, f->hour == 0 ? 24 : f->hour, count);
	case 'H':
		return put_num(b, f->hour, count);
	case 'm':
		return put_num(b, f->minute, count);
	case 's':
		return put_num(b, f->second, count);
	case 'S': /* truncated, as Java's fraction printer */
		return put_num(b, f->nano / pow10[9 - count], count);
	case 'n':
		return put_num(b, f->nano, count);
	case 'N':
		return put_num(b, nano_of_day(f), count);
	case 'A':
		return put_num(b, nano_of_day(f) / 1000000, count);
	default:
		return put_zone_field(b, c, count, s);
	}
}

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

static int next_token(struct pattern_reader *rd, struct token *t, struct kwg_err *err)
{
	t->count = 0;
	for (;;) {
		char c = *rd->p;
		t->c = c;
		t->kind = TOKEN_LITERAL;
		if (rd->in_quote && c == '\0')
			return kwg_err_set(err, -EINVAL,
			                   "date pattern ends inside a quoted literal");
		if (c == '\'' && rd->p[1] == '\'') {
			rd->p += 2;
			return 0;
		}
		if (c == '\'') {
			rd->in_quote = !rd->in_quote;
			rd->p++;
			continue;
		}
		if (rd->in_quote) {
			rd->p++;
			return 0;
		}
		break;
	}
	if (t->c == '\0') {
		t->kind = TOKEN_END;
		return 0;
	}
	if (isalpha((unsigned char)t->c) && (unsigned char)t->c < 0x80) {
		t->kind = TOKEN_FIELD;
		for (t->count = 0; *rd->p == t->c; rd->p++)
			t->count++;
		return 0;
	}
	rd->p++;
	if (t->c == '[') {
		t->kind = TOKEN_OPEN;
		if (++rd->depth > 16)
			return kwg_err_set(err, -EINVAL, "date pattern nests too deeply");
	} else if (t->c == ']') {
		t->kind = TOKEN_CLOSE;
		if (--rd->depth < 0)
			return kwg_err_set(err, -EINVAL, "date pattern has ']' without '['");
	} else if (t->c == '#' || t->c == '{' || t->c == '}') {
		return kwg_err_set(err, -EINVAL, "date pattern has reserved character '%c'", t->c);
	}
	return 0;
}

/* Prints a Java pattern; [optional] sections are printed (a ZonedDateTime has every field an
 * optional section may ask for). */
static int format_pattern(struct kwg_buf *b, const char *p, const struct shown *s,
                          struct kwg_err *err)
{
	struct pattern_reader rd = {.p = p};
	struct token t;
	int r;

	if (strlen(p) > MAX_PATTERN)
		return kwg_err_set(err, -EINVAL, "date pattern longer than %d bytes", MAX_PATTERN);
	for (;;) {
		r = next_token(&rd, &t, err);
		if (r < 0 || t.kind == TOKEN_END)
			return r;
		if (t.kind == TOKEN_FIELD)
			r = put_field(b, t.c, t.count, s, err);
		else if (t.kind == TOKEN_LITERAL)
			r = kwg_buf_putc(b, t.c);
		if (r < 0)
			return r;
	}
}

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

/* KESTRA: AbstractDate.FORMATTERS and STYLES; the styles are the JDK 17 CLDR English patterns
 * of DateTimeFormatter.ofLocalizedDateTime (JDK 20+ writes U+202F before AM/PM and drops "at"). */
static const struct {
	const char *name;
	const char *pattern;
	enum named named;
} named_formats[] = {
    {"iso", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX", NAMED_NONE},
    {"iso_sec", "yyyy-MM-dd'T'HH:mm:ssXXX", NAMED_NONE},
    {"sql", "yyyy-MM-dd HH:mm:ss.SSSSSS", NAMED_NONE},
    {"sql_seq", "yyyy-MM-dd HH:mm:ss", NAMED_NONE},
    {"full", "EEEE, MMMM d, y 'at' h:mm:ss a zzzz", NAMED_NONE},
    {"long", "MMMM d, y 'at' h:mm:ss a z", NAMED_NONE},
    {"medium", "MMM d, y, h:mm:ss a", NAMED_NONE},
    {"short", "M/d/yy, h:mm a", NAMED_NONE},
    {"iso_date_time", NULL, NAMED_ISO_DATE_TIME},
    {"iso_date", NULL, NAMED_ISO_DATE},
    {"iso_time", NULL, NAMED_ISO_TIME},
    {"iso_local_date", NULL, NAMED_ISO_LOCAL_DATE},
    {"iso_local_time", NULL, NAMED_ISO_LOCAL_TIME},
    {"iso_local_date_time", NULL, NAMED_ISO_LOCAL_DATE_TIME},
    {"iso_offset_date_time", NULL, NAMED_ISO_OFFSET_DATE_TIME},
    {"iso_offset_date", NULL, NAMED_ISO_OFFSET_DATE},
    {"iso_offset_time", NULL, NAMED_ISO_OFFSET_TIME},
    {"iso_zoned_date_time", NULL, NAMED_ISO_ZONED_DATE_TIME},
    {"iso_instant", NULL, NAMED_ISO_INSTANT},
    {"iso_ordinal_date", NULL, NAMED_ISO_ORDINAL_DATE},
    {"iso_week_date", NULL, NAMED_ISO_WEEK_DATE},
    {"basic_iso_date", NULL, NAMED_BASIC_ISO_DATE},
    {"rfc_1123_date_time", NULL, NAMED_RFC_1123},
};

static int find_named(const char *name)
{
	for (size_t i = 0; i < sizeof(named_formats) / sizeof(named_formats[0]); i++) {
		if (strcasecmp(name, named_formats[i].name) == 0)
			return (int)i;
	}
	return -1;
}

static int put_local_date(struct kwg_buf *b, const struct fields *f)
{
	return kwg_buf_printf(b, "%04lld-%02d-%02d", (long long)f->year, f->month, f->day);
}

static int put_local_time(struct kwg_buf *b, const struct fields *f)
{
	int r = kwg_buf_printf(b, "%02d:%02d:%02d", f->hour, f->minute, f->second);

	return r < 0 ? r : put_fraction(b, f->nano, false);
}

static int put_week_date(struct kwg_buf *b, const struct fields *f)
{
	int64_t wy = f->year;
	int week = (f->yday - f->wday + 10) / 7;

	if (week < 1) {
		int64_t p = wy - 1;
		int jan1 = weekday(days_from_civil(p, 1, 1));
		wy = p;
		week = 52 + (jan1 == 4 || (jan1 == 3 && is_leap(p)));
	} else if (week == 53) {
		int jan1 = weekday(days_from_civil(wy, 1, 1));
		if (!(jan1 == 4 || (jan1 == 3 && is_leap(wy)))) {
			wy++;
			week = 1;
		}
	}
	return kwg_buf_printf(b, "%04lld-W%02d-%d", (long long)wy, week, f->wday);
}

static int format_named(struct kwg_buf *b, enum named n, const struct shown *s)
{
	const struct fields *f = &s->f;
	bool offset = false, region = false;
	int r = 0;

	switch (n) {
	case NAMED_ISO_LOCAL_DATE:
	case NAMED_ISO_DATE:
	case NAMED_ISO_OFFSET_DATE:
		r = put_local_date(b, f);
		offset = n != NAMED_ISO_LOCAL_DATE;
		break;
	case NAMED_ISO_LOCAL_TIME:
	case NAMED_ISO_TIME:
	case NAMED_ISO_OFFSET_TIME:
		r = put_local_time(b, f);
		offset = n != NAMED_ISO_LOCAL_TIME;
		break;
	case NAMED_ISO_LOCAL_DATE_TIME:
	case NAMED_ISO_OFFSET_DATE_TIME:
	case NAMED_ISO_ZONED_DATE_TIME:
	case NAMED_ISO_DATE_TIME:
		r = put_local_date(b, f);
		if (r == 0)
			r = kwg_buf_putc(b, 'T');
		if (r == 0)
			r = put_local_time(b, f);
		offset = n != NAMED_ISO_LOCAL_DATE_TIME;
		region = n == NAMED_ISO_ZONED_DATE_TIME || n == NAMED_ISO_DATE_TIME;
		break;
	case NAMED_ISO_INSTANT: {
		struct fields u;
		int64_t local = (int64_t)days_from_civil(f->year, f->month, f->day) * 86400 +
		                f->hour * 3600 + f->minute * 60 + f->second;
		fields_from_local(local - f->offset, f->nano, &u);
		r = kwg_buf_printf(b, "%04lld-%02d-%02dT%02d:%02d:%02d", (long long)u.year, u.month,
		                   u.day, u.hour, u.minute, u.second);
		if (r == 0)
			r = put_fraction(b, u.nano, true);
		return r < 0 ? r : kwg_buf_putc(b, 'Z');
	}
	case NAMED_ISO_ORDINAL_DATE:
		r = kwg_buf_printf(b, "%04lld-%03d", (long long)f->year, f->yday);
		offset = true;
		break;
	case NAMED_ISO_WEEK_DATE:
		r = put_week_date(b, f);
		offset = true;
		break;
	case NAMED_BASIC_ISO_DATE:
		r = kwg_buf_printf(b, "%04lld%02d%02d", (long long)f->year, f->month, f->day);
		return r < 0 ? r : put_offset(b, f->offset, 3, "Z");
	case NAMED_RFC_1123:
		r = kwg_buf_printf(b, "%.3s, %d %.3s %04lld %02d:%02d:%02d ",
		                   day_names[f->wday - 1], f->day, month_names[f->month - 1],
		                   (long long)f->year, f->hour, f->minute, f->second);
		return r < 0 ? r : put_offset(b, f->offset, 3, "GMT");
	case NAMED_NONE:
		return -EINVAL;
	}
	if (r == 0 && offset)
		r = put_offset(b, f->offset, 6, "Z");
	if (r == 0 && region && s->zone->kind != ZONE_OFFSET)
		r = kwg_buf_printf(b, "[%s]", s->zone->id);
	return r;
}

static int shown_init(const struct kwg_datetime *d, const struct zone *z, struct shown *s,
                      struct kwg_err *err)
{
	int32_t nano = d->nano;
	int64_t secs = d->epoch_s;

	if (nano < 0 || nano > 999999999)
		return kwg_err_set(err, -EINVAL, "nanosecond out of range");
	/* Keeps local_s arithmetic far from overflow; the year check below is the real limit. */
	if (secs < -100000000000LL || secs > 300000000000LL)
		return kwg_err_set(err, -EINVAL, "date out of range (years 0001-9999)");
	s->zone = z;
	s->f.offset = zone_offset_at(z, secs, s->f.abbr, sizeof(s->f.abbr));
	fields_from_local(secs + s->f.offset, nano, &s->f);
	if (s->f.year < MIN_YEAR || s->f.year > MAX_YEAR)
		return kwg_err_set(err, -EINVAL, "date out of range (years 0001-9999)");
	return 0;
}

int kwg_datetime_format(const struct kwg_datetime *d, const char *format, const char *zone,
                        char **ret, struct kwg_err *err)
{
	struct zone z;
	struct shown s;
	struct kwg_buf b;
	int i, r;

	if (!format)
		format = "iso";
	r = zone_load(zone ? zone : d->zone, &z, err);
	if (r < 0)
		return r;
	r = shown_init(d, &z, &s, err);
	if (r < 0)
		goto out;
	kwg_buf_init(&b, MAX_OUTPUT);
	i = find_named(format);
	if (i >= 0 && named_formats[i].pattern)
		r = format_pattern(&b, named_formats[i].pattern, &s, err);
	else if (i >= 0)
		r = format_named(&b, named_formats[i].named, &s);
	else
		r = format_pattern(&b, format, &s, err);
	if (r == -EMSGSIZE)
		r = kwg_err_set(err, -EINVAL, "formatted date longer than %d bytes", MAX_OUTPUT);
	if (r == 0) {
		*ret = kwg_buf_steal(&b);
		if (!*ret)
			r = -ENOMEM;
	}
	kwg_buf_done(&b);
out:
	zone_done(&z);
	return r;
}

/* ---- parsing ---- */

/* What a parse found; -1 = not given. */
struct parsed {
	int64_t year;
	int month, day, yday, hour, hour12, ampm, minute, second, wday;
	int32_t nano;
	bool has_offset;
	int32_t offset;
	char zone[64]; /* "" = none */
};

static void parsed_init(struct parsed *p)
{
	p->year = -1;
	p->month = p->day = p->yday = p->hour = p->hour12 = p->ampm = -1;
	p->minute = p->second = p->wday = -1;
	p->nano = 0;
	p->has_offset = false;
	p->offset = 0;
	p->zone[0] = '\0';
}

/* Reads between min and max digits (max <= 18). Returns the count read, or -1. */
static int read_digits(const char **s, int min, int max, int64_t *ret)
{
	int64_t v = 0;
	int n = 0;

	while (n < max && isdigit((unsigned char)(*s)[n])) {
		v = v * 10 + ((*s)[n] - '0');
		n++;
	}
	if (n < min)
		return -1;
	*s += n;
	*ret = v;
	return n;
}

/* A zone ID inside [...] or after VV: [A-Za-z0-9~/._+-:]. */
static bool read_zone_id(const char **s, char *buf, size_t size)
{
	size_t n = 0;

	while ((isalnum((unsigned char)(*s)[n]) || strchr("~/._+-:", (*s)[n])) && (*s)[n])
		n++;
	if (n == 0 || n >= size)
		return false;
	memcpy(buf, *s, n);
	buf[n] = '\0';
	*s += n;
	return true;
}

/* An offset after ISO text: Z, ±HH, ±HH:MM, ±HH:MM:SS (case-insensitive Z as the JDK). */
static bool read_iso_offset(const char **s, int32_t *ret)
{
	const char *p = *s;
	int64_t h, m = 0, sec = 0;
	int sign;

	if (*p == 'Z' || *p == 'z') {
		*s = p + 1;
		*ret = 0;
		return true;
	}
	if (*p != '+' && *p != '-')
		return false;
	sign = *p++ == '-' ? -1 : 1;
	if (read_digits(&p, 2, 2, &h) < 0)
		return false;
	if (*p == ':') {
		p++;
		if (read_digits(&p, 2, 2, &m) < 0)
			return false;
		if (*p == ':') {
			p++;
			if (read_digits(&p, 2, 2, &sec) < 0)
				return false;
		}
	}
	if (h > 18 || m > 59 || sec > 59)
		return false;
	*ret = (int32_t)(sign * (h * 3600 + m * 60 + sec));
	*s = p;
	return true;
}

/* ".fraction" of 0 to 9 digits (Java's ISO_LOCAL_TIME accepts a lone '.'). */
static bool read_fraction(const char **sp, int32_t *ret)
{
	const char *s = *sp + 1;
	int64_t v;
	int n = read_digits(&s, 0, 9, &v);

	if (n < 0 || isdigit((unsigned char)*s))
		return false;
	for (int i = n; i < 9; i++)
		v *= 10;
	*ret = (int32_t)v;
	*sp = s;
	return true;
}

/* HH:mm[:ss[.fraction]] */
static bool read_iso_time(const char **sp, struct parsed *p)
{
	const char *s = *sp;
	int64_t v;

	if (read_digits(&s, 2, 2, &v) < 0)
		return false;
	p->hour = (int)v;
	if (*s++ != ':' || read_digits(&s, 2, 2, &v) < 0)
		return false;
	p->minute = (int)v;
	p->second = 0;
	if (*s == ':') {
		s++;
		if (read_digits(&s, 2, 2, &v) < 0)
			return false;
		p->second = (int)v;
		if (*s == '.' && !read_fraction(&s, &p->nano))
			return false;
	}
	*sp = s;
	return true;
}

/* ISO-8601 as Kestra reads it: date, optional 'T' time, optional offset, optional [zone]. */
static bool parse_iso(const char *s, struct parsed *p)
{
	int64_t v;

	if (read_digits(&s, 4, 4, &p->year) < 0 || *s++ != '-' || read_digits(&s, 2, 2, &v) < 0)
		return false;
	p->month = (int)v;
	if (*s++ != '-' || read_digits(&s, 2, 2, &v) < 0)
		return false;
	p->day = (int)v;
	if (*s == '\0')
		return true;
	if (*s != 'T' && *s != 't')
		return false;
	s++;
	if (!read_iso_time(&s, p))
		return false;
	if (read_iso_offset(&s, &p->offset))
		p->has_offset = true;
	if (*s == '[') {
		s++;
		if (!read_zone_id(&s, p->zone, sizeof(p->zone)) || *s++ != ']')
			return false;
	}
	return *s == '\0';
}

static int match_name(const char **s, const char *const *names, size_t n_names, int len)
{
	for (size_t i = 0; i < n_names; i++) {
		size_t n = len > 0 ? (size_t)len : strlen(names[i]);
		if (strncmp(*s, names[i], n) == 0) {
			*s += n;
			return (int)i;
		}
	}
	return -1;
}

static bool is_numeric_letter(char c)
{
	return strchr("yuMLdDhHkKmsSnQq", c) != NULL;
}

/* The width a numeric run of count letters reserves when it follows another number. */
static int fixed_width(char c, int count)
{
	if (c == 'S' || count >= 2)
		return c == 'M' || c == 'L' ? (count <= 2 ? count : 0) : count;
	return 1;
}

/* Digits the next adjacent numeric fields of the pattern need (Java's adjacent value parsing:
 * "yyyyMMdd" reads the year from what the month and day leave). */
static int reserved_width(const char *p)
{
	int total = 0;

	while (*p && is_numeric_letter(*p)) {
		char c = *p;
		int count = 0;
		while (*p == c) {
			p++;
			count++;
		}
		if ((c == 'M' || c == 'L') && count > 2)
			break;
		total += fixed_width(c, count);
	}
	return total;
}

/* ":MM" or "MM" (as colon says) when digits follow; false with *p unchanged otherwise. */
static bool read_offset_part(const char **p, bool colon, int64_t *ret)
{
	const char *q = *p;

	if (colon && *q++ != ':')
		return false;
	if (!isdigit((unsigned char)q[0]) || !isdigit((unsigned char)q[1]))
		return false;
	*ret = (q[0] - '0') * 10 + (q[1] - '0');
	*p = q + 2;
	return true;
}

/* Offsets by X/x/Z pattern letters: the zero text or ±HH[[:]MM[[:]SS]]. */
static bool read_pattern_offset(const char **s, char c, int count, int32_t *ret)
{
	bool colon = (c == 'Z' && count == 5) || (c != 'Z' && (count == 3 || count == 5));
	bool seconds = c == 'Z' || count >= 4;
	const char *p = *s;
	int64_t h, m = 0, sec = 0;
	int sign;

	if (*p == 'Z' && (c == 'X' || (c == 'Z' && count == 5))) {
		*s = p + 1;
		*ret = 0;
		return true;
	}
	if (*p != '+' && *p != '-')
		return false;
	sign = *p++ == '-' ? -1 : 1;
	if (read_digits(&p, 2, 2, &h) < 0)
		return false;
	if (read_offset_part(&p, colon, &m) && seconds)
		(void)read_offset_part(&p, colon, &sec);
	if (h > 18 || m > 59 || sec > 59)
		return false;
	*ret = (int32_t)(sign * (h * 3600 + m * 60 + sec));
	*s = p;
	return true;
}

static int clamp_small(int64_t v)
{
	return v > 999 ? 999 : (int)v;
}

static void store_number(char c, int count, int64_t v, struct parsed *p)
{
	switch (c) {
	case 'y':
	case 'u':
		p->year = count == 2 ? 2000 + v : v;
		break;
	case 'M':
	case 'L':
		p->month = clamp_small(v);
		break;
	case 'd':
		p->day = clamp_small(v);
		break;
	case 'D':
		p->yday = clamp_small(v);
		break;
	case 'H':
		p->hour = clamp_small(v);
		break;
	case 'k':
		p->hour = v == 24 ? 0 : clamp_small(v);
		break;
	case 'h':
		p->hour12 = v == 12 ? 0 : clamp_small(v);
		break;
	case 'K':
		p->hour12 = clamp_small(v);
		break;
	case 'm':
		p->minute = clamp_small(v);
		break;
	case 's':
		p->second = clamp_small(v);
		break;
	case 'S':
		for (int i = count; i < 9; i++)
			v *= 10;
		p->nano = (int32_t)v;
		break;
	case 'n':
		p->nano = (int32_t)v;
		break;
	default: /* Q, q: read and ignored */
		break;
	}
}

/* A numeric field: fixed width for two or more letters (and S), else what the digits that
 * follow leave for it. */
static int parse_number(const char **s, char c, int count, const char *rest, struct parsed *p)
{
	int width = count, avail = 0;
	int64_t v;

	if ((count == 1 && c != 'S') || ((c == 'y' || c == 'u') && count > 2) || c == 'n') {
		while (isdigit((unsigned char)(*s)[avail]) && avail < 30)
			avail++;
		width = avail - reserved_width(rest);
		width = width > 18 ? 18 : width < count ? count : width;
	}
	if (read_digits(s, width, width, &v) < 0 || (c == 'n' && v > 999999999))
		return -EINVAL;
	store_number(c, count, v, p);
	return 0;
}

/* X, x, Z: an offset; ZZZZ: "GMT" or "GMT±HH:MM". */
static int parse_offset_field(const char **s, char c, int count, struct parsed *p)
{
	int32_t off = 0;

	if (c == 'Z' && count == 4) {
		if (strncmp(*s, "GMT", 3) != 0)
			return -EINVAL;
		*s += 3;
		if ((**s == '+' || **s == '-') && !read_pattern_offset(s, 'X', 3, &off))
			return -EINVAL;
	} else if (c == 'x' && (**s == '+' || **s == '-') && strncmp(*s + 1, "00", 2) == 0 &&
	           !isdigit((unsigned char)(*s)[3]) && (*s)[3] != ':') {
		*s += 3; /* x's zero text "+00" */
	} else if (!read_pattern_offset(s, c, count, &off)) {
		return -EINVAL;
	}
	p->has_offset = true;
	p->offset = off;
	return 0;
}

static int parse_field(const char **s, char c, int count, const char *rest, struct parsed *p)
{
	static const char *const eras[2] = {"Anno Domini", "AD"};
	static const char *const ampm[2] = {"AM", "PM"};
	int i;

	if (is_numeric_letter(c) && !(strchr("MLQq", c) && count > 2))
		return parse_number(s, c, count, rest, p);
	switch (c) {
	case 'G':
		return match_name(s, eras, 2, 0) < 0 ? -EINVAL : 0;
	case 'M':
	case 'L':
		i = match_name(s, month_names, 12, count == 3 ? 3 : 0);
		p->month = i + 1;
		return i < 0 ? -EINVAL : 0;
	case 'E':
		i = match_name(s, day_names, 7, count == 4 ? 0 : 3);
		p->wday = i + 1;
		return i < 0 ? -EINVAL : 0;
	case 'a':
		p->ampm = match_name(s, ampm, 2, 0);
		return p->ampm < 0 ? -EINVAL : 0;
	case 'V':
		return read_zone_id(s, p->zone, sizeof(p->zone)) ? 0 : -EINVAL;
	case 'X':
	case 'x':
	case 'Z':
		return parse_offset_field(s, c, count, p);
	default:
		return -ENOTSUP;
	}
}

/* An [optional] section being tried: where it started, to go back when it does not match. */
struct optional_state {
	const char *text;
	struct parsed parsed;
	int depth; /* the reader's depth inside the section */
};

/* Skips the rest of the optional section at depth: up to its ']' or the end of the pattern. */
static void skip_section(struct pattern_reader *rd, int depth)
{
	struct token t;

	while (next_token(rd, &t, NULL) == 0 && t.kind != TOKEN_END) {
		if (t.kind == TOKEN_CLOSE && rd->depth < depth)
			return;
	}
}

/* Matches the whole of text against the pattern (checked by check_pattern); an optional section
 * that does not match is skipped with what it had read. -EINVAL when the text does not match,
 * -ENOTSUP (err set) for a letter kwg only prints. */
static int parse_pattern(const char *text, const char *pattern, struct parsed *p,
                         struct kwg_err *err)
{
	struct optional_state stack[17];
	struct pattern_reader rd = {.p = pattern};
	const char *s = text;
	int n = 0, r;
	struct token t;

	for (;;) {
		r = next_token(&rd, &t, NULL);
		if (r < 0 || t.kind == TOKEN_END)
			break;
		if (t.kind == TOKEN_OPEN && n < (int)(sizeof(stack) / sizeof(stack[0]))) {
			stack[n++] =
			    (struct optional_state){.text = s, .parsed = *p, .depth = rd.depth};
			continue;
		}
		if (t.kind == TOKEN_CLOSE) {
			n -= n > 0;
			continue;
		}
		if (t.kind == TOKEN_FIELD)
			r = parse_field(&s, t.c, t.count, rd.p, p);
		else
			r = *s == t.c ? (s++, 0) : -EINVAL;
		if (r == -ENOTSUP)
			return kwg_err_set(err, -ENOTSUP,
			                   "pattern letter '%c' is not supported for parsing", t.c);
		if (r < 0 && n == 0)
			return r;
		if (r < 0) {
			n--;
			s = stack[n].text;
			*p = stack[n].parsed;
			skip_section(&rd, stack[n].depth);
		}
	}
	return r < 0 || *s != '\0' ? -EINVAL : 0;
}

/* The date parsed, as days since the epoch; -EINVAL when it does not exist. */
static int resolve_days(const struct parsed *p, int64_t *ret_days)
{
	int64_t days;

	if (p->year < MIN_YEAR || p->year > MAX_YEAR)
		return -EINVAL;
	if (p->yday >= 0 && p->month < 0) {
		if (p->yday < 1 || p->yday > (is_leap(p->year) ? 366 : 365))
			return -EINVAL;
		days = days_from_civil(p->year, 1, 1) + p->yday - 1;
	} else {
		if (p->month < 1 || p->month > 12 || p->day < 1 ||
		    p->day > month_days(p->year, p->month))
			return -EINVAL;
		days = days_from_civil(p->year, p->month, p->day);
	}
	if (p->wday > 0 && weekday(days) != p->wday)
		return -EINVAL;
	*ret_days = days;
	return 0;
}

/* The time parsed, in seconds after midnight (missing fields are 0; h without a is AM). */
static int resolve_seconds(const struct parsed *p, int64_t *ret_secs)
{
	int hour = p->hour;

	if (p->hour12 >= 0) {
		if (p->hour12 > 11 || (hour >= 0 && hour % 12 != p->hour12))
			return -EINVAL;
		hour = p->hour12 + (p->ampm == 1 ? 12 : 0);
	}
	if (hour > 23 || p->minute > 59 || p->second > 59)
		return -EINVAL;
	*ret_secs = (int64_t)(hour > 0 ? hour : 0) * 3600 + (p->minute > 0 ? p->minute : 0) * 60 +
	            (p->second > 0 ? p->second : 0);
	return 0;
}

/* Turns what was parsed into an instant and a zone: an offset read wins for the instant; a
 * [zone] read wins for the zone; else the local time is taken in zone. */
static int resolve(const struct parsed *p, const char *text, const char *zone,
                   struct kwg_datetime *ret, struct kwg_err *err)
{
	int64_t days, secs, local;
	struct zone z;
	int r;

	if (resolve_days(p, &days) < 0 || resolve_seconds(p, &secs) < 0)
		return kwg_err_set(err, -EINVAL, "cannot parse date '%.64s': no such date or time",
		                   text);
	local = days * 86400 + secs;
	if (p->has_offset && !p->zone[0]) {
		ret->epoch_s = local - p->offset;
		offset_id(p->offset, ret->zone, sizeof(ret->zone));
		ret->nano = p->nano;
		return 0;
	}
	r = zone_load(p->zone[0] ? p->zone : zone, &z, err);
	if (r < 0)
		return r;
	ret->epoch_s =
	    p->has_offset ? local - p->offset : zone_local_to_instant(&z, local, 0, false);
	snprintf(ret->zone, sizeof(ret->zone), "%s", p->zone[0] || (zone && *zone) ? z.id : "");
	ret->nano = p->nano;
	zone_done(&z);
	return 0;
}

/* Rejects the patterns Java's DateTimeFormatter.ofPattern rejects (letter counts, reserved
 * characters), with the same messages as formatting, by formatting the epoch with it. */
static int check_pattern(const char *pattern, struct kwg_err *err)
{
	struct zone z = {.kind = ZONE_OFFSET, .id = "Z"};
	struct kwg_datetime epoch = {0};
	struct kwg_buf b;
	struct shown sh;
	int r;

	r = shown_init(&epoch, &z, &sh, err);
	if (r < 0)
		return r;
	kwg_buf_init(&b, MAX_OUTPUT);
	r = format_pattern(&b, pattern, &sh, err);
	kwg_buf_done(&b);
	return r == -EMSGSIZE ? 0 : r;
}

int kwg_datetime_parse(const char *text, const char *existing_format, const char *zone,
                       struct kwg_datetime *ret, struct kwg_err *err)
{
	struct kwg_datetime d = {0};
	struct parsed p;
	const char *pattern = existing_format;
	bool rfc_1123 = false;
	int i, r;

	parsed_init(&p);
	if (!text)
		return kwg_err_set(err, -EINVAL, "no date to parse");
	if (strlen(text) > MAX_PATTERN)
		return kwg_err_set(err, -EINVAL, "date text longer than %d bytes", MAX_PATTERN);
	i = existing_format ? find_named(existing_format) : -1;
	if (i >= 0 && named_formats[i].pattern) {
		pattern = named_formats[i].pattern;
	} else if (i >= 0) {
		switch (named_formats[i].named) {
		case NAMED_ISO_DATE_TIME:
		case NAMED_ISO_OFFSET_DATE_TIME:
		case NAMED_ISO_ZONED_DATE_TIME:
		case NAMED_ISO_LOCAL_DATE_TIME:
		case NAMED_ISO_LOCAL_DATE:
		case NAMED_ISO_INSTANT:
			pattern = NULL;
			break;
		case NAMED_ISO_DATE:
			pattern = "yyyy-MM-dd[XXX]";
			break;
		case NAMED_ISO_OFFSET_DATE:
			pattern = "yyyy-MM-ddXXX";
			break;
		case NAMED_BASIC_ISO_DATE:
			pattern = "yyyyMMdd[XX]";
			break;
		case NAMED_ISO_ORDINAL_DATE:
			pattern = "yyyy-DDD[XXX]";
			break;
		case NAMED_RFC_1123:
			/* DateTimeFormatter.RFC_1123_DATE_TIME: "Tue, 3 Jun 2008 11:05:30 GMT", the
			 * day name optional, seconds optional, the offset "GMT" or +HHMM */
			pattern = "[EEE, ]d MMM yyyy HH:mm[:ss] xx";
			rfc_1123 = true;
			break;
		default:
			return kwg_err_set(err, -EINVAL, "cannot parse dates with format '%s'",
			                   existing_format);
		}
	}
	if (pattern) {
		if (strlen(pattern) > MAX_PATTERN)
			return kwg_err_set(err, -EINVAL, "date pattern longer than %d bytes",
			                   MAX_PATTERN);
		r = check_pattern(pattern, err);
		if (r < 0)
			return r;
		char buf[MAX_PATTERN + 8];
		size_t tl = strlen(text);
		if (rfc_1123 && tl >= 4 && strcmp(text + tl - 4, " GMT") == 0) {
			snprintf(buf, sizeof(buf), "%.*s +0000", (int)(tl - 4), text);
			text = buf;
		}
		r = parse_pattern(text, pattern, &p, err);
		if (r == -ENOTSUP)
			return -EINVAL; /* err names the letter */
		if (r < 0)
			return kwg_err_set(err, -EINVAL,
			                   "cannot parse date '%.64s' with pattern '%.64s'", text,
			                   existing_format);
	} else if (!parse_iso(text, &p)) {
		return kwg_err_set(err, -EINVAL, "cannot parse date '%.64s'", text);
	}
	r = resolve(&p, text, zone, &d, err);
	if (r < 0)
		return r;
	*ret = d;
	return 0;
}

void kwg_datetime_from_epoch(int64_t epoch_s, int32_t nano, struct kwg_datetime *ret)
{
	memset(ret, 0, sizeof(*ret));
	/* Saturates: a date that far out is refused by every other call anyway. */
	if (__builtin_add_overflow(epoch_s, floor_div(nano, 1000000000), &ret->epoch_s))
		ret->epoch_s = epoch_s < 0 ? INT64_MIN : INT64_MAX;
	ret->nano = (int32_t)floor_mod(nano, 1000000000);
}

/* ---- adding ---- */

static const struct {
	const char *name;
	int64_t nanos;  /* time-based units: the length; 0 for date-based */
	int64_t days;   /* DAYS, WEEKS */
	int64_t months; /* MONTHS and longer */
} units[] = {
    {"NANOS", 1, 0, 0},
    {"MICROS", 1000, 0, 0},
    {"MILLIS", 1000000, 0, 0},
    {"SECONDS", 1000000000, 0, 0},
    {"MINUTES", 60LL * 1000000000, 0, 0},
    {"HOURS", 3600LL * 1000000000, 0, 0},
    {"HALF_DAYS", 43200LL * 1000000000, 0, 0},
    {"DAYS", 0, 1, 0},
    {"WEEKS", 0, 7, 0},
    {"MONTHS", 0, 0, 1},
    {"YEARS", 0, 0, 12},
    {"DECADES", 0, 0, 120},
    {"CENTURIES", 0, 0, 1200},
    {"MILLENNIA", 0, 0, 12000},
};

/* Time-based units move the instant. -ERANGE past the supported years. */
static int add_time(const struct kwg_datetime *d, int64_t amount, int64_t unit_nanos,
                    struct kwg_datetime *out)
{
	int64_t secs, nanos = 0;

	if (unit_nanos >= 1000000000) {
		if (__builtin_mul_overflow(amount, unit_nanos / 1000000000, &secs))
			return -ERANGE;
	} else {
		int64_t per_s = 1000000000 / unit_nanos;
		secs = amount / per_s;
		nanos = amount % per_s * unit_nanos;
	}
	if (secs > 400000000000LL || secs < -400000000000LL)
		return -ERANGE;
	nanos += d->nano;
	out->epoch_s = d->epoch_s + secs + floor_div(nanos, 1000000000);
	out->nano = (int32_t)floor_mod(nanos, 1000000000);
	return 0;
}

/* Date-based units move the local date-time in its zone (Java's ZonedDateTime.plusDays and
 * plusMonths: resolved with the old offset preferred); months clamp the day of the month. */
static int add_calendar(const struct shown *s, int64_t amount, int64_t days_per, int64_t months_per,
                        struct kwg_datetime *out)
{
	struct fields f = s->f;
	int64_t days;

	if (days_per) {
		if (amount > 10000000 || amount < -10000000)
			return -ERANGE;
		days = days_from_civil(f.year, f.month, f.day) + amount * days_per;
	} else {
		int64_t months;
		if (amount > 1000000 || amount < -1000000)
			return -ERANGE;
		months = f.year * 12 + (f.month - 1) + amount * months_per;
		f.year = floor_div(months, 12);
		f.month = (int)floor_mod(months, 12) + 1;
		if (f.year < MIN_YEAR || f.year > MAX_YEAR)
			return -ERANGE;
		if (f.day > month_days(f.year, f.month))
			f.day = month_days(f.year, f.month);
		days = days_from_civil(f.year, f.month, f.day);
	}
	out->epoch_s = zone_local_to_instant(
	    s->zone, days * 86400 + f.hour * 3600 + f.minute * 60 + f.second, f.offset, true);
	return 0;
}

int kwg_datetime_add(const struct kwg_datetime *d, int64_t amount, const char *unit,
                     struct kwg_datetime *ret, struct kwg_err *err)
{
	struct kwg_datetime out = *d;
	struct zone z;
	struct shown s;
	size_t u;
	int r;

	for (u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (unit && strcmp(unit, units[u].name) == 0)
			break;
	}
	if (u == sizeof(units) / sizeof(units[0]))
		return kwg_err_set(err, -EINVAL, "unknown time unit '%.32s'", unit ? unit : "");
	r = zone_load(d->zone, &z, err);
	if (r < 0)
		return r;
	r = shown_init(d, &z, &s, err);
	if (r == 0 && units[u].nanos)
		r = add_time(d, amount, units[u].nanos, &out);
	else if (r == 0)
		r = add_calendar(&s, amount, units[u].days, units[u].months, &out);
	if (r == 0 && shown_init(&out, &z, &s, NULL) < 0)
		r = -ERANGE;
	if (r == 0)
		*ret = out;
	else if (r == -ERANGE)
		r = kwg_err_set(err, -EINVAL,
		                "date out of range (years 0001-9999) after adding %lld %s",
		                (long long)amount, units[u].name);
	zone_done(&z);
	return r;
}
