/* SPDX-License-Identifier: Apache-2.0 */
/* kwg-exec: reads a sandbox spec from fd 3, then applies it to itself and execs the task through
 * the launcher's steps (launch.h, in the order of sandbox.h). It links no libuv, libpq nor
 * libcurl; it may exit: its failure is its exit status, and the step that failed goes to the
 * status descriptor (fd 4) and stderr. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/compat.h"
#include "sandbox/hold.h"
#include "sandbox/launch.h"
#include "sandbox/sandbox.h"

static void read_spec(struct kwg_sandbox_spec *spec)
{
	struct kwg_err err = {{0}};
	struct stat st;
	char *buf;
	size_t off = 0;

	if (fstat(KWG_SANDBOX_SPEC_FD, &st) < 0)
		kwg_launch_fail(KWG_STAGE_SPEC, errno);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		kwg_launch_fail(KWG_STAGE_SPEC, ENOMEM);
	while (off < (size_t)st.st_size) {
		ssize_t n =
		    pread(KWG_SANDBOX_SPEC_FD, buf + off, (size_t)st.st_size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			kwg_launch_fail(KWG_STAGE_SPEC, n < 0 ? errno : EIO);
		off += (size_t)n;
	}
	(void)close(KWG_SANDBOX_SPEC_FD);
	if (kwg_sandbox_spec_decode(buf, off, spec, &err) < 0) {
		fprintf(stderr, "kwg-exec: %s\n", err.msg);
		kwg_launch_fail(KWG_STAGE_SPEC, EINVAL);
	}
	free(buf);
}

/* Step 1 (after kwg_launch_detach): stdio stays; the status descriptor closes on exec. */
static void report_status(void)
{
	kwg_launch_report_to("kwg-exec", fcntl(KWG_SANDBOX_STATUS_FD, F_SETFD, FD_CLOEXEC) == 0
	                                     ? KWG_SANDBOX_STATUS_FD
	                                     : -1);
}

/* Parked ("kwg-exec --parked CGROUP_PROCS..."): started by the worker ahead of its task, it joins
 * the task's cgroups now (a cgroup migration can wait for an RCU grace period: off the task's
 * path), then waits for the spec's descriptor on fd 3, a socket, and goes on as if it had been
 * there from the start. End of file: the worker let the spare go. */
static void park(char *const *procs, size_t n)
{
	int fd;

	kwg_launch_join_cgroups(procs, n);
	fd = kwg_sandbox_recv_spec(KWG_SANDBOX_SPEC_FD);
	if (fd == -ENODATA)
		_exit(KWG_SANDBOX_EXIT_SETUP);
	if (fd < 0)
		kwg_launch_fail(KWG_STAGE_SPEC, -fd);
	if (dup2(fd, KWG_SANDBOX_SPEC_FD) < 0)
		kwg_launch_fail(KWG_STAGE_SPEC, errno);
	(void)close(fd);
}

int main(int argc, char **argv)
{
	struct kwg_sandbox_spec spec;
	pid_t parent = getppid();
	bool parked = argc > 1 && strcmp(argv[1], "--parked") == 0;

	if (argc == 3 && strcmp(argv[1], "--hold") == 0)
		kwg_hold_main(argv[2]); /* PID 1 of a warm Docker pool container */

	/* SECURITY: the task dies with the worker, and gets no descriptor of it (database
	 * sockets, pipes of other tasks). */
	if (kwg_launch_detach(parent, KWG_SANDBOX_STATUS_FD) < 0)
		_exit(KWG_SANDBOX_EXIT_SETUP);
	report_status();
	if (parked)
		park(argv + 2, (size_t)(argc - 2));
	read_spec(&spec);
	kwg_launch(&spec);
}
