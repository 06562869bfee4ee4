/* SPDX-License-Identifier: Apache-2.0 */
/* The daemon's own log (never task output: that goes to LogEntry rows). Each .c defines
 * KWG_LOG_MODULE before its includes. The level test happens before arguments are evaluated. */
#pragma once
#include <stdbool.h>

#include "common/compat.h"

enum kwg_log_level {
	KWG_LOG_ERROR,
	KWG_LOG_WARNING,
	KWG_LOG_NOTICE,
	KWG_LOG_INFO,
	KWG_LOG_DEBUG,
	KWG_LOG_LEVEL__COUNT,
};

/* The only mutable global besides none: the log settings. */
extern enum kwg_log_level kwg_log_max_level;

/* Latency stamps, on when KWG_TRACE_LATENCY is set in the environment (read once, at the first
 * call): one line on stderr per step of a task's way from the queue to its process,
 * "latency <microseconds since the epoch> <step> <id>" (docs/performance.md). The clock is the
 * wall clock, as the task's own `date +%s%6N` and the database's. step and id are borrowed; id
 * may be NULL. */
#define kwg_log_latency(step, id)                                                                  \
	do {                                                                                       \
		if (kwg_log_latency_on())                                                          \
			kwg_log_latency_write((step), (id));                                       \
	} while (0)
bool kwg_log_latency_on(void);
void kwg_log_latency_write(const char *step, const char *id);

/* Error lines logged since start (for /metrics). */
unsigned long long kwg_log_errors_total(void);

/* Returns 0 and sets *ret; -EINVAL for an unknown name ("error" … "debug", also "warn"). */
int kwg_log_level_parse(const char *name, enum kwg_log_level *ret);

void kwg_log_write(enum kwg_log_level level, const char *module, const char *fmt, ...)
    KWG_PRINTF(3, 4);
/* Logs with ": <strerror(-r)>" appended and returns r (a negative errno). */
int kwg_log_write_errno(enum kwg_log_level level, const char *module, int r, const char *fmt, ...)
    KWG_PRINTF(4, 5);

#ifndef KWG_LOG_MODULE
#define KWG_LOG_MODULE "kwg"
#endif

#define kwg_log(level, ...)                                                                        \
	do {                                                                                       \
		if ((level) <= kwg_log_max_level)                                                  \
			kwg_log_write((level), KWG_LOG_MODULE, __VA_ARGS__);                       \
	} while (0)
#define kwg_log_error(...) kwg_log(KWG_LOG_ERROR, __VA_ARGS__)
#define kwg_log_warning(...) kwg_log(KWG_LOG_WARNING, __VA_ARGS__)
#define kwg_log_notice(...) kwg_log(KWG_LOG_NOTICE, __VA_ARGS__)
#define kwg_log_info(...) kwg_log(KWG_LOG_INFO, __VA_ARGS__)
#define kwg_log_debug(...) kwg_log(KWG_LOG_DEBUG, __VA_ARGS__)
#define kwg_log_errno(level, r, ...)                                                               \
	((level) <= kwg_log_max_level                                                              \
	     ? kwg_log_write_errno((level), KWG_LOG_MODULE, (r), __VA_ARGS__)                      \
	     : (r))
