/* SPDX-License-Identifier: Apache-2.0 */
/* Java's PathMatcher globs (java.nio FileSystem.getPathMatcher "glob:" syntax) and "regex:"
 * patterns, as Kestra matches outputFiles and namespace files (kestra-script-tasks.md §7.2, §7.6):
 * `*` within one segment, `**` across segments, `?`, `[..]`/`[!..]`, `{a,b}`, `\` escapes, no
 * special dot-files. Pure. */
#pragma once
#include <stdbool.h>

#include "common/err.h"

struct kwg_glob;

/* Compiles a matcher pattern. "glob:P" and "regex:R" (POSIX extended, whole-string match, as
 * Java's matches()) are taken as they are; a bare pattern is a glob. 0 and *ret (new), -EINVAL
 * with err naming the pattern and the problem, -ENOMEM. */
int kwg_glob_compile(const char *pattern, struct kwg_glob **ret, struct kwg_err *err);
/* Matches the whole path. */
bool kwg_glob_match(const struct kwg_glob *g, const char *path);
/* Accepts NULL. Returns NULL. */
struct kwg_glob *kwg_glob_free(struct kwg_glob *g);

/* The outputFiles rule (§7.2 step 2): a pattern without "glob:"/"regex:" becomes
 * "glob:" + working_dir + "/" + pattern (a pattern starting with "/" is appended to working_dir
 * as it is); prefixed patterns are used verbatim against the absolute path. */
int kwg_glob_compile_output(const char *working_dir, const char *pattern, struct kwg_glob **ret,
                            struct kwg_err *err);
/* The namespace-files rule (§7.6 step 2): a pattern starting with a word character gets "**" "/"
 * in front; matched against the path relative to the namespace with a leading "/". */
int kwg_glob_compile_namespace(const char *pattern, struct kwg_glob **ret, struct kwg_err *err);
