/* SPDX-License-Identifier: Apache-2.0 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum kwg_log_level kwg_log_max_level = KWG_LOG_INFO;
static unsigned long long errors_total;

unsigned long long kwg_log_errors_total(void)
{
	return errors_total;
}

static const char *const level_names[KWG_LOG_LEVEL__COUNT] = {
    [KWG_LOG_ERROR] = "error", [KWG_LOG_WARNING] = "warning", [KWG_LOG_NOTICE] = "notice",
    [KWG_LOG_INFO] = "info",   [KWG_LOG_DEBUG] = "debug",
};
static const char level_letters[KWG_LOG_LEVEL__COUNT] = "EWNID";

int kwg_log_level_parse(const char *name, enum kwg_log_level *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(name, level_names[i]) == 0) {
			*ret = (enum kwg_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(name, "warn") == 0) {
		*ret = KWG_LOG_WARNING;
		return 0;
	}
	return -EINVAL;
}

static void log_vwrite(enum kwg_log_level level, const char *module, const char *suffix,
                       const char *fmt, va_list ap) KWG_PRINTF(4, 0);
static void log_vwrite(enum kwg_log_level level, const char *module, const char *suffix,
                       const char *fmt, va_list ap)
{
	char msg[2048];
	char ts[32];
	struct timespec now;
	struct tm tm;

	if (level == KWG_LOG_ERROR)
		errors_total++;
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	(void)clock_gettime(CLOCK_REALTIME, &now);
	(void)gmtime_r(&now.tv_sec, &tm);
	(void)strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf per line keeps lines whole when several processes share stderr. */
	fprintf(stderr, "%s.%03ldZ %c %s: %s%s\n", ts, now.tv_nsec / 1000000L, level_letters[level],
	        module, msg, suffix ? suffix : "");
}

void kwg_log_write(enum kwg_log_level level, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(level, module, NULL, fmt, ap);
	va_end(ap);
}

int kwg_log_write_errno(enum kwg_log_level level, const char *module, int r, const char *fmt, ...)
{
	char suffix[160];
	va_list ap;

	(void)snprintf(suffix, sizeof(suffix), ": %s", strerror(r < 0 ? -r : r));
	va_start(ap, fmt);
	log_vwrite(level, module, suffix, fmt, ap);
	va_end(ap);
	return r;
}

/* -1 until the first call reads the environment. */
static int latency_on = -1;

bool kwg_log_latency_on(void)
{
	if (latency_on < 0)
		latency_on = getenv("KWG_TRACE_LATENCY") != NULL;
	return latency_on;
}

void kwg_log_latency_write(const char *step, const char *id)
{
	struct timespec now;

	(void)clock_gettime(CLOCK_REALTIME, &now);
	fprintf(stderr, "latency %lld %s %s\n",
	        (long long)now.tv_sec * 1000000 + now.tv_nsec / 1000, step, id ? id : "-");
}
