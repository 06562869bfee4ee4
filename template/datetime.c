/* SPDX-License-Identifier: Apache-2.0 */
/* Dates as Kestra's Pebble date filters see them. KESTRA: pebble/AbstractDate.java @
 * 004e08aaa1c490b1a01c8f9e93ed983b9bc8f9e5 (named formats, styles, convert); the pattern letters
 * and ISO formatters follow the java.time.format.DateTimeFormatter javadoc (JDK 17), checked
 * against OpenJDK 17 output. Years 0001-9999 only.
 *
 * This file: the calendar arithmetic (proleptic Gregorian), time zones (TZif files and their
 * POSIX TZ rule, offsets, fixed regions) and adding ChronoUnits. Formatting is in
 * datetime_format.c, parsing in datetime_parse.c. */
#include "template/datetime_internal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) ---- */

int64_t kwg_dt_floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

int64_t kwg_dt_floor_mod(int64_t a, int64_t b)
{
	return a - kwg_dt_floor_div(a, b) * b;
}

bool kwg_dt_is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int kwg_dt_month_days(int64_t y, int m)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && kwg_dt_is_leap(y) ? 29 : days[m - 1];
}

int64_t kwg_dt_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = kwg_dt_floor_div(y, 400);
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *ret_y, int *ret_m, int *ret_d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = kwg_dt_floor_div(z, 146097);
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*ret_d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*ret_m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*ret_y = yoe + era * 400 + (*ret_m <= 2);
}

/* ISO day of week, 1 = Monday … 7 = Sunday. */
int kwg_dt_weekday(int64_t days)
{
	return (int)kwg_dt_floor_mod(days + 3, 7) + 1;
}

void kwg_dt_fields_from_local(int64_t local_s, int32_t nano, struct fields *f)
{
	int64_t days = kwg_dt_floor_div(local_s, 86400), secs = kwg_dt_floor_mod(local_s, 86400);

	civil_from_days(days, &f->year, &f->month, &f->day);
	f->hour = (int)(secs / 3600);
	f->minute = (int)(secs / 60 % 60);
	f->second = (int)(secs % 60);
	f->nano = nano;
	f->wday = kwg_dt_weekday(days);
	f->yday = (int)(days - kwg_dt_days_from_civil(f->year, 1, 1)) + 1;
}

/* ---- zones ---- */

void kwg_dt_zone_done(struct zone *z)
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
		int64_t first = kwg_dt_days_from_civil(y, d->m, 1);
		int dow = kwg_dt_weekday(first) % 7; /* 0 = Sunday */
		int day = 1 + (d->d - dow + 7) % 7 + (d->w - 1) * 7;
		while (day > kwg_dt_month_days(y, d->m))
			day -= 7;
		days = first + day - 1;
	} else if (d->kind == 'J') {
		days =
		    kwg_dt_days_from_civil(y, 1, 1) + d->n - 1 + (kwg_dt_is_leap(y) && d->n >= 60);
	} else {
		days = kwg_dt_days_from_civil(y, 1, 1) + d->n;
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
	civil_from_days(kwg_dt_floor_div(t + tz->std_off, 86400), &y, &m, &d);
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
void kwg_dt_offset_id(int32_t off, char *buf, size_t size)
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
int kwg_dt_zone_load(const char *id, struct zone *z, struct kwg_err *err)
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
		kwg_dt_offset_id(off, z->id, sizeof(z->id));
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
			kwg_dt_offset_id(off, oid, sizeof(oid));
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
		kwg_dt_zone_done(z);
		return kwg_err_set(err, -EINVAL, "unknown time zone '%s'", id);
	}
	return 0;
}

/* The offset in force at instant t, and the zone's short name then. */
int32_t kwg_dt_zone_offset_at(const struct zone *z, int64_t t, char *abbr, size_t size)
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
int64_t kwg_dt_zone_local_to_instant(const struct zone *z, int64_t local_s, int32_t preferred,
                                     bool has_preferred)
{
	int32_t before, after;
	bool before_ok, after_ok;

	if (z->kind != ZONE_TZIF)
		return local_s - z->fixed;
	before = kwg_dt_zone_offset_at(z, local_s - 86400 - 18 * 3600, NULL, 0);
	after = kwg_dt_zone_offset_at(z, local_s + 86400 + 18 * 3600, NULL, 0);
	before_ok = kwg_dt_zone_offset_at(z, local_s - before, NULL, 0) == before;
	after_ok = kwg_dt_zone_offset_at(z, local_s - after, NULL, 0) == after;
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
	out->epoch_s = d->epoch_s + secs + kwg_dt_floor_div(nanos, 1000000000);
	out->nano = (int32_t)kwg_dt_floor_mod(nanos, 1000000000);
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
		days = kwg_dt_days_from_civil(f.year, f.month, f.day) + amount * days_per;
	} else {
		int64_t months;
		if (amount > 1000000 || amount < -1000000)
			return -ERANGE;
		months = f.year * 12 + (f.month - 1) + amount * months_per;
		f.year = kwg_dt_floor_div(months, 12);
		f.month = (int)kwg_dt_floor_mod(months, 12) + 1;
		if (f.year < MIN_YEAR || f.year > MAX_YEAR)
			return -ERANGE;
		if (f.day > kwg_dt_month_days(f.year, f.month))
			f.day = kwg_dt_month_days(f.year, f.month);
		days = kwg_dt_days_from_civil(f.year, f.month, f.day);
	}
	out->epoch_s = kwg_dt_zone_local_to_instant(
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
	r = kwg_dt_zone_load(d->zone, &z, err);
	if (r < 0)
		return r;
	r = kwg_dt_shown_init(d, &z, &s, err);
	if (r == 0 && units[u].nanos)
		r = add_time(d, amount, units[u].nanos, &out);
	else if (r == 0)
		r = add_calendar(&s, amount, units[u].days, units[u].months, &out);
	if (r == 0 && kwg_dt_shown_init(&out, &z, &s, NULL) < 0)
		r = -ERANGE;
	if (r == 0)
		*ret = out;
	else if (r == -ERANGE)
		r = kwg_err_set(err, -EINVAL,
		                "date out of range (years 0001-9999) after adding %lld %s",
		                (long long)amount, units[u].name);
	kwg_dt_zone_done(&z);
	return r;
}
