/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/worker_job.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "protocol/duration.h"
#include "protocol/json.h"

struct kwg_job {
	json_t *root; /* owned: the whole WorkerJob (2.x: the job inside the WorkerJobEvent) */
	json_t *run_context; /* owned, 2.x only: {variables, secretInputs} rebuilt from data */
	json_t *outputs;     /* owned, 2.x only: the final result's outputs (NULL before) */
	int gen;             /* 1 or 2: the Kestra generation the job came from */
	json_t *task_run;    /* borrowed from root */
	json_t *task;        /* borrowed from root; NULL when broken */
	enum kwg_job_kind kind;
	bool broken;
	char error[512];
	int attempts_at_claim;
	/* Borrowed from root. */
	const char *task_run_id, *execution_id, *tenant_id, *namespace_, *flow_id, *task_id;
	const char *task_type, *execution_kind;
};

/* Keys are VARCHAR(250) in queues and worker_job_running. */
#define KEY_MAX 250

static int decode_state(json_t *state, const char *path, struct kwg_err *err)
{
	const char *current;
	json_t *histories, *h;
	size_t i;
	int r;

	if (!json_is_object(state))
		return kwg_err_set(err, -EBADMSG, "%s: expected an object", path);
	r = kwg_json_get_str(state, "current", path, true, &current, err);
	if (r < 0)
		return r;
	histories = json_object_get(state, "histories");
	if (histories && !json_is_null(histories)) {
		if (!json_is_array(histories))
			return kwg_err_set(err, -EBADMSG, "%s.histories: expected an array", path);
		json_array_foreach (histories, i, h) {
			const char *date;
			int64_t us;
			if (!json_is_object(h) ||
			    kwg_json_get_str(h, "date", "", true, &date, NULL) < 0 ||
			    kwg_clock_parse_instant(date, &us) < 0)
				return kwg_err_set(err, -EBADMSG,
				                   "%s.histories[%zu]: expected {state, date}",
				                   path, i);
		}
	}
	return 0;
}

static int decode_task_run(struct kwg_job *job, struct kwg_err *err, const char *top)
{
	char path[16], state_path[24];
	json_t *attempts;
	int r;

	(void)snprintf(path, sizeof(path), "%s.taskRun", top);
	(void)snprintf(state_path, sizeof(state_path), "%s.state", path);
	r = kwg_json_get_obj(job->root, "taskRun", top, true, &job->task_run, err);
	if (r < 0)
		return r;
	r = kwg_json_get_str(job->task_run, "id", path, true, &job->task_run_id, err);
	if (r >= 0 && (strlen(job->task_run_id) == 0 || strlen(job->task_run_id) > KEY_MAX))
		r = kwg_err_set(err, -EBADMSG, "%s.id: must have 1 to %d characters", path,
		                KEY_MAX);
	if (r >= 0)
		r = kwg_json_get_str(job->task_run, "executionId", path, true, &job->execution_id,
		                     err);
	if (r >= 0)
		r = kwg_json_get_str(job->task_run, "namespace", path, true, &job->namespace_, err);
	if (r >= 0)
		r = kwg_json_get_str(job->task_run, "flowId", path, true, &job->flow_id, err);
	if (r >= 0)
		r = kwg_json_get_str(job->task_run, "taskId", path, true, &job->task_id, err);
	if (r >= 0)
		r = kwg_json_get_str(job->task_run, "tenantId", path, false, &job->tenant_id, err);
	if (r >= 0)
		r = decode_state(json_object_get(job->task_run, "state"), state_path, err);
	if (r < 0)
		return r;
	attempts = json_object_get(job->task_run, "attempts");
	if (attempts && !json_is_null(attempts) && !json_is_array(attempts))
		return kwg_err_set(err, -EBADMSG, "%s.attempts: expected an array", path);
	job->attempts_at_claim = json_is_array(attempts) ? (int)json_array_size(attempts) : 0;
	return 0;
}

/* The worker's environment variables with Kestra's default env-vars prefix (ENV_), prefix
 * stripped and lower-cased, as Kestra 2.x's worker rebuilds `envs` (kestra-2x-protocol.md §3.3). */
extern char **environ;
static json_t *worker_envs(void)
{
	json_t *envs = json_object();

	for (char **e = environ; envs && e && *e; e++) {
		const char *eq = strchr(*e, '=');
		char name[256];
		size_t n;
		if (strncmp(*e, "ENV_", 4) != 0 || !eq || eq - *e <= 4 ||
		    (size_t)(eq - *e - 4) >= sizeof(name))
			continue;
		n = (size_t)(eq - *e - 4);
		for (size_t i = 0; i < n; i++)
			name[i] = (char)((*e)[4 + i] >= 'A' && (*e)[4 + i] <= 'Z' ? (*e)[4 + i] + 32
			                                                          : (*e)[4 + i]);
		name[n] = '\0';
		(void)json_object_set_new(envs, name, json_string(eq + 1));
	}
	return envs;
}

/* KESTRA 2.x: WorkerTaskData {variables, secretInputs, traceParent}; the worker re-adds what the
 * executor left out of variables (RunContextInitializer.forWorker): task and taskrun (done for
 * both generations in task_render.c), envs, globals (none configured: {}), kestra ({}: kwg knows
 * neither kestra.environment.name nor kestra.url). taskrun.startDate comes from the task run. */
static int decode_data2(struct kwg_job *job, struct kwg_err *err)
{
	json_t *data, *vars, *secret, *out, *first, *taskrun;
	int r;

	r = kwg_json_get_obj(job->root, "data", "$.job", true, &data, err);
	if (r >= 0)
		r = kwg_json_get_obj(data, "variables", "$.job.data", false, &vars, err);
	if (r < 0)
		return r;
	secret = json_object_get(data, "secretInputs");
	if (secret && !json_is_null(secret) && !json_is_array(secret))
		return kwg_err_set(err, -EBADMSG, "$.job.data.secretInputs: expected an array");
	out = vars ? json_copy(vars) : json_object();
	if (!out)
		return -ENOMEM;
	(void)json_object_set_new(out, "envs", worker_envs());
	(void)json_object_set_new(out, "globals", json_object());
	(void)json_object_set_new(out, "kestra", json_object());
	first = json_array_get(
	    json_object_get(json_object_get(job->task_run, "state"), "histories"), 0);
	taskrun = json_pack("{s:i}", "attemptsCount", 0);
	if (taskrun && json_object_get(first, "date"))
		(void)json_object_set(taskrun, "startDate", json_object_get(first, "date"));
	(void)json_object_set_new(out, "taskrun", taskrun);
	job->run_context = json_pack("{s:o, s:O}", "variables", out, "secretInputs",
	                             json_is_array(secret) ? secret : json_null());
	return job->run_context ? 0 : -ENOMEM;
}

static int decode_rest(struct kwg_job *job, struct kwg_err *err)
{
	json_t *run_context, *task;
	int r;

	const char *top = job->gen == 2 ? "$.job" : "$";
	const char *task_path = job->gen == 2 ? "$.job.task" : "$.task";

	r = kwg_json_get_str(job->root, "executionKind", top, false, &job->execution_kind, err);
	if (r < 0)
		return r;
	r = kwg_json_get_obj(job->root, "task", top, true, &task, err);
	if (r < 0)
		return r;
	r = kwg_json_get_str(task, "id", task_path, true, &job->task_id, err);
	if (r >= 0)
		r = kwg_json_get_str(task, "type", task_path, true, &job->task_type, err);
	if (r >= 0 && job->gen == 2)
		r = decode_data2(job, err);
	if (r >= 0 && job->gen == 1)
		r = kwg_json_get_obj(job->root, "runContext", "$", true, &run_context, err);
	if (r >= 0 && job->gen == 1)
		r = kwg_json_get_obj(run_context, "variables", "$.runContext", false, &run_context,
		                     err);
	if (r < 0) {
		job->task_type = NULL;
		return r;
	}
	job->task = task;
	return 0;
}

static int job_decode(const char *data, size_t len, bool bare2, struct kwg_job **ret,
                      struct kwg_err *err)
{
	struct kwg_job *job;
	const char *type;
	int r;

	*ret = NULL;
	job = calloc(1, sizeof(*job));
	if (!job)
		return -ENOMEM;
	job->gen = bare2 ? 2 : 1;
	r = kwg_json_parse(data, len, KWG_JOB_MAX_BYTES, &job->root, err);
	if (r >= 0 && !json_is_object(job->root))
		r = kwg_err_set(err, -EBADMSG, "$: expected an object");
	/* KESTRA 2.x: a WorkerJobEvent {job, workerQueueId?} wraps the job (kestra-2x-queue.md
	 * §2.2); 1.x's WorkerJob has its members at the top. */
	if (r >= 0 && !bare2 && json_object_get(job->root, "job") &&
	    !json_object_get(job->root, "taskRun")) {
		json_t *inner = json_object_get(job->root, "job");
		if (!json_is_object(inner)) {
			r = kwg_err_set(err, -EBADMSG, "$.job: expected an object");
		} else {
			json_incref(inner);
			json_decref(job->root);
			job->root = inner;
			job->gen = 2;
		}
	}
	if (r >= 0)
		r = kwg_json_get_str(job->root, "type", job->gen == 2 ? "$.job" : "$", false, &type,
		                     err);
	if (r < 0)
		goto fail;
	/* KESTRA: WorkerJob.java, a missing type means a WorkerTask. */
	if (!type || strcmp(type, "task") == 0) {
		job->kind = KWG_JOB_TASK;
	} else if (strcmp(type, "trigger") == 0) {
		job->kind = KWG_JOB_TRIGGER;
		*ret = job;
		return 0;
	} else {
		r = kwg_err_set(err, -EBADMSG, "%s.type: unknown job type '%.64s'",
		                job->gen == 2 ? "$.job" : "$", type);
		goto fail;
	}
	r = decode_task_run(job, err, job->gen == 2 ? "$.job" : "$");
	if (r < 0)
		goto fail;
	r = decode_rest(job, err);
	if (r < 0) {
		job->broken = true;
		if (err)
			(void)snprintf(job->error, sizeof(job->error), "%s", err->msg);
	}
	*ret = job;
	return r;
fail:
	kwg_job_free(job);
	return r;
}

int kwg_job_decode(const char *data, size_t len, struct kwg_job **ret, struct kwg_err *err)
{
	return job_decode(data, len, false, ret, err);
}

int kwg_job_decode2(const char *data, size_t len, struct kwg_job **ret, struct kwg_err *err)
{
	return job_decode(data, len, true, ret, err);
}

struct kwg_job *kwg_job_free(struct kwg_job *job)
{
	if (job) {
		json_decref(job->root);
		json_decref(job->run_context);
		json_decref(job->outputs);
		free(job);
	}
	return NULL;
}

enum kwg_job_kind kwg_job_kind(const struct kwg_job *job)
{
	return job->kind;
}

bool kwg_job_is_broken(const struct kwg_job *job)
{
	return job->broken;
}

const char *kwg_job_error(const struct kwg_job *job)
{
	return job->error;
}

const char *kwg_job_task_run_id(const struct kwg_job *job)
{
	return job->task_run_id;
}

const char *kwg_job_execution_id(const struct kwg_job *job)
{
	return job->execution_id;
}

const char *kwg_job_tenant_id(const struct kwg_job *job)
{
	return job->tenant_id;
}

const char *kwg_job_task_type(const struct kwg_job *job)
{
	return job->task_type;
}

bool kwg_job_force_execution(const struct kwg_job *job)
{
	return job->task_run && json_is_true(json_object_get(job->task_run, "forceExecution"));
}

static int state_append(json_t *state, enum kwg_state s, int64_t now_us);

char *kwg_task_result_refused(const char *result, int64_t now_us)
{
	json_t *j = json_loads(result, 0, NULL);
	json_t *tr = json_object_get(j, "taskRun");
	json_t *state = json_object_get(tr, "state");
	char *s = NULL;

	/* KESTRA 2.x: the senders resend a refused result FAILED without outputs (§3.4). */
	if (json_is_object(state) && state_append(state, KWG_STATE_FAILED, now_us) == 0 &&
	    json_object_set_new(j, "outputs", json_null()) == 0 &&
	    json_object_set_new(tr, "outputs", json_null()) == 0)
		s = kwg_json_dump(j);
	json_decref(j);
	return s;
}

bool kwg_task_result_is_terminal(const char *result)
{
	json_t *j = json_loads(result, 0, NULL);
	const char *cur = json_string_value(
	    json_object_get(json_object_get(json_object_get(j, "taskRun"), "state"), "current"));
	bool ended = cur && kwg_state_is_terminated(kwg_state_from_name(cur));

	json_decref(j);
	return ended;
}

int kwg_job_generation(const struct kwg_job *job)
{
	return job->gen;
}

bool kwg_job_is_ended(const struct kwg_job *job)
{
	const char *cur = job->task_run ? json_string_value(json_object_get(
	                                      json_object_get(job->task_run, "state"), "current"))
	                                : NULL;

	return cur && kwg_state_is_terminated(kwg_state_from_name(cur));
}

const json_t *kwg_job_run_context(const struct kwg_job *job)
{
	return job->gen == 2 ? job->run_context : json_object_get(job->root, "runContext");
}

json_t *kwg_job_task_json(const struct kwg_job *job)
{
	return job->task;
}

const json_t *kwg_job_root_json(const struct kwg_job *job)
{
	return job->root;
}

void kwg_job_ref(const struct kwg_job *job, struct kwg_taskrun_ref *ret)
{
	*ret = (struct kwg_taskrun_ref){
	    .tenant_id = job->tenant_id,
	    .namespace_ = job->namespace_,
	    .flow_id = job->flow_id,
	    .task_id = job->task_id,
	    .execution_id = job->execution_id,
	    .task_run_id = job->task_run_id,
	    .execution_kind = job->execution_kind,
	    .attempt_number = job->attempts_at_claim,
	};
}

char *kwg_job_running_record(const struct kwg_job *job, const char *worker_id, const char *group)
{
	json_t *rec = json_deep_copy(job->root);
	json_t *instance;
	char *s = NULL;

	if (!rec)
		return NULL;
	/* KESTRA 2.x: WorkerTaskRunning {type, workerInstance {uid, workerQueueId}, taskRun, task,
	 * data}; worker_uid is generated from workerInstance.uid (kestra-2x-queue.md §1.3, §4.4).
	 * The liveness coordinator resubmits to workerQueueId. */
	if (job->gen == 2) {
		instance = json_pack("{s:s}", "uid", worker_id);
		if (instance && group)
			json_object_set_new(instance, "workerQueueId", json_string(group));
		if (instance && json_object_set_new(rec, "workerInstance", instance) == 0) {
			if (!json_object_get(rec, "type"))
				json_object_set_new(rec, "type", json_string("task"));
			s = kwg_json_dump(rec);
		}
		json_decref(rec);
		return s;
	}
	/* KESTRA: WorkerInstance 0.20+; workerUuid is the deprecated alias that the generated
	 * worker_uuid column reads, so it must be there. */
	instance = json_pack("{s:s, s:s}", "uid", worker_id, "workerUuid", worker_id);
	if (instance && group)
		json_object_set_new(instance, "workerGroup", json_string(group));
	if (instance && json_object_set_new(rec, "workerInstance", instance) == 0 &&
	    json_object_set_new(rec, "partition", json_integer(0)) == 0) {
		if (!json_object_get(rec, "type"))
			json_object_set_new(rec, "type", json_string("task"));
		s = kwg_json_dump(rec);
	}
	json_decref(rec);
	return s;
}

static json_t *history_new(enum kwg_state state, int64_t us)
{
	char date[KWG_INSTANT_LEN];

	kwg_clock_format_instant(us, date);
	return json_pack("{s:s, s:s}", "state", kwg_state_name(state), "date", date);
}

/* Writes the read-only members Kestra computes on output: duration, startDate, endDate. */
static void state_fill_computed(json_t *state, int64_t now_us)
{
	json_t *histories = json_object_get(state, "histories");
	size_t n = json_array_size(histories);
	int64_t first, last;
	const char *current = json_string_value(json_object_get(state, "current"));
	char buf[32], date[KWG_INSTANT_LEN];
	enum kwg_state cur;

	json_object_del(state, "duration");
	json_object_del(state, "startDate");
	json_object_del(state, "endDate");
	if (n == 0 ||
	    kwg_clock_parse_instant(
	        json_string_value(json_object_get(json_array_get(histories, 0), "date")), &first) <
	        0 ||
	    kwg_clock_parse_instant(
	        json_string_value(json_object_get(json_array_get(histories, n - 1), "date")),
	        &last) < 0)
		return;
	if (n == 1)
		last = now_us;
	/* Kestra writes nine decimals (0.307339000); jansson prints the shortest form of the same
	 * number (0.307339). Readers take either, and the executor ignores this member on input. */
	kwg_duration_format_seconds(last - first, buf);
	json_object_set_new(state, "duration", json_real(strtod(buf, NULL)));
	kwg_clock_format_instant(first, date);
	json_object_set_new(state, "startDate", json_string(date));
	cur = current ? kwg_state_from_name(current) : KWG_STATE_UNKNOWN;
	if (kwg_state_is_terminated(cur) || cur == KWG_STATE_PAUSED) {
		kwg_clock_format_instant(last, date);
		json_object_set_new(state, "endDate", json_string(date));
	}
}

static int state_append(json_t *state, enum kwg_state s, int64_t now_us)
{
	json_t *histories = json_object_get(state, "histories");

	if (!json_is_array(histories)) {
		histories = json_array();
		if (!histories || json_object_set_new(state, "histories", histories) < 0)
			return -ENOMEM;
	}
	if (json_array_append_new(histories, history_new(s, now_us)) < 0 ||
	    json_object_set_new(state, "current", json_string(kwg_state_name(s))) < 0)
		return -ENOMEM;
	state_fill_computed(state, now_us);
	return 0;
}

static json_t *attempts_array(struct kwg_job *job)
{
	json_t *attempts = json_object_get(job->task_run, "attempts");

	if (!json_is_array(attempts)) {
		attempts = json_array();
		if (json_object_set_new(job->task_run, "attempts", attempts) < 0)
			return NULL;
	}
	return attempts;
}

static char *result_dump(struct kwg_job *job)
{
	json_t *result;
	char *s;

	/* KESTRA: TaskRun.outputs is always written, null included. */
	if (!json_object_get(job->task_run, "outputs"))
		json_object_set_new(job->task_run, "outputs", json_null());
	/* KESTRA 2.x: WorkerTaskResult {taskRun, dynamicTaskRuns, outputs}: the outputs beside the
	 * task run (always written, null until the end), taskRun.outputs null
	 * (kestra-2x-protocol.md §3.4). */
	if (job->gen == 2)
		result = json_pack("{s:O, s:[], s:O}", "taskRun", job->task_run, "dynamicTaskRuns",
		                   "outputs", job->outputs ? job->outputs : json_null());
	else
		result = json_pack("{s:O, s:[]}", "taskRun", job->task_run, "dynamicTaskRuns");
	if (!result)
		return NULL;
	s = kwg_json_dump(result);
	json_decref(result);
	return s;
}

static json_t *attempt_new(const char *worker_id)
{
	json_t *attempt = json_pack("{s:{s:s, s:[]}}", "state", "current", "CREATED", "histories");

	if (attempt && worker_id)
		json_object_set_new(attempt, "workerId", json_string(worker_id));
	return attempt;
}

char *kwg_job_result_running(struct kwg_job *job, const char *worker_id, int64_t now_us)
{
	json_t *attempts = attempts_array(job);
	json_t *attempt = attempt_new(worker_id);
	json_t *astate = json_object_get(attempt, "state");

	/* KESTRA: an attempt starts as a fresh State (CREATED) moved at once to RUNNING. */
	if (!attempts || !attempt || state_append(astate, KWG_STATE_CREATED, now_us) < 0 ||
	    state_append(astate, KWG_STATE_RUNNING, now_us) < 0 ||
	    json_array_append_new(attempts, attempt) < 0) {
		json_decref(attempt);
		return NULL;
	}
	if (state_append(json_object_get(job->task_run, "state"), KWG_STATE_RUNNING, now_us) < 0)
		return NULL;
	return result_dump(job);
}

static int set_outputs(struct kwg_job *job, const char *outputs_json)
{
	json_t *outputs = NULL;

	if (outputs_json)
		outputs = json_loads(outputs_json, 0, NULL);
	if (!json_is_object(outputs)) {
		json_decref(outputs);
		outputs = json_object();
	}
	if (job->gen == 2) {
		json_decref(job->outputs);
		job->outputs = outputs;
		return 0;
	}
	return json_object_set_new(job->task_run, "outputs", outputs) < 0 ? -ENOMEM : 0;
}

char *kwg_job_result_final(struct kwg_job *job, enum kwg_state attempt_state,
                           enum kwg_state run_state, const char *outputs_json, int64_t now_us)
{
	json_t *attempts = attempts_array(job);
	json_t *attempt = json_array_get(attempts, json_array_size(attempts) - 1);

	/* KESTRA: Worker.run takes the last attempt's state, applies §6.3 to it and writes the
	 * result with taskRun.withState(state): the attempt itself is left as it ended. */
	if (!attempt ||
	    state_append(json_object_get(attempt, "state"), attempt_state, now_us) < 0 ||
	    state_append(json_object_get(job->task_run, "state"), run_state, now_us) < 0 ||
	    set_outputs(job, outputs_json) < 0)
		return NULL;
	return result_dump(job);
}

char *kwg_job_result_fail(struct kwg_job *job, enum kwg_state state, const char *worker_id,
                          int64_t now_us)
{
	json_t *attempts = attempts_array(job);
	json_t *attempt = attempt_new(worker_id);

	/* KESTRA: TaskRun.fail(): an attempt whose state is just the failed one. */
	if (!attempts || !attempt) {
		json_decref(attempt);
		return NULL;
	}
	json_array_clear(json_object_get(json_object_get(attempt, "state"), "histories"));
	if (state_append(json_object_get(attempt, "state"), state, now_us) < 0 ||
	    json_array_append_new(attempts, attempt) < 0) {
		json_decref(attempt);
		return NULL;
	}
	if (state_append(json_object_get(job->task_run, "state"), state, now_us) < 0)
		return NULL;
	return result_dump(job);
}

char *kwg_job_result_killed(struct kwg_job *job, int64_t now_us)
{
	if (state_append(json_object_get(job->task_run, "state"), KWG_STATE_KILLED, now_us) < 0)
		return NULL;
	return result_dump(job);
}

/* KESTRA 2.x: WorkerTriggerResult {id: TriggerId, type, evaluation, dispatchEpoch}; the
 * WorkerTrigger has {trigger, data {tenantId, namespace, flowId}, dispatchEpoch}
 * (kestra-2x-protocol.md §3.3, §3.4). evaluation null: nothing was evaluated. */
/* A trigger result's key and value handed out (steals key and result; result NULL: no memory). */
static int trigger_result_out(struct kwg_buf *key, json_t *result, char **ret_key, char **ret_value)
{
	char *value = result ? kwg_json_dump(result) : NULL;

	json_decref(result);
	if (!value) {
		kwg_buf_done(key);
		return -ENOMEM;
	}
	*ret_key = kwg_buf_steal(key);
	*ret_value = value;
	return *ret_key ? 0 : (free(value), -ENOMEM);
}

static int trigger_failure2(const struct kwg_job *job, char **ret_key, char **ret_value)
{
	json_t *data = json_object_get(job->root, "data");
	json_t *id = json_object();
	const char *parts[4] = {
	    json_string_value(json_object_get(data, "tenantId")),
	    json_string_value(json_object_get(data, "namespace")),
	    json_string_value(json_object_get(data, "flowId")),
	    json_string_value(json_object_get(json_object_get(job->root, "trigger"), "id"))};
	static const char *const names[] = {"tenantId", "namespace", "flowId", "triggerId"};
	struct kwg_buf key;
	json_t *result;

	kwg_buf_init(&key, 1024);
	for (size_t i = 0; i < 4; i++) {
		if (!parts[i])
			continue;
		if (id)
			(void)json_object_set_new(id, names[i], json_string(parts[i]));
		if ((key.len && kwg_buf_putc(&key, '_') < 0) || kwg_buf_puts(&key, parts[i]) < 0)
			break;
	}
	result =
	    id ? json_pack("{s:o, s:s, s:n}", "id", id, "type", "POLLING", "evaluation") : NULL;
	if (result)
		(void)json_object_set(result, "dispatchEpoch",
		                      json_object_get(job->root, "dispatchEpoch") ?: json_null());
	return trigger_result_out(&key, result, ret_key, ret_value);
}

int kwg_job_trigger_failure(const struct kwg_job *job, char **ret_key, char **ret_value)
{
	json_t *ctx = json_object_get(job->root, "triggerContext");
	static const char *const parts[] = {"tenantId", "namespace", "flowId", "triggerId"};
	struct kwg_buf key;
	json_t *result;

	if (job->gen == 2)
		return trigger_failure2(job, ret_key, ret_value);
	/* KESTRA: the trigger uid joins the non-null parts with '_' (QueueService.key). */
	kwg_buf_init(&key, 1024);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		const char *p = json_string_value(json_object_get(ctx, parts[i]));
		if (!p)
			continue;
		if ((key.len && kwg_buf_putc(&key, '_') < 0) || kwg_buf_puts(&key, p) < 0)
			break;
	}
	result = json_object();
	if (result) {
		json_object_set(result, "triggerContext", ctx ? ctx : json_null());
		json_object_set(result, "trigger",
		                json_object_get(job->root, "trigger") ?: json_null());
	}
	return trigger_result_out(&key, result, ret_key, ret_value);
}

/* A Duration member: a number of seconds or ISO-8601 text. -1 when absent or invalid. */
static int64_t duration_ms(const json_t *v)
{
	int64_t ms;

	if (json_is_number(v))
		return llround(json_number_value(v) * 1000.0);
	if (json_is_string(v) && kwg_duration_parse(json_string_value(v), &ms) == 0)
		return ms;
	return -1;
}

static int64_t history_date(const json_t *attempt, bool last)
{
	json_t *h = json_object_get(json_object_get(attempt, "state"), "histories");
	size_t n = json_array_size(h);
	int64_t us = 0;

	if (n)
		(void)kwg_clock_parse_instant(
		    json_string_value(json_object_get(json_array_get(h, last ? n - 1 : 0), "date")),
		    &us);
	return us;
}

/* KESTRA: TaskRun.nextRetryDate and the AbstractRetry subclasses (1.0). */
static bool retry_would_schedule(const json_t *retry, const json_t *attempts, int64_t now_us)
{
	const char *type = json_string_value(json_object_get(retry, "type"));
	json_t *max = json_object_get(retry, "maxAttempts") ?: json_object_get(retry, "maxAttempt");
	size_t n = json_array_size(attempts);
	int64_t interval = -1, max_duration, next_us, first_us;

	if (n == 0 || !type)
		return false;
	if (json_is_integer(max) && (json_int_t)n >= json_integer_value(max))
		return false;
	if (strcmp(type, "constant") == 0) {
		interval = duration_ms(json_object_get(retry, "interval"));
	} else if (strcmp(type, "exponential") == 0) {
		int64_t base = duration_ms(json_object_get(retry, "interval"));
		int64_t cap = duration_ms(json_object_get(retry, "maxInterval"));
		json_t *factor = json_object_get(retry, "delayFactor");
		double f = json_is_number(factor) ? json_number_value(factor) : 2.0;
		double v = (double)base * pow(f, (double)n - 1);
		interval = cap >= 0 && v > (double)cap ? cap : (int64_t)v;
	} else if (strcmp(type, "random") == 0) {
		interval = duration_ms(json_object_get(retry, "minInterval"));
	}
	if (interval < 0)
		return false;
	max_duration = duration_ms(json_object_get(retry, "maxDuration"));
	if (max_duration < 0)
		return true;
	next_us = (history_date(json_array_get(attempts, n - 1), true) ?: now_us) + interval * 1000;
	first_us = history_date(json_array_get(attempts, 0), false);
	return next_us <= first_us + max_duration * 1000;
}

static bool truthy(const json_t *v)
{
	/* Core Task booleans are plain, but accept the Property string form too. */
	return json_is_true(v) ||
	       (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0);
}

void kwg_job_state_rules(const struct kwg_job *job, int64_t now_us, struct kwg_state_rules *ret)
{
	json_t *retry = job->task ? json_object_get(job->task, "retry") : NULL;
	json_t *attempts = json_object_get(job->task_run, "attempts");

	*ret = (struct kwg_state_rules){
	    .allow_failure = job->task && truthy(json_object_get(job->task, "allowFailure")),
	    .allow_warning = job->task && truthy(json_object_get(job->task, "allowWarning")),
	    .will_retry = json_is_object(retry) && retry_would_schedule(retry, attempts, now_us),
	    .warning_on_retry_applies = json_is_object(retry) &&
	                                truthy(json_object_get(retry, "warningOnRetry")) &&
	                                json_array_size(attempts) >= 2,
	};
}
