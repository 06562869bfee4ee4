/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's State.Type and log levels, with the rules that turn a script's exit into a state
 * (kestra-script-tasks.md §6, kestra-protocol.md §6.3). Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

enum kwg_state {
	KWG_STATE_CREATED,
	KWG_STATE_RUNNING,
	KWG_STATE_PAUSED,
	KWG_STATE_RESTARTED,
	KWG_STATE_KILLING,
	KWG_STATE_SUCCESS,
	KWG_STATE_WARNING,
	KWG_STATE_FAILED,
	KWG_STATE_KILLED,
	KWG_STATE_CANCELLED,
	KWG_STATE_QUEUED,
	KWG_STATE_RETRYING,
	KWG_STATE_RETRIED,
	KWG_STATE_SKIPPED,
	KWG_STATE_BREAKPOINT,
	KWG_STATE_SUBMITTED,
	KWG_STATE_RESUBMITTED,
	KWG_STATE_UNKNOWN, /* a name kwg does not know: kept as text where it was read */
	KWG_STATE__COUNT,
};

/* SLF4J levels, in increasing severity. */
enum kwg_level {
	KWG_LEVEL_TRACE,
	KWG_LEVEL_DEBUG,
	KWG_LEVEL_INFO,
	KWG_LEVEL_WARN,
	KWG_LEVEL_ERROR,
	KWG_LEVEL__COUNT,
};

const char *kwg_state_name(enum kwg_state s);
/* KWG_STATE_UNKNOWN for a name that is not a state. Case-sensitive, as Jackson. */
enum kwg_state kwg_state_from_name(const char *name);
bool kwg_state_is_terminated(enum kwg_state s);

const char *kwg_level_name(enum kwg_level l);
/* 0 and *ret for an exact SLF4J name (ERROR, WARN, INFO, DEBUG, TRACE); -EINVAL otherwise. */
int kwg_level_from_name(const char *name, enum kwg_level *ret);

/* The attempt state of a finished script (§6.1): exit != 0 → FAILED; exit 0 with stderr lines and
 * warning_on_stderr → WARNING; otherwise SUCCESS. */
enum kwg_state kwg_state_of_script(int exit_code, size_t stderr_lines, bool warning_on_stderr);

struct kwg_state_rules {
	bool warning_on_retry_applies; /* retry.warningOnRetry and at least 2 attempts */
	bool allow_failure;
	bool will_retry; /* the retry policy schedules another attempt */
	bool allow_warning;
};
/* The task run's final state from the attempt's (kestra-protocol.md §6.3), in Kestra's order. */
enum kwg_state kwg_state_final(enum kwg_state attempt, const struct kwg_state_rules *rules);
