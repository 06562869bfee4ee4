/* SPDX-License-Identifier: Apache-2.0 */
/* The seccomp policies, as data. `default` follows the policy of Docker's default seccomp profile
 * (moby profiles/seccomp/default.json): what it refuses a container without extra capabilities is
 * refused here with EPERM. `strict` refuses more. Namespace-creating clone()/unshare() flags and
 * non-UNIX sockets (strict) are argument rules, in seccomp.c. A name that does not resolve on the
 * build architecture fails test_sandbox_policy. */
#include "sandbox/sandbox.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

/* SECURITY: the kernel's attack surface a task never needs. */
#define DOCKER_DENIED                                                                              \
	"acct", "add_key", "bpf", "clock_adjtime", "clock_settime", "create_module",               \
	    "delete_module", "finit_module", "fanotify_init", "fsconfig", "fsmount", "fsopen",     \
	    "fspick", "get_kernel_syms", "get_mempolicy", "init_module", "io_uring_enter",         \
	    "io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp", "kexec_file_load",    \
	    "kexec_load", "keyctl", "lookup_dcookie", "mbind", "mount", "mount_setattr",           \
	    "move_mount", "move_pages", "name_to_handle_at", "nfsservctl", "open_by_handle_at",    \
	    "open_tree", "perf_event_open", "pivot_root", "process_vm_readv", "process_vm_writev", \
	    "query_module", "quotactl", "quotactl_fd", "reboot", "request_key", "set_mempolicy",   \
	    "setdomainname", "sethostname", "setns", "settimeofday", "swapoff", "swapon", "sysfs", \
	    "_sysctl", "umount2", "uselib", "userfaultfd", "ustat", "syslog"

static const char *const default_denied[] = {DOCKER_DENIED, NULL};
/* strict: also no tracing of any process and no execution-domain changes. `default` allows ptrace,
 * as Docker does on kernels >= 4.8: a task may trace its own children (strace, debuggers), while
 * the worker is out of reach (another user, and the task's pid namespace). */
static const char *const strict_denied[] = {DOCKER_DENIED, "ptrace", "personality", NULL};
static const char *const none_denied[] = {NULL};

const char *const *kwg_sandbox_denied_syscalls(enum kwg_sandbox_profile p)
{
	switch (p) {
	case KWG_SANDBOX_DEFAULT:
	case KWG_SANDBOX_CONTAINER:
		return default_denied;
	case KWG_SANDBOX_STRICT:
		return strict_denied;
	default:
		return none_denied;
	}
}

int kwg_sandbox_policy_parse(const char *text, size_t len, struct kwg_strv *deny,
                             struct kwg_strv *allow, struct kwg_err *err)
{
	const char *p = text, *end = text + len;
	unsigned line = 0;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
		char buf[128], verb[16], name[64], extra[2];
		int fields, r;

		line++;
		if (n >= sizeof(buf))
			return kwg_err_set(err, -EBADMSG, "line %u: too long", line);
		memcpy(buf, p, n);
		buf[n] = '\0';
		p += n + (eol ? 1 : 0);
		if (strchr(buf, '#'))
			*strchr(buf, '#') = '\0';
		fields = sscanf(buf, "%15s %63s %1s", verb, name, extra);
		if (fields <= 0)
			continue;
		if (fields != 2 || (strcmp(verb, "deny") != 0 && strcmp(verb, "allow") != 0))
			return kwg_err_set(err, -EBADMSG,
			                   "line %u: expected \"deny NAME\" or \"allow NAME\"",
			                   line);
		for (const char *c = name; *c; c++)
			if (!islower((unsigned char)*c) && !isdigit((unsigned char)*c) && *c != '_')
				return kwg_err_set(err, -EBADMSG,
				                   "line %u: '%s' is not a syscall name", line,
				                   name);
		r = kwg_strv_push(strcmp(verb, "deny") == 0 ? deny : allow, name);
		if (r < 0)
			return r;
	}
	return 0;
}
