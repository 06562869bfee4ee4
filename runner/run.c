/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "run"
#include "runner/run.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "common/clock.h"
#include "common/compat.h"
#include "common/id.h"
#include "common/log.h"
#include "protocol/duration.h"
#include "protocol/log_entry.h"
#include "protocol/script_output.h"
#include "runner/cgroup.h"
#include "runner/docker.h"
#include "runner/files.h"
#include "runner/jq.h"
#include "runner/logstream.h"
#include "runner/process.h"
#include "sandbox/env.h"
#include "storage/fetch.h"
#include "storage/kv.h"
#include "storage/read.h"
#include "storage/storage_path.h"

/* A line is buffered up to this size before it is delivered in pieces. */
#define MAX_LINE_BYTES (1u << 20)
/* The thread name LogEntry rows carry (Kestra writes its JVM thread's). */
#define LOG_THREAD "kwg-worker"

enum run_state {
	RUN_STARTING, /* deferred start pending */
	RUN_RUNNING,  /* the process runs */
	RUN_DONE,     /* final result emitted, done called */
};

struct kwg_run {
	struct kwg_run_config cfg;
	struct kwg_run_sink sink;
	void *ctx;
	enum run_state state;
	struct kwg_job *job;
	struct kwg_script_task task;
	bool task_ok;      /* task decoded */
	bool running_sent; /* WorkerTaskResult #1 emitted */
	bool timed_out;
	enum kwg_run_stop stop; /* why the run is being stopped, if it is */
	enum kwg_state final_state;
	size_t log_count;
	uint64_t started_ms, ended_ms;
	struct kwg_err err; /* why the job cannot run */
	int decode_r;
	struct kwg_taskrun_ref ref;
	struct kwg_script_output *out;
	struct kwg_logstream *ls;
	struct kwg_process *proc;
	struct kwg_docker_task *container;
	uv_timer_t timer; /* deferred start, then the task timeout */
	bool timer_closed;
	char *working_dir;
	int status_fd;                /* read end of kwg-exec's status pipe, or -1 */
	char *cg_memory, *cg_pids;    /* this task's cgroups, removed at the end */
	struct kwg_buf scratch;       /* LogEntry encoding */
	struct kwg_buf masked;        /* a log line with its secrets masked */
	struct kwg_strv masks;        /* secret values seen while rendering, SECRET inputs */
	struct kwg_files *files;      /* files being staged in or out */
	char *task_prefix;            /* kestra:// prefix of this task run's outputs */
	struct kwg_strv output_files; /* name, URI pairs uploaded */
	int exit_code;                /* kept while output files are uploaded */
	enum kwg_state attempt_state;
	/* read() and kv() in templates: the task's view of the storage, and its read budget. */
	struct kwg_storage_reader reader;
	/* Remote storage: the objects the templates read, fetched between renders. */
	struct kwg_storage_fetch *fetch;
	bool fetching;    /* a fetch round is under way */
	int fetch_rounds; /* rounds so far */
};

static const char *sandbox_failure(struct kwg_run *run, char *buf, size_t size);
static bool oom_killed(const struct kwg_run *run);
static bool sandboxed(const struct kwg_run *run);
static void stage_out(struct kwg_run *run);
static int hand_working_dir(struct kwg_run *run, bool to_task);
static void render_task(struct kwg_run *run);

static void emit(struct kwg_run *run, enum kwg_queue_type type, const char *key, char *value)
{
	if (!value) {
		/* Out of memory while encoding: the message cannot be built; say so loudly. */
		kwg_log_error("task run '%s': out of memory, a %s message was lost",
		              kwg_job_task_run_id(run->job), kwg_queue_type_label(type));
		return;
	}
	run->sink.emit(run->ctx, type, key, value);
}

/* One task log line, split into Kestra's chunks (timestamp + i ms each). */
static void task_log(struct kwg_run *run, enum kwg_level level, const char *msg, size_t len)
{
	int64_t now = kwg_clock_now_us();
	size_t off = 0;
	int i = 0;

	if (level < run->task.log_level)
		return;
	/* KESTRA: RCLogger masks every secret value before the line leaves the worker. */
	if (kwg_secrets_mask(&run->masks, msg, len, &run->masked)) {
		msg = kwg_buf_str(&run->masked);
		len = run->masked.len;
	}
	do {
		size_t n = kwg_utf8_prefix_chars(msg + off, len - off, KWG_LOG_CHUNK_CHARS);
		char key[KWG_ID_LEN];
		kwg_buf_clear(&run->scratch);
		if (kwg_log_entry_encode(&run->scratch, &run->ref, now + i * 1000, level,
		                         LOG_THREAD, msg + off, n) < 0) {
			emit(run, KWG_QUEUE_LOG_ENTRY, "", NULL);
			return;
		}
		kwg_id_friendly(key);
		emit(run, KWG_QUEUE_LOG_ENTRY, key, strdup(kwg_buf_str(&run->scratch)));
		run->log_count++;
		off += n;
		i++;
	} while (off < len);
}

static void task_logf(struct kwg_run *run, enum kwg_level level, const char *fmt, ...)
    KWG_PRINTF(3, 4);
static void task_logf(struct kwg_run *run, enum kwg_level level, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	struct kwg_buf clean;
	va_list ap;
	int n;

	/* Whole, never cut: a secret cut in half would escape the masking. */
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0) {
		msg = NULL;
		return;
	}
	kwg_buf_init(&clean, 3 * (size_t)n + 16);
	if (kwg_utf8_sanitize(&clean, msg, (size_t)n) >= 0)
		task_log(run, level, kwg_buf_str(&clean), clean.len);
	kwg_buf_done(&clean);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)(flag == FTW_DP ? rmdir(path) : unlink(path));
	return 0;
}

static void remove_working_dir(struct kwg_run *run)
{
	if (!run->working_dir)
		return;
	/* FTW_PHYS: never follow a symlink the task left behind. */
	(void)nftw(run->working_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	free(run->working_dir);
	run->working_dir = NULL;
}

/* Below this much free space (and 10 % of the filesystem), or 1 % of it, the work directory
 * counts as full: a task that failed writing there freed nothing yet, but tasks ending at the
 * same time may have freed a little. */
#define FULL_BELOW_BYTES (1ull << 20)

/* When a task fails and the filesystem of its working directory is (nearly) out of space or
 * inodes, says so in the task's log and the worker's, naming the work directory: the task's own
 * tools rarely name it, and some do not even say ENOSPC (dash says "I/O error"). */
static void note_full_filesystem(struct kwg_run *run)
{
	struct statvfs st;
	unsigned long long size, avail;
	char what[96];

	if (!run->working_dir || statvfs(run->working_dir, &st) < 0)
		return;
	size = (unsigned long long)st.f_blocks * st.f_frsize;
	avail = (unsigned long long)st.f_bavail * st.f_frsize;
	if (avail < size / 100 || (avail < FULL_BELOW_BYTES && avail < size / 10))
		(void)snprintf(what, sizeof(what), "%llu KiB free of %llu KiB", avail / 1024,
		               size / 1024);
	else if (st.f_files > 0 && st.f_favail < st.f_files / 100 + 1)
		(void)snprintf(what, sizeof(what), "%llu inodes free of %llu",
		               (unsigned long long)st.f_favail, (unsigned long long)st.f_files);
	else
		return;
	task_logf(run, KWG_LEVEL_ERROR,
	          "the work directory '%.200s' is full (%s): writing there fails with No space "
	          "left on device",
	          run->cfg.work_root, what);
	kwg_log_warning("task run '%s' failed while the work directory '%.200s' is full (%s)",
	                kwg_job_task_run_id(run->job), run->cfg.work_root, what);
}

static void remove_cgroups(struct kwg_run *run)
{
	char *dirs[] = {run->cg_memory, run->cg_pids};

	for (size_t i = 0; i < 2; i++) {
		if (dirs[i] && rmdir(dirs[i]) < 0 && errno != ENOENT)
			kwg_log_warning("cannot remove cgroup '%s': %s", dirs[i], strerror(errno));
		free(dirs[i]);
	}
	run->cg_memory = run->cg_pids = NULL;
}

static void finish(struct kwg_run *run)
{
	run->state = RUN_DONE;
	run->ended_ms = uv_now(run->cfg.loop);
	remove_working_dir(run);
	remove_cgroups(run);
	uv_timer_stop(&run->timer);
	run->sink.done(run->ctx, run);
}

/* The job cannot run: ERROR log, then a result with a failed attempt (§6.5). */
static void fail_unrunnable(struct kwg_run *run, const char *why)
{
	struct kwg_state_rules rules;
	enum kwg_state state;
	int64_t now = kwg_clock_now_us();

	kwg_log_warning("task run '%s' (%s) cannot run: %s", kwg_job_task_run_id(run->job),
	                kwg_job_task_type(run->job) ? kwg_job_task_type(run->job) : "?",
	                kwg_secrets_mask(&run->masks, why, strlen(why), &run->masked)
	                    ? kwg_buf_str(&run->masked)
	                    : why);
	task_log(run, KWG_LEVEL_ERROR, why, strlen(why));
	note_full_filesystem(run);
	kwg_job_state_rules(run->job, now, &rules);
	state = kwg_state_final(KWG_STATE_FAILED, &rules);
	run->final_state = state;
	if (run->running_sent)
		emit(run, KWG_QUEUE_WORKER_TASK_RESULT, kwg_job_task_run_id(run->job),
		     kwg_job_result_final(run->job, KWG_STATE_FAILED, state, NULL, now));
	else
		emit(run, KWG_QUEUE_WORKER_TASK_RESULT, kwg_job_task_run_id(run->job),
		     kwg_job_result_fail(run->job, state, run->cfg.worker_id, now));
	finish(run);
}

static void send_running(struct kwg_run *run)
{
	emit(run, KWG_QUEUE_WORKER_TASK_RESULT, kwg_job_task_run_id(run->job),
	     kwg_job_result_running(run->job, run->cfg.worker_id, kwg_clock_now_us()));
	run->running_sent = true;
}

static void complete(struct kwg_run *run, enum kwg_state attempt_state, const char *outputs_json)
{
	int64_t now = kwg_clock_now_us();
	struct kwg_state_rules rules;
	size_t n = run->out ? kwg_script_output_metric_count(run->out) : 0;

	/* KESTRA: metrics after the attempt, before the final result (Worker.runAttempt). */
	for (size_t i = 0; i < n; i++) {
		char key[KWG_ID_LEN];
		kwg_id_friendly(key);
		emit(run, KWG_QUEUE_METRIC_ENTRY, key,
		     kwg_script_output_metric_json(run->out, i, &run->ref, now));
	}
	kwg_job_state_rules(run->job, now, &rules);
	run->final_state = kwg_state_final(attempt_state, &rules);
	emit(run, KWG_QUEUE_WORKER_TASK_RESULT, kwg_job_task_run_id(run->job),
	     kwg_job_result_final(run->job, attempt_state, run->final_state, outputs_json, now));
	finish(run);
}

static void run_log_task(struct kwg_run *run)
{
	send_running(run);
	for (size_t i = 0; i < run->task.messages.n; i++)
		task_log(run, run->task.message_level, run->task.messages.v[i],
		         strlen(run->task.messages.v[i]));
	complete(run, KWG_STATE_SUCCESS, NULL);
}

static void run_return_task(struct kwg_run *run)
{
	send_running(run);
	complete(run, KWG_STATE_SUCCESS, run->task.return_outputs);
}

static void on_script_log(void *userdata, enum kwg_level level, const char *msg, size_t len)
{
	task_log(userdata, level, msg, len);
}

static void on_line(void *userdata, enum kwg_stream stream, const char *line, size_t len)
{
	struct kwg_run *run = userdata;
	struct kwg_err err = {{0}};
	int r;

	r = kwg_script_output_feed(run->out, line, len, on_script_log, run, &err);
	if (r == KWG_SCRIPT_LINE_TEXT)
		task_log(run, stream == KWG_STREAM_STDERR ? KWG_LEVEL_ERROR : KWG_LEVEL_INFO, line,
		         len);
	else if (r == KWG_SCRIPT_LINE_INVALID)
		task_logf(run, KWG_LEVEL_WARN, "Invalid outputs '%s'", err.msg);
	else if (r < 0)
		task_logf(run, KWG_LEVEL_WARN, "output line dropped: out of memory");
}

static void on_output(void *userdata, enum kwg_stream stream, const char *data, size_t len)
{
	struct kwg_run *run = userdata;

	if (kwg_logstream_feed(run->ls, stream, data, len) < 0)
		task_logf(run, KWG_LEVEL_WARN, "task output lost: out of memory");
	if (run->sink.congested(run->ctx))
		kwg_process_pause_output(run->proc, true);
}

static void files_ctx(const struct kwg_run *run, struct kwg_files_ctx *ret)
{
	bool owned =
	    sandboxed(run) && run->task.runner == KWG_RUNNER_PROCESS && run->cfg.sandbox->uid >= 0;

	*ret = (struct kwg_files_ctx){
	    .storage = run->cfg.storage,
	    .tenant = run->ref.tenant_id,
	    .working_dir = run->working_dir,
	    .uid = owned ? run->cfg.sandbox->uid : -1,
	    .gid = owned ? run->cfg.sandbox->gid : -1,
	    .namespace_ = run->ref.namespace_,
	    .task_prefix = run->task_prefix,
	    .meta = &run->cfg.meta,
	};
}

static void complete_with_files(struct kwg_run *run, const char *error)
{
	cleanup_free char *outputs = NULL;
	enum kwg_state state = run->attempt_state;

	if (error) {
		task_logf(run, KWG_LEVEL_ERROR, "%s", error);
		note_full_filesystem(run);
		state = KWG_STATE_FAILED;
	}
	outputs = kwg_script_output_outputs_json(run->out, run->exit_code,
	                                         error ? NULL : &run->output_files);
	complete(run, state, outputs);
}

static void on_staged_out(void *userdata, const char *error)
{
	struct kwg_run *run = userdata;

	run->files = NULL; /* it frees itself */
	complete_with_files(run, error);
}

static void stage_out(struct kwg_run *run)
{
	struct kwg_files_ctx ctx;
	struct kwg_err err = {{0}};
	int r;

	if (!run->task_prefix && !(run->task_prefix = kwg_storage_task_prefix(
	                               run->ref.namespace_, run->ref.flow_id, run->ref.execution_id,
	                               run->ref.task_id, run->ref.task_run_id))) {
		complete_with_files(run, "out of memory");
		return;
	}
	r = hand_working_dir(run, false);
	if (r < 0) {
		char why[256];
		(void)snprintf(why, sizeof(why), "cannot take the working directory back: %s",
		               strerror(-r));
		complete_with_files(run, why);
		return;
	}
	files_ctx(run, &ctx);
	r = kwg_files_stage_out(&ctx, &run->task, &run->output_files, on_staged_out, run,
	                        &run->files, &err);
	if (r == 0)
		return;
	complete_with_files(run, r > 0 ? NULL : r == -ENOMEM ? "out of memory" : err.msg);
}

/* The attempt's process or container ended with exit_code (error: the container could not run
 * or was lost, exit_code -1). */
static void end_attempt(struct kwg_run *run, int exit_code, const char *error)
{
	cleanup_free char *outputs = NULL;
	enum kwg_state state;
	bool process = run->task.runner == KWG_RUNNER_PROCESS;

	(void)kwg_logstream_finish(run->ls, KWG_STREAM_STDOUT);
	(void)kwg_logstream_finish(run->ls, KWG_STREAM_STDERR);
	if (run->stop == KWG_RUN_STOP_ABANDON) {
		finish(run);
		return;
	}
	if (run->stop != KWG_RUN_STOP_NONE) {
		task_logf(run, KWG_LEVEL_WARN, "%s",
		          run->stop == KWG_RUN_STOP_KILLED
		              ? "Task killed: the execution was killed"
		              : "Task stopped: the worker is shutting down");
		complete(run,
		         run->stop == KWG_RUN_STOP_KILLED ? KWG_STATE_KILLED : KWG_STATE_FAILED,
		         NULL);
		return;
	}
	if (run->timed_out) {
		/* KESTRA: a timeout ends FAILED without outputs (the thread is interrupted before
		 * the outputs are built). */
		complete(run, KWG_STATE_FAILED, NULL);
		return;
	}
	if (error) {
		task_logf(run, KWG_LEVEL_ERROR, "%s", error);
		note_full_filesystem(run);
		complete(run, KWG_STATE_FAILED, NULL);
		return;
	}
	if (process && exit_code >= KWG_SANDBOX_EXIT_SETUP &&
	    exit_code <= KWG_SANDBOX_EXIT_NOTFOUND) {
		char why[512];
		if (sandbox_failure(run, why, sizeof(why))) {
			fail_unrunnable(run, why);
			return;
		}
	}
	state = kwg_state_of_script(exit_code, kwg_logstream_lines(run->ls, KWG_STREAM_STDERR),
	                            run->task.warning_on_stderr);
	if (process && exit_code == 128 + SIGKILL && oom_killed(run))
		task_logf(run, KWG_LEVEL_ERROR,
		          "the task was killed by its memory limit (task_memory, a cgroup)");
	else if (process && exit_code == 128 + SIGXCPU)
		task_logf(run, KWG_LEVEL_ERROR,
		          "the task used up its CPU time limit (task_cpu_seconds)");
	else if (process && exit_code == 128 + SIGXFSZ)
		task_logf(run, KWG_LEVEL_ERROR,
		          "the task wrote past its file size limit (task_file_size)");
	if (exit_code != 0) {
		note_full_filesystem(run);
		task_logf(run, KWG_LEVEL_ERROR,
		          "io.kestra.core.models.tasks.runners.TaskException: Command failed with "
		          "exit code %d",
		          exit_code);
	} else {
		task_logf(run, KWG_LEVEL_DEBUG, "Command succeed with exit code 0");
	}
	/* KESTRA: output files are uploaded after a failed command too (Wrapper.run). */
	if (kwg_files_stage_out_needed(&run->task)) {
		run->exit_code = exit_code;
		run->attempt_state = state;
		stage_out(run);
		return;
	}
	outputs = kwg_script_output_outputs_json(run->out, exit_code, NULL);
	complete(run, state, outputs);
}

static void on_process_exit(void *userdata, int exit_code)
{
	struct kwg_run *run = userdata;

	kwg_process_close(steal_ptr(&run->proc));
	end_attempt(run, exit_code, NULL);
}

static bool on_container_output(void *userdata, enum kwg_stream stream, const char *data,
                                size_t len)
{
	struct kwg_run *run = userdata;

	if (kwg_logstream_feed(run->ls, stream, data, len) < 0)
		task_logf(run, KWG_LEVEL_WARN, "task output lost: out of memory");
	return run->stop != KWG_RUN_STOP_NONE || !run->sink.congested(run->ctx);
}

static void on_container_log(void *userdata, enum kwg_level level, const char *msg)
{
	task_logf(userdata, level, "%s", msg);
}

static void on_container_exit(void *userdata, int exit_code, const char *error)
{
	struct kwg_run *run = userdata;
	/* error belongs to the container object: closed after its last use. */
	struct kwg_docker_task *container = steal_ptr(&run->container);

	end_attempt(run, exit_code, error);
	kwg_docker_task_close(container);
}

/* The run was stopped while its files moved: ends as the stop says (§6.1). */
static void on_staging_stopped(uv_timer_t *t)
{
	struct kwg_run *run = t->data;

	if (run->stop == KWG_RUN_STOP_ABANDON) {
		finish(run);
		return;
	}
	task_logf(run, KWG_LEVEL_WARN, "%s",
	          run->stop == KWG_RUN_STOP_KILLED ? "Task killed: the execution was killed"
	                                           : "Task stopped: the worker is shutting down");
	complete(run, run->stop == KWG_RUN_STOP_KILLED ? KWG_STATE_KILLED : KWG_STATE_FAILED, NULL);
}

static void on_timeout(uv_timer_t *t)
{
	struct kwg_run *run = t->data;
	char hms[32];

	if (run->state == RUN_DONE || (!run->proc && !run->container && !run->files))
		return;
	run->timed_out = true;
	kwg_duration_format_hms(run->task.timeout_ms, hms);
	task_logf(run, KWG_LEVEL_ERROR, "Timeout after %s", hms);
	if (run->files) {
		/* KESTRA: the timeout covers the whole attempt, files included; no outputs. */
		kwg_files_free(steal_ptr(&run->files));
		complete(run, KWG_STATE_FAILED, NULL);
	} else if (run->proc)
		(void)kwg_process_kill(run->proc, SIGKILL);
	else
		kwg_docker_task_stop(run->container);
}

static int make_working_dir(struct kwg_run *run)
{
	char id[KWG_ID_LEN];
	char path[PATH_MAX];

	kwg_id_friendly(id);
	if (snprintf(path, sizeof(path), "%s/%s", run->cfg.work_root, id) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (mkdir(path, 0700) < 0)
		return -errno;
	run->working_dir = strdup(path);
	return run->working_dir ? 0 : -ENOMEM;
}

/* The task user owns its working directory while the task runs, and only then: while the worker
 * (root) writes files in or reads them out, no other task of the same user can enter it to swap
 * a directory for a link. */
static int hand_working_dir(struct kwg_run *run, bool to_task)
{
	if (!run->cfg.sandbox || run->cfg.sandbox->profile == KWG_SANDBOX_NONE ||
	    run->cfg.sandbox->uid < 0)
		return 0;
	if (to_task ? chown(run->working_dir, (uid_t)run->cfg.sandbox->uid,
	                    (gid_t)run->cfg.sandbox->gid)
	            : chown(run->working_dir, geteuid(), getegid()))
		return -errno;
	return 0;
}

static int write_file(const char *dir, const char *name, const char *content, int64_t owner,
                      int64_t group)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	size_t len = strlen(content), off = 0;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -errno;
	if (owner >= 0 && fchown(fd, (uid_t)owner, (gid_t)group) < 0)
		return -errno;
	while (off < len) {
		ssize_t n = write(fd, content + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	return 0;
}

static bool sandboxed(const struct kwg_run *run)
{
	return run->cfg.sandbox && run->cfg.sandbox->profile != KWG_SANDBOX_NONE;
}

static int write_number(const char *dir, const char *file, unsigned long long value)
{
	char text[32];

	(void)snprintf(text, sizeof(text), "%llu\n", value);
	return kwg_cgroup_write(dir, file, text);
}

/* The task's own memory and pids cgroups (v1: one in each hierarchy; v2: one with both
 * controllers); their cgroup.procs go into the spec, and the cgroups replace the per-user process
 * limit and the address-space limit. */
static int make_cgroups(struct kwg_run *run, struct kwg_sandbox_spec *spec)
{
	const struct kwg_sandbox_limits *l = &run->cfg.sandbox->limits;
	const char *id = strrchr(run->working_dir, '/') + 1;
	bool v2 = run->cfg.cgroup_v2;
	const char *pids_dir;
	char path[PATH_MAX];
	int r;

	if (!run->cfg.cgroup_memory || !run->cfg.cgroup_pids)
		return 0;
	/* A spare kwg-exec made them and is in them already. */
	bool joined = run->cg_memory != NULL;
	if (!joined) {
		if (asprintf(&run->cg_memory, "%s/%s", run->cfg.cgroup_memory, id) < 0 ||
		    (!v2 && asprintf(&run->cg_pids, "%s/%s", run->cfg.cgroup_pids, id) < 0))
			return -ENOMEM;
		r = kwg_cgroup_mkdir(run->cg_memory);
		if (r >= 0 && !v2)
			r = kwg_cgroup_mkdir(run->cg_pids);
		if (r < 0)
			return r;
	}
	pids_dir = v2 ? run->cg_memory : run->cg_pids;
	r = l->address_space_bytes
	        ? write_number(run->cg_memory, v2 ? "memory.max" : "memory.limit_in_bytes",
	                       l->address_space_bytes)
	        : 0;
	if (r >= 0 && l->processes)
		r = write_number(pids_dir, "pids.max", l->processes);
	if (r < 0)
		return r;
	spec->limits.address_space_bytes = 0;
	spec->limits.processes = 0;
	if (joined)
		return 0;
	(void)snprintf(path, sizeof(path), "%s/cgroup.procs", run->cg_memory);
	r = kwg_strv_push(&spec->cgroups, path);
	if (r < 0 || v2)
		return r;
	(void)snprintf(path, sizeof(path), "%s/cgroup.procs", run->cg_pids);
	return kwg_strv_push(&spec->cgroups, path);
}

/* Whether the task's memory cgroup killed a process ("oom_kill N" in v1 memory.oom_control,
 * v2 memory.events). */
static bool oom_killed(const struct kwg_run *run)
{
	char path[PATH_MAX], buf[512];
	cleanup_close int fd = -1;
	ssize_t n;
	const char *p;

	if (!run->cg_memory)
		return false;
	(void)snprintf(path, sizeof(path), "%s/%s", run->cg_memory,
	               run->cfg.cgroup_v2 ? "memory.events" : "memory.oom_control");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strstr(buf, "oom_kill ");
	return p && strtoull(p + 9, NULL, 10) > 0;
}

/* The sandbox spec of this run in a memfd (kwg-exec's fd 3) and, unless ret_status_wr is NULL
 * (a spare kwg-exec has its own), the status pipe (its fd 4). */
static int prepare_sandbox(struct kwg_run *run, const struct kwg_strv *env, int *ret_spec_fd,
                           int *ret_status_wr)
{
	struct kwg_sandbox_spec spec = *run->cfg.sandbox;
	cleanup_close int fd = -1;
	cleanup_free char *bytes = NULL;
	int pipefd[2];
	size_t len;
	int r;

	spec.workdir = run->working_dir;
	spec.argv = run->task.argv;
	spec.envp = *env;
	spec.cgroups = (struct kwg_strv){0};
	r = make_cgroups(run, &spec);
	if (r >= 0)
		r = kwg_sandbox_spec_encode(&spec, &bytes, &len);
	kwg_strv_done(&spec.cgroups);
	if (r < 0)
		return r;
	fd = memfd_create("kwg-sandbox-spec", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, bytes, len) != (ssize_t)len)
		return -EIO;
	if (ret_status_wr) {
		if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0)
			return -errno;
		run->status_fd = pipefd[0];
		*ret_status_wr = pipefd[1];
	}
	*ret_spec_fd = steal_fd(&fd);
	return 0;
}

/* The task through the spare kwg-exec, already in fresh cgroups: its spec goes over its socket.
 * false (nothing changed) when there is no spare or it died meanwhile. */
static bool start_in_spare(struct kwg_run *run, const struct kwg_strv *env,
                           const struct kwg_process_cbs *cbs)
{
	struct kwg_spare_exec e;
	int spec_fd = -1, r;

	if (!run->cfg.spare || !kwg_spare_take(run->cfg.spare, cbs, run, &e))
		return false;
	run->cg_memory = e.cg_memory;
	run->cg_pids = e.cg_pids;
	r = prepare_sandbox(run, env, &spec_fd, NULL);
	if (r >= 0) {
		r = kwg_spare_send(e.spec_sock, spec_fd);
		e.spec_sock = -1;
	}
	if (spec_fd >= 0)
		(void)close(spec_fd);
	if (r < 0) {
		kwg_log_errno(KWG_LOG_DEBUG, r, "the spare kwg-exec could not take the task");
		kwg_process_close(e.proc);
		if (e.spec_sock >= 0)
			(void)close(e.spec_sock);
		(void)close(e.status_fd);
		remove_cgroups(run);
		return false;
	}
	run->proc = e.proc;
	run->status_fd = e.status_fd;
	return true;
}

/* kwg-exec failed before the task ran: what its status descriptor says, or NULL. */
static const char *sandbox_failure(struct kwg_run *run, char *buf, size_t size)
{
	struct kwg_sandbox_status st;
	ssize_t n;

	if (run->status_fd < 0)
		return NULL;
	n = read(run->status_fd, &st, sizeof(st));
	if (n != (ssize_t)sizeof(st))
		return NULL;
	if (st.stage == KWG_STAGE_EXEC)
		(void)snprintf(buf, size, "Cannot run program \"%.200s\": %s", run->task.argv.v[0],
		               strerror(st.err));
	else
		(void)snprintf(buf, size, "the task sandbox could not be set up: %s failed: %s",
		               kwg_sandbox_stage_name((enum kwg_sandbox_stage)st.stage),
		               strerror(st.err));
	return buf;
}

static void start_container(struct kwg_run *run, const struct kwg_strv *env)
{
	struct kwg_docker_task_spec spec = {
	    .opts = &run->task.docker,
	    .argv = (const char *const *)run->task.argv.v,
	    .env = (const char *const *)env->v,
	    .working_dir = run->working_dir,
	    .ref = &run->ref,
	    .worker_id = run->cfg.worker_id,
	    .allow_volumes = run->cfg.docker_volumes,
	    .allow_privileged = run->cfg.docker_privileged,
	    .files_back = kwg_files_stage_out_needed(&run->task),
	    .pool = run->cfg.docker_pool,
	};
	struct kwg_docker_task_cbs cbs = {on_container_output, on_container_log, on_container_exit};
	char why[512] = "out of memory";
	int r;

	kwg_logstream_docker_lines(run->ls);
	r = kwg_docker_task_start(run->cfg.docker, &spec, &cbs, run, &run->container, why,
	                          sizeof(why));
	if (r < 0) {
		fail_unrunnable(run, why);
		return;
	}
	run->state = RUN_RUNNING;
}

static void on_staged_in(void *userdata, const char *error);
static void launch(struct kwg_run *run);

static void start_script(struct kwg_run *run)
{
	const char *client_error = NULL;
	int r;

	if (run->task.runner == KWG_RUNNER_DOCKER &&
	    (!run->cfg.docker || (client_error = kwg_docker_client_error()))) {
		char why[512];
		(void)snprintf(why, sizeof(why),
		               "the Docker task runner is not available on this worker (%s): set "
		               "taskRunner to io.kestra.plugin.core.runner.Process, or start the "
		               "worker with --default-runner process",
		               client_error            ? client_error
		               : run->cfg.docker_error ? run->cfg.docker_error
		                                       : "no Docker daemon");
		fail_unrunnable(run, why);
		return;
	}
	send_running(run);
	if (run->task.timeout_ms > 0)
		uv_timer_start(&run->timer, on_timeout, (uint64_t)run->task.timeout_ms, 0);
	if (kwg_files_stage_in_needed(&run->task)) {
		struct kwg_files_ctx ctx;
		struct kwg_err err = {{0}};
		files_ctx(run, &ctx);
		r = kwg_files_stage_in(&ctx, &run->task, on_staged_in, run, &run->files, &err);
		if (r < 0) {
			fail_unrunnable(run, r == -ENOMEM ? "out of memory" : err.msg);
			return;
		}
		if (r == 0)
			return;
	}
	launch(run);
}

/* The task's files are in place (error NULL) or could not be (error says why). */
static void on_staged_in(void *userdata, const char *error)
{
	struct kwg_run *run = userdata;

	/* A stop or a timeout while files move cancels them: this never fires after one. */
	run->files = NULL; /* it frees itself */
	if (error) {
		fail_unrunnable(run, error);
		return;
	}
	launch(run);
}

/* Starts the task's process or container; WorkerTaskResult RUNNING is out, its files are in. */
static void launch(struct kwg_run *run)
{
	struct kwg_strv env = {0};
	struct kwg_process_spec spec;
	struct kwg_process_cbs cbs = {.on_output = on_output, .on_exit = on_process_exit};
	struct kwg_buf cmdline;
	int r;

	r = kwg_script_output_new(&run->out);
	if (r >= 0)
		r = kwg_logstream_new(MAX_LINE_BYTES, on_line, run, &run->ls);
	if (r >= 0 && run->task.script_file)
		r = write_file(run->working_dir, run->task.script_file, run->task.script_body,
		               sandboxed(run) ? run->cfg.sandbox->uid : -1,
		               sandboxed(run) ? run->cfg.sandbox->gid : -1);
	if (r >= 0)
		r = hand_working_dir(run, true);
	/* KESTRA: a container gets the task's variables only, never the worker's environment
	 * (its PATH would hide the image's). */
	if (r >= 0 && run->task.runner == KWG_RUNNER_DOCKER)
		for (size_t i = 0; r >= 0 && i < run->task.env.n; i++)
			r = kwg_strv_push(&env, run->task.env.v[i]);
	else if (r >= 0)
		r = kwg_sandbox_task_env(run->cfg.parent_env, run->cfg.env_passthrough,
		                         &run->task.env, &env);
	if (r >= 0)
		r = kwg_strv_setenv(&env, "WORKING_DIR", run->working_dir);
	if (r < 0) {
		char why[256];
		(void)snprintf(why, sizeof(why), "cannot prepare the task in '%.200s': %s",
		               run->working_dir, strerror(-r));
		kwg_strv_done(&env);
		fail_unrunnable(run, why);
		return;
	}
	if (run->task.runner == KWG_RUNNER_DOCKER) {
		start_container(run, &env);
		kwg_strv_done(&env);
		return;
	}
	spec = (struct kwg_process_spec){
	    .argv = (const char *const *)run->task.argv.v,
	    .envp = (const char *const *)env.v,
	    .cwd = run->working_dir,
	    .fd3 = -1,
	    .fd4 = -1,
	};
	if (sandboxed(run) && start_in_spare(run, &env, &cbs)) {
		r = 0;
	} else if (sandboxed(run)) {
		static const char *const no_env[] = {NULL};
		const char *helper_argv[] = {run->cfg.exec_helper, NULL};
		r = prepare_sandbox(run, &env, &spec.fd3, &spec.fd4);
		if (r < 0) {
			char why[256];
			(void)snprintf(why, sizeof(why), "cannot prepare the task sandbox: %s",
			               strerror(-r));
			kwg_strv_done(&env);
			fail_unrunnable(run, why);
			return;
		}
		/* kwg-exec gets nothing from the worker but its spec. */
		spec.argv = helper_argv;
		spec.envp = no_env;
		spec.reaper = run->cfg.sandbox->profile == KWG_SANDBOX_CONTAINER;
		r = kwg_process_start(run->cfg.loop, &spec, &cbs, run, &run->proc);
		(void)close(spec.fd3);
		(void)close(spec.fd4);
	} else {
		r = kwg_process_start(run->cfg.loop, &spec, &cbs, run, &run->proc);
	}
	kwg_strv_done(&env);
	if (r < 0) {
		char why[512];
		(void)snprintf(why, sizeof(why), "Cannot run program \"%.200s\": %s",
		               run->task.argv.v[0], uv_strerror(r));
		fail_unrunnable(run, why);
		return;
	}
	run->state = RUN_RUNNING;
	kwg_log_latency("spawned", kwg_job_task_run_id(run->job));
	kwg_buf_init(&cmdline, 1u << 20);
	for (size_t i = 0; i < run->task.argv.n; i++)
		(void)kwg_buf_printf(&cmdline, "%s%s", i ? " " : "", run->task.argv.v[i]);
	task_logf(run, KWG_LEVEL_DEBUG, "Starting command with pid %d [%s]",
	          kwg_process_pid(run->proc), kwg_buf_str(&cmdline));
	kwg_buf_done(&cmdline);
}

/* Most distinct values masked in one task's logs (each log line is searched for each). */
#define MAX_MASKS 256

/* Registers a value to mask in the task's log lines, once. -E2BIG past MAX_MASKS distinct
 * values: the caller fails the task rather than log a value it cannot mask. */
static int add_mask(struct kwg_run *run, const char *value)
{
	if (!*value)
		return 0;
	for (size_t i = 0; i < run->masks.n; i++)
		if (strcmp(run->masks.v[i], value) == 0)
			return 0;
	if (run->masks.n >= MAX_MASKS)
		return -E2BIG;
	return kwg_strv_push(&run->masks, value);
}

/* secret('NAME'): SECRET_NAME of the worker's environment; the value is masked in every log line
 * of the task from then on. */
static int hook_secret(void *userdata, const char *name, char **ret, struct kwg_err *err)
{
	struct kwg_run *run = userdata;
	const char *v = kwg_secrets_get(run->cfg.secrets, name);

	if (!v)
		return -ENOENT;
	switch (add_mask(run, v)) {
	case -E2BIG:
		return kwg_err_set(err, -EINVAL,
		                   "secret('%.64s'): more than %d secrets in one task", name,
		                   MAX_MASKS);
	case -ENOMEM:
		return -ENOMEM;
	}
	*ret = strdup(v);
	return *ret ? 0 : -ENOMEM;
}

/* The task's view of the storage for read() and kv(): its strings, and its read budget. */
static struct kwg_storage_reader *reader(struct kwg_run *run)
{
	run->reader.local_base = run->cfg.storage_local_base;
	run->reader.tenant = run->ref.tenant_id;
	run->reader.namespace_ = run->ref.namespace_;
	run->reader.flow_id = run->ref.flow_id;
	run->reader.execution_id = run->ref.execution_id;
	run->reader.fetch = run->fetch;
	return &run->reader;
}

/* read('path' or 'kestra:///…'): storage/read.h. */
static int hook_read(void *userdata, const char *path, char **ret, size_t *ret_len,
                     struct kwg_err *err)
{
	int r = kwg_storage_read(reader(userdata), path, ret, ret_len, err);

	/* Not fetched yet: a stand-in for this render, which render_task throws away. */
	if (r == -EAGAIN) {
		*ret_len = 0;
		*ret = strdup("");
		return *ret ? 0 : -ENOMEM;
	}
	return r;
}

/* fileSize, fileExists, isFileEmpty: storage/read.h. */
static int hook_stat(void *userdata, const char *fn, const char *path, int64_t *ret_size,
                     struct kwg_err *err)
{
	int r = kwg_storage_stat(reader(userdata), fn, path, ret_size, err);

	if (r == -EAGAIN) {
		*ret_size = 0;
		return 0;
	}
	return r;
}

/* kv(key, namespace, errorOnMissing): storage/kv.h. */
static int hook_kv(void *userdata, const char *key, const char *ns, json_t **ret,
                   struct kwg_err *err)
{
	int r = kwg_storage_kv_get(reader(userdata), key, ns, ret, err);

	if (r == -EAGAIN) {
		*ret = json_null();
		return 0;
	}
	return r;
}

/* Longest a jq filter may run while a task renders. */
#define JQ_DEADLINE_MS 10000

static int hook_jq(void *userdata, const char *program, const char *input, char **ret,
                   struct kwg_err *err)
{
	(void)userdata;
	return kwg_jq_in_child(program, input, JQ_DEADLINE_MS, ret, err);
}

/* fileURI('path'): the kestra:// URI of a file of the flow's namespace. */
static int hook_file_uri(void *userdata, const char *path, char **ret, struct kwg_err *err)
{
	struct kwg_run *run = userdata;

	(void)err;
	*ret = kwg_storage_file_uri(run->ref.namespace_, path);
	return *ret ? 0 : -ENOMEM;
}

static void on_start(uv_timer_t *t)
{
	struct kwg_run *run = t->data;
	int r;

	/* Stopped before it started: no attempt is made. */
	if (run->stop == KWG_RUN_STOP_KILLED || run->stop == KWG_RUN_STOP_SHUTDOWN) {
		run->final_state = KWG_STATE_KILLED;
		emit(run, KWG_QUEUE_WORKER_TASK_RESULT, kwg_job_task_run_id(run->job),
		     kwg_job_result_killed(run->job, kwg_clock_now_us()));
		finish(run);
		return;
	}
	if (run->stop == KWG_RUN_STOP_ABANDON) {
		finish(run);
		return;
	}

	if (run->decode_r < 0) {
		fail_unrunnable(run, run->err.msg);
		return;
	}
	r = make_working_dir(run);
	if (r < 0) {
		char why[256];
		(void)snprintf(why, sizeof(why),
		               "cannot create a working directory in '%.200s': %s",
		               run->cfg.work_root, strerror(-r));
		fail_unrunnable(run, why);
		return;
	}
	kwg_log_latency("workdir", kwg_job_task_run_id(run->job));
	render_task(run);
}

/* Most fetch rounds of one task: templates whose reads depend on what earlier reads returned. */
#define MAX_FETCH_ROUNDS 8

static void on_fetched(void *userdata, const char *error);

/* Renders the task, then runs it. With remote storage a render that read objects not fetched yet
 * is thrown away: they are fetched, all at once, and the task renders again. */
static void render_task(struct kwg_run *run)
{
	int r;

	/* Objects fetched from remote storage, and the metadata of revisions, between renders. */
	/* Kestra 2.x CONTROLLER worker access: KV values and namespace-file contents too, through
	 * the transport, with or without a storage. */
	bool content =
	    run->cfg.meta.read && (run->cfg.meta.kv_content || run->cfg.meta.nsfile_content);
	if (((run->cfg.storage && (!run->cfg.storage_local_base || run->cfg.meta.lookup)) ||
	     content) &&
	    !run->fetch) {
		if (!(run->fetch = kwg_storage_fetch_new(&run->cfg.meta))) {
			fail_unrunnable(run, "out of memory");
			return;
		}
		if (!run->cfg.storage)
			kwg_storage_fetch_without_storage(run->fetch);
	}
	struct kwg_template_hooks hooks = {
	    .userdata = run,
	    .secret = hook_secret,
	    .read = hook_read,
	    .kv = hook_kv,
	    .stat = hook_stat,
	    .file_uri = hook_file_uri,
	    .jq = hook_jq,
	};
	struct kwg_script_task_opts opts = {
	    .default_runner = run->cfg.default_runner,
	    .working_dir = run->working_dir,
	    .hooks = &hooks,
	    .encryption_key = run->cfg.encryption_key,
	    .encryption_key_name = run->cfg.encryption_key_name,
	    .now_us = kwg_clock_now_us(),
	};
	kwg_script_task_done(&run->task);
	memset(&run->task, 0, sizeof(run->task));
	run->reader.read_bytes = 0;
	r = kwg_script_task_decode(run->job, &opts, &run->task, &run->err);
	if (r != -ENOMEM && run->fetch && kwg_storage_fetch_wanted(run->fetch) > 0) {
		if (++run->fetch_rounds > MAX_FETCH_ROUNDS) {
			fail_unrunnable(run, "the task's templates read files from the internal "
			                     "storage that depend on other files more than 8 deep");
			return;
		}
		if (kwg_storage_fetch_start(run->fetch, run->cfg.storage, run->ref.tenant_id,
		                            run->working_dir, on_fetched, run) < 0) {
			fail_unrunnable(run, "out of memory");
			return;
		}
		run->fetching = true;
		return;
	}
	/* SECRET inputs, and the plaintext of encrypted ones, are masked in the failure message
	 * too. */
	for (size_t i = 0; i < run->task.masks.n; i++)
		if (add_mask(run, run->task.masks.v[i]) < 0)
			r = -ENOMEM;
	if (r < 0) {
		fail_unrunnable(run, r == -ENOMEM ? "out of memory" : run->err.msg);
		return;
	}
	kwg_log_latency("rendered", kwg_job_task_run_id(run->job));
	if (run->task.kind == KWG_TASK_LOG)
		run_log_task(run);
	else if (run->task.kind == KWG_TASK_RETURN)
		run_return_task(run);
	else
		start_script(run);
}

static void on_fetched(void *userdata, const char *error)
{
	struct kwg_run *run = userdata;
	char why[512];

	run->fetching = false;
	if (error) {
		(void)snprintf(why, sizeof(why),
		               "cannot read what the task's templates read (storage, KV or "
		               "namespace-file metadata): %.400s",
		               error);
		fail_unrunnable(run, why);
		return;
	}
	render_task(run);
}

int kwg_run_start(const struct kwg_run_config *cfg, struct kwg_job *job,
                  const struct kwg_run_sink *sink, void *ctx, struct kwg_run **ret)
{
	struct kwg_run *run = calloc(1, sizeof(*run));

	if (!run) {
		kwg_job_free(job);
		return -ENOMEM;
	}
	run->cfg = *cfg;
	run->sink = *sink;
	run->ctx = ctx;
	run->job = job;
	run->state = RUN_STARTING;
	run->final_state = KWG_STATE_UNKNOWN;
	run->status_fd = -1;
	run->started_ms = uv_now(cfg->loop);
	kwg_job_ref(job, &run->ref);
	kwg_buf_init(&run->scratch, 16u << 20);
	kwg_buf_init(&run->masked, 16u << 20);
	if (kwg_job_is_broken(job))
		run->decode_r =
		    kwg_err_set(&run->err, -EBADMSG, "invalid WorkerTask: %s", kwg_job_error(job));
	uv_timer_init(cfg->loop, &run->timer);
	run->timer.data = run;
	/* Start on the next loop turn, so that done never fires inside this call. */
	uv_timer_start(&run->timer, on_start, 0, 0);
	*ret = run;
	return 0;
}

void kwg_run_stop(struct kwg_run *run, enum kwg_run_stop why)
{
	if (run->stop != KWG_RUN_STOP_NONE || run->state == RUN_DONE)
		return;
	run->stop = why;
	/* RUN_STARTING: on_start sees the reason. RUNNING: the exit callback does. Files being
	 * staged in or out: the transfers stop, and the run ends on the next loop turn. */
	if (run->files) {
		kwg_files_free(steal_ptr(&run->files));
		uv_timer_start(&run->timer, on_staging_stopped, 0, 0);
	}
	/* Fetching what the templates read: not started yet, so on_start ends it as the stop says.
	 */
	if (run->fetching) {
		kwg_storage_fetch_free(steal_ptr(&run->fetch));
		run->fetching = false;
		uv_timer_start(&run->timer, on_start, 0, 0);
	}
	if (run->proc) {
		kwg_process_pause_output(run->proc, false);
		(void)kwg_process_kill(run->proc, SIGKILL);
	}
	if (run->container) {
		kwg_docker_task_resume_output(run->container);
		kwg_docker_task_stop(run->container);
	}
}

const char *kwg_run_execution_id(const struct kwg_run *run)
{
	return kwg_job_execution_id(run->job);
}

enum kwg_state kwg_run_final_state(const struct kwg_run *run)
{
	return run->final_state;
}

size_t kwg_run_log_count(const struct kwg_run *run)
{
	return run->log_count;
}

uint64_t kwg_run_duration_ms(const struct kwg_run *run)
{
	return run->ended_ms - run->started_ms;
}

const char *kwg_run_tenant_id(const struct kwg_run *run)
{
	return kwg_job_tenant_id(run->job);
}

void kwg_run_resume_output(struct kwg_run *run)
{
	if (run->proc)
		kwg_process_pause_output(run->proc, false);
	if (run->container)
		kwg_docker_task_resume_output(run->container);
}

const char *kwg_run_task_run_id(const struct kwg_run *run)
{
	return kwg_job_task_run_id(run->job);
}

const struct kwg_job *kwg_run_job(const struct kwg_run *run)
{
	return run->job;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct kwg_run *run = h->data;

	kwg_job_free(run->job);
	free(run);
}

struct kwg_run *kwg_run_free(struct kwg_run *run)
{
	if (!run)
		return NULL;
	kwg_process_close(steal_ptr(&run->proc));
	kwg_docker_task_close(steal_ptr(&run->container));
	kwg_storage_fetch_free(steal_ptr(&run->fetch));
	remove_working_dir(run);
	kwg_script_task_done(&run->task);
	run->out = kwg_script_output_free(run->out);
	run->ls = kwg_logstream_free(run->ls);
	kwg_buf_done(&run->scratch);
	kwg_buf_done(&run->masked);
	kwg_strv_done(&run->masks);
	kwg_files_free(steal_ptr(&run->files));
	free(run->task_prefix);
	kwg_strv_done(&run->output_files);
	if (run->status_fd >= 0)
		(void)close(run->status_fd);
	remove_cgroups(run);
	uv_close((uv_handle_t *)&run->timer, on_timer_closed);
	return NULL;
}
