/* SPDX-License-Identifier: Apache-2.0 */
/* LogEntry and the task-run reference shared by LogEntry and MetricEntry (kestra-protocol.md
 * §5.9, §5.10). Pure encoders; JSON text out. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "protocol/state.h"
#include "template/unicode.h"

/* Kestra 1.0 splits log messages longer than this many characters (kestra-protocol.md §5.9). */
#define KWG_LOG_CHUNK_CHARS 15360

/* Which task run a log line or metric belongs to. All strings borrowed; NULL ones are omitted. */
struct kwg_taskrun_ref {
	const char *tenant_id;
	const char *namespace_;
	const char *flow_id;
	const char *task_id;
	const char *execution_id;
	const char *task_run_id;
	const char *execution_kind; /* NULL for normal executions */
	int attempt_number;         /* < 0: written as null */
};

/* Appends the members "tenantId":…,…,"taskRunId":… (no braces, trailing comma included). */
int kwg_taskrun_ref_append(struct kwg_buf *b, const struct kwg_taskrun_ref *ref);

/* Appends one LogEntry JSON object. message: len bytes of valid UTF-8 without NUL. */
int kwg_log_entry_encode(struct kwg_buf *b, const struct kwg_taskrun_ref *ref, int64_t ts_us,
                         enum kwg_level level, const char *thread, const char *message, size_t len);

/* Length in bytes of the longest prefix of s (len bytes, valid UTF-8) holding at most max_chars
 * UTF-16 code units, as Java counts characters; never splits a code point. */
size_t kwg_utf8_prefix_chars(const char *s, size_t len, size_t max_chars);

/* Rewrites s (len bytes) into out as valid UTF-8 without NUL: invalid sequences and NUL become
 * U+FFFD, as Java's decoder does. Appends to out. */
int kwg_utf8_sanitize(struct kwg_buf *out, const char *s, size_t len);
