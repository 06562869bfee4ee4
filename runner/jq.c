/* SPDX-License-Identifier: Apache-2.0 */
#include "runner/jq.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/lazylib.h"
#include "template/template.h"

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

/* The child: one status byte ('0' results follow; 'I', 'M', 'N' an -EINVAL, -EMSGSIZE or
 * -ENOMEM message follows), then the text, then EOF. */
static void KWG_NORETURN child(int fd, const char *program, const char *input)
{
	struct kwg_err err = {{0}};
	char *results = NULL;
	int r = kwg_template_jq(program, input, &results, &err);

	if (r >= 0) {
		write_all(fd, "0", 1);
		write_all(fd, results, strlen(results));
	} else {
		write_all(fd, r == -EMSGSIZE ? "M" : r == -ENOMEM ? "N" : "I", 1);
		write_all(fd, err.msg, strlen(err.msg));
	}
	_exit(0);
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Reads the child's answer until EOF, the deadline or the size bound. */
static int read_answer(int fd, uint64_t deadline_ms, struct kwg_buf *b)
{
	uint64_t end = monotonic_ms() + deadline_ms;

	for (;;) {
		char chunk[65536];
		uint64_t now = monotonic_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;
		int r;
		if (now >= end)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(end - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		r = kwg_buf_append(b, chunk, (size_t)n);
		if (r < 0)
			return r;
	}
}

int kwg_jq_in_child(const char *program, const char *input, uint64_t deadline_ms, char **ret,
                    struct kwg_err *err)
{
	struct kwg_buf b;
	int fds[2], r, status;
	pid_t pid;

	/* libjq is loaded on first use (common/lazylib.h): here, once, in the worker, and not in
	 * each child (a failure is reported by the child's kwg_template_jq). */
	(void)kwg_lazylib_load(&kwg_lazy_jq);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		r = -errno;
		(void)close(fds[0]);
		(void)close(fds[1]);
		return r;
	}
	if (pid == 0) {
		(void)close(fds[0]);
		child(fds[1], program, input);
	}
	(void)close(fds[1]);
	kwg_buf_init(&b, KWG_TEMPLATE_MAX_OUTPUT + 2);
	r = read_answer(fds[0], deadline_ms, &b);
	(void)close(fds[0]);
	if (r < 0)
		(void)kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (r == -ETIMEDOUT)
		r = kwg_err_set(err, -EINVAL, "the program did not end within %llu ms",
		                (unsigned long long)deadline_ms);
	else if (r == -EMSGSIZE)
		r = kwg_err_set(err, -EMSGSIZE, "results past %u bytes", KWG_TEMPLATE_MAX_OUTPUT);
	else if (r >= 0 && b.len == 0)
		r = kwg_err_set(err, -EINVAL, "the jq process ended without an answer (%s)",
		                WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exit");
	else if (r >= 0 && b.data[0] != '0')
		r = b.data[0] == 'N' ? -ENOMEM
		                     : kwg_err_set(err, b.data[0] == 'M' ? -EMSGSIZE : -EINVAL,
		                                   "%s", b.data + 1);
	if (r >= 0) {
		kwg_buf_consume(&b, 1);
		*ret = kwg_buf_steal(&b);
		r = *ret ? 0 : -ENOMEM;
	}
	kwg_buf_done(&b);
	return r;
}
