/* SPDX-License-Identifier: Apache-2.0 */
/* struct kwg_err: a fixed-size error message, filled only on failure, where the caller needs
 * context (configuration, protocol decoding, sandbox specs). */
#pragma once
#include "common/compat.h"

struct kwg_err {
	char msg[512];
};

/* Formats into err (when not NULL) and returns r, so that `return kwg_err_set(err, -EINVAL, …)`. */
int kwg_err_set(struct kwg_err *err, int r, const char *fmt, ...) KWG_PRINTF(3, 4);
