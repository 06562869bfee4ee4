/* SPDX-License-Identifier: Apache-2.0 */
/* libmicrohttpd, loaded when the status port opens (worker/http.c): each function below loads
 * it and forwards. A missing library: MHD_start_daemon() returns NULL; the others need a daemon,
 * a connection or a response made by it. */
#include "common/lazylib.h"

#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <microhttpd.h>

#define KWG_MHD_FUNCS(F, V, N)                                                                     \
	F(struct MHD_Daemon *, MHD_start_daemon_va,                                                \
	  (unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void *apc_cls,         \
	   MHD_AccessHandlerCallback dh, void *dh_cls, va_list ap),                                \
	  (flags, port, apc, apc_cls, dh, dh_cls, ap), NULL)                                       \
	V(MHD_stop_daemon, (struct MHD_Daemon * d), (d))                                           \
	F(enum MHD_Result, MHD_run, (struct MHD_Daemon * d), (d), MHD_NO)                          \
	F(enum MHD_Result, MHD_get_timeout, (struct MHD_Daemon * d, MHD_UNSIGNED_LONG_LONG * t),   \
	  (d, t), MHD_NO)                                                                          \
	N(MHD_get_daemon_info)                                                                     \
	F(struct MHD_Response *, MHD_create_response_from_buffer,                                  \
	  (size_t size, void *buffer, enum MHD_ResponseMemoryMode mode), (size, buffer, mode),     \
	  NULL)                                                                                    \
	F(enum MHD_Result, MHD_add_response_header,                                                \
	  (struct MHD_Response * r, const char *header, const char *content),                      \
	  (r, header, content), MHD_NO)                                                            \
	F(enum MHD_Result, MHD_queue_response,                                                     \
	  (struct MHD_Connection * c, unsigned int status, struct MHD_Response *r),                \
	  (c, status, r), MHD_NO)                                                                  \
	V(MHD_destroy_response, (struct MHD_Response * r), (r))

#define NONE(name)
enum { KWG_MHD_FUNCS(KWG_LAZY_IDX_F, KWG_LAZY_IDX_V, KWG_LAZY_IDX_V) N_FUNCS };
static const char *const names[] = {
    KWG_MHD_FUNCS(KWG_LAZY_NAME_F, KWG_LAZY_NAME_V, KWG_LAZY_NAME_V)};
static void *fns[N_FUNCS];

struct kwg_lazylib kwg_lazy_mhd = {
    .soname = "libmicrohttpd.so.12",
    .needed_by = "the status port (management_port)",
    .names = names,
    .fns = fns,
    .n = N_FUNCS,
};

#define STUB_F(ret, name, params, args, fail)                                                      \
	KWG_LAZY_STUB(kwg_lazy_mhd, ret, name, params, args, fail)
#define STUB_V(name, params, args) KWG_LAZY_VSTUB(kwg_lazy_mhd, name, params, args)
KWG_MHD_FUNCS(STUB_F, STUB_V, NONE)

/* The two variadic entry points: MHD_start_daemon through its va_list twin; the arguments of
 * MHD_get_daemon_info's "..." are unused by the info types kwg asks for (0.9.75). */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc,
                                    void *apc_cls, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	va_start(ap, dh_cls);
	d = MHD_start_daemon_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}

const union MHD_DaemonInfo *MHD_get_daemon_info(struct MHD_Daemon *daemon,
                                                enum MHD_DaemonInfoType info_type, ...)
{
	const union MHD_DaemonInfo *(*fn)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...) =
	    (const union MHD_DaemonInfo *(*)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...))
	        kwg_lazylib_fn(&kwg_lazy_mhd, IDX_MHD_get_daemon_info);

	return fn ? fn(daemon, info_type) : NULL;
}
