/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/log_entry.h"

#include <string.h>

#include "common/clock.h"
#include "protocol/json.h"

static int append_member(struct kwg_buf *b, const char *name, const char *value)
{
	int r;

	if (!value)
		return 0;
	r = kwg_buf_printf(b, "\"%s\":", name);
	if (r >= 0)
		r = kwg_json_escape(b, value, strlen(value));
	if (r >= 0)
		r = kwg_buf_putc(b, ',');
	return r;
}

int kwg_taskrun_ref_append(struct kwg_buf *b, const struct kwg_taskrun_ref *ref)
{
	int r = 0;

	r = r < 0 ? r : append_member(b, "tenantId", ref->tenant_id);
	r = r < 0 ? r : append_member(b, "namespace", ref->namespace_);
	r = r < 0 ? r : append_member(b, "flowId", ref->flow_id);
	r = r < 0 ? r : append_member(b, "taskId", ref->task_id);
	r = r < 0 ? r : append_member(b, "executionId", ref->execution_id);
	r = r < 0 ? r : append_member(b, "taskRunId", ref->task_run_id);
	r = r < 0 ? r : append_member(b, "executionKind", ref->execution_kind);
	return r;
}

int kwg_log_entry_encode(struct kwg_buf *b, const struct kwg_taskrun_ref *ref, int64_t ts_us,
                         enum kwg_level level, const char *thread, const char *message, size_t len)
{
	char ts[KWG_INSTANT_LEN];
	int r;

	kwg_clock_format_instant(ts_us, ts);
	r = kwg_buf_putc(b, '{');
	if (r >= 0)
		r = kwg_taskrun_ref_append(b, ref);
	if (r >= 0) {
		/* KESTRA: LogEntry always writes attemptNumber, null included. */
		if (ref->attempt_number >= 0)
			r = kwg_buf_printf(b, "\"attemptNumber\":%d,", ref->attempt_number);
		else
			r = kwg_buf_puts(b, "\"attemptNumber\":null,");
	}
	if (r >= 0)
		r = kwg_buf_printf(b, "\"timestamp\":\"%s\",\"level\":\"%s\",", ts,
		                   kwg_level_name(level));
	if (r >= 0)
		r = append_member(b, "thread", thread);
	if (r >= 0)
		r = kwg_buf_puts(b, "\"message\":");
	if (r >= 0)
		r = kwg_json_escape(b, message, len);
	if (r >= 0)
		r = kwg_buf_puts(b, ",\"deleted\":false}");
	return r;
}

/* Length of the UTF-8 sequence starting at s[0] if valid (1-4), else 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t len)
{
	unsigned char c = s[0];
	size_t n;
	unsigned cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

size_t kwg_utf8_prefix_chars(const char *s, size_t len, size_t max_chars)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, chars = 0;

	while (i < len) {
		size_t n = utf8_seq_len(u + i, len - i);
		size_t units = n == 4 ? 2 : 1; /* a supplementary character is a surrogate pair */

		if (n == 0)
			n = 1;
		if (chars + units > max_chars)
			break;
		chars += units;
		i += n;
	}
	return i;
}

int kwg_utf8_sanitize(struct kwg_buf *out, const char *s, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, start = 0;
	int r = 0;

	while (i < len) {
		size_t n = u[i] ? utf8_seq_len(u + i, len - i) : 0;

		if (n > 0) {
			i += n;
			continue;
		}
		r = kwg_buf_append(out, s + start, i - start);
		if (r >= 0)
			r = kwg_buf_append(out, replacement, 3);
		if (r < 0)
			return r;
		i++;
		start = i;
	}
	return kwg_buf_append(out, s + start, len - start);
}
