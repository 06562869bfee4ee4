/* SPDX-License-Identifier: Apache-2.0 */
#include "runner/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"

#define TRIES 100

int kwg_cgroup_mkdir(const char *path)
{
	for (int tries = 0; tries < TRIES; tries++) {
		if (mkdir(path, 0755) == 0)
			return 0;
		if (errno != EINTR)
			break;
	}
	return -errno;
}

int kwg_cgroup_write(const char *dir, const char *file, const char *text)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;
	ssize_t len = (ssize_t)strlen(text);

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (int tries = 0; tries < TRIES; tries++) {
		if (write(fd, text, (size_t)len) == len)
			return 0;
		if (errno != EINTR)
			break;
	}
	return -errno;
}
