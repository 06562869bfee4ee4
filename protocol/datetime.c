/* SPDX-License-Identifier: Apache-2.0 */
/* STUB: replaced by the real datetime.c at merge */
/* A minimal protocol/datetime.h for building the template renderer on its own branch: UTC only,
 * the "iso" format only, ISO-8601 parsing of the common forms. */
#include "protocol/datetime.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int kwg_datetime_parse(const char *text, const char *existing_format, const char *zone,
                       struct kwg_datetime *ret, struct kwg_err *err)
{
	int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0, n = 0, oh = 0, om = 0;
	long frac = 0;
	int fdigits = 0;
	char sign = 0;
	const char *p;

	(void)existing_format;
	(void)zone;
	if (sscanf(text, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || mo < 1 || mo > 12 || d < 1 ||
	    d > 31)
		return kwg_err_set(err, -EINVAL, "cannot parse date '%.64s'", text);
	p = text + n;
	if (*p == 'T' || *p == ' ') {
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &n) != 2)
			return kwg_err_set(err, -EINVAL, "cannot parse date '%.64s'", text);
		p += 1 + n;
		if (*p == ':') {
			if (sscanf(p + 1, "%2d%n", &s, &n) != 1)
				return kwg_err_set(err, -EINVAL, "cannot parse date '%.64s'", text);
			p += 1 + n;
		}
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				if (fdigits < 9) {
					frac = frac * 10 + (*p - '0');
					fdigits++;
				}
				p++;
			}
			while (fdigits < 9) {
				frac *= 10;
				fdigits++;
			}
		}
		if (*p == 'Z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			sign = *p;
			if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) != 2)
				return kwg_err_set(err, -EINVAL, "cannot parse date '%.64s'", text);
			p += 1 + n;
		}
	}
	if (*p == '[') {
		const char *e = strchr(p, ']');
		p = e ? e + 1 : p;
	}
	if (*p)
		return kwg_err_set(err, -EINVAL, "cannot parse date '%.64s'", text);
	int64_t off = (int64_t)oh * 3600 + om * 60;
	ret->epoch_s = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
	               s - (sign == '-' ? -off : off);
	ret->nano = (int32_t)frac;
	snprintf(ret->zone, sizeof(ret->zone), "UTC");
	return 0;
}

void kwg_datetime_from_epoch(int64_t epoch_s, int32_t nano, struct kwg_datetime *ret)
{
	ret->epoch_s = epoch_s;
	ret->nano = nano;
	snprintf(ret->zone, sizeof(ret->zone), "UTC");
}

int kwg_datetime_format(const struct kwg_datetime *d, const char *format, const char *zone,
                        char **ret, struct kwg_err *err)
{
	struct tm tm;
	time_t t = (time_t)d->epoch_s;
	char buf[96];

	(void)zone;
	if (format && strcasecmp(format, "iso") != 0)
		return kwg_err_set(err, -EINVAL, "date format '%.64s' is not in the stub", format);
	if (!gmtime_r(&t, &tm))
		return kwg_err_set(err, -EINVAL, "date out of range");
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, d->nano / 1000);
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

int kwg_datetime_add(const struct kwg_datetime *d, int64_t amount, const char *unit,
                     struct kwg_datetime *ret, struct kwg_err *err)
{
	static const struct {
		const char *name;
		int64_t s;
	} units[] = {{"SECONDS", 1},       {"MINUTES", 60}, {"HOURS", 3600},
	             {"HALF_DAYS", 43200}, {"DAYS", 86400}, {"WEEKS", 604800}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(unit, units[i].name) == 0) {
			*ret = *d;
			ret->epoch_s += amount * units[i].s;
			return 0;
		}
	}
	return kwg_err_set(err, -EINVAL, "unit '%.32s' is not in the stub", unit);
}
