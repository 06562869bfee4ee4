/* SPDX-License-Identifier: Apache-2.0 */
/* What the worker may use of its host, and the per-task limits derived from it (docs/sandbox.md,
 * "Limits from the host"). The memory and CPUs it may use are its cgroup's limits when it has any
 * (v2 memory.max and cpu.max, v1 memory.limit_in_bytes and cpu.cfs_quota_us/cpu.cfs_period_us,
 * the lowest along the cgroup's path), else the machine's (/proc/meminfo, the CPUs it may run
 * on); processes are the kernel's pid space (kernel.pid_max, kernel.threads-max) and a pids
 * cgroup's limit. Each value says where it came from. Parsers and the derivation are pure; the
 * reader takes a root directory so that tests can give it a made-up /proc and /sys. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define KWG_HOST_UNLIMITED UINT64_MAX

struct kwg_host {
	uint64_t memory; /* bytes the worker and its tasks may use together */
	char memory_from[160];
	uint32_t cpus_milli; /* CPUs it may use, in thousandths */
	char cpus_from[160];
	uint64_t pids; /* processes (threads) the worker and its tasks may have together */
	char pids_from[160];
};

/* What the host gives each task when the operator sets nothing, and the worker-wide caps. */
struct kwg_task_defaults {
	uint64_t memory;     /* per task, bytes (a multiple of 1 MiB) */
	uint64_t processes;  /* per task */
	uint64_t all_memory; /* every task together: memory less the worker's reserve */
	uint64_t all_pids;   /* every task together: a quarter of the pid space */
	uint64_t reserve;    /* kept for the worker itself */
};

/* A cgroup limit file's text: a number (bytes, or a count), "max", or v1's "unlimited" value
 * (anything from 2^62 up): *ret, KWG_HOST_UNLIMITED for no limit. 0, or -EINVAL. */
int kwg_host_parse_limit(const char *text, uint64_t *ret);
/* v2 cpu.max ("QUOTA PERIOD" or "max PERIOD"): thousandths of a CPU, 0 for no limit. v1: quota
 * and period texts in two calls' worth: kwg_host_parse_cfs. 0, or -EINVAL. */
int kwg_host_parse_cpu_max(const char *text, uint32_t *ret_milli);
int kwg_host_parse_cfs(const char *quota, const char *period, uint32_t *ret_milli);
/* The value in kB of "KEY:   N kB" in /proc/meminfo's text, in bytes. 0, or -ENOENT/-EINVAL. */
int kwg_host_parse_meminfo(const char *text, const char *key, uint64_t *ret);
/* The cgroup path of controller (NULL: the v2 "0::" line) in /proc/self/cgroup's text, into buf.
 * 0, -ENOENT when absent, -ENAMETOOLONG. */
int kwg_host_parse_cgroup(const char *text, const char *controller, char *buf, size_t size);

/* Reads the host under root ("" for the real one). online_cpus: the CPUs this process may run
 * on (sched_getaffinity), 0 when unknown. Never fails: what cannot be read is left at the
 * machine's value, or unlimited, and *_from says so. */
void kwg_host_read(const char *root, uint32_t online_cpus, struct kwg_host *ret);

/* Per-task defaults for concurrency tasks at once: memory = (memory - reserve) / concurrency,
 * the reserve max(256 MiB, memory / 8) (half the memory when that leaves less than 256 MiB);
 * processes = a quarter of the pid space shared by the tasks, clamped to 64..1024 a task. */
void kwg_host_task_defaults(const struct kwg_host *h, uint32_t concurrency,
                            struct kwg_task_defaults *ret);
