/* SPDX-License-Identifier: Apache-2.0 */
/* Writing to cgroup file systems, which answer EINTR while a signal is pending (the memory
 * controller does; the worker gets SIGCHLD all the time): each call retries until it is done or
 * fails for good. Used for the worker's own cgroups and each task's. */
#pragma once

/* mkdir(path, 0755). 0 or -errno (-EEXIST included). */
int kwg_cgroup_mkdir(const char *path);
/* Writes text to dir/file. 0 or -errno. */
int kwg_cgroup_write(const char *dir, const char *file, const char *text);
