/* SPDX-License-Identifier: Apache-2.0 */
/* Each profile's seccomp program without an override, compiled at build time by
 * kwg_gen_filters (sandbox/gen_filters.c, with seccomp.c): what kwg_sandbox_seccomp_compile()
 * returns for (p, NULL, NULL) on the build machine, so that `kwg sandbox` needs no libseccomp. */
#pragma once
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "sandbox/sandbox.h"

/* The program of profile p (static data: borrowed for the process's life; empty for none) in
 * *ret and its size in bytes in *ret_len. 0, or -EINVAL for an unknown profile. */
int kwg_sandbox_prebuilt_filter(enum kwg_sandbox_profile p, const uint8_t **ret, size_t *ret_len);
