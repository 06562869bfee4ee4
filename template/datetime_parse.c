/* SPDX-License-Identifier: Apache-2.0 */
/* Dates parsed as Kestra reads a date value: ISO-8601 forms, Java patterns, the named formats
 * that can make a date (template/datetime.h, template/datetime_internal.h). */
#include "template/datetime_internal.h"

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
		i = match_name(s, kwg_dt_month_names, 12, count == 3 ? 3 : 0);
		p->month = i + 1;
		return i < 0 ? -EINVAL : 0;
	case 'E':
		i = match_name(s, kwg_dt_day_names, 7, count == 4 ? 0 : 3);
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

	while (kwg_dt_next_token(rd, &t, NULL) == 0 && t.kind != TOKEN_END) {
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
		r = kwg_dt_next_token(&rd, &t, NULL);
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
		if (p->yday < 1 || p->yday > (kwg_dt_is_leap(p->year) ? 366 : 365))
			return -EINVAL;
		days = kwg_dt_days_from_civil(p->year, 1, 1) + p->yday - 1;
	} else {
		if (p->month < 1 || p->month > 12 || p->day < 1 ||
		    p->day > kwg_dt_month_days(p->year, p->month))
			return -EINVAL;
		days = kwg_dt_days_from_civil(p->year, p->month, p->day);
	}
	if (p->wday > 0 && kwg_dt_weekday(days) != p->wday)
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
		kwg_dt_offset_id(p->offset, ret->zone, sizeof(ret->zone));
		ret->nano = p->nano;
		return 0;
	}
	r = kwg_dt_zone_load(p->zone[0] ? p->zone : zone, &z, err);
	if (r < 0)
		return r;
	ret->epoch_s =
	    p->has_offset ? local - p->offset : kwg_dt_zone_local_to_instant(&z, local, 0, false);
	snprintf(ret->zone, sizeof(ret->zone), "%s", p->zone[0] || (zone && *zone) ? z.id : "");
	ret->nano = p->nano;
	kwg_dt_zone_done(&z);
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

	r = kwg_dt_shown_init(&epoch, &z, &sh, err);
	if (r < 0)
		return r;
	kwg_buf_init(&b, MAX_OUTPUT);
	r = kwg_dt_format_pattern(&b, pattern, &sh, err);
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
	i = existing_format ? kwg_dt_find_named(existing_format) : -1;
	if (i >= 0 && kwg_dt_named_formats[i].pattern) {
		pattern = kwg_dt_named_formats[i].pattern;
	} else if (i >= 0) {
		switch (kwg_dt_named_formats[i].named) {
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
	if (__builtin_add_overflow(epoch_s, kwg_dt_floor_div(nano, 1000000000), &ret->epoch_s))
		ret->epoch_s = epoch_s < 0 ? INT64_MIN : INT64_MAX;
	ret->nano = (int32_t)kwg_dt_floor_mod(nano, 1000000000);
}
