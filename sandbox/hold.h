/* SPDX-License-Identifier: Apache-2.0 */
/* kwg-exec --hold GATE: the first process of a container of the warm Docker pool
 * (runner/docker.c). Started ahead of need, it waits for the go on the FIFO GATE/go, then
 * execs the task's command, which it reads from GATE/spec, as Docker would have started it.
 * It is still a fresh container per task: a holder execs once and never comes back. */
#pragma once
#include <stddef.h>

#include "common/compat.h"

/* The spec file: NUL-terminated strings, the working directory, the number of arguments in
 * decimal, the arguments, then NAME=value environment entries to the end. */
#define KWG_HOLD_SPEC_MAX_BYTES (8u << 20)

/* Splits a spec (borrowed; its strings are pointed into, so it must end in NUL) into workdir,
 * argv and env (new NULL-terminated arrays of borrowed strings). 0; -EINVAL when malformed;
 * -ENOMEM. */
int kwg_hold_parse(char *spec, size_t len, const char **ret_workdir, char ***ret_argv,
                   char ***ret_env);
/* Docker's ReplaceOrAppendEnvValues: base (borrowed) with each of add replacing the entry of
 * the same name in place, or appended. A new array of borrowed strings, or NULL. */
char **kwg_hold_merge_env(char *const *base, char *const *add);
/* Never returns: execs the task, or exits 125 (no go, bad spec, working directory), 126 or 127
 * (exec failed), writing "STAGE ERRNO" to GATE/status first. */
KWG_NORETURN void kwg_hold_main(const char *gate);
