/* SPDX-License-Identifier: Apache-2.0 */
/* A script task's files (kestra-script-tasks.md §7, §8.5): before it runs, namespace files, then
 * inputFiles, then every kestra:// URI in its command line and script, downloaded into the
 * working directory (the URI replaced by the local path); after it ran, the outputFiles globs,
 * uploaded under the task run's storage prefix. Transfers go through storage/storage.h one at a
 * time. Owns its transfer list; borrows the context's strings for its life. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strv.h"
#include "protocol/script_task.h"
#include "storage/meta.h"
#include "storage/storage.h"

struct kwg_files;

struct kwg_files_ctx {
	struct kwg_storage *storage; /* NULL: no internal storage configured */
	const char *tenant;          /* may be NULL */
	const char *working_dir;
	int64_t uid, gid;        /* owner of what is written in; -1: the worker's */
	const char *namespace_;  /* the flow's namespace */
	const char *task_prefix; /* kestra:///… of this task run's outputs */
	/* Kestra 1.2+'s namespace_file_metadata (storage/meta.h; NULL or list_files NULL: none). */
	const struct kwg_meta_source *meta;
};

/* error NULL on success, else why (naming the file or URI), valid during the call. The files
 * object frees itself when done returns: forget the pointer, never free it from done. */
typedef void kwg_files_done_fn(void *userdata, const char *error);

/* Whether the task has anything to stage in / out. */
bool kwg_files_stage_in_needed(const struct kwg_script_task *task);
bool kwg_files_stage_out_needed(const struct kwg_script_task *task);

/* Writes the task's files in and rewrites task->argv and task->script_body (kestra:// URIs
 * replaced by local paths). Returns 1 when all was done at once (done is not called), 0 when
 * transfers are under way (done is called once, later; *ret to cancel), or a negative errno with
 * err saying why (done is not called). */
int kwg_files_stage_in(const struct kwg_files_ctx *ctx, struct kwg_script_task *task,
                       kwg_files_done_fn *done, void *userdata, struct kwg_files **ret,
                       struct kwg_err *err);
/* Uploads the files the outputFiles globs match. Same results as stage_in; on success the name,
 * URI pairs are in *ret_outputs (appended). */
int kwg_files_stage_out(const struct kwg_files_ctx *ctx, const struct kwg_script_task *task,
                        struct kwg_strv *ret_outputs, kwg_files_done_fn *done, void *userdata,
                        struct kwg_files **ret, struct kwg_err *err);
/* Cancels what is under way (done never fires) and frees; not after done fired. Accepts NULL. */
void kwg_files_free(struct kwg_files *f);
