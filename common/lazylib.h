/* SPDX-License-Identifier: Apache-2.0 */
/* Shared libraries loaded at their first use (dlopen) instead of at start, for the features
 * only some workers use: libarchive (files in and out of Docker tasks), libmicrohttpd (the
 * status port), libjq (the jq filter), libcurl (the Docker Engine client, S3 storage),
 * libnghttp2 (the gRPC transport), libyaml (task files) and libpcre2-8 (regular expressions in
 * templates). Each is one struct kwg_lazylib defined in its stub file, common/lazy_<name>.c:
 * functions with the library's own names and prototypes that load it on their first call and
 * forward, so call sites stay as they are. Owns the dlopen handles (never closed). Loop thread
 * only (or a child after fork): no locks. */
#pragma once
#include <stddef.h>

struct kwg_lazylib {
	const char *soname;       /* "libjq.so.1" */
	const char *needed_by;    /* what needs it, for the error: "the jq filter" */
	const char *const *names; /* its functions, n of them, resolved into fns */
	void **fns;
	size_t n;
	void *handle;
	int state;       /* 0 not tried yet, 1 loaded, -ENOENT failed for good */
	char error[256]; /* why it failed, naming the library */
};

/* Loads lib and resolves all its functions, once: later calls return the first outcome.
 * 0, or -ENOENT when the library or one of its functions is missing; then lib->error says
 * which, and what needs it, and that error is logged once. */
int kwg_lazylib_load(struct kwg_lazylib *lib);
/* Function i of lib (borrowed), loading lib first; NULL when it cannot be loaded (the stub
 * then returns the failure value its library documents, e.g. NULL from a constructor). */
void *kwg_lazylib_fn(struct kwg_lazylib *lib, size_t i);

/* The libraries (common/lazy_<name>.c; each its own static library kwg_lazy_<name>, linked by
 * the folders that use it). */
extern struct kwg_lazylib kwg_lazy_archive, kwg_lazy_mhd, kwg_lazy_jq, kwg_lazy_curl,
    kwg_lazy_nghttp2, kwg_lazy_yaml, kwg_lazy_pcre2;

/* Table generators over a library's function list FUNCS(F, V): its names in order
 * ({FUNCS(KWG_LAZY_NAME_F, KWG_LAZY_NAME_V)}) and the matching IDX_<name> enum. */
#define KWG_LAZY_NAME_F(ret, name, ...) #name,
#define KWG_LAZY_NAME_V(name, ...) #name,
#define KWG_LAZY_IDX_F(ret, name, ...) IDX_##name,
#define KWG_LAZY_IDX_V(name, ...) IDX_##name,

/* Stub generators for the stub files: F for a function returning a value (FAIL when the library
 * is missing), V for a void one. IDX_<name> must be its index in the library's names. */
#define KWG_LAZY_STUB(lib, ret, name, params, args, fail)                                          \
	ret name params                                                                            \
	{                                                                                          \
		ret(*fn) params = (ret(*) params)kwg_lazylib_fn(&(lib), IDX_##name);               \
		return fn ? fn args : fail;                                                        \
	}
#define KWG_LAZY_VSTUB(lib, name, params, args)                                                    \
	void name params                                                                           \
	{                                                                                          \
		void(*fn) params = (void(*) params)kwg_lazylib_fn(&(lib), IDX_##name);             \
		if (fn)                                                                            \
			fn args;                                                                   \
	}
