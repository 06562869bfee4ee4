/* SPDX-License-Identifier: Apache-2.0 */
/* The executor's side for `kwg submit`: turns a task definition as a flow author writes it (YAML
 * or JSON) into the WorkerTask Kestra 1.x's executor would emit (kestra-protocol.md §5.2). Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"
#include "common/id.h"
#include "protocol/state.h"
#include "template/yaml.h"

/* Largest definition file accepted. */
#define KWG_TASK_DEF_MAX_BYTES (16u << 20)

struct kwg_task_def_opts {
	bool plain_properties; /* write properties as plain JSON (Kestra ≤ 0.20) instead of 1.x
	                          Property strings */
	int64_t now_us;
};

struct kwg_task_def {
	char task_run_id[KWG_ID_LEN];
	char execution_id[KWG_ID_LEN];
	char *worker_task; /* new: the WorkerTask JSON */
};

/* The text is either a task ({id, type, …}) or {task: {…}, namespace?, flowId?, tenantId?,
 * inputs?, secretInputs?, vars?, outputs?, labels?}. 0, or -EBADMSG with err naming the problem,
 * -EMSGSIZE, -ENOMEM. */
int kwg_task_def_build(const char *text, size_t len, const struct kwg_task_def_opts *opts,
                       struct kwg_task_def *ret, struct kwg_err *err);
void kwg_task_def_done(struct kwg_task_def *def);

/* Parses YAML (a JSON document is YAML too) into JSON text. New string via *ret. Exposed for
 * tests and fuzzing. */
int kwg_yaml_to_json(const char *text, size_t len, char **ret, struct kwg_err *err);

/* The same task as Kestra 2.x's executor queues it (kestra-2x-queue.md §2.2): the WorkerJobEvent
 * {"job": {type, taskRun, task, data {variables, secretInputs, traceParent}}} made from a
 * WorkerTask that kwg_task_def_build returned. New string in *ret; 0, -EBADMSG, -ENOMEM. */
int kwg_task_def_to_gen2(const char *worker_task, char **ret);

/* A message `kwg submit` follows, read for printing. */
struct kwg_followed {
	bool is_result;       /* a WorkerTaskResult */
	enum kwg_state state; /* its task run's current state */
	char *text;           /* new: one human-readable line (several for multi-line logs) */
};
/* type_label is the queue_type label. 0 and *ret; 1 for a LogEntry or MetricEntry of another task
 * run than task_run_id (nothing to print); -EBADMSG when value is not the expected message, or
 * -ENOMEM. */
int kwg_task_def_follow(const char *type_label, const char *value, const char *task_run_id,
                        struct kwg_followed *ret);
