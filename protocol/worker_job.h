/* SPDX-License-Identifier: Apache-2.0 */
/* WorkerJob decoding and the messages about one job: the worker_job_running record and the
 * WorkerTaskResults (kestra-protocol.md §5.1-§5.8, §6). struct kwg_job owns the decoded JSON and
 * appends to its task run's state and attempts as the job moves on, so results always carry the
 * histories as received plus what kwg added. Pure. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "protocol/log_entry.h"
#include "protocol/state.h"

struct kwg_job;

enum kwg_job_kind {
	KWG_JOB_TASK,
	KWG_JOB_TRIGGER,
};

/* Largest WorkerJob kwg decodes. */
#define KWG_JOB_MAX_BYTES (64u << 20)

/* Decodes one queue value: a Kestra 1.x WorkerJob, or a Kestra 2.x WorkerJobEvent {"job": {…}}
 * (kestra-2x-protocol.md §3.3: `data.variables` instead of the run context; the variables the
 * worker rebuilds are added). The results and the worker_job_running record then take the shape
 * of the job's generation. Returns:
 *  0 and *ret: a well-formed WorkerTask or WorkerTrigger;
 *  -EBADMSG and *ret: the task run can be identified but the rest is malformed (err says where):
 *     the job can only be failed (kwg_job_result_fail);
 *  -EBADMSG and *ret == NULL: not even the task run can be read (err says why);
 *  -EMSGSIZE (too large, *ret NULL), -ENOMEM. */
int kwg_job_decode(const char *data, size_t len, struct kwg_job **ret, struct kwg_err *err);
/* The same for a bare Kestra 2.x WorkerJob (the worker controller's jobData, kestra-2x-protocol.md
 * §3.3): always read as 2.x, with no {"job": …} around it (error paths still say $.job). */
int kwg_job_decode2(const char *data, size_t len, struct kwg_job **ret, struct kwg_err *err);
/* Accepts NULL. Returns NULL. */
struct kwg_job *kwg_job_free(struct kwg_job *job);

enum kwg_job_kind kwg_job_kind(const struct kwg_job *job);
/* 1 (Kestra 1.x WorkerJob) or 2 (Kestra 2.x WorkerJobEvent). */
int kwg_job_generation(const struct kwg_job *job);
/* A WorkerTaskResult the controller refused as too large (RESOURCE_EXHAUSTED), again: the task
 * run FAILED (appended to its histories), outputs null. New string; NULL when result is not a
 * WorkerTaskResult or on OOM. */
char *kwg_task_result_refused(const char *result, int64_t now_us);
/* A WorkerTaskResult (JSON) whose task run's current state is terminal. */
bool kwg_task_result_is_terminal(const char *result);
/* The task run's current state is terminal (a final result was made). */
bool kwg_job_is_ended(const struct kwg_job *job);
bool kwg_job_is_broken(const struct kwg_job *job);
/* Why a broken job is broken ("" otherwise). Borrowed. */
const char *kwg_job_error(const struct kwg_job *job);
/* Borrowed strings, valid for the job's life. task_type is NULL when broken. */
const char *kwg_job_task_run_id(const struct kwg_job *job);
const char *kwg_job_execution_id(const struct kwg_job *job);
const char *kwg_job_tenant_id(const struct kwg_job *job);
const char *kwg_job_task_type(const struct kwg_job *job);
bool kwg_job_force_execution(const struct kwg_job *job);
/* The reference LogEntry and MetricEntry rows carry (attempt number = attempts at claim time). */
void kwg_job_ref(const struct kwg_job *job, struct kwg_taskrun_ref *ret);

/* The worker_job_running value: the job plus workerInstance and partition (§5.8); 2.x: the job
 * plus workerInstance {uid, workerQueueId = group} (kestra-2x-queue.md §4.4). group may be
 * NULL. New string; NULL on OOM. */
char *kwg_job_running_record(const struct kwg_job *job, const char *worker_id, const char *group);

/* Moves the task run to RUNNING and appends a new attempt {CREATED→RUNNING, workerId}; returns
 * WorkerTaskResult #1 (§6.1 step 4). New string; NULL on OOM. */
char *kwg_job_result_running(struct kwg_job *job, const char *worker_id, int64_t now_us);
/* Appends attempt_state to the running attempt and run_state to the task run, sets outputs
 * (outputs_json, or {} when NULL; invalid text is treated as {}); returns the final
 * WorkerTaskResult. The two states differ when §6.3 (allowFailure, allowWarning, warningOnRetry)
 * rewrote the task run's: the attempt keeps the state it really ended in, as Kestra's worker
 * applies those rules to the task run only. Requires kwg_job_result_running first. */
char *kwg_job_result_final(struct kwg_job *job, enum kwg_state attempt_state,
                           enum kwg_state run_state, const char *outputs_json, int64_t now_us);
/* For a job that cannot run (malformed, unknown type, unsupported property): adds an attempt
 * whose state is just `state`, appends `state` to the task run (§6.5); returns the result. */
char *kwg_job_result_fail(struct kwg_job *job, enum kwg_state state, const char *worker_id,
                          int64_t now_us);
/* For a job of an already killed execution: KILLED appended to the task run, no attempt (§5.S.5
 * step 2). */
char *kwg_job_result_killed(struct kwg_job *job, int64_t now_us);
/* For a trigger job kwg cannot evaluate: a WorkerTriggerResult without execution (2.x: with
 * evaluation null and the job's dispatchEpoch), and its key (the trigger uid). Both new;
 * -ENOMEM. */
int kwg_job_trigger_failure(const struct kwg_job *job, char **ret_key, char **ret_value);

/* The §6.3 inputs read from the task's core properties (allowFailure, allowWarning, retry), for
 * the attempt kwg added; now_us is the attempt's end. */
void kwg_job_state_rules(const struct kwg_job *job, int64_t now_us, struct kwg_state_rules *ret);

/* Internal to protocol/: the decoded task object (borrowed), for script_task.c. */
struct json_t;
struct json_t *kwg_job_task_json(const struct kwg_job *job);
/* Internal to protocol/: the run context {variables, secretInputs} (1.x: as received; 2.x:
 * rebuilt from data), borrowed; NULL when absent. */
const struct json_t *kwg_job_run_context(const struct kwg_job *job);
/* Internal to protocol/: the whole decoded WorkerTask (borrowed), for task_render.c. */
const struct json_t *kwg_job_root_json(const struct kwg_job *job);
