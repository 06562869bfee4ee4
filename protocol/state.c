/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/state.h"

#include <errno.h>
#include <string.h>

#include "common/compat.h"

static const char *const state_names[KWG_STATE__COUNT] = {
    [KWG_STATE_CREATED] = "CREATED",         [KWG_STATE_RUNNING] = "RUNNING",
    [KWG_STATE_PAUSED] = "PAUSED",           [KWG_STATE_RESTARTED] = "RESTARTED",
    [KWG_STATE_KILLING] = "KILLING",         [KWG_STATE_SUCCESS] = "SUCCESS",
    [KWG_STATE_WARNING] = "WARNING",         [KWG_STATE_FAILED] = "FAILED",
    [KWG_STATE_KILLED] = "KILLED",           [KWG_STATE_CANCELLED] = "CANCELLED",
    [KWG_STATE_QUEUED] = "QUEUED",           [KWG_STATE_RETRYING] = "RETRYING",
    [KWG_STATE_RETRIED] = "RETRIED",         [KWG_STATE_SKIPPED] = "SKIPPED",
    [KWG_STATE_BREAKPOINT] = "BREAKPOINT",   [KWG_STATE_SUBMITTED] = "SUBMITTED",
    [KWG_STATE_RESUBMITTED] = "RESUBMITTED", [KWG_STATE_UNKNOWN] = "UNKNOWN",
};

static const char *const level_names[KWG_LEVEL__COUNT] = {
    [KWG_LEVEL_TRACE] = "TRACE", [KWG_LEVEL_DEBUG] = "DEBUG", [KWG_LEVEL_INFO] = "INFO",
    [KWG_LEVEL_WARN] = "WARN",   [KWG_LEVEL_ERROR] = "ERROR",
};

const char *kwg_state_name(enum kwg_state s)
{
	return s < KWG_STATE__COUNT ? state_names[s] : "UNKNOWN";
}

enum kwg_state kwg_state_from_name(const char *name)
{
	for (size_t i = 0; i < KWG_STATE_UNKNOWN; i++)
		if (strcmp(name, state_names[i]) == 0)
			return (enum kwg_state)i;
	return KWG_STATE_UNKNOWN;
}

bool kwg_state_is_terminated(enum kwg_state s)
{
	switch (s) {
	case KWG_STATE_FAILED:
	case KWG_STATE_WARNING:
	case KWG_STATE_SUCCESS:
	case KWG_STATE_KILLED:
	case KWG_STATE_CANCELLED:
	case KWG_STATE_RETRIED:
	case KWG_STATE_SKIPPED:
		return true;
	default:
		return false;
	}
}

const char *kwg_level_name(enum kwg_level l)
{
	return l < KWG_LEVEL__COUNT ? level_names[l] : "INFO";
}

int kwg_level_from_name(const char *name, enum kwg_level *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*ret = (enum kwg_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum kwg_state kwg_state_of_script(int exit_code, size_t stderr_lines, bool warning_on_stderr)
{
	if (exit_code != 0)
		return KWG_STATE_FAILED;
	if (warning_on_stderr && stderr_lines > 0)
		return KWG_STATE_WARNING;
	return KWG_STATE_SUCCESS;
}

enum kwg_state kwg_state_final(enum kwg_state s, const struct kwg_state_rules *rules)
{
	/* KESTRA: Worker.run (1.0), applied in this order. */
	if (rules->warning_on_retry_applies && s == KWG_STATE_SUCCESS)
		s = KWG_STATE_WARNING;
	if (rules->allow_failure && s == KWG_STATE_FAILED && !rules->will_retry)
		s = KWG_STATE_WARNING;
	if (rules->allow_warning && s == KWG_STATE_WARNING)
		s = KWG_STATE_SUCCESS;
	return s;
}
