/* SPDX-License-Identifier: Apache-2.0 */
#include "common/err.h"

#include <stdarg.h>
#include <string.h>

int kwg_err_set(struct kwg_err *err, int r, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return r;
	va_start(ap, fmt);
	(void)vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return r;
}

int kwg_err_prefix(struct kwg_err *err, int r, const char *fmt, ...)
{
	char prefix[256];
	char joined[sizeof(prefix) + sizeof(err->msg) + 2];
	va_list ap;

	if (!err)
		return r;
	va_start(ap, fmt);
	(void)vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	(void)snprintf(joined, sizeof(joined), "%s: %s", prefix, err->msg);
	memcpy(err->msg, joined, sizeof(err->msg) - 1);
	err->msg[sizeof(err->msg) - 1] = '\0';
	return r;
}
