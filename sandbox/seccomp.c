/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/seccomp.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"

/* libseccomp's SCMP_A0() leaves the second datum to zero-initialisation, which clang reports. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static bool listed(const struct kwg_strv *list, const char *name)
{
	for (size_t i = 0; list && i < list->n; i++)
		if (strcmp(list->v[i], name) == 0)
			return true;
	return false;
}

static int build(enum kwg_sandbox_profile p, const struct kwg_strv *deny,
                 const struct kwg_strv *allow, scmp_filter_ctx *ret)
{
	static const unsigned long ns_flags[] = {CLONE_NEWNS,  CLONE_NEWCGROUP, CLONE_NEWUTS,
	                                         CLONE_NEWIPC, CLONE_NEWUSER,   CLONE_NEWPID,
	                                         CLONE_NEWNET, CLONE_NEWTIME};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = 0;

	if (!ctx)
		return -ENOMEM;
	for (const char *const *n = kwg_sandbox_denied_syscalls(p); r >= 0 && *n; n++) {
		int nr = seccomp_syscall_resolve_name(*n);
		if (nr == __NR_SCMP_ERROR || listed(allow, *n))
			continue; /* test_sandbox checks that every name resolves */
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	/* The operator's additions (names checked by the worker at start). */
	for (size_t i = 0; r >= 0 && deny && i < deny->n; i++) {
		int nr = seccomp_syscall_resolve_name(deny->v[i]);
		if (nr != __NR_SCMP_ERROR)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	/* SECURITY: a new namespace would give the task root-like powers over it; one rule per
	 * flag, as seccomp compares with "masked equal". */
	for (size_t i = 0; r >= 0 && i < sizeof(ns_flags) / sizeof(ns_flags[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(unshare), 1,
		                     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
		if (r >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
			                     SCMP_A0(SCMP_CMP_MASKED_EQ, ns_flags[i], ns_flags[i]));
	}
	if (r >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r >= 0 && p == KWG_SANDBOX_STRICT)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
		                     SCMP_A0(SCMP_CMP_NE, AF_UNIX));
	if (r < 0) {
		seccomp_release(ctx);
		return r;
	}
	*ret = ctx;
	return 0;
}

int kwg_sandbox_seccomp_compile(enum kwg_sandbox_profile p, const struct kwg_strv *deny,
                                const struct kwg_strv *allow, uint8_t **ret, size_t *ret_len)
{
	scmp_filter_ctx ctx;
	cleanup_close int fd = -1;
	struct stat st;
	int r;

	*ret = NULL;
	*ret_len = 0;
	if (p == KWG_SANDBOX_NONE)
		return 0;
	r = build(p, deny, allow, &ctx);
	if (r < 0)
		return r;
	/* libseccomp 2.5 exports to a descriptor only. */
	fd = memfd_create("kwg-seccomp", MFD_CLOEXEC);
	r = fd < 0 ? -errno : seccomp_export_bpf(ctx, fd);
	seccomp_release(ctx);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0)
		return -errno;
	*ret = malloc((size_t)st.st_size);
	if (!*ret)
		return -ENOMEM;
	if (pread(fd, *ret, (size_t)st.st_size, 0) != st.st_size) {
		free(*ret);
		*ret = NULL;
		return -EIO;
	}
	*ret_len = (size_t)st.st_size;
	return 0;
}

const char *kwg_sandbox_seccomp_unknown_name(enum kwg_sandbox_profile p)
{
	for (const char *const *n = kwg_sandbox_denied_syscalls(p); *n; n++)
		if (seccomp_syscall_resolve_name(*n) == __NR_SCMP_ERROR)
			return *n;
	return NULL;
}

const char *kwg_sandbox_seccomp_unknown_in(const struct kwg_strv *list)
{
	for (size_t i = 0; i < list->n; i++)
		if (seccomp_syscall_resolve_name(list->v[i]) == __NR_SCMP_ERROR)
			return list->v[i];
	return NULL;
}
