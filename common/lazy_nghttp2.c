/* SPDX-License-Identifier: Apache-2.0 */
/* libnghttp2, loaded when the gRPC transport (Kestra 2.x's worker controller,
 * transport/grpc/chan.c) makes its first HTTP/2 session: each function below loads it and
 * forwards. A worker on PostgreSQL (Kestra 1.x) never loads it. A missing libnghttp2: the
 * constructors return NGHTTP2_ERR_NOMEM, the error texts the loader's error (naming the
 * library); the others are unreachable without a session. */
#include "common/lazylib.h"

#include <nghttp2/nghttp2.h>

#define KWG_NGHTTP2_FUNCS(F, V)                                                                    \
	F(int, nghttp2_session_callbacks_new, (nghttp2_session_callbacks * *cbs), (cbs),           \
	  NGHTTP2_ERR_NOMEM)                                                                       \
	V(nghttp2_session_callbacks_del, (nghttp2_session_callbacks * cbs), (cbs))                 \
	V(nghttp2_session_callbacks_set_on_header_callback,                                        \
	  (nghttp2_session_callbacks * cbs, nghttp2_on_header_callback cb), (cbs, cb))             \
	V(nghttp2_session_callbacks_set_on_data_chunk_recv_callback,                               \
	  (nghttp2_session_callbacks * cbs, nghttp2_on_data_chunk_recv_callback cb), (cbs, cb))    \
	V(nghttp2_session_callbacks_set_on_stream_close_callback,                                  \
	  (nghttp2_session_callbacks * cbs, nghttp2_on_stream_close_callback cb), (cbs, cb))       \
	V(nghttp2_session_callbacks_set_on_frame_recv_callback,                                    \
	  (nghttp2_session_callbacks * cbs, nghttp2_on_frame_recv_callback cb), (cbs, cb))         \
	F(int, nghttp2_option_new, (nghttp2_option * *opt), (opt), NGHTTP2_ERR_NOMEM)              \
	V(nghttp2_option_del, (nghttp2_option * opt), (opt))                                       \
	F(int, nghttp2_session_client_new2,                                                        \
	  (nghttp2_session * *s, const nghttp2_session_callbacks *cbs, void *user,                 \
	   const nghttp2_option *opt),                                                             \
	  (s, cbs, user, opt), NGHTTP2_ERR_NOMEM)                                                  \
	V(nghttp2_session_del, (nghttp2_session * s), (s))                                         \
	F(void *, nghttp2_session_get_stream_user_data, (nghttp2_session * s, int32_t id),         \
	  (s, id), NULL)                                                                           \
	F(int, nghttp2_session_set_stream_user_data, (nghttp2_session * s, int32_t id, void *p),   \
	  (s, id, p), NGHTTP2_ERR_INVALID_ARGUMENT)                                                \
	F(ssize_t, nghttp2_session_mem_recv, (nghttp2_session * s, const uint8_t *in, size_t n),   \
	  (s, in, n), NGHTTP2_ERR_NOMEM)                                                           \
	F(ssize_t, nghttp2_session_mem_send, (nghttp2_session * s, const uint8_t **out), (s, out), \
	  NGHTTP2_ERR_NOMEM)                                                                       \
	F(int, nghttp2_session_resume_data, (nghttp2_session * s, int32_t id), (s, id),            \
	  NGHTTP2_ERR_INVALID_ARGUMENT)                                                            \
	F(int, nghttp2_session_set_local_window_size,                                              \
	  (nghttp2_session * s, uint8_t flags, int32_t id, int32_t size), (s, flags, id, size),    \
	  NGHTTP2_ERR_NOMEM)                                                                       \
	F(int, nghttp2_session_terminate_session, (nghttp2_session * s, uint32_t code), (s, code), \
	  NGHTTP2_ERR_NOMEM)                                                                       \
	F(int, nghttp2_session_want_read, (nghttp2_session * s), (s), 0)                           \
	F(int, nghttp2_session_want_write, (nghttp2_session * s), (s), 0)                          \
	F(int32_t, nghttp2_submit_request,                                                         \
	  (nghttp2_session * s, const nghttp2_priority_spec *pri, const nghttp2_nv *nva,           \
	   size_t nvlen, const nghttp2_data_provider *data, void *user),                           \
	  (s, pri, nva, nvlen, data, user), NGHTTP2_ERR_NOMEM)                                     \
	F(int, nghttp2_submit_rst_stream,                                                          \
	  (nghttp2_session * s, uint8_t flags, int32_t id, uint32_t code), (s, flags, id, code),   \
	  NGHTTP2_ERR_NOMEM)                                                                       \
	F(int, nghttp2_submit_settings,                                                            \
	  (nghttp2_session * s, uint8_t flags, const nghttp2_settings_entry *iv, size_t niv),      \
	  (s, flags, iv, niv), NGHTTP2_ERR_NOMEM)                                                  \
	F(const char *, nghttp2_strerror, (int code), (code), kwg_lazy_nghttp2.error)              \
	F(const char *, nghttp2_http2_strerror, (uint32_t code), (code), kwg_lazy_nghttp2.error)

enum { KWG_NGHTTP2_FUNCS(KWG_LAZY_IDX_F, KWG_LAZY_IDX_V) N_FUNCS };
static const char *const names[] = {KWG_NGHTTP2_FUNCS(KWG_LAZY_NAME_F, KWG_LAZY_NAME_V)};
static void *fns[N_FUNCS];

struct kwg_lazylib kwg_lazy_nghttp2 = {
    .soname = "libnghttp2.so.14",
    .needed_by = "the gRPC transport (Kestra 2.x's worker controller)",
    .names = names,
    .fns = fns,
    .n = N_FUNCS,
};

#define STUB_F(ret, name, params, args, fail)                                                      \
	KWG_LAZY_STUB(kwg_lazy_nghttp2, ret, name, params, args, fail)
#define STUB_V(name, params, args) KWG_LAZY_VSTUB(kwg_lazy_nghttp2, name, params, args)
KWG_NGHTTP2_FUNCS(STUB_F, STUB_V)
