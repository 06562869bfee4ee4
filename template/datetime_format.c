/* SPDX-License-Identifier: Apache-2.0 */
/* Dates formatted as Java's DateTimeFormatter does: pattern letters, Kestra's named formats
 * and styles (template/datetime.h, template/datetime_internal.h). */
#include "template/datetime_internal.h"

/* ---- formatting ---- */

const char *const kwg_dt_month_names[12] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
const char *const kwg_dt_day_names[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
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
		return put_text(b, kwg_dt_month_names[f->month - 1], count);
	case 'Q':
	case 'q':
		return put_quarter(b, f->month, count);
	case 'd':
		return put_num(b, f->day, count);
	case 'D':
		return put_num(b, f->yday, count);
	case 'E':
		return put_text(b, kwg_dt_day_names[f->wday - 1], count);
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

int kwg_dt_next_token(struct pattern_reader *rd, struct token *t, struct kwg_err *err)
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
int kwg_dt_format_pattern(struct kwg_buf *b, const char *p, const struct shown *s,
                          struct kwg_err *err)
{
	struct pattern_reader rd = {.p = p};
	struct token t;
	int r;

	if (strlen(p) > MAX_PATTERN)
		return kwg_err_set(err, -EINVAL, "date pattern longer than %d bytes", MAX_PATTERN);
	for (;;) {
		r = kwg_dt_next_token(&rd, &t, err);
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

/* KESTRA: AbstractDate.FORMATTERS and STYLES; the styles are the JDK 17 CLDR English patterns
 * of DateTimeFormatter.ofLocalizedDateTime (JDK 20+ writes U+202F before AM/PM and drops "at"). */
const struct named_format kwg_dt_named_formats[] = {
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

int kwg_dt_find_named(const char *name)
{
	for (size_t i = 0; i < sizeof(kwg_dt_named_formats) / sizeof(kwg_dt_named_formats[0]);
	     i++) {
		if (strcasecmp(name, kwg_dt_named_formats[i].name) == 0)
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
		int jan1 = kwg_dt_weekday(kwg_dt_days_from_civil(p, 1, 1));
		wy = p;
		week = 52 + (jan1 == 4 || (jan1 == 3 && kwg_dt_is_leap(p)));
	} else if (week == 53) {
		int jan1 = kwg_dt_weekday(kwg_dt_days_from_civil(wy, 1, 1));
		if (!(jan1 == 4 || (jan1 == 3 && kwg_dt_is_leap(wy)))) {
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
		int64_t local = (int64_t)kwg_dt_days_from_civil(f->year, f->month, f->day) * 86400 +
		                f->hour * 3600 + f->minute * 60 + f->second;
		kwg_dt_fields_from_local(local - f->offset, f->nano, &u);
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
		                   kwg_dt_day_names[f->wday - 1], f->day,
		                   kwg_dt_month_names[f->month - 1], (long long)f->year, f->hour,
		                   f->minute, f->second);
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

int kwg_dt_shown_init(const struct kwg_datetime *d, const struct zone *z, struct shown *s,
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
	s->f.offset = kwg_dt_zone_offset_at(z, secs, s->f.abbr, sizeof(s->f.abbr));
	kwg_dt_fields_from_local(secs + s->f.offset, nano, &s->f);
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
	r = kwg_dt_zone_load(zone ? zone : d->zone, &z, err);
	if (r < 0)
		return r;
	r = kwg_dt_shown_init(d, &z, &s, err);
	if (r < 0)
		goto out;
	kwg_buf_init(&b, MAX_OUTPUT);
	i = kwg_dt_find_named(format);
	if (i >= 0 && kwg_dt_named_formats[i].pattern)
		r = kwg_dt_format_pattern(&b, kwg_dt_named_formats[i].pattern, &s, err);
	else if (i >= 0)
		r = format_named(&b, kwg_dt_named_formats[i].named, &s);
	else
		r = kwg_dt_format_pattern(&b, format, &s, err);
	if (r == -EMSGSIZE)
		r = kwg_err_set(err, -EINVAL, "formatted date longer than %d bytes", MAX_OUTPUT);
	if (r == 0) {
		*ret = kwg_buf_steal(&b);
		if (!*ret)
			r = -ENOMEM;
	}
	kwg_buf_done(&b);
out:
	kwg_dt_zone_done(&z);
	return r;
}
