/* SPDX-License-Identifier: Apache-2.0 */
/* The "::{...}::" output protocol of script tasks (kestra-script-tasks.md §4): recognises protocol
 * lines, merges outputs into vars, sums metrics, hands out log records. Owns the accumulated vars
 * and metrics of one task run. Pure. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strv.h"
#include "protocol/log_entry.h"
#include "protocol/state.h"

struct kwg_script_output;

/* Receives each entry of a protocol line's "logs" array, in order. message is borrowed. */
typedef void kwg_script_log_fn(void *userdata, enum kwg_level level, const char *message,
                               size_t len);

enum {
	KWG_SCRIPT_LINE_TEXT = 0,    /* not a protocol line: the caller logs it as text */
	KWG_SCRIPT_LINE_APPLIED = 1, /* a protocol line, applied */
	KWG_SCRIPT_LINE_INVALID = 2, /* a protocol line that does not parse: nothing applied */
};

/* 0 and *ret (new), or -ENOMEM. */
int kwg_script_output_new(struct kwg_script_output **ret);
/* Accepts NULL. Returns NULL. */
struct kwg_script_output *kwg_script_output_free(struct kwg_script_output *so);

/* Tests one output line (len bytes, without its terminator, valid UTF-8). Returns
 * KWG_SCRIPT_LINE_TEXT, KWG_SCRIPT_LINE_APPLIED (outputs merged, metrics summed, logs passed to
 * on_log before returning) or KWG_SCRIPT_LINE_INVALID (err holds the parser's message for the
 * WARN "Invalid outputs '<message>'"); -ENOMEM. A line is a protocol line when it matches
 * ^::(\{.*})::$ (Kestra's regex). */
int kwg_script_output_feed(struct kwg_script_output *so, const char *line, size_t len,
                           kwg_script_log_fn *on_log, void *userdata, struct kwg_err *err);

/* The task outputs: {"vars":{…},"exitCode":N,"outputFiles":{name: uri, …}} (vars in merge
 * order, nulls kept; output_files: name, URI pairs, or NULL). New string; NULL on OOM. */
char *kwg_script_output_outputs_json(const struct kwg_script_output *so, int exit_code,
                                     const struct kwg_strv *output_files);

/* Number of distinct metrics (same name, type and tags are summed into one). */
size_t kwg_script_output_metric_count(const struct kwg_script_output *so);
/* MetricEntry JSON for metric i (< count), kestra-protocol.md §5.10. New string; NULL on OOM. */
char *kwg_script_output_metric_json(const struct kwg_script_output *so, size_t i,
                                    const struct kwg_taskrun_ref *ref, int64_t ts_us);
