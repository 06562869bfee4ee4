/* SPDX-License-Identifier: Apache-2.0 */
/* Builds a profile's seccomp filter with libseccomp: the denied syscalls of policy.c fail with
 * EPERM; clone() and unshare() asking for a new namespace fail with EPERM; clone3 fails with
 * ENOSYS (its flags cannot be inspected; libc falls back to clone); strict: socket() for anything
 * but AF_UNIX fails with EAFNOSUPPORT. Other architectures' syscalls kill the process. */
#pragma once
#include "sandbox/sandbox.h"

/* Compiles the profile's filter, with the override lists applied (deny and allow may be NULL),
 * into a BPF program (struct sock_filter[] as bytes, new in *ret) that kwg-exec loads as it is:
 * built once per worker, not once per task. 0 (an empty program for the none profile) or a
 * negative errno. */
int kwg_sandbox_seccomp_compile(enum kwg_sandbox_profile p, const struct kwg_strv *deny,
                                const struct kwg_strv *allow, uint8_t **ret, size_t *ret_len);
/* The first name of list that the build architecture does not know, or NULL. */
const char *kwg_sandbox_seccomp_unknown_in(const struct kwg_strv *list);
/* The first denied syscall name the build architecture does not know, or NULL. */
const char *kwg_sandbox_seccomp_unknown_name(enum kwg_sandbox_profile p);
