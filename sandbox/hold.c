/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/hold.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* The strings of s[0..len) from *pos, each NUL-terminated; NULL past the end. */
static char *next_string(char *s, size_t len, size_t *pos)
{
	char *str = s + *pos, *nul;

	if (*pos >= len)
		return NULL;
	nul = memchr(str, '\0', len - *pos);
	if (!nul)
		return NULL;
	*pos = (size_t)(nul - s) + 1;
	return str;
}

int kwg_hold_parse(char *spec, size_t len, const char **ret_workdir, char ***ret_argv,
                   char ***ret_env)
{
	size_t pos = 0, argc = 0, envc = 0, n;
	char *workdir = next_string(spec, len, &pos), *count = next_string(spec, len, &pos);
	char **argv, **env, *s, *end;

	if (!workdir || *workdir != '/' || !count || !*count)
		return -EINVAL;
	errno = 0;
	argc = strtoul(count, &end, 10);
	if (errno || *end || argc == 0 || argc > len)
		return -EINVAL;
	argv = calloc(argc + 1, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	for (n = 0; n < argc; n++)
		if (!(argv[n] = next_string(spec, len, &pos))) {
			free(argv);
			return -EINVAL;
		}
	for (size_t p = pos; next_string(spec, len, &p);)
		envc++;
	if (pos < len && spec[len - 1] != '\0') {
		free(argv);
		return -EINVAL;
	}
	env = calloc(envc + 1, sizeof(*env));
	if (!env) {
		free(argv);
		return -ENOMEM;
	}
	for (n = 0; (s = next_string(spec, len, &pos)); n++) {
		if (!strchr(s, '=') || *s == '=') {
			free(argv);
			free(env);
			return -EINVAL;
		}
		env[n] = s;
	}
	*ret_workdir = workdir;
	*ret_argv = argv;
	*ret_env = env;
	return 0;
}

char **kwg_hold_merge_env(char *const *base, char *const *add)
{
	size_t nb = 0, na = 0, n;
	char **out;

	while (base && base[nb])
		nb++;
	while (add && add[na])
		na++;
	out = calloc(nb + na + 1, sizeof(*out));
	if (!out)
		return NULL;
	for (n = 0; n < nb; n++)
		out[n] = base[n];
	for (size_t i = 0; i < na; i++) {
		size_t name = strcspn(add[i], "="), k;
		for (k = 0; k < n; k++)
			if (strncmp(out[k], add[i], name) == 0 && out[k][name] == '=')
				break;
		out[k] = add[i];
		if (k == n)
			n++;
	}
	return out;
}

static KWG_NORETURN void hold_fail(const char *gate, const char *stage, int err)
{
	char path[PATH_MAX], line[64];
	int fd, code = 125;

	if (strcmp(stage, "exec") == 0)
		code = err == ENOENT ? 127 : 126;
	(void)snprintf(path, sizeof(path), "%s/status", gate);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd >= 0) {
		int n = snprintf(line, sizeof(line), "%s %d\n", stage, err);
		(void)!write(fd, line, (size_t)n);
		(void)close(fd);
	}
	_exit(code);
}

/* mkdir -p with Docker's mode for a missing working directory (0755). */
static int make_dirs(const char *dir)
{
	char p[PATH_MAX];
	size_t n = strlen(dir);

	if (n >= sizeof(p))
		return -ENAMETOOLONG;
	memcpy(p, dir, n + 1);
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST)
				return -errno;
			*s = c;
			if (!c)
				return 0;
		}
	}
}

static char *read_spec(const char *gate, size_t *ret_len)
{
	char path[PATH_MAX], *buf;
	struct stat st;
	size_t got = 0;
	int fd;

	(void)snprintf(path, sizeof(path), "%s/spec", gate);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		hold_fail(gate, "spec", errno);
	if (st.st_size <= 0 || (size_t)st.st_size > KWG_HOLD_SPEC_MAX_BYTES)
		hold_fail(gate, "spec", EMSGSIZE);
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		hold_fail(gate, "spec", ENOMEM);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			hold_fail(gate, "spec", n < 0 ? errno : EIO);
		got += (size_t)n;
	}
	(void)close(fd);
	buf[got] = '\0';
	*ret_len = got;
	return buf;
}

void kwg_hold_main(const char *gate)
{
	char path[PATH_MAX], go, *spec, **argv, **env, **merged;
	const char *workdir;
	size_t len;
	ssize_t n;
	int fd, r;

	/* Non-blocking open: when kwg is already gone (no writer), the read below sees EOF and
	 * the holder ends instead of waiting for a go that cannot come. */
	(void)snprintf(path, sizeof(path), "%s/go", gate);
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || fcntl(fd, F_SETFL, 0) < 0)
		hold_fail(gate, "gate", errno);
	do
		n = read(fd, &go, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(125); /* kwg closed the gate: the pool is gone */
	(void)close(fd);
	spec = read_spec(gate, &len);
	r = kwg_hold_parse(spec, len, &workdir, &argv, &env);
	if (r < 0)
		hold_fail(gate, "spec", -r);
	/* Docker's own order: its environment (PATH, HOSTNAME, the image's), the task's over it. */
	merged = kwg_hold_merge_env(environ, env);
	if (!merged)
		hold_fail(gate, "spec", ENOMEM);
	r = make_dirs(workdir);
	if (r < 0 || chdir(workdir) < 0)
		hold_fail(gate, "chdir", r < 0 ? -r : errno);
	/* The PATH search uses the task's environment, as Docker's does. */
	environ = merged;
	execvp(argv[0], argv);
	hold_fail(gate, "exec", errno);
}
