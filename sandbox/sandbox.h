/* SPDX-License-Identifier: Apache-2.0 */
/* The sandbox a Process task runs in, as data: struct kwg_sandbox_spec, built by the worker and
 * applied by kwg-exec, step by step, always in this order (see docs/sandbox.md):
 *   1 fds       stdio kept, every other inherited descriptor closed
 *   2 session   a session and process group of its own
 *   3 rlimits   CPU seconds, open files, processes, file size, core = 0; the task's cgroups
 *               (memory, pids) are joined here when the worker made them
 *   4 userns    (only when not root) a user namespace mapping the caller to root inside
 *   5 ns        pid (kwg-exec becomes a PID-1 reaper that forks the task), mount (private
 *               propagation, a fresh /proc, a private /tmp; strict: everything read-only but the
 *               working directory), ipc, uts; strict: net
 *   6 ids       setgroups, setgid, setuid to the task user
 *   7 caps      capability bounding set emptied (and effective ones gone with setuid)
 *   8 nnp       no_new_privs
 *   9 seccomp   the profile's filter, last
 *  10 chdir     into the working directory
 *  11 exec      execve, PATH searched in the task's environment
 * A failure is reported on the status descriptor as (stage, errno) and kwg-exec exits 125; 126
 * when the program is not executable, 127 when it is not found. Pure data and codecs here. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strv.h"

#define KWG_SANDBOX_SPEC_FD 3
#define KWG_SANDBOX_STATUS_FD 4
#define KWG_SANDBOX_EXIT_SETUP 125
#define KWG_SANDBOX_EXIT_NOEXEC 126
#define KWG_SANDBOX_EXIT_NOTFOUND 127

enum kwg_sandbox_profile {
	KWG_SANDBOX_NONE,    /* an explicit, logged opt-out: a plain child process */
	KWG_SANDBOX_DEFAULT, /* Docker's default seccomp policy, pid/mount/ipc/uts namespaces */
	KWG_SANDBOX_STRICT,  /* default + no network, no ptrace, read-only but the working dir */
	/* default's seccomp policy, ids, caps and limits without namespaces (an ordinary container
	 * may not make them): kwg-exec stays the task's parent, a child subreaper that kills every
	 * descendant when the task ends or is stopped */
	KWG_SANDBOX_CONTAINER,
	KWG_SANDBOX_PROFILE__COUNT,
};

enum kwg_sandbox_stage {
	KWG_STAGE_SPEC,
	KWG_STAGE_FDS,
	KWG_STAGE_SESSION,
	KWG_STAGE_RLIMITS,
	KWG_STAGE_CGROUPS,
	KWG_STAGE_USERNS,
	KWG_STAGE_NS,
	KWG_STAGE_MOUNTS,
	KWG_STAGE_IDS,
	KWG_STAGE_CAPS,
	KWG_STAGE_NNP,
	KWG_STAGE_SECCOMP,
	KWG_STAGE_CHDIR,
	KWG_STAGE_EXEC,
	KWG_STAGE_REAPER, /* container: becoming the task's reaper (subreaper, /proc children) */
	KWG_STAGE__COUNT,
};

/* What kwg-exec writes on the status descriptor when a step fails. */
struct kwg_sandbox_status {
	int32_t stage;
	int32_t err; /* positive errno */
};

struct kwg_sandbox_limits {
	uint64_t cpu_seconds; /* 0: unlimited */
	uint64_t address_space_bytes;
	uint64_t open_files;
	uint64_t processes;
	uint64_t file_size_bytes;
};

struct kwg_sandbox_spec {
	enum kwg_sandbox_profile profile;
	int64_t uid, gid; /* -1: keep the caller's */
	struct kwg_sandbox_limits limits;
	char *workdir;
	struct kwg_strv argv, envp;
	/* cgroup.procs files kwg-exec joins before anything forks (empty: no cgroups). */
	struct kwg_strv cgroups;
	/* The seccomp filter, compiled once by the worker (seccomp.h): a BPF program, struct
	 * sock_filter[] as bytes; empty only for the none profile. */
	uint8_t *filter;
	size_t filter_len;
};

const char *kwg_sandbox_profile_name(enum kwg_sandbox_profile p);
/* 0 and *ret, or -EINVAL for an unknown name. */
int kwg_sandbox_profile_from_name(const char *name, enum kwg_sandbox_profile *ret);
const char *kwg_sandbox_stage_name(enum kwg_sandbox_stage s);

/* The spec as bytes: "kwg-sandbox-2\0" then NUL-terminated fields (see spec.c). New buffer in
 * *ret, its size in *ret_len. 0 or -ENOMEM. */
/* A parked kwg-exec ("kwg-exec --parked CGROUP_PROCS...", runner/spare.h) gets its spec's
 * descriptor over a Unix socket instead of fd 3 at its start. send: 0 or -errno (-EPIPE: the
 * receiver is gone). recv: the descriptor (close-on-exec), -ENODATA at end of file, or -errno. */
int kwg_sandbox_send_spec(int sock, int spec_fd);
int kwg_sandbox_recv_spec(int sock);

int kwg_sandbox_spec_encode(const struct kwg_sandbox_spec *spec, char **ret, size_t *ret_len);
/* Decodes and validates (absolute workdir, non-empty argv, known profile, a filter of whole
 * BPF instructions, present unless the profile is none). 0, or -EBADMSG with
 * err saying why. *ret is released by kwg_sandbox_spec_done, also on failure. */
int kwg_sandbox_spec_decode(const char *data, size_t len, struct kwg_sandbox_spec *ret,
                            struct kwg_err *err);
void kwg_sandbox_spec_done(struct kwg_sandbox_spec *spec);

/* Parses a policy override file: lines "deny NAME" or "allow NAME", '#' comments, blank lines.
 * Appends to *deny and *allow. 0, or -EBADMSG with err naming the line. */
int kwg_sandbox_policy_parse(const char *text, size_t len, struct kwg_strv *deny,
                             struct kwg_strv *allow, struct kwg_err *err);

/* The profile's seccomp rules, as data: syscall names denied with EPERM. NULL-terminated. */
const char *const *kwg_sandbox_denied_syscalls(enum kwg_sandbox_profile p);
