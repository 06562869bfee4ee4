/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox/hostlimits: the parsers, the reader on made-up /proc and /sys trees (cgroup v1 with the
 * container's own cgroup at the mount, cgroup v2 nested, none), and the derivation. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/hostlimits.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static void test_parse_limit(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(kwg_host_parse_limit("max\n", &v), 0);
	assert_true(v == KWG_HOST_UNLIMITED);
	assert_int_equal(kwg_host_parse_limit("9223372036854771712\n", &v), 0);
	assert_true(v == KWG_HOST_UNLIMITED);
	assert_int_equal(kwg_host_parse_limit("1073741824\n", &v), 0);
	assert_true(v == GIB);
	assert_int_equal(kwg_host_parse_limit("-1", &v), -EINVAL);
	assert_int_equal(kwg_host_parse_limit("12x", &v), -EINVAL);
	assert_int_equal(kwg_host_parse_limit("", &v), -EINVAL);
	assert_int_equal(kwg_host_parse_limit("99999999999999999999999", &v), -EINVAL);
}

static void test_parse_cpu(void **state)
{
	uint32_t m;

	(void)state;
	assert_int_equal(kwg_host_parse_cpu_max("150000 100000\n", &m), 0);
	assert_int_equal(m, 1500);
	assert_int_equal(kwg_host_parse_cpu_max("max 100000\n", &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(kwg_host_parse_cpu_max("1 100000", &m), 0);
	assert_int_equal(m, 1); /* never rounded to "no limit" */
	assert_int_equal(kwg_host_parse_cpu_max("100000 0", &m), -EINVAL);
	assert_int_equal(kwg_host_parse_cpu_max("max", &m), -EINVAL);
	assert_int_equal(kwg_host_parse_cfs("-1\n", "100000\n", &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(kwg_host_parse_cfs("50000\n", "100000\n", &m), 0);
	assert_int_equal(m, 500);
}

static void test_parse_meminfo_cgroup(void **state)
{
	const char *meminfo = "MemTotalX: 1 kB\nMemTotal:       24683748 kB\nMemFree: 2 kB\n";
	const char *cg = "12:pids:/docker/abc\n4:memory:/docker/abc\n3:cpu,cpuacct:/docker/c\n"
	                 "0::/user.slice/x.scope\n";
	char buf[64];
	uint64_t v;

	(void)state;
	assert_int_equal(kwg_host_parse_meminfo(meminfo, "MemTotal", &v), 0);
	assert_true(v == 24683748ull * 1024);
	assert_int_equal(kwg_host_parse_meminfo(meminfo, "SwapTotal", &v), -ENOENT);
	assert_int_equal(kwg_host_parse_cgroup(cg, "memory", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/docker/abc");
	assert_int_equal(kwg_host_parse_cgroup(cg, "cpu", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/docker/c");
	assert_int_equal(kwg_host_parse_cgroup(cg, "cpuacct", buf, sizeof(buf)), 0);
	assert_int_equal(kwg_host_parse_cgroup(cg, NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/user.slice/x.scope");
	assert_int_equal(kwg_host_parse_cgroup(cg, "blkio", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(kwg_host_parse_cgroup(cg, "memory", buf, 4), -ENAMETOOLONG);
}

/* root + path, with its directories, holding text. */
static void put(const char *root, const char *path, const char *text)
{
	char full[PATH_MAX];
	FILE *f;

	(void)snprintf(full, sizeof(full), "%s%s", root, path);
	for (char *p = full + strlen(root) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		(void)mkdir(full, 0755);
		*p = '/';
	}
	f = fopen(full, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void rm_tree(const char *root)
{
	char cmd[PATH_MAX + 16];

	(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
}

static void common_proc(const char *root)
{
	put(root, "/proc/meminfo", "MemTotal:       25165824 kB\n"); /* 24 GiB */
	put(root, "/proc/sys/kernel/pid_max", "32768\n");
	put(root, "/proc/sys/kernel/threads-max", "192735\n");
}

/* A v1 container: /proc/self/cgroup names the host's path, which does not exist in here; the
 * container's own cgroup is at the mount, with 4 GiB and 1.5 CPUs and 2000 pids. */
static void test_read_v1_container(void **state)
{
	char root[] = "/tmp/kwg-hostlimits.XXXXXX";
	struct kwg_host h;

	(void)state;
	assert_non_null(mkdtemp(root));
	common_proc(root);
	put(root, "/proc/self/cgroup",
	    "12:pids:/docker/abc\n4:memory:/docker/abc\n"
	    "3:cpu,cpuacct:/docker/abc\n0::/\n");
	put(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "4294967296\n");
	put(root, "/sys/fs/cgroup/pids/pids.max", "2000\n");
	put(root, "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "150000\n");
	put(root, "/sys/fs/cgroup/cpu/cpu.cfs_period_us", "100000\n");
	kwg_host_read(root, 2, &h);
	assert_true(h.memory == 4 * GIB);
	assert_non_null(
	    strstr(h.memory_from, "cgroup v1 /sys/fs/cgroup/memory/memory.limit_in_bytes"));
	assert_int_equal(h.cpus_milli, 1500);
	assert_non_null(strstr(h.cpus_from, "cpu.cfs_quota_us"));
	assert_true(h.pids == 2000);
	assert_non_null(strstr(h.pids_from, "pids.max"));
	rm_tree(root);
}

/* v2, nested: the lowest limit along the path wins (the parent's 2 GiB under the leaf's max). */
static void test_read_v2_nested(void **state)
{
	char root[] = "/tmp/kwg-hostlimits.XXXXXX";
	struct kwg_host h;

	(void)state;
	assert_non_null(mkdtemp(root));
	common_proc(root);
	put(root, "/proc/self/cgroup", "0::/system.slice/kwg.service\n");
	put(root, "/sys/fs/cgroup/cgroup.controllers", "cpu memory pids\n");
	put(root, "/sys/fs/cgroup/system.slice/memory.max", "2147483648\n");
	put(root, "/sys/fs/cgroup/system.slice/kwg.service/memory.max", "max\n");
	put(root, "/sys/fs/cgroup/system.slice/kwg.service/cpu.max", "max 100000\n");
	put(root, "/sys/fs/cgroup/system.slice/cpu.max", "50000 100000\n");
	kwg_host_read(root, 4, &h);
	assert_true(h.memory == 2 * GIB);
	assert_non_null(strstr(h.memory_from, "cgroup v2 /sys/fs/cgroup/system.slice/memory.max"));
	assert_int_equal(h.cpus_milli, 500);
	assert_true(h.pids == 32768);
	assert_non_null(strstr(h.pids_from, "kernel.pid_max"));
	rm_tree(root);
}

/* No cgroup limits: the machine's. */
static void test_read_machine(void **state)
{
	char root[] = "/tmp/kwg-hostlimits.XXXXXX";
	struct kwg_host h;

	(void)state;
	assert_non_null(mkdtemp(root));
	common_proc(root);
	put(root, "/proc/self/cgroup", "4:memory:/\n0::/\n");
	put(root, "/sys/fs/cgroup/memory/memory.limit_in_bytes", "9223372036854771712\n");
	kwg_host_read(root, 2, &h);
	assert_true(h.memory == 24 * GIB);
	assert_non_null(strstr(h.memory_from, "MemTotal"));
	assert_int_equal(h.cpus_milli, 2000);
	rm_tree(root);
}

static void test_defaults(void **state)
{
	struct kwg_host h = {.memory = 24 * GIB, .cpus_milli = 2000, .pids = 32768};
	struct kwg_task_defaults d;

	(void)state;
	/* 24 GiB, concurrency 8: 3 GiB kept, 21 GiB / 8 for each task; 8192 pids / 8 */
	kwg_host_task_defaults(&h, 8, &d);
	assert_true(d.reserve == 3 * GIB);
	assert_true(d.all_memory == 21 * GIB);
	assert_true(d.memory == 21 * GIB / 8 / MIB * MIB);
	assert_true(d.memory * 8 + d.reserve <= h.memory);
	assert_true(d.processes == 1024);
	assert_true(d.all_pids == 8192);
	/* a 1 GiB container: 256 MiB kept */
	h.memory = GIB;
	kwg_host_task_defaults(&h, 8, &d);
	assert_true(d.reserve == 256 * MIB);
	assert_true(d.memory == 96 * MIB);
	/* a huge pid space is clamped to 1024 a task; a tiny one to 64 */
	h.pids = 4194304;
	kwg_host_task_defaults(&h, 1, &d);
	assert_true(d.processes == 1024);
	h.pids = 1000;
	kwg_host_task_defaults(&h, 8, &d);
	assert_true(d.processes == 64);
	/* tiny memory: half kept, and never 0 ("unlimited") a task */
	h.memory = 100 * MIB;
	kwg_host_task_defaults(&h, 1024, &d);
	assert_true(d.reserve == 50 * MIB);
	assert_true(d.memory == MIB);
	/* unknown memory: no memory default */
	h.memory = KWG_HOST_UNLIMITED;
	kwg_host_task_defaults(&h, 8, &d);
	assert_true(d.memory == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_limit),
	    cmocka_unit_test(test_parse_cpu),
	    cmocka_unit_test(test_parse_meminfo_cgroup),
	    cmocka_unit_test(test_read_v1_container),
	    cmocka_unit_test(test_read_v2_nested),
	    cmocka_unit_test(test_read_machine),
	    cmocka_unit_test(test_defaults),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
