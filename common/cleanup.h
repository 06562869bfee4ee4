/* SPDX-License-Identifier: Apache-2.0 */
/* Cleanup attributes for function locals, and the steal helpers that hand them on. */
#pragma once
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void kwg_freep(void *p)
{
	free(*(void **)p);
}

static inline void kwg_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		(void)close(*fd);
		errno = saved;
	}
}

static inline void kwg_fclosep(FILE **f)
{
	if (*f)
		(void)fclose(*f);
}

#define cleanup_free __attribute__((cleanup(kwg_freep)))
#define cleanup_close __attribute__((cleanup(kwg_closep)))
#define cleanup_fclose __attribute__((cleanup(kwg_fclosep)))

/* Returns *pp and sets it to NULL: ownership moves to the caller. */
static inline void *steal_ptr_impl(void **pp)
{
	void *p = *pp;
	*pp = NULL;
	return p;
}
#define steal_ptr(pp) steal_ptr_impl((void **)(pp))

static inline int steal_fd(int *fd)
{
	int r = *fd;
	*fd = -1;
	return r;
}
