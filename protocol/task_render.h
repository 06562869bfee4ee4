/* SPDX-License-Identifier: Apache-2.0 */
/* The worker's side of Kestra's rendering (kestra-script-tasks.md §8.1-§8.2, §W, §3.3): the
 * variables map of a WorkerTask (the executor's run-context variables, `task` and `taskrun` set
 * from the job, the runner's `workingDir`), and a rendered copy of the task's properties, each
 * rendered the way Kestra renders it (whole list strings, maps entry by entry, with or without
 * workingDir). Internal to protocol/ (script_task.c). Pure. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "common/strv.h"
#include "protocol/worker_job.h"
#include "template/template.h"

struct kwg_task_render_opts {
	const char *working_dir;                /* absolute; NULL for tasks without one (Log) */
	const struct kwg_template_hooks *hooks; /* may be NULL; its `encrypted` is not used */
	/* Kestra's kestra.encryption.secret-key (base64), which decrypts SECRET inputs; NULL: none,
	 * and a task that uses one fails naming the input and encryption_secret_key. */
	const char *encryption_key;
	/* How errors name encryption_key (e.g. the key a 2.x controller pushed); NULL:
	 * "encryption_secret_key", the setting. */
	const char *encryption_key_name;
	int64_t now_us;
	bool render_script_twice; /* Python/Node Script: the body is rendered again as an input
	                             file (§8.6, kept on purpose) */
};

/* A deep copy of the job's task with every rendered property rendered (properties Kestra does
 * not render are copied as they are). *ret_masks gets the values of SECRET-type inputs
 * (runContext.secretInputs) for log masking, and the plaintext of every encrypted input
 * (kwg_template_is_encrypted, anywhere under `inputs`) a template used: such an input renders
 * as its plaintext. 0 and *ret (new); -EINVAL/-EBADMSG/-EOPNOTSUPP with
 * err naming the property and the template's error; -ENOMEM. */
int kwg_task_render(const struct kwg_job *job, const struct kwg_task_render_opts *opts,
                    json_t **ret, struct kwg_strv *ret_masks, struct kwg_err *err);

/* Renders one template string with the job's variables (the run context's, with `task` and
 * `taskrun` from the job; no hooks), as the executor renders workerGroup.key. 0 and *ret (new);
 * the template's errors (kwg_template_render) with err; -ENOMEM. */
int kwg_task_render_string(const struct kwg_job *job, const char *tmpl, int64_t now_us, char **ret,
                           struct kwg_err *err);
