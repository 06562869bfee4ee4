/* SPDX-License-Identifier: Apache-2.0 */
/* struct kwg_strv: a NULL-terminated vector of owned strings (argv, envp, lists). */
#pragma once
#include <stddef.h>

struct kwg_strv {
	char **v; /* owned, each element owned; v[n] == NULL once anything was pushed */
	size_t n;
};

/* Copies s. 0 or -ENOMEM. */
int kwg_strv_push(struct kwg_strv *sv, const char *s);
/* Takes s (freed on failure). 0 or -ENOMEM. */
int kwg_strv_push_take(struct kwg_strv *sv, char *s);
/* Sets NAME=value in an environment vector, replacing an existing NAME. 0 or -ENOMEM. */
int kwg_strv_setenv(struct kwg_strv *sv, const char *name, const char *value);
/* The value of NAME in an environment vector, or NULL; borrowed. */
const char *kwg_strv_getenv(const struct kwg_strv *sv, const char *name);
void kwg_strv_done(struct kwg_strv *sv);
