/* SPDX-License-Identifier: Apache-2.0 */
/* The jq filter of templates run in a forked child with a deadline: libjq cannot be interrupted,
 * and a jq program that never ends must not stop the worker's loop (it would stop every task and
 * the heartbeat). The caller waits (the render is synchronous); a program takes microseconds. */
#pragma once
#include <stdint.h>

#include "common/err.h"

/* As kwg_template_jq (template/template.h), in a child killed at deadline_ms: then -EINVAL with
 * err saying so. Results past KWG_TEMPLATE_MAX_OUTPUT are refused (-EMSGSIZE). */
int kwg_jq_in_child(const char *program, const char *input, uint64_t deadline_ms, char **ret,
                    struct kwg_err *err);
