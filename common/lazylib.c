/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "lazylib"
#include "common/lazylib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include "common/log.h"

/* Logged here, below worker/, because the stubs' callers cannot tell a missing library from a
 * failed constructor; once per library and process. */
static int fail(struct kwg_lazylib *lib, const char *why)
{
	(void)snprintf(lib->error, sizeof(lib->error), "cannot load %s, which %s needs: %s",
	               lib->soname, lib->needed_by, why ? why : "unknown error");
	kwg_log_error("%s", lib->error);
	lib->state = -ENOENT;
	return lib->state;
}

int kwg_lazylib_load(struct kwg_lazylib *lib)
{
	void *h;

	if (lib->state)
		return lib->state > 0 ? 0 : lib->state;
	/* RTLD_NOW: a missing dependency fails here, not at some later call. RTLD_LOCAL: its
	 * symbols stay out of the global scope (and our stubs, hidden, out of its). */
	h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return fail(lib, dlerror());
	for (size_t i = 0; i < lib->n; i++) {
		lib->fns[i] = dlsym(h, lib->names[i]);
		if (!lib->fns[i]) {
			int r = fail(lib, dlerror()); /* (the text lives until dlclose) */
			(void)dlclose(h);
			return r;
		}
	}
	lib->handle = h;
	lib->state = 1;
	return 0;
}

void *kwg_lazylib_fn(struct kwg_lazylib *lib, size_t i)
{
	if (lib->state <= 0 && kwg_lazylib_load(lib) < 0)
		return NULL;
	return lib->fns[i];
}
