/* SPDX-License-Identifier: Apache-2.0 */
/* The seccomp policies, as data. `default` follows the policy of Docker's default seccomp profile
 * (moby profiles/seccomp/default.json): what it refuses a container without extra capabilities is
 * refused here with EPERM. `strict` refuses more. Namespace-creating clone()/unshare() flags and
 * non-UNIX sockets (strict) are argument rules, in seccomp.c. A name that does not resolve on the
 * build architecture fails test_sandbox_policy. */
#include "sandbox/sandbox.h"

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
		return default_denied;
	case KWG_SANDBOX_STRICT:
		return strict_denied;
	default:
		return none_denied;
	}
}
