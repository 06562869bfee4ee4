/* SPDX-License-Identifier: Apache-2.0 */
/* `kwg sandbox`: the task sandbox around any command, in the small `kwg` front binary (which
 * links only sandbox/ and common/: it starts in a fraction of the full worker's time) and in the
 * full one alike. */
#include "sandbox/cli.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/parse.h"
#include "sandbox/env.h"
#include "sandbox/hostlimits.h"
#include "sandbox/launch.h"
#include "sandbox/prebuilt.h"
#include "sandbox/sandbox.h"

extern char **environ;

#define EXIT_USAGE 64

/* The CPUs this process may run on, 0 when unknown. */
static uint32_t usable_cpus(void)
{
	cpu_set_t set;

	return sched_getaffinity(0, sizeof(set), &set) == 0 ? (uint32_t)CPU_COUNT(&set) : 0;
}

#define SANDBOX_USAGE                                                                              \
	"usage: kwg sandbox [--profile default|strict|container|none] [--workdir DIR]\n"           \
	"                   [--user USER] [--cpu-seconds N] [--memory SIZE] [--open-files N]\n"    \
	"                   [--processes N] [--file-size SIZE] -- COMMAND [ARGS…]\n"

/* One `kwg sandbox` option with its value; 0, or -1 after saying what is wrong with it. */
static int sandbox_option(struct kwg_sandbox_spec *spec, const char *opt, const char *val)
{
	struct kwg_sandbox_limits *l = &spec->limits;
	uint64_t *number = strcmp(opt, "--cpu-seconds") == 0  ? &l->cpu_seconds
	                   : strcmp(opt, "--open-files") == 0 ? &l->open_files
	                   : strcmp(opt, "--processes") == 0  ? &l->processes
	                                                      : NULL;
	uint64_t *size = strcmp(opt, "--memory") == 0      ? &l->address_space_bytes
	                 : strcmp(opt, "--file-size") == 0 ? &l->file_size_bytes
	                                                   : NULL;
	int64_t n;

	if (strcmp(opt, "--profile") == 0) {
		if (kwg_sandbox_profile_from_name(val, &spec->profile) == 0)
			return 0;
		fprintf(stderr,
		        "kwg sandbox: unknown profile '%s' (default, strict, container, none)\n",
		        val);
	} else if (strcmp(opt, "--workdir") == 0) {
		spec->workdir = (char *)val;
		return 0;
	} else if (strcmp(opt, "--user") == 0) {
		if (kwg_sandbox_user_from_name(val, &spec->uid, &spec->gid) == 0)
			return 0;
		fprintf(stderr, "kwg sandbox: --user '%s' is neither UID[:GID] nor a user\n", val);
	} else if (number) {
		if (kwg_parse_i64(val, &n) == 0 && n >= 0) {
			*number = (uint64_t)n;
			return 0;
		}
		fprintf(stderr, "kwg sandbox: %s '%s' is not a number (0: unlimited)\n", opt, val);
	} else if (size) {
		if (kwg_parse_size_bytes(val, size) == 0)
			return 0;
		fprintf(stderr, "kwg sandbox: %s '%s' is not a size such as 512MiB\n", opt, val);
	} else {
		fprintf(stderr, "kwg sandbox: unknown option '%s'\n" SANDBOX_USAGE, opt);
	}
	return -1;
}

/* `kwg sandbox [OPTIONS] -- CMD ARGS…`: the task sandbox around any command, with the worker's
 * defaults (task user nobody when root, the task_* limits' defaults). This process runs the
 * launcher's steps itself (launch.h), as kwg-exec would after reading the spec: no memfd, no
 * second exec. */
int kwg_sandbox_cli(int argc, char **argv)
{
	struct kwg_sandbox_spec spec = {.profile = KWG_SANDBOX_DEFAULT, .uid = -1, .gid = -1};
	struct kwg_task_defaults defaults;
	struct kwg_host host;
	char cwd[PATH_MAX];
	const uint8_t *filter = NULL;
	pid_t parent = getppid();
	int i, r;

	if (geteuid() == 0)
		spec.uid = spec.gid = 65534;
	/* The worker's defaults: from the host, for its default concurrency (8). */
	kwg_host_read("", usable_cpus(), &host);
	kwg_host_task_defaults(&host, 8, &defaults);
	spec.limits = (struct kwg_sandbox_limits){.address_space_bytes = defaults.memory,
	                                          .open_files = 4096,
	                                          .processes = defaults.processes};
	for (i = 0; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
		if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0) {
			fprintf(stderr, "kwg sandbox: option '%s' needs a value\n" SANDBOX_USAGE,
			        argv[i]);
			return EXIT_USAGE;
		}
		if (sandbox_option(&spec, argv[i], argv[i + 1]) < 0)
			return EXIT_USAGE;
	}
	if (i + 1 >= argc) {
		fprintf(stderr, SANDBOX_USAGE);
		return EXIT_USAGE;
	}
	if (!spec.workdir)
		spec.workdir = getcwd(cwd, sizeof(cwd));
	if (!spec.workdir || spec.workdir[0] != '/') {
		fprintf(stderr, "kwg sandbox: the working directory '%s' is not an absolute path\n",
		        spec.workdir ? spec.workdir : "(the current one, unknown)");
		return EXIT_USAGE;
	}
	if (!argv[i + 1][0]) {
		fprintf(stderr, "kwg sandbox: the command is empty\n" SANDBOX_USAGE);
		return EXIT_USAGE;
	}
	if (spec.profile == KWG_SANDBOX_NONE)
		fprintf(stderr, "kwg sandbox: profile none: no isolation at all\n");
	for (int j = i + 1; j < argc; j++)
		if (kwg_strv_push(&spec.argv, argv[j]) < 0)
			return 1;
	r = kwg_sandbox_task_env(environ, NULL, NULL, &spec.envp);
	/* The profile's program as the build compiled it: libseccomp's compilation (allocations,
	 * its syscall tables, kernel probes) is not redone in every `kwg sandbox`. */
	if (r >= 0)
		r = kwg_sandbox_prebuilt_filter(spec.profile, &filter, &spec.filter_len);
	/* Static data, read only by the launcher; the spec is never released (the process execs
	 * or exits). */
	spec.filter = (uint8_t *)filter;
	if (r < 0) {
		fprintf(stderr, "kwg sandbox: cannot prepare the sandbox: %s\n", strerror(-r));
		return 1;
	}
	/* SECURITY: as kwg-exec does for the worker: the command dies with whoever started
	 * `kwg sandbox` (a shell, a supervisor), and gets no descriptor but stdio. */
	if (kwg_launch_detach(parent, STDERR_FILENO) < 0)
		return 1;
	kwg_launch_report_to("kwg sandbox", -1);
	kwg_launch(&spec);
}
