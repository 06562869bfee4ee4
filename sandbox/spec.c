/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/sandbox.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/parse.h"

/* Format, every field NUL-terminated: magic, profile, uid, gid, the five limits, workdir,
 * argc, argv…, envc, envp…, cgroup count, cgroup.procs paths…, the seccomp filter in hex.
 * Numbers are decimal. */
#define MAGIC "kwg-sandbox-2"
#define MAX_SPEC_BYTES (16u << 20)
#define MAX_ITEMS 65536
#define BPF_INSN_BYTES 8                         /* sizeof(struct sock_filter) */
#define MAX_FILTER_BYTES (4096 * BPF_INSN_BYTES) /* BPF_MAXINSNS */

static const char *const profile_names[KWG_SANDBOX_PROFILE__COUNT] = {
    [KWG_SANDBOX_NONE] = "none",
    [KWG_SANDBOX_DEFAULT] = "default",
    [KWG_SANDBOX_STRICT] = "strict",
    [KWG_SANDBOX_CONTAINER] = "container",
};

static const char *const stage_names[KWG_STAGE__COUNT] = {
    [KWG_STAGE_SPEC] = "reading the sandbox spec",
    [KWG_STAGE_FDS] = "closing inherited descriptors",
    [KWG_STAGE_SESSION] = "creating a session",
    [KWG_STAGE_RLIMITS] = "setting resource limits",
    [KWG_STAGE_CGROUPS] = "joining the task's cgroups",
    [KWG_STAGE_USERNS] = "creating a user namespace",
    [KWG_STAGE_NS] = "creating namespaces",
    [KWG_STAGE_MOUNTS] = "preparing mounts",
    [KWG_STAGE_IDS] = "changing to the task user",
    [KWG_STAGE_CAPS] = "dropping capabilities",
    [KWG_STAGE_NNP] = "setting no_new_privs",
    [KWG_STAGE_SECCOMP] = "loading the seccomp filter",
    [KWG_STAGE_CHDIR] = "entering the working directory",
    [KWG_STAGE_EXEC] = "executing the command",
    [KWG_STAGE_REAPER] = "becoming the task's reaper",
};

const char *kwg_sandbox_profile_name(enum kwg_sandbox_profile p)
{
	return p < KWG_SANDBOX_PROFILE__COUNT ? profile_names[p] : "?";
}

int kwg_sandbox_profile_from_name(const char *name, enum kwg_sandbox_profile *ret)
{
	for (size_t i = 0; i < ARRAY_SIZE(profile_names); i++) {
		if (strcmp(name, profile_names[i]) == 0) {
			*ret = (enum kwg_sandbox_profile)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *kwg_sandbox_stage_name(enum kwg_sandbox_stage s)
{
	return s < KWG_STAGE__COUNT ? stage_names[s] : "an unknown step";
}

static int put(struct kwg_buf *b, const char *s)
{
	return kwg_buf_append(b, s, strlen(s) + 1);
}

/* bytes as lowercase hex and a NUL, in pieces of 512 bytes (one snprintf per byte was most of
 * the encoder's time: a filter is a few thousand bytes and goes with every task). */
static int put_hex(struct kwg_buf *b, const uint8_t *bytes, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char chunk[1024];
	int r = 0;

	for (size_t i = 0; r >= 0 && i < len; i += sizeof(chunk) / 2) {
		size_t n = len - i < sizeof(chunk) / 2 ? len - i : sizeof(chunk) / 2;
		for (size_t j = 0; j < n; j++) {
			chunk[2 * j] = digits[bytes[i + j] >> 4];
			chunk[2 * j + 1] = digits[bytes[i + j] & 0xf];
		}
		r = kwg_buf_append(b, chunk, 2 * n);
	}
	return r < 0 ? r : kwg_buf_append(b, "", 1);
}

static int put_num(struct kwg_buf *b, long long v)
{
	char num[32];

	(void)snprintf(num, sizeof(num), "%lld", v);
	return put(b, num);
}

/* A count, then the strings: what read_list reads back. */
static int put_list(struct kwg_buf *b, const struct kwg_strv *sv)
{
	int r = put_num(b, (long long)sv->n);

	for (size_t i = 0; r >= 0 && i < sv->n; i++)
		r = put(b, sv->v[i]);
	return r;
}

int kwg_sandbox_spec_encode(const struct kwg_sandbox_spec *spec, char **ret, size_t *ret_len)
{
	const struct kwg_sandbox_limits *l = &spec->limits;
	struct kwg_buf b;
	int r;

	kwg_buf_init(&b, MAX_SPEC_BYTES);
	r = put(&b, MAGIC);
	r = r < 0 ? r : put_num(&b, spec->profile);
	r = r < 0 ? r : put_num(&b, spec->uid);
	r = r < 0 ? r : put_num(&b, spec->gid);
	r = r < 0 ? r : put_num(&b, (long long)l->cpu_seconds);
	r = r < 0 ? r : put_num(&b, (long long)l->address_space_bytes);
	r = r < 0 ? r : put_num(&b, (long long)l->open_files);
	r = r < 0 ? r : put_num(&b, (long long)l->processes);
	r = r < 0 ? r : put_num(&b, (long long)l->file_size_bytes);
	r = r < 0 ? r : put(&b, spec->workdir ? spec->workdir : "");
	r = r < 0 ? r : put_list(&b, &spec->argv);
	r = r < 0 ? r : put_list(&b, &spec->envp);
	r = r < 0 ? r : put_list(&b, &spec->cgroups);
	r = r < 0 ? r : put_hex(&b, spec->filter, spec->filter_len);
	if (r < 0) {
		kwg_buf_done(&b);
		return r;
	}
	*ret_len = b.len;
	*ret = kwg_buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

struct reader {
	const char *p, *end;
};

/* The next NUL-terminated field, or NULL when the data ends without one. */
static const char *next(struct reader *rd)
{
	const char *s = rd->p;
	const char *nul = s < rd->end ? memchr(s, '\0', (size_t)(rd->end - s)) : NULL;

	if (!nul)
		return NULL;
	rd->p = nul + 1;
	return s;
}

static int next_num(struct reader *rd, int64_t min, int64_t max, int64_t *ret)
{
	const char *s = next(rd);

	if (!s || kwg_parse_i64(s, ret) < 0 || *ret < min || *ret > max)
		return -EBADMSG;
	return 0;
}

static int hex_digit(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int read_filter(struct reader *rd, struct kwg_sandbox_spec *spec)
{
	const char *hex = next(rd);
	size_t n = hex ? strlen(hex) / 2 : 0;

	if (!hex || strlen(hex) % (2 * BPF_INSN_BYTES) != 0 || n > MAX_FILTER_BYTES)
		return -EBADMSG;
	spec->filter = n ? malloc(n) : NULL;
	if (n && !spec->filter)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		spec->filter[i] = (uint8_t)(hi << 4 | lo);
	}
	spec->filter_len = n;
	return 0;
}

static int read_list(struct reader *rd, struct kwg_strv *sv)
{
	int64_t n;
	int r = next_num(rd, 0, MAX_ITEMS, &n);

	for (int64_t i = 0; r >= 0 && i < n; i++) {
		const char *s = next(rd);
		r = s ? kwg_strv_push(sv, s) : -EBADMSG;
	}
	return r;
}

int kwg_sandbox_spec_decode(const char *data, size_t len, struct kwg_sandbox_spec *ret,
                            struct kwg_err *err)
{
	struct reader rd = {data, data + len};
	const char *magic, *workdir;
	int64_t v[8];
	int r = 0;

	*ret = (struct kwg_sandbox_spec){.uid = -1, .gid = -1};
	if (len > MAX_SPEC_BYTES)
		return kwg_err_set(err, -EBADMSG, "sandbox spec larger than %u bytes",
		                   MAX_SPEC_BYTES);
	magic = next(&rd);
	if (!magic || strcmp(magic, MAGIC) != 0)
		return kwg_err_set(err, -EBADMSG, "not a kwg sandbox spec");
	r = next_num(&rd, 0, KWG_SANDBOX_PROFILE__COUNT - 1, &v[0]);
	r = r < 0 ? r : next_num(&rd, -1, UINT32_MAX - 1, &v[1]);
	r = r < 0 ? r : next_num(&rd, -1, UINT32_MAX - 1, &v[2]);
	for (int i = 3; r >= 0 && i < 8; i++)
		r = next_num(&rd, 0, INT64_MAX, &v[i]);
	if (r < 0)
		return kwg_err_set(err, -EBADMSG, "sandbox spec: bad profile, ids or limits");
	workdir = next(&rd);
	if (!workdir || workdir[0] != '/')
		return kwg_err_set(err, -EBADMSG,
		                   "sandbox spec: the working directory must be absolute");
	ret->profile = (enum kwg_sandbox_profile)v[0];
	ret->uid = v[1];
	ret->gid = v[2];
	ret->limits = (struct kwg_sandbox_limits){(uint64_t)v[3], (uint64_t)v[4], (uint64_t)v[5],
	                                          (uint64_t)v[6], (uint64_t)v[7]};
	ret->workdir = strdup(workdir);
	if (!ret->workdir)
		return -ENOMEM;
	r = read_list(&rd, &ret->argv);
	if (r >= 0)
		r = read_list(&rd, &ret->envp);
	if (r >= 0)
		r = read_list(&rd, &ret->cgroups);
	if (r < 0)
		return kwg_err_set(err, r == -ENOMEM ? r : -EBADMSG,
		                   "sandbox spec: bad argv or env");
	r = read_filter(&rd, ret);
	if (r < 0 || (ret->profile != KWG_SANDBOX_NONE && ret->filter_len == 0))
		return kwg_err_set(err, r == -ENOMEM ? r : -EBADMSG,
		                   "sandbox spec: bad or missing seccomp filter");
	if (ret->argv.n == 0 || !ret->argv.v[0][0])
		return kwg_err_set(err, -EBADMSG, "sandbox spec: no command");
	for (size_t i = 0; i < ret->cgroups.n; i++)
		if (strncmp(ret->cgroups.v[i], "/sys/fs/cgroup/", 15) != 0 ||
		    strstr(ret->cgroups.v[i], ".."))
			return kwg_err_set(err, -EBADMSG,
			                   "sandbox spec: a cgroup outside /sys/fs/cgroup");
	if (rd.p != rd.end)
		return kwg_err_set(err, -EBADMSG, "sandbox spec: trailing data");
	return 0;
}

void kwg_sandbox_spec_done(struct kwg_sandbox_spec *spec)
{
	free(spec->workdir);
	spec->workdir = NULL;
	kwg_strv_done(&spec->argv);
	kwg_strv_done(&spec->envp);
	kwg_strv_done(&spec->cgroups);
	free(spec->filter);
	spec->filter = NULL;
	spec->filter_len = 0;
}
