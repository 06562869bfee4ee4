/* SPDX-License-Identifier: Apache-2.0 */
#include "common/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kwg_parse_i64(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

int kwg_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret)
{
	int64_t v;
	int r;

	if (s && *s == '-')
		return -ERANGE;
	r = kwg_parse_i64(s, &v);
	if (r < 0)
		return r;
	if (v < (int64_t)min || v > (int64_t)max)
		return -ERANGE;
	*ret = (uint32_t)v;
	return 0;
}

int kwg_parse_bool(const char *s, bool *ret)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

struct unit {
	const char *suffix;
	uint64_t mult;
};

/* A whole number followed by one of the units' suffixes (exactly). */
static int parse_with_unit(const char *s, const struct unit *units, size_t n, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(end, units[i].suffix) == 0) {
			if (v > UINT64_MAX / units[i].mult)
				return -ERANGE;
			*ret = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int kwg_parse_duration_ms(const char *s, uint64_t *ret)
{
	static const struct unit units[] = {
	    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"", 1}};

	return parse_with_unit(s, units, sizeof(units) / sizeof(units[0]), ret);
}

int kwg_parse_size_bytes(const char *s, uint64_t *ret)
{
	static const struct unit units[] = {{"", 1},
	                                    {"B", 1},
	                                    {"KiB", 1ull << 10},
	                                    {"MiB", 1ull << 20},
	                                    {"GiB", 1ull << 30},
	                                    {"TiB", 1ull << 40}};

	return parse_with_unit(s, units, sizeof(units) / sizeof(units[0]), ret);
}
