/* SPDX-License-Identifier: Apache-2.0 */
/* The launcher's steps (launch.h), shared by kwg-exec and `kwg sandbox`. It may exit: a failing
 * step is the process's exit status, told on the status descriptor and stderr. */
#include "sandbox/launch.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/mount.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char *report_prog = "kwg-exec";
static int status_fd = -1;

int kwg_launch_detach(pid_t parent, int keep)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		return -1;
	/* close_range needs Linux 5.9; closing each is the fallback. */
	if (syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) < 0)
		for (int fd = keep + 1; fd < 65536; fd++)
			(void)close(fd);
	return 0;
}

void kwg_launch_report_to(const char *prog, int fd)
{
	report_prog = prog;
	status_fd = fd;
}

KWG_NORETURN void kwg_launch_fail(enum kwg_sandbox_stage stage, int err)
{
	struct kwg_sandbox_status st = {.stage = (int32_t)stage, .err = err};
	int code = KWG_SANDBOX_EXIT_SETUP;

	if (status_fd >= 0)
		(void)!write(status_fd, &st, sizeof(st));
	fprintf(stderr, "%s: %s failed: %s\n", report_prog, kwg_sandbox_stage_name(stage),
	        strerror(err));
	if (stage == KWG_STAGE_EXEC)
		code = err == ENOENT ? KWG_SANDBOX_EXIT_NOTFOUND : KWG_SANDBOX_EXIT_NOEXEC;
	_exit(code);
}

static void set_limits(const struct kwg_sandbox_limits *l)
{
	const struct {
		int resource;
		uint64_t value;
	} table[] = {
	    {RLIMIT_CPU, l->cpu_seconds},
	    {RLIMIT_NOFILE, l->open_files},
	    {RLIMIT_NPROC, l->processes},
	    {RLIMIT_FSIZE, l->file_size_bytes},
	};
	struct rlimit core = {0, 0};

	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		/* For CPU time the hard limit is one second later, so that the task gets SIGXCPU
		 * (and a clear exit) before the kernel's SIGKILL. */
		struct rlimit rl = {table[i].value,
		                    table[i].value + (table[i].resource == RLIMIT_CPU ? 1 : 0)};
		if (table[i].value && setrlimit(table[i].resource, &rl) < 0)
			kwg_launch_fail(KWG_STAGE_RLIMITS, errno);
	}
	if (setrlimit(RLIMIT_CORE, &core) < 0)
		kwg_launch_fail(KWG_STAGE_RLIMITS, errno);
}

/* SECURITY: joined while still root and before any fork, so every process of the task is in
 * the task's memory and pids cgroups. procs: their cgroup.procs files. */
void kwg_launch_join_cgroups(char *const *procs, size_t n)
{
	char pid[32];
	int len = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());

	for (size_t i = 0; i < n; i++) {
		int fd = open(procs[i], O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, pid, (size_t)len) != len)
			kwg_launch_fail(KWG_STAGE_CGROUPS, errno ? errno : EIO);
		(void)close(fd);
	}
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		kwg_launch_fail(KWG_STAGE_USERNS, errno ? errno : EIO);
	(void)close(fd);
}

/* Step 4: without root, a user namespace gives the rights the other namespaces need. */
static void enter_userns(void)
{
	char map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (unshare(CLONE_NEWUSER) < 0)
		kwg_launch_fail(KWG_STAGE_USERNS, errno);
	write_file("/proc/self/setgroups", "deny");
	(void)snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
	write_file("/proc/self/uid_map", map);
	(void)snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
	write_file("/proc/self/gid_map", map);
}

static void mount_or_kwg_launch_fail(const char *src, const char *dst, const char *type,
                                     unsigned long flags, const char *data)
{
	if (mount(src, dst, type, flags, data) < 0)
		kwg_launch_fail(KWG_STAGE_MOUNTS, errno);
}

/* mkdir -p inside the fresh /tmp (0755, owned by root: the task cannot replace the path). */
static void make_path(const char *path)
{
	char buf[4096];

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		kwg_launch_fail(KWG_STAGE_MOUNTS, ENAMETOOLONG);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			kwg_launch_fail(KWG_STAGE_MOUNTS, errno);
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		kwg_launch_fail(KWG_STAGE_MOUNTS, errno);
}

/* Inside the new mount namespace, as PID 1 of the new pid namespace. */
/* SECURITY: the system directories are read-only in the task's mount namespace, whichever user
 * it runs as (a task run as root by the operator's choice cannot rewrite /etc or /usr). Links
 * (/bin -> usr/bin on merged-/usr systems) and absent directories are skipped. */
static void protect_system_dirs(void)
{
	static const char *const dirs[] = {"/usr",   "/etc",   "/bin",    "/sbin", "/lib",
	                                   "/lib32", "/lib64", "/libx32", "/opt",  "/boot"};
	struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY};
	struct stat st;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (lstat(dirs[i], &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		mount_or_kwg_launch_fail(dirs[i], dirs[i], NULL, MS_BIND | MS_REC, NULL);
		if (syscall(SYS_mount_setattr, -1, dirs[i], AT_RECURSIVE, &ro, sizeof(ro)) < 0)
			kwg_launch_fail(KWG_STAGE_MOUNTS, errno);
	}
}

static void prepare_mounts(const struct kwg_sandbox_spec *spec)
{
	char self_fd[64];
	/* Held across the mounts: a working directory under /tmp is shadowed by the private /tmp
	 * and bound back at the same path below. */
	int wfd = open(spec->workdir, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (wfd < 0)
		kwg_launch_fail(KWG_STAGE_CHDIR, errno);
	/* SECURITY: nothing mounted here propagates back to the host. */
	mount_or_kwg_launch_fail(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
	if (spec->profile == KWG_SANDBOX_DEFAULT)
		protect_system_dirs();
	if (spec->profile == KWG_SANDBOX_STRICT) {
		struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
		/* SECURITY: strict tasks write only to their working directory and a private /tmp.
		 */
		if (syscall(SYS_mount_setattr, -1, "/", AT_RECURSIVE, &attr, sizeof(attr)) < 0)
			kwg_launch_fail(KWG_STAGE_MOUNTS, errno);
		mount_or_kwg_launch_fail(spec->workdir, spec->workdir, NULL, MS_BIND | MS_REC,
		                         NULL);
	}
	/* A /proc of the task's own pid namespace: the worker and other tasks are not in it. */
	mount_or_kwg_launch_fail("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	mount_or_kwg_launch_fail("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV,
	                         "mode=1777,size=256m");
	if (strncmp(spec->workdir, "/tmp/", 5) == 0) {
		make_path(spec->workdir);
		(void)snprintf(self_fd, sizeof(self_fd), "/proc/self/fd/%d", wfd);
		mount_or_kwg_launch_fail(self_fd, spec->workdir, NULL, MS_BIND | MS_REC, NULL);
	}
	(void)close(wfd);
	if (spec->profile == KWG_SANDBOX_STRICT) {
		/* The bind mounts above inherited read-only: the working directory is writable. */
		struct mount_attr rw = {.attr_clr = MOUNT_ATTR_RDONLY};
		if (syscall(SYS_mount_setattr, -1, spec->workdir, 0, &rw, sizeof(rw)) < 0)
			kwg_launch_fail(KWG_STAGE_MOUNTS, errno);
	}
}

/* Exits as a child with wait status st did (a signal as 128 + its number, like a shell). */
static KWG_NORETURN void exit_like(int st)
{
	_exit(WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
}

/* The PID 1 of the task's pid namespace: reaps every orphan, ends with the task's status. When
 * it exits the kernel kills whatever is left in the namespace, daemons included. */
static KWG_NORETURN void reap(pid_t task)
{
	int status = 0;

	(void)prctl(PR_SET_NAME, "kwg-reaper");
	for (;;) {
		int st;
		pid_t pid = waitpid(-1, &st, 0);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0)
			break;
		if (pid == task) {
			status = st;
			break;
		}
	}
	exit_like(status);
}

/* Waits for a child and exits as it did. */
static KWG_NORETURN void wait_and_exit(pid_t child)
{
	int st;

	while (waitpid(child, &st, 0) < 0)
		if (errno != EINTR)
			_exit(KWG_SANDBOX_EXIT_SETUP);
	exit_like(st);
}

/* AddressSanitizer cannot follow a child onto a stack of its own (it warns on the task's stderr
 * and may report falsely): sanitizer builds fork instead, with the same steps in each process. */
#if defined(__SANITIZE_ADDRESS__)
#define SHARED_VM 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SHARED_VM 0
#endif
#endif
#ifndef SHARED_VM
#define SHARED_VM 1
#endif

/* The stacks of the two children spawn_shared() makes: the namespace's PID 1, then the task
 * until its execve. Untouched pages of .bss cost nothing. */
static char pid1_stack[256 * 1024] __attribute__((aligned(64)));
static char task_stack[256 * 1024] __attribute__((aligned(64)));

/* Starts fn(arg) in a child that shares this process's memory, as vfork() does: this process
 * is suspended until the child execs or exits, so the two never run at once. Unlike fork(),
 * nothing is copied (no page tables, no copy-on-write faults after it) and the child's exit or
 * execve frees no address space: per task this was a third of kwg-exec's CPU (two forks, their
 * faults, two address spaces torn down; docs/performance.md). Credentials, rlimits, seccomp
 * filters, namespaces and descriptors stay per process (no CLONE_THREAD, CLONE_FS or
 * CLONE_FILES): the child's changes are its own. On the failure to clone, dies (stage NS); in
 * the parent, which only waits from now on, the status descriptor is closed (the child
 * reports). */
static pid_t spawn_shared(int (*fn)(void *), void *arg, char *stack, size_t size)
{
#if SHARED_VM
	pid_t pid = clone(fn, stack + size, CLONE_VM | CLONE_VFORK | SIGCHLD, arg);
#else
	pid_t pid = fork();

	(void)stack;
	(void)size;
	if (pid == 0)
		_exit(fn(arg));
#endif

	if (pid < 0)
		kwg_launch_fail(KWG_STAGE_NS, errno);
	if (status_fd >= 0)
		(void)close(status_fd);
	return pid;
}

static KWG_NORETURN void run_task(const struct kwg_sandbox_spec *spec);

static int task_main(void *arg)
{
	run_task(arg);
}

/* PID 1 of the task's pid namespace, in its new mount namespace: mounts, host name, then the
 * task, which it reaps. */
static int pid1_main(void *arg)
{
	const struct kwg_sandbox_spec *spec = arg;

	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	prepare_mounts(spec);
	if (sethostname("kwg", 3) < 0)
		kwg_launch_fail(KWG_STAGE_NS, errno);
	reap(spawn_shared(task_main, arg, task_stack, sizeof(task_stack)));
}

/* Enters the namespaces; the process that called it waits for PID 1 and exits as it did. */
static KWG_NORETURN void enter_namespaces(const struct kwg_sandbox_spec *spec)
{
	int flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS;

	if (spec->profile == KWG_SANDBOX_STRICT)
		flags |= CLONE_NEWNET;
	if (geteuid() != 0)
		enter_userns();
	if (unshare(flags) < 0)
		kwg_launch_fail(KWG_STAGE_NS, errno);
	/* The first child is PID 1 of the new pid namespace. */
	wait_and_exit(spawn_shared(pid1_main, (void *)spec, pid1_stack, sizeof(pid1_stack)));
}

static void drop_privileges(const struct kwg_sandbox_spec *spec)
{
	struct __user_cap_header_struct head = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0}};

	/* SECURITY: the bounding set goes first (it needs CAP_SETPCAP, gone after setuid), up to
	 * the first number this kernel does not know (EINVAL). */
	for (int cap = 0;; cap++) {
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL)
			break;
		/* container, run by a user without CAP_SETPCAP: it holds no capability to drop,
		 * and no_new_privs (below) keeps file capabilities and setuid bits from adding
		 * any. */
		if (errno == EPERM && spec->profile == KWG_SANDBOX_CONTAINER && geteuid() != 0)
			break;
		kwg_launch_fail(KWG_STAGE_CAPS, errno);
	}
	if (spec->gid >= 0) {
		gid_t gid = (gid_t)spec->gid;
		if (setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0)
			kwg_launch_fail(KWG_STAGE_IDS, errno);
	}
	if (spec->uid >= 0) {
		uid_t uid = (uid_t)spec->uid;
		if (setresuid(uid, uid, uid) < 0)
			kwg_launch_fail(KWG_STAGE_IDS, errno);
	}
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	if (syscall(SYS_capset, &head, data) < 0)
		kwg_launch_fail(KWG_STAGE_CAPS, errno);
}

/* SECURITY: the seccomp filter the worker compiled (libseccomp, seccomp.c), or for `kwg sandbox`
 * the build (prebuilt.h), last before the exec but chdir; no_new_privs is set. Neither kwg-exec
 * nor the `kwg` front links libseccomp. */
static void load_filter(const struct kwg_sandbox_spec *spec)
{
	struct sock_fprog prog = {(unsigned short)(spec->filter_len / sizeof(struct sock_filter)),
	                          (struct sock_filter *)(void *)spec->filter};

	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		kwg_launch_fail(KWG_STAGE_SECCOMP, errno);
}

/* container: the pids of this process's children, from /proc/self/task/<pid>/children (each
 * followed by a space; a number cut off by the end of the buffer is left for the next read).
 * Children cannot be reaped but by this process, so a listed pid stays this process's child (a
 * zombie at worst) until it waits: killing it never hits a stranger. Count, or -1. */
static int kill_children(const char *path)
{
	char buf[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		(void)close(fd);
	if (len < 0)
		return -1;
	buf[len] = '\0';
	for (char *p = buf, *end; *p; p = end + 1) {
		long pid = strtol(p, &end, 10);
		if (end == p || *end != ' ')
			break;
		if (pid <= 1)
			continue;
		/* Its process group too, when it leads one (setsid, setpgid): the group goes at
		 * once, forks racing with the signal included. */
		(void)kill((pid_t)-pid, SIGKILL);
		if (kill((pid_t)pid, SIGKILL) == 0)
			n++;
	}
	return n;
}

/* container: kills every descendant and reaps them. Orphans of the task reparent to this
 * process (a child subreaper), so a double-forked setsid daemon is still a child here; a process
 * forking while this runs is killed on the next round, its children reparented here. */
static void kill_descendants(const char *children)
{
	for (;;) {
		int n = kill_children(children);
		if (n < 0) /* the list vanished (cannot happen once checked): the group at least */
			(void)kill(-getpgrp(), SIGKILL);
		/* One reaped (waiting for it when some were killed), then every other one that is
		 * dead already, before the list is read again: a fork bomb's thousand processes go
		 * in a few rounds, not one round each. */
		if (waitpid(-1, NULL, n > 0 ? 0 : WNOHANG) < 0 && errno == ECHILD)
			return;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
	}
}

/* container: this process stays root (or the worker's user), keeps no descriptor but stdio and
 * waits: for the task (then kills whatever the task left behind and exits as the task did), or
 * for SIGTERM, SIGINT or SIGHUP (the worker stopping the task, or dying: the parent-death
 * signal) to kill the whole tree and exit 137, as a SIGKILL'd task. */
static KWG_NORETURN void supervise(pid_t task, const sigset_t *set, const char *children)
{
	int status = 0;

	(void)prctl(PR_SET_NAME, "kwg-reaper");
	for (;;) {
		siginfo_t si;
		int st, sig = sigwaitinfo(set, &si);
		pid_t pid;
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			status = W_EXITCODE(0, SIGKILL);
			break;
		}
		while ((pid = waitpid(-1, &st, WNOHANG)) > 0 && pid != task)
			;
		if (pid == task) {
			status = st;
			break;
		}
	}
	/* The task's process group first, in one go (a fork bomb does not outrun it), then
	 * whatever left the group (setsid daemons) through the list of children. */
	(void)kill(-task, SIGKILL);
	kill_descendants(children);
	exit_like(status);
}

/* container: instead of namespaces, this process becomes a child subreaper and forks the task;
 * the parent supervises (never returns), the child goes on to drop its privileges. */
static void become_reaper(void)
{
	static char children[64];
	sigset_t set;
	pid_t pid;

	(void)snprintf(children, sizeof(children), "/proc/self/task/%d/children", (int)getpid());
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	/* SECURITY: the worker's death reaches the reaper as SIGTERM, which it answers by killing
	 * the task's whole tree (SIGKILL would leave the task's daemons to the container's init).
	 */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0 || prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ||
	    prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || access(children, R_OK) < 0)
		kwg_launch_fail(KWG_STAGE_REAPER, errno);
	pid = fork();
	if (pid < 0)
		kwg_launch_fail(KWG_STAGE_REAPER, errno);
	if (pid > 0) {
		if (status_fd >= 0)
			(void)close(status_fd);
		supervise(pid, &set, children);
	}
	/* A process group of its own: the reaper ends it in one signal. */
	if (setpgid(0, 0) < 0)
		kwg_launch_fail(KWG_STAGE_REAPER, errno);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)prctl(PR_SET_CHILD_SUBREAPER, 0);
}

/* Steps 6 to 11 in the task's own process: ids, caps, no_new_privs, seccomp, chdir, exec. */
static KWG_NORETURN void run_task(const struct kwg_sandbox_spec *spec)
{
	if (spec->profile != KWG_SANDBOX_NONE) {
		drop_privileges(spec);
		/* The parent-death signal is cleared by a change of user: set again, the task
		 * dies with its reaper even when that is SIGKILL'd. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			kwg_launch_fail(KWG_STAGE_NNP, errno);
		load_filter(spec);
	}
	if (chdir(spec->workdir) < 0)
		kwg_launch_fail(KWG_STAGE_CHDIR, errno);
	/* The PATH search uses the task's own environment. */
	environ = spec->envp.v ? spec->envp.v : (char *[]){NULL};
	/* The address-space limit goes last: it is the task's, and the launcher itself (in a
	 * sanitizer build, say) may need more mappings until the exec. */
	if (spec->profile != KWG_SANDBOX_NONE && spec->limits.address_space_bytes) {
		struct rlimit as = {spec->limits.address_space_bytes,
		                    spec->limits.address_space_bytes};
		if (setrlimit(RLIMIT_AS, &as) < 0)
			kwg_launch_fail(KWG_STAGE_RLIMITS, errno);
	}
	execvp(spec->argv.v[0], spec->argv.v);
	kwg_launch_fail(KWG_STAGE_EXEC, errno);
}

KWG_NORETURN void kwg_launch(const struct kwg_sandbox_spec *spec)
{
	if (getsid(0) != getpid() && setsid() < 0)
		kwg_launch_fail(KWG_STAGE_SESSION, errno);
	if (spec->profile != KWG_SANDBOX_NONE) {
		set_limits(&spec->limits);
		kwg_launch_join_cgroups(spec->cgroups.v, spec->cgroups.n);
		if (spec->profile != KWG_SANDBOX_CONTAINER)
			enter_namespaces(spec); /* the task runs in PID 1's child */
		become_reaper();
	}
	run_task(spec);
}
