/* SPDX-License-Identifier: Apache-2.0 */
#include "sandbox/env.h"

#include "common/parse.h"
#include "sandbox/sandbox.h"

#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>

static const char *parent_get(char *const *parent, const char *name)
{
	size_t len = strlen(name);

	for (; parent && *parent; parent++)
		if (strncmp(*parent, name, len) == 0 && (*parent)[len] == '=')
			return *parent + len + 1;
	return NULL;
}

int kwg_sandbox_task_env(char *const *parent, const char *const *passthrough,
                         const struct kwg_strv *task_env, struct kwg_strv *ret)
{
	static const char *const base[] = {"PATH", "HOME", "LANG", "LC_ALL", "TZ"};
	const char *v;
	int r = 0;

	/* SECURITY: an allow-list, never a deny-list: only these names are copied. */
	for (size_t i = 0; r >= 0 && i < sizeof(base) / sizeof(base[0]); i++) {
		v = parent_get(parent, base[i]);
		if (!v && strcmp(base[i], "PATH") == 0)
			v = KWG_DEFAULT_PATH;
		if (v)
			r = kwg_strv_setenv(ret, base[i], v);
	}
	for (; r >= 0 && passthrough && *passthrough; passthrough++) {
		v = parent_get(parent, *passthrough);
		if (v)
			r = kwg_strv_setenv(ret, *passthrough, v);
	}
	for (size_t i = 0; r >= 0 && task_env && i < task_env->n; i++) {
		const char *eq = strchr(task_env->v[i], '=');
		char *name = eq ? strndup(task_env->v[i], (size_t)(eq - task_env->v[i])) : NULL;
		r = name ? kwg_strv_setenv(ret, name, eq + 1) : -ENOMEM;
		free(name);
	}
	return r;
}

int kwg_sandbox_user_from_name(const char *user, int64_t *uid, int64_t *gid)
{
	const char *colon = strchr(user, ':');
	uint32_t u, g;
	struct passwd *pw;

	if (*user >= '0' && *user <= '9') {
		char head[16];
		size_t n = colon ? (size_t)(colon - user) : strlen(user);
		if (n >= sizeof(head))
			return -EINVAL;
		memcpy(head, user, n);
		head[n] = '\0';
		if (kwg_parse_u32(head, 0, UINT32_MAX - 1, &u) < 0 ||
		    kwg_parse_u32(colon ? colon + 1 : head, 0, UINT32_MAX - 1, &g) < 0)
			return -EINVAL;
		*uid = u;
		*gid = g;
		return 0;
	}
	pw = getpwnam(user);
	if (!pw)
		return -ENOENT;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}
