/* SPDX-License-Identifier: Apache-2.0 */
#include "common/clock.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t kwg_clock_now_us(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void kwg_clock_format_instant(int64_t us, char buf[KWG_INSTANT_LEN])
{
	time_t sec = (time_t)(us / 1000000);
	long frac = (long)(us % 1000000);
	struct tm tm;

	if (frac < 0) {
		frac += 1000000;
		sec -= 1;
	}
	(void)gmtime_r(&sec, &tm);
	(void)snprintf(buf, KWG_INSTANT_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	               tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	               tm.tm_sec, frac);
}

static int digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -EINVAL;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*ret = v;
	return 0;
}

int kwg_clock_parse_instant(const char *s, int64_t *ret_us)
{
	struct tm tm = {0};
	int y, mo, d, h, mi, se;
	long frac = 0;
	int scale = 100000;

	if (digits(&s, 4, &y) < 0 || *s++ != '-' || digits(&s, 2, &mo) < 0 || *s++ != '-' ||
	    digits(&s, 2, &d) < 0 || (*s != 'T' && *s != 't') || (s++, digits(&s, 2, &h) < 0) ||
	    *s++ != ':' || digits(&s, 2, &mi) < 0 || *s++ != ':' || digits(&s, 2, &se) < 0)
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return -EINVAL;
		for (; isdigit((unsigned char)*s); s++) {
			frac += (*s - '0') * scale;
			scale /= 10;
		}
	}
	if (strcmp(s, "Z") != 0 && strcmp(s, "z") != 0 && strcmp(s, "+00:00") != 0)
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*ret_us = (int64_t)timegm(&tm) * 1000000 + frac;
	return 0;
}
