/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl, loaded at the first Docker Engine request, the first S3 transfer or the first HTTP
 * command (storage/curl_uv.c, runner/docker_api.c, storage/storage.c, worker/main.c): each
 * function below loads it and forwards. Its global init alone initialises OpenSSL (+1.7 MiB of
 * libcrypto, docs/performance.md), which a worker running only Process tasks never needs.
 * A missing libcurl: the constructors return NULL, curl_global_init CURLE_FAILED_INIT,
 * curl_easy_strerror the loader's error (naming libcurl); the others are unreachable without
 * a handle. */
#include "common/lazylib.h"

#include <stdarg.h>

/* The three variadic functions are defined below by hand, under parentheses: typecheck-gcc.h
 * makes curl_easy_setopt and curl_easy_getinfo macros. */
#include <curl/curl.h>

#define KWG_CURL_FUNCS(F, V, X)                                                                    \
	F(CURLcode, curl_global_init, (long flags), (flags), CURLE_FAILED_INIT)                    \
	V(curl_global_cleanup, (void), ())                                                         \
	F(CURL *, curl_easy_init, (void), (), NULL)                                                \
	X(curl_easy_setopt)                                                                        \
	X(curl_easy_getinfo)                                                                       \
	X(curl_easy_strerror)                                                                      \
	F(CURLcode, curl_easy_perform, (CURL * curl), (curl), CURLE_FAILED_INIT)                   \
	V(curl_easy_cleanup, (CURL * curl), (curl))                                                \
	F(CURLcode, curl_easy_pause, (CURL * curl, int bitmask), (curl, bitmask),                  \
	  CURLE_FAILED_INIT)                                                                       \
	F(char *, curl_easy_escape, (CURL * curl, const char *s, int len), (curl, s, len), NULL)   \
	V(curl_free, (void *p), (p))                                                               \
	F(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s),  \
	  NULL)                                                                                    \
	V(curl_slist_free_all, (struct curl_slist * l), (l))                                       \
	F(CURLM *, curl_multi_init, (void), (), NULL)                                              \
	X(curl_multi_setopt)                                                                       \
	F(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL * e), (m, e), CURLM_INTERNAL_ERROR)   \
	F(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL * e), (m, e),                      \
	  CURLM_INTERNAL_ERROR)                                                                    \
	F(CURLMcode, curl_multi_cleanup, (CURLM * m), (m), CURLM_INTERNAL_ERROR)                   \
	F(CURLMsg *, curl_multi_info_read, (CURLM * m, int *left), (m, left), NULL)                \
	F(CURLMcode, curl_multi_assign, (CURLM * m, curl_socket_t fd, void *p), (m, fd, p),        \
	  CURLM_INTERNAL_ERROR)                                                                    \
	F(CURLMcode, curl_multi_socket_action,                                                     \
	  (CURLM * m, curl_socket_t fd, int ev, int *running), (m, fd, ev, running),               \
	  CURLM_INTERNAL_ERROR)

#define NAME_X(name) #name,
#define IDX_X(name) IDX_##name,
enum { KWG_CURL_FUNCS(KWG_LAZY_IDX_F, KWG_LAZY_IDX_V, IDX_X) N_FUNCS };
static const char *const names[] = {KWG_CURL_FUNCS(KWG_LAZY_NAME_F, KWG_LAZY_NAME_V, NAME_X)};
static void *fns[N_FUNCS];

struct kwg_lazylib kwg_lazy_curl = {
    .soname = "libcurl.so.4",
    .needed_by = "kwg's HTTP client (the Docker task runner, S3 storage)",
    .names = names,
    .fns = fns,
    .n = N_FUNCS,
};

#define STUB_F(ret, name, params, args, fail)                                                      \
	KWG_LAZY_STUB(kwg_lazy_curl, ret, name, params, args, fail)
#define STUB_V(name, params, args) KWG_LAZY_VSTUB(kwg_lazy_curl, name, params, args)
#define STUB_X(name)
KWG_CURL_FUNCS(STUB_F, STUB_V, STUB_X)

const char *curl_easy_strerror(CURLcode code)
{
	const char *(*fn)(CURLcode) =
	    (const char *(*)(CURLcode))kwg_lazylib_fn(&kwg_lazy_curl, IDX_curl_easy_strerror);

	return fn ? fn(code) : kwg_lazy_curl.error;
}

/* The options' value is a long, an object pointer, a function pointer or a curl_off_t, told by
 * the option's number (CURLOPTTYPE_*, the same for the multi options): it is read as its own
 * type and passed on as such. */
#define FORWARD_OPTION(fn, h, option, ap)                                                           \
	((option) < CURLOPTTYPE_OBJECTPOINT     ? (fn)((h), (option), va_arg((ap), long))           \
	 : (option) < CURLOPTTYPE_FUNCTIONPOINT ? (fn)((h), (option), va_arg((ap), void *))         \
	 : (option) < CURLOPTTYPE_OFF_T         ? (fn)((h), (option), va_arg((ap), void (*)(void))) \
	 : (option) < CURLOPTTYPE_BLOB          ? (fn)((h), (option), va_arg((ap), curl_off_t))     \
	                                        : (fn)((h), (option), va_arg((ap), void *)))

CURLcode(curl_easy_setopt)(CURL *curl, CURLoption option, ...)
{
	CURLcode (*fn)(CURL *, CURLoption, ...) =
	    (CURLcode(*)(CURL *, CURLoption, ...))kwg_lazylib_fn(&kwg_lazy_curl,
	                                                         IDX_curl_easy_setopt);
	va_list ap;
	CURLcode r;

	if (!fn)
		return CURLE_FAILED_INIT;
	va_start(ap, option);
	r = FORWARD_OPTION(fn, curl, option, ap);
	va_end(ap);
	return r;
}

CURLMcode(curl_multi_setopt)(CURLM *multi, CURLMoption option, ...)
{
	CURLMcode (*fn)(CURLM *, CURLMoption, ...) =
	    (CURLMcode(*)(CURLM *, CURLMoption, ...))kwg_lazylib_fn(&kwg_lazy_curl,
	                                                            IDX_curl_multi_setopt);
	va_list ap;
	CURLMcode r;

	if (!fn)
		return CURLM_INTERNAL_ERROR;
	va_start(ap, option);
	r = FORWARD_OPTION(fn, multi, option, ap);
	va_end(ap);
	return r;
}

/* Every CURLINFO_* takes a pointer to where the answer goes. */
CURLcode(curl_easy_getinfo)(CURL *curl, CURLINFO info, ...)
{
	CURLcode (*fn)(CURL *, CURLINFO, ...) = (CURLcode(*)(CURL *, CURLINFO, ...))kwg_lazylib_fn(
	    &kwg_lazy_curl, IDX_curl_easy_getinfo);
	va_list ap;
	CURLcode r;

	if (!fn)
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	r = fn(curl, info, va_arg(ap, void *));
	va_end(ap);
	return r;
}
