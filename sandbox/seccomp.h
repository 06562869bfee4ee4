/* SPDX-License-Identifier: Apache-2.0 */
/* Builds a profile's seccomp filter with libseccomp: the denied syscalls of policy.c fail with
 * EPERM; clone() and unshare() asking for a new namespace fail with EPERM; clone3 fails with
 * ENOSYS (its flags cannot be inspected; libc falls back to clone); strict: socket() for anything
 * but AF_UNIX fails with EAFNOSUPPORT. Other architectures' syscalls kill the process. */
#pragma once
#include "sandbox/sandbox.h"

/* Loads the filter into the calling thread (no_new_privs must be set): the profile's, with the
 * override lists applied (deny may be NULL, allow may be NULL). 0 or a negative errno. */
int kwg_sandbox_seccomp_load(enum kwg_sandbox_profile p, const struct kwg_strv *deny,
                             const struct kwg_strv *allow);
/* Writes the BPF program to fd (for tests). */
int kwg_sandbox_seccomp_export(enum kwg_sandbox_profile p, int fd);
/* The first name of list that the build architecture does not know, or NULL. */
const char *kwg_sandbox_seccomp_unknown_in(const struct kwg_strv *list);
/* The first denied syscall name the build architecture does not know, or NULL. */
const char *kwg_sandbox_seccomp_unknown_name(enum kwg_sandbox_profile p);
