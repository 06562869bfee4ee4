/* SPDX-License-Identifier: Apache-2.0 */
#include "common/strv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int kwg_strv_push_take(struct kwg_strv *sv, char *s)
{
	char **v;

	if (!s)
		return -ENOMEM;
	v = realloc(sv->v, (sv->n + 2) * sizeof(*v));
	if (!v) {
		free(s);
		return -ENOMEM;
	}
	v[sv->n++] = s;
	v[sv->n] = NULL;
	sv->v = v;
	return 0;
}

int kwg_strv_push(struct kwg_strv *sv, const char *s)
{
	return kwg_strv_push_take(sv, strdup(s));
}

static size_t env_find(const struct kwg_strv *sv, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < sv->n; i++)
		if (strncmp(sv->v[i], name, len) == 0 && sv->v[i][len] == '=')
			return i;
	return sv->n;
}

int kwg_strv_setenv(struct kwg_strv *sv, const char *name, const char *value)
{
	size_t i = env_find(sv, name);
	size_t len = strlen(name) + strlen(value) + 2;
	char *s = malloc(len);

	if (!s)
		return -ENOMEM;
	(void)snprintf(s, len, "%s=%s", name, value);
	if (i < sv->n) {
		free(sv->v[i]);
		sv->v[i] = s;
		return 0;
	}
	return kwg_strv_push_take(sv, s);
}

const char *kwg_strv_getenv(const struct kwg_strv *sv, const char *name)
{
	size_t i = env_find(sv, name);

	return i < sv->n ? sv->v[i] + strlen(name) + 1 : NULL;
}

void kwg_strv_done(struct kwg_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}
