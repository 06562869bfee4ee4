/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/glob: Java PathMatcher semantics (kestra-script-tasks.md §7.2, §7.6), the outputFiles
 * and namespace-files rules, syntax errors as Java reports them, and bounded matching. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "protocol/glob.h"

struct match_case {
	const char *pattern, *path;
	bool expected;
};

static void check(const struct match_case *c)
{
	struct kwg_glob *g = NULL;
	struct kwg_err err = {{0}};

	if (kwg_glob_compile(c->pattern, &g, &err) != 0)
		fail_msg("'%s' does not compile: %s", c->pattern, err.msg);
	if (kwg_glob_match(g, c->path) != c->expected)
		fail_msg("'%s' against '%s': expected %s", c->pattern, c->path,
		         c->expected ? "a match" : "no match");
	kwg_glob_free(g);
}

static void check_all(const struct match_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		check(&cases[i]);
}

static void test_glob_star_stays_in_a_segment(void **state)
{
	static const struct match_case cases[] = {
	    {"*.txt", "a.txt", true},
	    {"*.txt", "sub/a.txt", false},
	    {"*.txt", ".txt", true},
	    {"*.txt", ".hidden.txt", true}, /* no dot-file rule */
	    {"*", "", true},
	    {"*", "a/b", false},
	    {"a*b*c", "abc", true},
	    {"a*b*c", "axxbyyc", true},
	    {"a*b*c", "axxbyy/c", false},
	    {"*/b", "a/b", true},
	    {"*/b", "/b", true},
	    {"*.txt", "a.txt.bak", false},
	};

	(void)state;
	check_all(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_glob_double_star_crosses_segments(void **state)
{
	static const struct match_case cases[] = {
	    {"**.txt", "a.txt", true},
	    {"**.txt", "sub/dir/a.txt", true},
	    {"**/*.txt", "a.txt", false},
	    {"**/*.txt", "sub/a.txt", true},
	    {"**/*.txt", "sub/dir/a.txt", true},
	    {"sub/**", "sub/a", true},
	    {"sub/**", "sub/a/b/c", true},
	    {"sub/**", "sub/", true},
	    {"sub/**", "sub", false},
	    {"sub/**", "other/a", false},
	    {"**", "", true},
	    {"***", "a/b", true},
	    {"**/main.py", "/main.py", true},
	    {"**/main.py", "/scripts/main.py", true},
	    {"**/main.py", "main.py", false},
	    {"*.py", "/main.py", false},
	    /* Java's '.' stops at line terminators: ** does not cross a newline, * does */
	    {"**", "a\nb", false},
	    {"*", "a\nb", true},
	};

	(void)state;
	check_all(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_glob_question_mark_and_classes(void **state)
{
	static const struct match_case cases[] = {
	    {"?.txt", "a.txt", true},
	    {"?.txt", "ab.txt", false},
	    {"a?b", "a/b", false},
	    {"[abc].txt", "b.txt", true},
	    {"[abc].txt", "d.txt", false},
	    {"[!a].txt", "b.txt", true},
	    {"[!a].txt", "a.txt", false},
	    {"[a-c]x", "bx", true},
	    {"[a-c]x", "dx", false},
	    {"[!a-c]x", "dx", true},
	    {"[-a]", "-", true},
	    {"[!-a]", "-", false},
	    {"[!-a]", "b", true},
	    {"[a-]", "-", true},
	    {"[a-]", "a", true},
	    {"[^a]", "^", true},
	    {"[^a]", "b", false},
	    {"[!a]", "/", false}, /* a class never matches the separator */
	    {"[*?]", "*", true},
	    {"[*?]", "x", false},
	    {"[\\]", "\\", true}, /* '\' is literal inside a class */
	    {"[[]", "[", true},
	    {"[a&&b]", "&", true},
	    {"[é]", "é", true},
	    {"?", "é", true},
	    {"?", "😀", true}, /* Java's regex takes a surrogate pair as one code point */
	    {"??", "😀", false},
	    {"[a-😀]", "😀", true},
	    {"[😀]x", "😀x", true},
	    {"?", "\xff", true}, /* invalid UTF-8: one U+FFFD */
	};

	(void)state;
	check_all(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_glob_groups_and_escapes(void **state)
{
	static const struct match_case cases[] = {
	    {"{a,b}.txt", "a.txt", true},
	    {"{a,b}.txt", "b.txt", true},
	    {"{a,b}.txt", "c.txt", false},
	    {"*.{csv,json}", "x.json", true},
	    {"*.{csv,json}", "x.xml", false},
	    {"{*.txt,sub/**}", "sub/x/y", true},
	    {"{*.txt,sub/**}", "a.txt", true},
	    {"{*.txt,sub/**}", "x/a.txt", false},
	    {"{a,}b", "b", true},
	    {"{}", "", true},
	    {"a,b", "a,b", true},
	    {"a}b", "a}b", true},
	    {"\\*.txt", "*.txt", true},
	    {"\\*.txt", "a.txt", false},
	    {"\\{a\\}", "{a}", true},
	    {"\\a", "a", true},
	    {"a.b", "a.b", true},
	    {"a.b", "axb", false}, /* regex metacharacters are literal */
	    {"(a|b)+$^", "(a|b)+$^", true},
	};

	(void)state;
	check_all(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_glob_prefixes_and_regex(void **state)
{
	static const struct match_case cases[] = {
	    {"glob:*.csv", "a.csv", true},
	    {"glob:*.csv", "/tmp/wd/a.csv", false},
	    {"regex:.*\\.csv", "/tmp/wd/a.csv", true},
	    {"regex:.*\\.csv", "/tmp/wd/a.csv.bak", false},
	    {"regex:a|b", "a", true},
	    {"regex:a|b", "ab", false}, /* whole match, like Java's matches() */
	    {"regex:b", "abc", false},
	    {"regex:[a-c]+", "abcab", true},
	    {"regex:a*?", "aaa", true}, /* Java's lazy quantifier, the same for a whole match */
	    {"regex:(ab){2,3}", "ababab", true},
	    {"regex:[]a]{2}", "]a", true},
	};

	(void)state;
	check_all(cases, sizeof(cases) / sizeof(cases[0]));
}

static void expect_error(const char *pattern, const char *what)
{
	struct kwg_glob *g = NULL;
	struct kwg_err err = {{0}};

	assert_int_equal(kwg_glob_compile(pattern, &g, &err), -EINVAL);
	assert_null(g);
	if (!strstr(err.msg, what))
		fail_msg("'%s': error '%s' does not say '%s'", pattern, err.msg, what);
}

static void test_glob_syntax_errors_as_java(void **state)
{
	char *huge = malloc(5000);

	(void)state;
	expect_error("a\\", "no character to escape");
	expect_error("[abc", "missing ']'");
	expect_error("[a/b]", "name separator");
	expect_error("[c-a]", "invalid range");
	expect_error("[--a]", "invalid range");
	expect_error("[^-a]", "invalid range");
	expect_error("{a,{b}}", "cannot nest groups");
	expect_error("{a,b", "missing '}'");
	expect_error("[]", "empty class");
	expect_error("[!]", "empty class");
	expect_error("[😀-😂]", "invalid range"); /* as Java, which compares UTF-16 units */
	expect_error("regex:a(b", "regex 'a(b'");
	expect_error("regex:a**", "dangling quantifier");
	expect_error("regex:a*??", "dangling quantifier");
	expect_error("regex:((a{255}){255}){255}", "too complex");
	memset(huge, 'a', 4999);
	huge[4999] = '\0';
	expect_error(huge, "longer than 4096 bytes");
	free(huge);
}

static void check_output(const char *pattern, const char *path, bool expected)
{
	struct kwg_glob *g = NULL;
	struct kwg_err err = {{0}};

	if (kwg_glob_compile_output("/tmp/wd", pattern, &g, &err) != 0)
		fail_msg("output '%s' does not compile: %s", pattern, err.msg);
	if (kwg_glob_match(g, path) != expected)
		fail_msg("output '%s' against '%s': expected %s", pattern, path,
		         expected ? "a match" : "no match");
	kwg_glob_free(g);
}

static void test_glob_output_files_rule(void **state)
{
	(void)state;
	check_output("*.txt", "/tmp/wd/a.txt", true);
	check_output("*.txt", "/tmp/wd/sub/a.txt", false);
	check_output("**.txt", "/tmp/wd/sub/a.txt", true);
	check_output("**/*.txt", "/tmp/wd/a.txt", false);
	check_output("**/*.txt", "/tmp/wd/sub/a.txt", true);
	check_output("/out.csv", "/tmp/wd/out.csv", true);
	check_output("sub/**", "/tmp/wd/sub/x/y.bin", true);
	check_output("*.txt", "/tmp/other/a.txt", false);
	check_output("glob:*.csv", "/tmp/wd/a.csv", false); /* §7.2: never matches */
	check_output("glob:/tmp/wd/*.csv", "/tmp/wd/a.csv", true);
	check_output("regex:.*\\.csv", "/tmp/wd/deep/a.csv", true);
}

static void test_glob_output_working_dir_with_trailing_slash(void **state)
{
	struct kwg_glob *g = NULL;
	struct kwg_err err = {{0}};

	(void)state;
	assert_int_equal(kwg_glob_compile_output("/tmp/wd/", "*.txt", &g, &err), 0);
	assert_true(kwg_glob_match(g, "/tmp/wd/a.txt"));
	kwg_glob_free(g);
}

static void check_namespace(const char *pattern, const char *path, bool expected)
{
	struct kwg_glob *g = NULL;
	struct kwg_err err = {{0}};

	if (kwg_glob_compile_namespace(pattern, &g, &err) != 0)
		fail_msg("namespace '%s' does not compile: %s", pattern, err.msg);
	if (kwg_glob_match(g, path) != expected)
		fail_msg("namespace '%s' against '%s': expected %s", pattern, path,
		         expected ? "a match" : "no match");
	kwg_glob_free(g);
}

static void test_glob_namespace_files_rule(void **state)
{
	(void)state;
	check_namespace("main.py", "/main.py", true);
	check_namespace("main.py", "/scripts/main.py", true);
	check_namespace("scripts/main.py", "/scripts/main.py", true);
	check_namespace("_x.py", "/a/_x.py", true);
	check_namespace("*.py", "/main.py", false); /* §7.6: used as is */
	check_namespace("**.py", "/main.py", true);
	check_namespace("**/*.py", "/scripts/main.py", true);
	check_namespace("/scripts/**", "/scripts/a/b.py", true);
	check_namespace("regex:/scripts/.*", "/scripts/a.py", true);
	check_namespace("glob:main.py", "/main.py", false);
}

/* `**a` repeated: a backtracking matcher needs exponential time on a path without the final
 * character; the state-set simulation is linear in the path. */
static void test_glob_pathological_pattern_is_bounded(void **state)
{
	char pattern[4096], path[4096];
	struct kwg_glob *g = NULL;
	struct kwg_err err = {{0}};
	size_t n = 0;

	(void)state;
	for (int i = 0; i < 600; i++)
		n += (size_t)snprintf(pattern + n, sizeof(pattern) - n, "**a");
	(void)snprintf(pattern + n, sizeof(pattern) - n, "b");
	memset(path, 'a', 4000);
	path[4000] = '\0';
	assert_int_equal(kwg_glob_compile(pattern, &g, &err), 0);
	assert_false(kwg_glob_match(g, path));
	path[3999] = 'b';
	assert_true(kwg_glob_match(g, path));
	kwg_glob_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_glob_star_stays_in_a_segment),
	    cmocka_unit_test(test_glob_double_star_crosses_segments),
	    cmocka_unit_test(test_glob_question_mark_and_classes),
	    cmocka_unit_test(test_glob_groups_and_escapes),
	    cmocka_unit_test(test_glob_prefixes_and_regex),
	    cmocka_unit_test(test_glob_syntax_errors_as_java),
	    cmocka_unit_test(test_glob_output_files_rule),
	    cmocka_unit_test(test_glob_output_working_dir_with_trailing_slash),
	    cmocka_unit_test(test_glob_namespace_files_rule),
	    cmocka_unit_test(test_glob_pathological_pattern_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
