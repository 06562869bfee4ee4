/* SPDX-License-Identifier: Apache-2.0 */
/* Dates (template/datetime.h): the date, dateAdd and timestamp filters and Kestra's calendar
 * functions (dayOfWeek, isDateBefore, isLastWorkingDay, …). */
#include "template/internal.h"

/* ---- dates (template/datetime.h) ---- */

static int to_datetime(struct ctx *c, const struct expr *e, json_t *in, const char *existing,
                       const char *zone, struct kwg_datetime *d)
{
	struct kwg_err derr = {{0}};
	int r;

	if (json_is_integer(in)) {
		kwg_datetime_from_epoch(json_integer_value(in), 0, d);
		return 0;
	}
	if (json_is_real(in)) {
		double s = floor(json_real_value(in));
		if (!(fabs(s) < 9e15))
			return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s': date out of range",
			                    e->s);
		kwg_datetime_from_epoch((int64_t)s, (int32_t)((json_real_value(in) - s) * 1e9), d);
		return 0;
	}
	if (!json_is_string(in))
		return kwg_tpl_fail(c, -EINVAL, e->line, "filter '%s' needs a date, not %s", e->s,
		                    kwg_tpl_type_name(in));
	r = kwg_datetime_parse(json_string_value(in), existing, zone, d, &derr);
	if (r < 0)
		return kwg_tpl_fail(c, r, e->line, "%s: %s", e->s, derr.msg);
	return 0;
}

int kwg_tpl_format_date(struct ctx *c, const struct expr *e, const struct kwg_datetime *d,
                        const char *format, const char *zone, json_t **ret)
{
	struct kwg_err derr = {{0}};
	char *s = NULL;
	int r = kwg_datetime_format(d, format, zone, &s, &derr);
	if (r < 0)
		return r == -ENOMEM ? r : kwg_tpl_fail(c, r, e->line, "%s: %s", e->s, derr.msg);
	*ret = json_string_nocheck(s);
	free(s);
	return *ret ? 0 : kwg_tpl_oom();
}

int kwg_tpl_f_date(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret)
{
	const char *format, *zone, *existing;
	struct kwg_datetime d;
	int r;

	r = kwg_tpl_arg_str(c, a, "date", 0, "format", false, &format);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, "date", 1, "timeZone", false, &zone);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, "date", 2, "existingFormat", false, &existing);
	if (r >= 0)
		r = to_datetime(c, e, in, existing, zone, &d);
	if (r < 0)
		return r;
	return kwg_tpl_format_date(c, e, &d, format, zone, ret);
}

int kwg_tpl_f_date_add(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret)
{
	const char *unit, *format, *zone, *existing;
	struct kwg_datetime d, d2;
	struct kwg_err derr = {{0}};
	int64_t amount;
	int r;

	r = kwg_tpl_arg_int(c, a, "dateAdd", 0, "amount", true, 0, &amount);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, "dateAdd", 1, "unit", true, &unit);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, "dateAdd", 2, "format", false, &format);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, "dateAdd", 3, "timeZone", false, &zone);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, "dateAdd", 4, "existingFormat", false, &existing);
	if (r >= 0)
		r = to_datetime(c, e, in, existing, zone, &d);
	if (r < 0)
		return r;
	r = kwg_datetime_add(&d, amount, unit, &d2, &derr);
	if (r < 0)
		return kwg_tpl_fail(c, r, e->line, "dateAdd: %s", derr.msg);
	return kwg_tpl_format_date(c, e, &d2, format, zone, ret);
}

int kwg_tpl_f_timestamp(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret)
{
	const char *zone, *existing;
	struct kwg_datetime d;
	int r;

	r = kwg_tpl_arg_str(c, a, e->s, 0, "timeZone", false, &zone);
	if (r >= 0)
		r = kwg_tpl_arg_str(c, a, e->s, 1, "existingFormat", false, &existing);
	if (r >= 0)
		r = to_datetime(c, e, in, existing, zone, &d);
	if (r < 0)
		return r;
	/* KESTRA: TimestampFilter and TimestampMilliFilter give a Long (toEpochSecond,
	 * toEpochMilli); TimestampMicroFilter and TimestampNanoFilter a String, and Micro's is
	 * SECONDS.toNanos(epochSecond) + NANOSECONDS.toMicros(nano), nanoseconds plus
	 * microseconds, as Kestra computes it (Java long arithmetic: wraps). */
	uint64_t s9 = (uint64_t)d.epoch_s * 1000000000u;
	if (!strcmp(e->s, "timestampMicro") || !strcmp(e->s, "timestampNano")) {
		char num[32];
		uint64_t v = s9 + (uint64_t)(e->s[9] == 'M' ? d.nano / 1000 : d.nano);
		snprintf(num, sizeof(num), "%" PRId64, (int64_t)v);
		*ret = json_string(num);
	} else if (!strcmp(e->s, "timestampMilli")) {
		*ret = json_integer(
		    (json_int_t)((uint64_t)d.epoch_s * 1000u + (uint64_t)(d.nano / 1000000)));
	} else {
		*ret = json_integer(d.epoch_s);
	}
	return *ret ? 0 : kwg_tpl_oom();
}

/* ---- calendar functions (Kestra 1.x: DayOfWeekFunction, DayOfMonthFunction,
 * MonthOfYearFunction, HourOfDayFunction, IsWeekendFunction, IsDateBefore/After/Between,
 * IsDayWeekInMonthFunction, IsLastWorkingDayFunction; read @ b031460a, 1e87364a, 5c6c1fb9) ---- */

enum iso_kind { ISO_OTHER, ISO_DATE, ISO_ZONED, ISO_LOCAL_DT };

/* Which ISO-8601 form text has: a date (LocalDate.parse), a date-time with an offset or zone
 * (ZonedDateTime.parse), a date-time without (LocalDateTime.parse). */
static enum iso_kind iso_kind(const char *t)
{
	size_t n = strlen(t);
	if (n < 10 || t[4] != '-' || t[7] != '-')
		return ISO_OTHER;
	if (n == 10)
		return ISO_DATE;
	if (t[10] != 'T')
		return ISO_OTHER;
	for (const char *p = t + 11; *p; p++)
		if (*p == 'Z' || *p == '+' || *p == '-' || *p == '[')
			return ISO_ZONED;
	return ISO_LOCAL_DT;
}

struct cal {
	int year, month, day, hour;
	int dow; /* 1 = Monday … 7 = Sunday (java.time.DayOfWeek) */
	struct kwg_datetime d;
};

static const char *const day_names[] = {"MONDAY", "TUESDAY",  "WEDNESDAY", "THURSDAY",
                                        "FRIDAY", "SATURDAY", "SUNDAY"};

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

/* Day of week of a proleptic Gregorian date, 1 = Monday. */
static int day_of_week(int y, int m, int d)
{
	static const int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
	if (m < 3)
		y--;
	int w = (y + y / 4 - y / 100 + y / 400 + t[m - 1] + d) % 7; /* 0 = Sunday */
	return w == 0 ? 7 : w;
}

/* The argument name of fn as a calendar value, fields as written in the text (no UTC
 * normalisation; Kestra's DateUtils.parseLocalDate). kinds: a bit per accepted iso_kind. */
static int cal_arg(struct ctx *c, const struct expr *e, struct args *a, size_t pos,
                   const char *name, unsigned kinds, struct cal *ret)
{
	json_t *v = kwg_tpl_arg(a, pos, name), *t;
	struct kwg_err derr;
	cleanup_free char *f = NULL;
	int r;

	if (!v || json_is_null(v))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The '%s()' function expects a '%s' argument.", e->s, name);
	r = kwg_tpl_to_string_value(c, v, e->line, &t);
	if (r < 0)
		return r;
	const char *text = json_string_value(t);
	enum iso_kind k = iso_kind(text);
	r = kinds & (1u << k) ? kwg_datetime_parse(text, NULL, NULL, &ret->d, &derr) : -EINVAL;
	if (r == -EINVAL && !(kinds & (1u << k)))
		snprintf(derr.msg, sizeof(derr.msg), "Text '%.200s' could not be parsed", text);
	if (r >= 0)
		r = kwg_datetime_format(&ret->d, "yyyy-MM-dd-HH", NULL, &f, &derr);
	if (r >= 0 && sscanf(f, "%d-%d-%d-%d", &ret->year, &ret->month, &ret->day, &ret->hour) != 4)
		r = -EINVAL;
	if (r == -ENOMEM) {
		json_decref(t);
		return kwg_tpl_oom();
	}
	if (r < 0) {
		r = kwg_tpl_fail(c, -EINVAL, e->line,
		                 "The '%s()' function could not parse '%s': %s", e->s, name,
		                 derr.msg);
		json_decref(t);
		return r;
	}
	json_decref(t);
	ret->dow = day_of_week(ret->year, ret->month, ret->day);
	return 0;
}

#define LOCAL_DATE ((1u << ISO_DATE) | (1u << ISO_ZONED))

int kwg_tpl_fn_calendar(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	struct cal d;
	int r;

	if (!strcmp(e->s, "hourOfDay")) {
		r = cal_arg(c, e, a, 0, "date", (1u << ISO_ZONED) | (1u << ISO_LOCAL_DT), &d);
		if (r < 0)
			return r;
		*ret = json_integer(d.hour);
		return 0;
	}
	r = cal_arg(c, e, a, 0, "date", LOCAL_DATE, &d);
	if (r < 0)
		return r;
	if (!strcmp(e->s, "dayOfWeek"))
		*ret = json_string(day_names[d.dow - 1]);
	else if (!strcmp(e->s, "dayOfMonth"))
		*ret = json_integer(d.day);
	else if (!strcmp(e->s, "monthOfYear"))
		*ret = json_integer(d.month);
	else /* isWeekend */
		*ret = json_boolean(d.dow >= 6);
	return 0;
}

/* isDateBefore(date, reference), isDateAfter(date, reference): instants, a value without an
 * offset taken as UTC; isDateBetween(date, after, before): values with an offset only,
 * strictly between. */
int kwg_tpl_fn_date_compare(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	bool between = !strcmp(e->s, "isDateBetween");
	static const char *const names2[] = {"date", "reference"}, *const names3[] = {
	                                                               "date", "after", "before"};
	const char *const *names = between ? names3 : names2;
	unsigned kinds =
	    between ? 1u << ISO_ZONED : (1u << ISO_DATE) | (1u << ISO_ZONED) | (1u << ISO_LOCAL_DT);
	struct cal v[3];
	int r;

	for (size_t i = 0; i < (between ? 3u : 2u); i++) {
		json_t *x = kwg_tpl_arg(a, i, names[i]);
		if (!x || json_is_null(x))
			return kwg_tpl_fail(c, -EINVAL, e->line,
			                    "The '%s()' function expects a '%s' argument.", e->s,
			                    names[i]);
	}
	for (size_t i = 0; i < (between ? 3u : 2u); i++) {
		r = cal_arg(c, e, a, i, names[i], kinds, &v[i]);
		if (r < 0)
			return r;
	}
#define CMP(x, y)                                                                                  \
	((x).d.epoch_s != (y).d.epoch_s                                                            \
	     ? ((x).d.epoch_s < (y).d.epoch_s ? -1 : 1)                                            \
	     : ((x).d.nano < (y).d.nano ? -1 : (x).d.nano > (y).d.nano))
	if (between)
		*ret = json_boolean(CMP(v[0], v[1]) > 0 && CMP(v[0], v[2]) < 0);
	else
		*ret = json_boolean(e->s[6] == 'B' ? CMP(v[0], v[1]) < 0 : CMP(v[0], v[1]) > 0);
#undef CMP
	return 0;
}

/* A day name as DayOfWeek.valueOf(s.toUpperCase()): 1-7, or 0. */
static int day_number(const char *s, size_t n)
{
	for (int i = 0; i < 7; i++)
		if (strlen(day_names[i]) == n && strncasecmp(day_names[i], s, n) == 0)
			return i + 1;
	return 0;
}

int kwg_tpl_fn_day_week_in_month(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	static const char *const pos_names[] = {"FIRST", "SECOND", "THIRD", "FOURTH", "LAST"};
	json_t *dw = kwg_tpl_arg(a, 1, "dayOfWeek"), *pos = kwg_tpl_arg(a, 2, "position"),
	       *tw = NULL, *tp = NULL;
	struct cal d;
	int r, want, k = -1;

	if (!kwg_tpl_arg(a, 0, "date") || json_is_null(kwg_tpl_arg(a, 0, "date")))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The '%s()' function expects a 'date' argument.", e->s);
	if (!dw || json_is_null(dw))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The '%s()' function expects a 'dayOfWeek' argument.", e->s);
	if (!pos || json_is_null(pos))
		return kwg_tpl_fail(c, -EINVAL, e->line,
		                    "The '%s()' function expects a 'position' argument.", e->s);
	r = cal_arg(c, e, a, 0, "date", LOCAL_DATE, &d);
	if (r >= 0)
		r = kwg_tpl_to_string_value(c, dw, e->line, &tw);
	if (r >= 0)
		r = kwg_tpl_to_string_value(c, pos, e->line, &tp);
	if (r < 0)
		goto out;
	want = day_number(json_string_value(tw), json_string_length(tw));
	if (!want) {
		r = kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The '%s()' function received an invalid 'dayOfWeek' value: '%.64s'. "
		    "Expected one of: MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY, SATURDAY, "
		    "SUNDAY.",
		    e->s, json_string_value(tw));
		goto out;
	}
	for (int i = 0; i < 5; i++)
		if (!strcasecmp(json_string_value(tp), pos_names[i]))
			k = i;
	if (k < 0) {
		r = kwg_tpl_fail(
		    c, -EINVAL, e->line,
		    "The '%s()' function received an invalid 'position' value: '%.64s'. Expected "
		    "one of: FIRST, SECOND, THIRD, FOURTH, LAST.",
		    e->s, json_string_value(tp));
		goto out;
	}
	int dim = days_in_month(d.year, d.month), day;
	if (k < 4) { /* firstInMonth, then whole weeks (may pass into the next month) */
		int first_dow = day_of_week(d.year, d.month, 1);
		day = 1 + (want - first_dow + 7) % 7 + 7 * k;
	} else {
		int last_dow = day_of_week(d.year, d.month, dim);
		day = dim - (last_dow - want + 7) % 7;
	}
	*ret = json_boolean(day == d.day);
out:
	json_decref(tw);
	json_decref(tp);
	return r;
}

int kwg_tpl_fn_last_working_day(struct ctx *c, const struct expr *e, struct args *a, json_t **ret)
{
	json_t *wd = kwg_tpl_arg(a, 1, "workingDays"), *t = NULL;
	unsigned days = 0x1F; /* bit i: day i + 1; Monday-Friday */
	struct cal d;
	int r = cal_arg(c, e, a, 0, "date", LOCAL_DATE, &d);

	if (r < 0)
		return r;
	if (wd && !json_is_null(wd)) {
		r = kwg_tpl_to_string_value(c, wd, e->line, &t);
		if (r < 0)
			return r;
		const char *p = json_string_value(t);
		unsigned set = 0;
		bool blank = true;
		for (const char *q = p; *q; q++)
			blank = blank && kwg_tpl_java_ws(*q);
		while (!blank && *p) { /* split on [,\s]+ */
			while (*p == ',' || kwg_tpl_java_ws(*p))
				p++;
			const char *w = p;
			while (*p && *p != ',' && !kwg_tpl_java_ws(*p))
				p++;
			if (p == w)
				continue;
			int k = day_number(w, (size_t)(p - w));
			if (!k) {
				r = kwg_tpl_fail(
				    c, -EINVAL, e->line,
				    "The '%s()' function received an invalid 'workingDays' value: "
				    "'%.*s'. Expected day names like MONDAY, TUESDAY, etc.",
				    e->s, (int)KWG_MIN((size_t)64, (size_t)(p - w)), w);
				json_decref(t);
				return r;
			}
			set |= 1u << (k - 1);
		}
		json_decref(t);
		if (!blank && !set)
			return kwg_tpl_fail(
			    c, -EINVAL, e->line,
			    "The '%s()' function requires at least one valid day in "
			    "'workingDays'.",
			    e->s);
		if (!blank)
			days = set;
	}
	if (!(days & (1u << (d.dow - 1)))) {
		*ret = json_false();
		return 0;
	}
	int day = days_in_month(d.year, d.month);
	while (!(days & (1u << (day_of_week(d.year, d.month, day) - 1))))
		day--;
	*ret = json_boolean(day == d.day);
	return 0;
}
