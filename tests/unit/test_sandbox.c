/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox/: the spec codec and the seccomp policy data (every name resolves on this architecture,
 * and the filter builds and exports). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox/env.h"
#include "sandbox/sandbox.h"
#include "sandbox/seccomp.h"

static void test_sandbox_spec_round_trip(void **state)
{
	struct kwg_sandbox_spec spec = {.profile = KWG_SANDBOX_STRICT, .uid = 65534, .gid = 65533};
	struct kwg_sandbox_spec back;
	struct kwg_err err = {{0}};
	char *bytes = NULL;
	size_t len = 0;

	(void)state;
	spec.limits = (struct kwg_sandbox_limits){1, 2, 3, 4, 5};
	spec.workdir = (char *)"/tmp/wd";
	assert_int_equal(kwg_strv_push(&spec.argv, "/bin/sh"), 0);
	assert_int_equal(kwg_strv_push(&spec.argv, "-c"), 0);
	assert_int_equal(kwg_strv_push(&spec.argv, "echo 'a\nb'"), 0);
	assert_int_equal(kwg_strv_push(&spec.envp, "PATH=/bin"), 0);
	assert_int_equal(kwg_sandbox_spec_encode(&spec, &bytes, &len), 0);
	assert_int_equal(kwg_sandbox_spec_decode(bytes, len, &back, &err), 0);
	assert_int_equal(back.profile, KWG_SANDBOX_STRICT);
	assert_int_equal(back.uid, 65534);
	assert_int_equal(back.gid, 65533);
	assert_int_equal(back.limits.file_size_bytes, 5);
	assert_string_equal(back.workdir, "/tmp/wd");
	assert_int_equal(back.argv.n, 3);
	assert_string_equal(back.argv.v[2], "echo 'a\nb'");
	assert_string_equal(back.envp.v[0], "PATH=/bin");
	/* every truncation is refused, never misread */
	for (size_t cut = 0; cut < len; cut++) {
		struct kwg_sandbox_spec partial;
		assert_int_equal(kwg_sandbox_spec_decode(bytes, cut, &partial, &err), -EBADMSG);
		kwg_sandbox_spec_done(&partial);
	}
	kwg_sandbox_spec_done(&back);
	kwg_strv_done(&spec.argv);
	kwg_strv_done(&spec.envp);
	free(bytes);
}

static void test_sandbox_spec_refuses_relative_workdir(void **state)
{
	static const char bad[] = "kwg-sandbox-1\0"
	                          "1\0"
	                          "-1\0"
	                          "-1\0"
	                          "0\0"
	                          "0\0"
	                          "0\0"
	                          "0\0"
	                          "0\0"
	                          "relative\0"
	                          "1\0"
	                          "sh\0"
	                          "0";
	struct kwg_sandbox_spec spec;
	struct kwg_err err = {{0}};

	(void)state;
	assert_int_equal(kwg_sandbox_spec_decode(bad, sizeof(bad), &spec, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "absolute"));
	kwg_sandbox_spec_done(&spec);
}

static void test_sandbox_user_forms(void **state)
{
	int64_t uid = -1, gid = -1;
	(void)state;

	assert_int_equal(kwg_sandbox_user_from_name("65534", &uid, &gid), 0);
	assert_true(uid == 65534 && gid == 65534);
	assert_int_equal(kwg_sandbox_user_from_name("1000:50", &uid, &gid), 0);
	assert_true(uid == 1000 && gid == 50);
	assert_int_equal(kwg_sandbox_user_from_name("root", &uid, &gid), 0);
	assert_true(uid == 0 && gid == 0);
	assert_int_equal(kwg_sandbox_user_from_name("0:abc", &uid, &gid), -EINVAL);
	assert_int_equal(kwg_sandbox_user_from_name("12x", &uid, &gid), -EINVAL);
	assert_int_equal(kwg_sandbox_user_from_name("99999999999", &uid, &gid), -EINVAL);
	assert_int_equal(kwg_sandbox_user_from_name("4294967295", &uid, &gid), -EINVAL);
	assert_int_equal(kwg_sandbox_user_from_name("no-such-kwg-user", &uid, &gid), -ENOENT);
}

static void test_sandbox_policy_names_resolve(void **state)
{
	(void)state;
	for (int p = 0; p < KWG_SANDBOX_PROFILE__COUNT; p++) {
		const char *unknown = kwg_sandbox_seccomp_unknown_name((enum kwg_sandbox_profile)p);
		if (unknown)
			fail_msg("profile %s: syscall '%s' does not resolve on this architecture",
			         kwg_sandbox_profile_name((enum kwg_sandbox_profile)p), unknown);
	}
}

static void test_sandbox_filters_build_and_export(void **state)
{
	(void)state;
	for (int p = KWG_SANDBOX_DEFAULT; p <= KWG_SANDBOX_STRICT; p++) {
		int fd = memfd_create("bpf", MFD_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(kwg_sandbox_seccomp_export((enum kwg_sandbox_profile)p, fd), 0);
		/* a BPF program of at least one instruction per denied syscall (8 bytes each) */
		assert_true(lseek(fd, 0, SEEK_END) >= 8 * 60);
		close(fd);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sandbox_spec_round_trip),
	    cmocka_unit_test(test_sandbox_spec_refuses_relative_workdir),
	    cmocka_unit_test(test_sandbox_user_forms),
	    cmocka_unit_test(test_sandbox_policy_names_resolve),
	    cmocka_unit_test(test_sandbox_filters_build_and_export),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
