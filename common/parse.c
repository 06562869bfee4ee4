/* SPDX-License-Identifier: Apache-2.0 */
#include "common/parse.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"

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

int kwg_parse_host_port(const char *s, char **ret_host, char **ret_port, const char **why)
{
	cleanup_free char *h = NULL, *p = NULL;
	const char *host = s, *end, *colon;
	uint32_t port;

	if (ret_host)
		*ret_host = NULL;
	if (ret_port)
		*ret_port = NULL;
	*why = NULL;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (!end)
			*why = "an IPv6 address without its closing ']'";
		else if (end == s + 1)
			*why = "the host is empty";
		else if ((size_t)(end - s - 1) != strspn(s + 1, "0123456789abcdefABCDEF:."))
			*why = "not an IPv6 address between the brackets";
		else if (end[1] != ':')
			*why = "no :PORT after the ']'";
		host = s + 1;
		colon = end ? end + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		end = colon;
		if (!colon)
			*why = "no :PORT";
		else if (colon == s)
			*why = "the host is empty";
		else if (memchr(s, ':', (size_t)(colon - s)))
			*why = "an IPv6 address goes in brackets, as in [::1]:50051";
		else if ((size_t)(colon - s) !=
		         strspn(
		             s,
		             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"))
			*why = "the host is not a name or an address";
	}
	if (!*why &&
	    (!isdigit((unsigned char)colon[1]) || kwg_parse_u32(colon + 1, 1, 65535, &port) < 0))
		*why = "the port is not a number from 1 to 65535";
	if (*why)
		return -EINVAL;
	if (ret_host && !(h = strndup(host, (size_t)(end - host))))
		return -ENOMEM;
	if (ret_port && !(p = strdup(colon + 1)))
		return -ENOMEM;
	if (ret_host)
		*ret_host = steal_ptr(&h);
	if (ret_port)
		*ret_port = steal_ptr(&p);
	return 0;
}
