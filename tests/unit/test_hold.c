/* SPDX-License-Identifier: Apache-2.0 */
/* sandbox/hold: the spec the warm pool's holder reads (working directory, argc, argv, env), its
 * malformed shapes, and the environment merged as Docker merges it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sandbox/hold.h"

/* parse LITERAL: the literal's bytes (with its inner NULs, without the final one) */
#define PARSE(lit, wd, argv, env) parse_copy(lit, sizeof(lit) - 1, wd, argv, env)

static char copy[256];

static int parse_copy(const char *s, size_t len, const char **wd, char ***argv, char ***env)
{
	memcpy(copy, s, len);
	copy[len] = '\0';
	return kwg_hold_parse(copy, len, wd, argv, env);
}

static void test_hold_parse_spec(void **state)
{
	const char *wd;
	char **argv, **env;

	(void)state;
	assert_int_equal(PARSE("/w/d\0"
	                       "2\0/bin/sh\0-c\0A=1\0B=x=y\0",
	                       &wd, &argv, &env),
	                 0);
	assert_string_equal(wd, "/w/d");
	assert_string_equal(argv[0], "/bin/sh");
	assert_string_equal(argv[1], "-c");
	assert_null(argv[2]);
	assert_string_equal(env[0], "A=1");
	assert_string_equal(env[1], "B=x=y");
	assert_null(env[2]);
	free(argv);
	free(env);
	/* an empty argument and no environment */
	assert_int_equal(PARSE("/\0"
	                       "2\0true\0\0",
	                       &wd, &argv, &env),
	                 0);
	assert_string_equal(argv[1], "");
	assert_null(env[0]);
	free(argv);
	free(env);
}

static void test_hold_parse_rejects(void **state)
{
	const char *wd;
	char **argv, **env;

	(void)state;
	assert_int_equal(PARSE("", &wd, &argv, &env), -EINVAL);
	assert_int_equal(PARSE("rel\0"
	                       "1\0true\0",
	                       &wd, &argv, &env),
	                 -EINVAL); /* a relative working directory */
	assert_int_equal(PARSE("/\0"
	                       "0\0",
	                       &wd, &argv, &env),
	                 -EINVAL); /* no command */
	assert_int_equal(PARSE("/\0"
	                       "3\0a\0b\0",
	                       &wd, &argv, &env),
	                 -EINVAL); /* fewer arguments than said */
	assert_int_equal(PARSE("/\0"
	                       "x\0a\0",
	                       &wd, &argv, &env),
	                 -EINVAL); /* not a count */
	assert_int_equal(PARSE("/\0"
	                       "1\0a\0NOEQUALS\0",
	                       &wd, &argv, &env),
	                 -EINVAL); /* an env entry without '=' */
	assert_int_equal(PARSE("/\0"
	                       "1\0a\0=v\0",
	                       &wd, &argv, &env),
	                 -EINVAL); /* an env entry without a name */
	assert_int_equal(PARSE("/\0"
	                       "1\0a\0A=1",
	                       &wd, &argv, &env),
	                 -EINVAL); /* not NUL-terminated */
}

static void test_hold_merge_env_as_docker(void **state)
{
	char p1[] = "PATH=/usr/bin:/bin", h[] = "HOSTNAME=abc", l1[] = "LANG=C",
	     home[] = "HOME=/root";
	char l2[] = "LANG=fr_FR", n1[] = "NEW=1", p2[] = "PATH=/bin", n2[] = "NEW=2";
	char px[] = "PATHX=1", p3[] = "PATH=2";
	char *base[] = {p1, h, l1, home, NULL}, *add[] = {l2, n1, p2, n2, NULL};
	char **m;

	(void)state;
	m = kwg_hold_merge_env(base, add);
	assert_non_null(m);
	/* replaced in place, new ones appended in order, a repeated name replaced again */
	assert_string_equal(m[0], "PATH=/bin");
	assert_string_equal(m[1], "HOSTNAME=abc");
	assert_string_equal(m[2], "LANG=fr_FR");
	assert_string_equal(m[3], "HOME=/root");
	assert_string_equal(m[4], "NEW=2");
	assert_null(m[5]);
	free(m);
	/* a name that is a prefix of another is another name */
	m = kwg_hold_merge_env((char *[]){px, NULL}, (char *[]){p3, NULL});
	assert_string_equal(m[0], "PATHX=1");
	assert_string_equal(m[1], "PATH=2");
	free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hold_parse_spec),
	    cmocka_unit_test(test_hold_parse_rejects),
	    cmocka_unit_test(test_hold_merge_env_as_docker),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
