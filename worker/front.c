/* SPDX-License-Identifier: Apache-2.0 */
/* kwg, the command users run: a small binary (static when it can be) that answers `kwg sandbox`
 * and `kwg version` itself and hands every other command to the full one, kwg-main, next to it
 * (execv: same process, same pid, same arguments). The full binary loads some fifty shared
 * libraries (libpq, libcurl, libarchive and theirs), which costs tens of milliseconds before
 * main(); a sandboxed command or a version check needs none of them. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sandbox/cli.h"

int main(int argc, char **argv)
{
	char self[PATH_MAX], full[PATH_MAX];
	ssize_t n;

	if (argc >= 2 && strcmp(argv[1], "sandbox") == 0)
		return kwg_sandbox_cli(argc - 2, argv + 2);
	if (argc >= 2 && (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0)) {
		printf("kwg %s\n", KWG_VERSION);
		return 0;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		fprintf(stderr, "kwg: cannot find where kwg is: %s\n", strerror(errno));
		return 1;
	}
	self[n] = '\0';
	if ((size_t)snprintf(full, sizeof(full), "%s/kwg-main", dirname(self)) >= sizeof(full)) {
		fprintf(stderr, "kwg: the path of kwg-main is too long\n");
		return 1;
	}
	/* GnuTLS comes into kwg-main with libpq's libldap and libcurl's librtmp, and initialises
	 * itself in a constructor (~0.7 MiB of pages touched, loader time) although kwg-main never
	 * uses it: its users (LDAP over TLS, rtmp://, libmicrohttpd) call gnutls_global_init()
	 * themselves first. This variable, read by that constructor, defers the init to them; it
	 * reaches no task (a task's environment is an allow-list, sandbox/env.c). */
	(void)setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
	execv(full, argv);
	fprintf(stderr, "kwg: cannot run '%s' (installed next to kwg): %s\n", full,
	        strerror(errno));
	return 1;
}
