/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/duration.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

/* Reads a decimal number with an optional fraction. Returns the number of characters used. */
static size_t read_number(const char *s, double *ret)
{
	size_t i = 0;
	char *end;

	while (isdigit((unsigned char)s[i]))
		i++;
	if (s[i] == '.' || s[i] == ',') {
		i++;
		while (isdigit((unsigned char)s[i]))
			i++;
	}
	if (i == 0)
		return 0;
	*ret = strtod(s, &end);
	return (size_t)(end - s) == i ? i : 0;
}

int kwg_duration_parse(const char *s, int64_t *ret_ms)
{
	double total = 0, v;
	int sign = 1;
	bool in_time = false, any = false;
	size_t n;

	if (!s || !*s)
		return -EINVAL;
	/* A plain number of seconds, as Kestra's DurationDeserializer accepts. */
	n = read_number(s, &v);
	if (n > 0 && s[n] == '\0') {
		total = v * 1000.0;
		goto done;
	}
	if (*s == '-' || *s == '+')
		sign = *s++ == '-' ? -1 : 1;
	if (toupper((unsigned char)*s++) != 'P')
		return -EINVAL;
	while (*s) {
		if (toupper((unsigned char)*s) == 'T') {
			if (in_time)
				return -EINVAL;
			in_time = true;
			s++;
			continue;
		}
		n = read_number(s, &v);
		if (n == 0)
			return -EINVAL;
		s += n;
		switch (toupper((unsigned char)*s)) {
		case 'D':
			if (in_time)
				return -EINVAL;
			total += v * 86400000.0;
			break;
		case 'H':
			total += v * 3600000.0;
			break;
		case 'M':
			total += v * 60000.0;
			break;
		case 'S':
			total += v * 1000.0;
			break;
		default:
			return -EINVAL;
		}
		if (!in_time && toupper((unsigned char)*s) != 'D')
			return -EINVAL;
		s++;
		any = true;
	}
	if (!any)
		return -EINVAL;
	total *= sign;
done:
	if (!isfinite(total) || fabs(total) > 9.0e15)
		return -ERANGE;
	*ret_ms = llround(total);
	return 0;
}

void kwg_duration_format_hms(int64_t ms, char buf[32])
{
	if (ms < 0)
		ms = 0;
	(void)snprintf(buf, 32, "%lld:%02lld:%02lld.%03lld", (long long)(ms / 3600000),
	               (long long)(ms / 60000 % 60), (long long)(ms / 1000 % 60),
	               (long long)(ms % 1000));
}

void kwg_duration_format_seconds(int64_t us, char buf[32])
{
	if (us < 0)
		us = 0;
	(void)snprintf(buf, 32, "%lld.%06lld000", (long long)(us / 1000000),
	               (long long)(us % 1000000));
}
