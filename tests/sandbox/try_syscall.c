/* SPDX-License-Identifier: Apache-2.0 */
/* A probe for the sandbox battery: attempts one forbidden operation with harmless arguments and
 * prints "blocked: <errno name>" (exit 0) or "ALLOWED" (exit 1). */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static long attempt(const char *what, const char *arg)
{
	pid_t pid = arg ? (pid_t)atoi(arg) : 1;

	if (!strcmp(what, "mount"))
		return mount("none", "/mnt", "tmpfs", 0, NULL);
	if (!strcmp(what, "unshare"))
		return unshare(CLONE_NEWUSER);
	if (!strcmp(what, "unshare-net"))
		return unshare(CLONE_NEWNET);
	if (!strcmp(what, "setns")) {
		int fd = open("/proc/1/ns/net", O_RDONLY);
		return setns(fd, 0);
	}
	if (!strcmp(what, "keyctl"))
		return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0);
	if (!strcmp(what, "bpf")) {
		union bpf_attr attr;
		memset(&attr, 0, sizeof(attr));
		return syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
	}
	if (!strcmp(what, "perf_event_open")) {
		struct perf_event_attr attr;
		memset(&attr, 0, sizeof(attr));
		attr.size = sizeof(attr);
		attr.type = PERF_TYPE_SOFTWARE;
		return syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	}
	if (!strcmp(what, "io_uring_setup")) {
		char params[120] = {0};
		return syscall(SYS_io_uring_setup, 1, params);
	}
	if (!strcmp(what, "userfaultfd"))
		return syscall(SYS_userfaultfd, 0);
	if (!strcmp(what, "kexec_load"))
		return syscall(SYS_kexec_load, 0, 0, NULL, 0);
	if (!strcmp(what, "init_module"))
		return syscall(SYS_init_module, NULL, 0, "");
	if (!strcmp(what, "reboot"))
		return reboot(RB_POWER_OFF == 0 ? 0 : 0x1234567);
	if (!strcmp(what, "settimeofday")) {
		struct timeval tv;
		gettimeofday(&tv, NULL);
		return settimeofday(&tv, NULL);
	}
	if (!strcmp(what, "ptrace"))
		return ptrace(PTRACE_ATTACH, pid, NULL, NULL);
	if (!strcmp(what, "kill"))
		return kill(pid, 0);
	if (!strcmp(what, "socket-inet"))
		return socket(AF_INET, SOCK_STREAM, 0);
	if (!strcmp(what, "sethostname"))
		return sethostname("evil", 4);
	fprintf(stderr, "try_syscall: unknown probe '%s'\n", what);
	exit(2);
}

int main(int argc, char **argv)
{
	long r;

	if (argc < 2) {
		fprintf(stderr, "usage: try_syscall PROBE [PID]\n");
		return 2;
	}
	errno = 0;
	r = attempt(argv[1], argc > 2 ? argv[2] : NULL);
	if (r < 0) {
		printf("%s blocked: %s\n", argv[1], strerrorname_np(errno));
		return 0;
	}
	printf("%s ALLOWED\n", argv[1]);
	return 1;
}
