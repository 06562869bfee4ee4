/* SPDX-License-Identifier: Apache-2.0 */
/* The launcher's steps as a library: from the session on (sandbox.h's steps 2 to 11: session,
 * rlimits, cgroups, namespaces and the PID-1 reaper or the container's subreaper, ids, caps,
 * no_new_privs, seccomp, chdir, exec). kwg-exec's main runs them after reading its spec from
 * fd 3; `kwg sandbox` runs them in its own process, one exec fewer. The caller has closed every
 * descriptor the task must not get. Owns nothing but where failures are told. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

#include "common/compat.h"
#include "sandbox/sandbox.h"

/* Step 1, before anything else: SECURITY: the command dies with the process that started this one
 * (parent, read at entry: a parent already gone fails the check), so that a task Kestra resubmits
 * after the worker's death never runs twice; and no descriptor above keep (the last one kept:
 * stdio's 2, or kwg-exec's status descriptor) reaches it. 0, or -1 when the parent is gone. */
int kwg_launch_detach(pid_t parent, int keep);
/* Where a failing step is told: on stderr as "PROG: STAGE failed: ERROR" (prog borrowed for the
 * process's life, e.g. "kwg-exec"), and as a struct kwg_sandbox_status on status_fd when it is
 * >= 0 (a descriptor the caller made close-on-exec). Call once, before the others. */
void kwg_launch_report_to(const char *prog, int status_fd);
/* Tells that stage failed with err (a positive errno) and exits 125; for KWG_STAGE_EXEC, 127
 * when err is ENOENT, else 126. */
KWG_NORETURN void kwg_launch_fail(enum kwg_sandbox_stage stage, int err);
/* Moves this process into the cgroups whose cgroup.procs files are procs (borrowed), or fails
 * (stage cgroups). */
void kwg_launch_join_cgroups(char *const *procs, size_t n);
/* Applies spec (borrowed; it must stay valid, as the process's memory does) to this process and
 * runs its command: never returns. The process ends as the command does (a signal as 128 + its
 * number) or fails as kwg_launch_fail() says. */
KWG_NORETURN void kwg_launch(const struct kwg_sandbox_spec *spec);
