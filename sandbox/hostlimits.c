/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/hostlimits.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1ull << 20)
/* v1 writes "no limit" as the largest page-aligned long (9223372036854771712). */
#define V1_UNLIMITED (1ull << 62)
#define MIN_RESERVE (256 * MIB)
#define MIN_TASK_PROCESSES 64
#define MAX_TASK_PROCESSES 1024

/* An unsigned decimal number of s, up to its end or the first whitespace; the rest is ignored. */
static int parse_u64(const char *s, const char **end, uint64_t *ret)
{
	uint64_t v = 0;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p); p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (end)
		*end = p;
	*ret = v;
	return 0;
}

int kwg_host_parse_limit(const char *text, uint64_t *ret)
{
	const char *end;
	uint64_t v;

	while (isspace((unsigned char)*text))
		text++;
	if (strncmp(text, "max", 3) == 0 && (!text[3] || isspace((unsigned char)text[3]))) {
		*ret = KWG_HOST_UNLIMITED;
		return 0;
	}
	if (parse_u64(text, &end, &v) < 0 || (*end && !isspace((unsigned char)*end)))
		return -EINVAL;
	*ret = v >= V1_UNLIMITED ? KWG_HOST_UNLIMITED : v;
	return 0;
}

/* quota / period in thousandths of a CPU, at least 1; 0: no quota. */
static int milli(uint64_t quota, uint64_t period, uint32_t *ret)
{
	uint64_t m;

	if (period == 0)
		return -EINVAL;
	m = quota / period * 1000 + quota % period * 1000 / period;
	*ret = m > UINT32_MAX ? UINT32_MAX : m ? (uint32_t)m : 1;
	return 0;
}

int kwg_host_parse_cpu_max(const char *text, uint32_t *ret_milli)
{
	const char *end;
	uint64_t quota, period;

	if (strncmp(text, "max ", 4) == 0) {
		if (parse_u64(text + 4, NULL, &period) < 0 || period == 0)
			return -EINVAL;
		*ret_milli = 0;
		return 0;
	}
	if (parse_u64(text, &end, &quota) < 0 || *end != ' ' ||
	    parse_u64(end + 1, NULL, &period) < 0)
		return -EINVAL;
	return milli(quota, period, ret_milli);
}

int kwg_host_parse_cfs(const char *quota, const char *period, uint32_t *ret_milli)
{
	uint64_t q, p;

	while (isspace((unsigned char)*quota))
		quota++;
	if (strncmp(quota, "-1", 2) == 0) {
		*ret_milli = 0;
		return 0;
	}
	if (parse_u64(quota, NULL, &q) < 0 || kwg_host_parse_limit(period, &p) < 0 ||
	    p == KWG_HOST_UNLIMITED)
		return -EINVAL;
	return milli(q, p, ret_milli);
}

int kwg_host_parse_meminfo(const char *text, const char *key, uint64_t *ret)
{
	size_t n = strlen(key);

	for (const char *line = text; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *p = line + n;
		uint64_t kb;
		if (strncmp(line, key, n) != 0 || *p != ':')
			continue;
		for (p++; *p == ' ' || *p == '\t'; p++)
			;
		if (parse_u64(p, NULL, &kb) < 0 || kb > UINT64_MAX / 1024)
			return -EINVAL;
		*ret = kb * 1024;
		return 0;
	}
	return -ENOENT;
}

int kwg_host_parse_cgroup(const char *text, const char *controller, char *buf, size_t size)
{
	for (const char *line = text; line && *line;
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		const char *list = strchr(line, ':'), *path, *eol;
		size_t len;
		bool match;
		if (!list)
			return -ENOENT;
		list++;
		path = strchr(list, ':');
		eol = strchr(line, '\n');
		if (!path || (eol && path > eol))
			continue;
		if (!controller) {
			match = path == list && strncmp(line, "0:", 2) == 0;
		} else {
			/* "4:memory:/a" or "3:cpu,cpuacct:/b": controller among the list's names */
			size_t n = strlen(controller);
			match = false;
			for (const char *c = list; c < path; c += strcspn(c, ",:") + 1)
				if ((size_t)(strcspn(c, ",:")) == n &&
				    strncmp(c, controller, n) == 0)
					match = true;
		}
		if (!match)
			continue;
		path++;
		len = eol ? (size_t)(eol - path) : strlen(path);
		if (len + 1 > size)
			return -ENAMETOOLONG;
		memcpy(buf, path, len);
		buf[len] = '\0';
		return 0;
	}
	return -ENOENT;
}

/* The text of root + path (a small file), or false. */
static bool read_text(const char *root, const char *path, char *buf, size_t size)
{
	char full[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(full, sizeof(full), "%s%s", root, path) >= (int)sizeof(full))
		return false;
	fd = open(full, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, size - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	return true;
}

/* Up one cgroup: cuts the last component of path; false once path is the hierarchy's mount. */
static bool cgroup_parent(char *path, const char *mnt)
{
	char *slash;

	if (strlen(path) <= strlen(mnt))
		return false;
	slash = strrchr(path, '/');
	if (!slash)
		return false;
	*slash = '\0';
	return true;
}

/* The lowest limit of file along the cgroup's path dir, from the cgroup up to the hierarchy's
 * mount (mnt, e.g. /sys/fs/cgroup/memory); also the mount's own file, which is the container's
 * cgroup when the container sees only its own (the path of /proc/self/cgroup is then the host's
 * and does not exist here). Returns the lowest and the file it was read from. */
static uint64_t lowest_limit(const char *root, const char *mnt, const char *dir, const char *file,
                             char *from, size_t from_size)
{
	char path[PATH_MAX], text[64];
	uint64_t best = KWG_HOST_UNLIMITED, v;

	if (snprintf(path, sizeof(path), "%s%s", mnt, strcmp(dir, "/") == 0 ? "" : dir) >=
	    (int)sizeof(path))
		return best;
	do {
		char file_path[PATH_MAX];
		if (snprintf(file_path, sizeof(file_path), "%s/%s", path, file) <
		        (int)sizeof(file_path) &&
		    read_text(root, file_path, text, sizeof(text)) &&
		    kwg_host_parse_limit(text, &v) == 0 && v < best &&
		    snprintf(from, from_size, "%s", file_path) >= 0)
			best = v;
	} while (cgroup_parent(path, mnt));
	return best;
}

/* v1 CFS quota along the path, the lowest. */
static uint32_t lowest_cfs(const char *root, const char *mnt, const char *dir, char *from,
                           size_t from_size)
{
	char path[PATH_MAX], quota[64], period[64];
	uint32_t best = 0, m;

	if (snprintf(path, sizeof(path), "%s%s", mnt, strcmp(dir, "/") == 0 ? "" : dir) >=
	    (int)sizeof(path))
		return best;
	do {
		char q[PATH_MAX], p[PATH_MAX];
		if (snprintf(q, sizeof(q), "%s/cpu.cfs_quota_us", path) < (int)sizeof(q) &&
		    snprintf(p, sizeof(p), "%s/cpu.cfs_period_us", path) < (int)sizeof(p) &&
		    read_text(root, q, quota, sizeof(quota)) &&
		    read_text(root, p, period, sizeof(period)) &&
		    kwg_host_parse_cfs(quota, period, &m) == 0 && m && (!best || m < best) &&
		    snprintf(from, from_size, "%s", q) >= 0)
			best = m;
	} while (cgroup_parent(path, mnt));
	return best;
}

/* v2 cpu.max along the path, the lowest. */
static uint32_t lowest_cpu_max(const char *root, const char *dir, char *from, size_t from_size)
{
	char path[PATH_MAX], text[64];
	uint32_t best = 0, m;

	if (snprintf(path, sizeof(path), "/sys/fs/cgroup%s", strcmp(dir, "/") == 0 ? "" : dir) >=
	    (int)sizeof(path))
		return best;
	do {
		char file[PATH_MAX];
		if (snprintf(file, sizeof(file), "%s/cpu.max", path) < (int)sizeof(file) &&
		    read_text(root, file, text, sizeof(text)) &&
		    kwg_host_parse_cpu_max(text, &m) == 0 && m && (!best || m < best) &&
		    snprintf(from, from_size, "%s", file) >= 0)
			best = m;
	} while (cgroup_parent(path, "/sys/fs/cgroup"));
	return best;
}

static void set_from(char *dst, size_t size, const char *what, const char *path)
{
	(void)snprintf(dst, size, "%s %.*s", what, (int)(size - 16), path);
}

/* The cgroup limits that apply to this process, lowered into h where they are below it. */
static void read_cgroups(const char *root, struct kwg_host *h)
{
	char self[4096], dir[PATH_MAX], from[PATH_MAX];
	bool v2;
	uint64_t mem, pids;
	uint32_t cpus;

	if (!read_text(root, "/proc/self/cgroup", self, sizeof(self)))
		return;
	(void)snprintf(from, sizeof(from), "%s/sys/fs/cgroup/cgroup.controllers", root);
	v2 = access(from, F_OK) == 0;
	if (v2 && kwg_host_parse_cgroup(self, NULL, dir, sizeof(dir)) == 0) {
		mem = lowest_limit(root, "/sys/fs/cgroup", dir, "memory.max", from, sizeof(from));
		if (mem < h->memory) {
			h->memory = mem;
			set_from(h->memory_from, sizeof(h->memory_from), "cgroup v2", from);
		}
		pids = lowest_limit(root, "/sys/fs/cgroup", dir, "pids.max", from, sizeof(from));
		if (pids < h->pids) {
			h->pids = pids;
			set_from(h->pids_from, sizeof(h->pids_from), "cgroup v2", from);
		}
		cpus = lowest_cpu_max(root, dir, from, sizeof(from));
		if (cpus && cpus < h->cpus_milli) {
			h->cpus_milli = cpus;
			set_from(h->cpus_from, sizeof(h->cpus_from), "cgroup v2", from);
		}
		return;
	}
	if (kwg_host_parse_cgroup(self, "memory", dir, sizeof(dir)) == 0) {
		mem = lowest_limit(root, "/sys/fs/cgroup/memory", dir, "memory.limit_in_bytes",
		                   from, sizeof(from));
		if (mem < h->memory) {
			h->memory = mem;
			set_from(h->memory_from, sizeof(h->memory_from), "cgroup v1", from);
		}
	}
	if (kwg_host_parse_cgroup(self, "pids", dir, sizeof(dir)) == 0) {
		pids =
		    lowest_limit(root, "/sys/fs/cgroup/pids", dir, "pids.max", from, sizeof(from));
		if (pids < h->pids) {
			h->pids = pids;
			set_from(h->pids_from, sizeof(h->pids_from), "cgroup v1", from);
		}
	}
	if (kwg_host_parse_cgroup(self, "cpu", dir, sizeof(dir)) == 0) {
		cpus = lowest_cfs(root, "/sys/fs/cgroup/cpu", dir, from, sizeof(from));
		if (cpus && cpus < h->cpus_milli) {
			h->cpus_milli = cpus;
			set_from(h->cpus_from, sizeof(h->cpus_from), "cgroup v1", from);
		}
	}
}

void kwg_host_read(const char *root, uint32_t online_cpus, struct kwg_host *ret)
{
	char text[8192];
	uint64_t v, threads;

	*ret = (struct kwg_host){.memory = KWG_HOST_UNLIMITED, .pids = KWG_HOST_UNLIMITED};
	(void)snprintf(ret->memory_from, sizeof(ret->memory_from), "unknown (no /proc/meminfo)");
	(void)snprintf(ret->pids_from, sizeof(ret->pids_from), "unknown");
	if (read_text(root, "/proc/meminfo", text, sizeof(text)) &&
	    kwg_host_parse_meminfo(text, "MemTotal", &v) == 0) {
		ret->memory = v;
		(void)snprintf(ret->memory_from, sizeof(ret->memory_from),
		               "the machine (/proc/meminfo MemTotal)");
	}
	if (read_text(root, "/proc/sys/kernel/pid_max", text, sizeof(text)) &&
	    kwg_host_parse_limit(text, &v) == 0) {
		ret->pids = v;
		(void)snprintf(ret->pids_from, sizeof(ret->pids_from),
		               "the kernel (kernel.pid_max)");
	}
	if (read_text(root, "/proc/sys/kernel/threads-max", text, sizeof(text)) &&
	    kwg_host_parse_limit(text, &threads) == 0 && threads < ret->pids) {
		ret->pids = threads;
		(void)snprintf(ret->pids_from, sizeof(ret->pids_from),
		               "the kernel (kernel.threads-max)");
	}
	ret->cpus_milli = online_cpus ? online_cpus * 1000 : 1000;
	(void)snprintf(ret->cpus_from, sizeof(ret->cpus_from), "%s",
	               online_cpus ? "the machine (the CPUs this process may run on)"
	                           : "unknown (1 assumed)");
	read_cgroups(root, ret);
}

void kwg_host_task_defaults(const struct kwg_host *h, uint32_t concurrency,
                            struct kwg_task_defaults *ret)
{
	uint64_t n = concurrency ? concurrency : 1, per;

	*ret = (struct kwg_task_defaults){0};
	if (h->memory != KWG_HOST_UNLIMITED) {
		ret->reserve = h->memory / 8 > MIN_RESERVE ? h->memory / 8 : MIN_RESERVE;
		if (h->memory < 2 * MIN_RESERVE)
			ret->reserve = h->memory / 2;
		ret->all_memory = h->memory - ret->reserve;
		ret->memory = ret->all_memory / n / MIB * MIB;
		if (!ret->memory) /* under 1 MiB a task: still a limit, never "unlimited" */
			ret->memory = MIB;
	}
	if (h->pids != KWG_HOST_UNLIMITED) {
		ret->all_pids = h->pids / 4;
		per = ret->all_pids / n;
		ret->processes = per < MIN_TASK_PROCESSES   ? MIN_TASK_PROCESSES
		                 : per > MAX_TASK_PROCESSES ? MAX_TASK_PROCESSES
		                                            : per;
	} else {
		ret->processes = MAX_TASK_PROCESSES;
	}
}
