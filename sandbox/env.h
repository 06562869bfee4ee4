/* SPDX-License-Identifier: Apache-2.0 */
/* The environment a task process starts with (kestra-script-tasks.md §3.4, rule a): a minimal
 * base copied from the worker (PATH, HOME, LANG, LC_ALL, TZ), the operator's pass-through list,
 * then the task's own variables. Nothing else of the worker's environment reaches a task: not its
 * database URL, not SECRET_*, not KWG_*. Pure (reads the given parent environment only), but for
 * kwg_sandbox_user_from_name, which reads the user database. */
#pragma once
#include <stdint.h>

#include "common/strv.h"

#define KWG_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* parent: the worker's environment (environ); passthrough: NULL-terminated names, may be NULL;
 * task_env: NAME=value entries applied last, in order. Appends to *ret. 0 or -ENOMEM. */
int kwg_sandbox_task_env(char *const *parent, const char *const *passthrough,
                         const struct kwg_strv *task_env, struct kwg_strv *ret);

/* A task user as "UID", "UID:GID" or a user name (its primary group): 0, -EINVAL for a malformed
 * number, -ENOENT for an unknown name. */
int kwg_sandbox_user_from_name(const char *user, int64_t *uid, int64_t *gid);
