/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox/: the spec codec and the seccomp policy data (every name resolves on this architecture,
 * the filter builds and exports, and the programs the build compiled for `kwg sandbox` are still
 * what libseccomp compiles here). */
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
#include "sandbox/prebuilt.h"
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
	assert_int_equal(
	    kwg_sandbox_seccomp_compile(spec.profile, NULL, NULL, &spec.filter, &spec.filter_len),
	    0);
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
	assert_int_equal(back.filter_len, spec.filter_len);
	assert_memory_equal(back.filter, spec.filter, spec.filter_len);
	/* every truncation is refused, never misread */
	for (size_t cut = 0; cut < len; cut++) {
		struct kwg_sandbox_spec partial;
		assert_int_equal(kwg_sandbox_spec_decode(bytes, cut, &partial, &err), -EBADMSG);
		kwg_sandbox_spec_done(&partial);
	}
	/* a sandboxing profile without its filter is refused */
	free(spec.filter);
	spec.filter = NULL;
	spec.filter_len = 0;
	free(bytes);
	assert_int_equal(kwg_sandbox_spec_encode(&spec, &bytes, &len), 0);
	kwg_sandbox_spec_done(&back);
	assert_int_equal(kwg_sandbox_spec_decode(bytes, len, &back, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "seccomp filter"));
	kwg_sandbox_spec_done(&back);
	kwg_strv_done(&spec.argv);
	kwg_strv_done(&spec.envp);
	free(bytes);
}

static void test_sandbox_spec_refuses_relative_workdir(void **state)
{
	static const char bad[] = "kwg-sandbox-2\0"
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

static void test_sandbox_filters_compile(void **state)
{
	(void)state;
	for (int p = KWG_SANDBOX_NONE; p <= KWG_SANDBOX_STRICT; p++) {
		struct kwg_strv deny = {0};
		uint8_t *bpf = NULL, *more = NULL;
		size_t len = 0, more_len = 0;
		assert_int_equal(kwg_sandbox_seccomp_compile((enum kwg_sandbox_profile)p, NULL,
		                                             NULL, &bpf, &len),
		                 0);
		/* none: no program; the others at least one instruction (8 bytes) per denied
		 * syscall, and one more rule makes a longer program */
		assert_true(p == KWG_SANDBOX_NONE ? len == 0 : len >= 8 * 60 && len % 8 == 0);
		assert_int_equal(kwg_strv_push(&deny, "uname"), 0);
		assert_int_equal(kwg_sandbox_seccomp_compile((enum kwg_sandbox_profile)p, &deny,
		                                             NULL, &more, &more_len),
		                 0);
		assert_true(p == KWG_SANDBOX_NONE ? more_len == 0 : more_len > len);
		kwg_strv_done(&deny);
		free(bpf);
		free(more);
	}
}

/* `kwg sandbox` loads the programs kwg_gen_filters compiled at build time: each must be, byte for
 * byte, what the worker compiles at its start for the same profile without an override. */
static void test_sandbox_prebuilt_filters_match(void **state)
{
	const uint8_t *prebuilt;
	size_t prebuilt_len;

	(void)state;
	for (int p = 0; p < KWG_SANDBOX_PROFILE__COUNT; p++) {
		uint8_t *bpf = NULL;
		size_t len = 0;
		assert_int_equal(kwg_sandbox_seccomp_compile((enum kwg_sandbox_profile)p, NULL,
		                                             NULL, &bpf, &len),
		                 0);
		assert_int_equal(kwg_sandbox_prebuilt_filter((enum kwg_sandbox_profile)p, &prebuilt,
		                                             &prebuilt_len),
		                 0);
		if (prebuilt_len != len || (len && memcmp(prebuilt, bpf, len) != 0))
			fail_msg("profile %s: the prebuilt program (%zu bytes) is not what "
			         "libseccomp compiles here (%zu bytes): rebuild",
			         kwg_sandbox_profile_name((enum kwg_sandbox_profile)p),
			         prebuilt_len, len);
		free(bpf);
	}
	assert_int_equal(
	    kwg_sandbox_prebuilt_filter(KWG_SANDBOX_PROFILE__COUNT, &prebuilt, &prebuilt_len),
	    -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sandbox_spec_round_trip),
	    cmocka_unit_test(test_sandbox_spec_refuses_relative_workdir),
	    cmocka_unit_test(test_sandbox_user_forms),
	    cmocka_unit_test(test_sandbox_policy_names_resolve),
	    cmocka_unit_test(test_sandbox_filters_compile),
	    cmocka_unit_test(test_sandbox_prebuilt_filters_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
