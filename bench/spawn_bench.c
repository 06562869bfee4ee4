/* SPDX-License-Identifier: Apache-2.0 */
/* Spawn-to-exit of /bin/true: kwg-exec per profile (the worker's path: spec in a memfd on fd 3),
 * side by side with a plain fork+exec, bwrap --unshare-all and firejail --noprofile, alternating
 * round by round; and kwg-exec parked ahead of its task as the worker keeps one (runner/spare.h),
 * timed from the handoff of its spec; and the whole `kwg sandbox -- /bin/true` and `kwg --version`
 * processes (start-up included); with BASELINE_KWG, also that build's `kwg sandbox` in the same
 * rounds (an A/B of two builds). Prints a Markdown table of p50/p90/p99 in milliseconds.
 * Reported, not asserted.
 * usage: kwg_bench_spawn KWG_EXEC ROUNDS KWG [BASELINE_KWG] */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"

extern char **environ;

struct variant {
	const char *name;
	char *const *argv;
	int spec_fd; /* >= 0: becomes fd 3 of the child */
	double *samples;
	int n, failures;
	bool parked; /* argv is started ahead and waits for spec_fd on a socket */
	pid_t next;  /* the parked process, or 0 */
	int sock;    /* its socket */
};

static int make_spec(enum kwg_sandbox_profile p)
{
	struct kwg_sandbox_spec spec = {.profile = p, .uid = 65534, .gid = 65534};
	char *bytes;
	size_t len;
	int fd;

	spec.workdir = (char *)"/tmp";
	spec.limits.open_files = 4096;
	if (kwg_strv_push(&spec.argv, "/bin/true") < 0 ||
	    kwg_strv_push(&spec.envp, "PATH=/usr/bin:/bin") < 0 ||
	    kwg_sandbox_seccomp_compile(p, NULL, NULL, &spec.filter, &spec.filter_len) < 0 ||
	    kwg_sandbox_spec_encode(&spec, &bytes, &len) < 0)
		exit(1);
	fd = memfd_create("spec", 0);
	if (fd < 0 || write(fd, bytes, len) != (ssize_t)len)
		exit(1);
	free(bytes);
	kwg_strv_done(&spec.argv);
	kwg_strv_done(&spec.envp);
	free(spec.filter);
	return fd;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int spawn(struct variant *v, int fd3, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (fd3 >= 0)
		posix_spawn_file_actions_adddup2(&fa, fd3, 3);
	r = posix_spawn(pid, v->argv[0], &fa, NULL, v->argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return r;
}

/* The next parked kwg-exec, started a round ahead (as the worker starts it a task ahead). */
static void park(struct variant *v)
{
	int sv[2];

	v->next = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	if (spawn(v, sv[1], &v->next) != 0)
		v->next = 0;
	(void)close(sv[1]);
	v->sock = sv[0];
}

static void run_once(struct variant *v)
{
	double t0 = now_ms();
	pid_t pid;
	int st;

	if (v->parked) {
		pid = v->next;
		if (!pid || kwg_sandbox_send_spec(v->sock, v->spec_fd) < 0) {
			v->failures++;
			return;
		}
		(void)close(v->sock);
	} else if (spawn(v, v->spec_fd, &pid) != 0) {
		v->failures++;
		return;
	}
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		v->failures++;
		return;
	}
	v->samples[v->n++] = now_ms() - t0;
	if (v->parked)
		park(v);
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double pct(struct variant *v, double p)
{
	return v->n ? v->samples[(int)(p * (v->n - 1))] : -1;
}

int main(int argc, char **argv)
{
	static char *plain[] = {"/bin/true", NULL};
	static char *bwrap[] = {
	    "/usr/bin/bwrap", "--unshare-all", "--ro-bind", "/",         "/", "--proc",
	    "/proc",          "--dev",         "/dev",      "/bin/true", NULL};
	static char *firejail[] = {"/usr/bin/firejail", "--noprofile", "--quiet", "/bin/true",
	                           NULL};
	char *helper[] = {argc > 1 ? argv[1] : "kwg-exec", NULL};
	char *parked[] = {helper[0], "--parked", NULL};
	/* The whole `kwg` process: its start-up (loader, libraries) counts, as for bwrap. */
	char *kwg = argc > 3 ? argv[3] : "kwg";
	char *kwg_sandbox[] = {kwg, "sandbox", "--", "/bin/true", NULL};
	char *kwg_version[] = {kwg, "--version", NULL};
	char *baseline[] = {argc > 4 ? argv[4] : "/nonexistent", "sandbox", "--", "/bin/true",
	                    NULL};
	int rounds = argc > 2 ? atoi(argv[2]) : 200;
	struct variant vs[] = {
	    {"plain fork+exec", plain, -1, NULL, 0, 0},
	    {"kwg-exec --profile none", helper, make_spec(KWG_SANDBOX_NONE), NULL, 0, 0},
	    {"kwg-exec --profile default", helper, make_spec(KWG_SANDBOX_DEFAULT), NULL, 0, 0},
	    {"kwg-exec --profile default, parked (as in the worker)", parked,
	     make_spec(KWG_SANDBOX_DEFAULT), NULL, 0, 0, true},
	    {"kwg-exec --profile strict", helper, make_spec(KWG_SANDBOX_STRICT), NULL, 0, 0},
	    {"kwg sandbox -- /bin/true (whole process, default profile)", kwg_sandbox, -1, NULL, 0,
	     0},
	    {"kwg --version (whole process)", kwg_version, -1, NULL, 0, 0},
	    {"baseline build: kwg sandbox -- /bin/true", baseline, -1, NULL, 0, 0},
	    {"bwrap --unshare-all", bwrap, -1, NULL, 0, 0},
	    {"firejail --noprofile", firejail, -1, NULL, 0, 0},
	};
	size_t n = sizeof(vs) / sizeof(vs[0]);

	for (size_t i = 0; i < n; i++) {
		vs[i].samples = calloc((size_t)rounds, sizeof(double));
		if (vs[i].parked)
			park(&vs[i]);
	}
	/* Alternate: one spawn of each variant per round, so drift hits all alike. */
	for (int r = 0; r < rounds; r++)
		for (size_t i = 0; i < n; i++) {
			if (vs[i].spec_fd >= 0)
				(void)lseek(vs[i].spec_fd, 0, SEEK_SET);
			if (access(vs[i].argv[0], X_OK) == 0)
				run_once(&vs[i]);
		}
	printf("| spawn-to-exit of /bin/true (%d rounds) | p50 ms | p90 ms | p99 ms | failures |\n",
	       rounds);
	printf("|---|---|---|---|---|\n");
	for (size_t i = 0; i < n; i++) {
		qsort(vs[i].samples, (size_t)vs[i].n, sizeof(double), cmp);
		if (vs[i].argv == baseline && argc <= 4)
			continue;
		if (vs[i].n == 0)
			printf("| %s | — | — | — | not available (%d failures) |\n", vs[i].name,
			       vs[i].failures);
		else
			printf("| %s | %.3f | %.3f | %.3f | %d |\n", vs[i].name, pct(&vs[i], 0.5),
			       pct(&vs[i], 0.9), pct(&vs[i], 0.99), vs[i].failures);
	}
	return 0;
}
