/* SPDX-License-Identifier: Apache-2.0 */
/* libjq, loaded at the first jq filter (template/jq.c): each function below loads it and
 * forwards. A missing libjq: jq_init() returns NULL, the others are unreachable without it. */
#include "common/lazylib.h"

#include <jq.h>

#define KWG_JQ_FUNCS(F, V)                                                                         \
	F(jq_state *, jq_init, (void), (), NULL)                                                   \
	V(jq_set_error_cb, (jq_state * jq, jq_msg_cb cb, void *data), (jq, cb, data))              \
	V(jq_set_attr, (jq_state * jq, jv attr, jv val), (jq, attr, val))                          \
	F(int, jq_compile, (jq_state * jq, const char *program), (jq, program), 0)                 \
	V(jq_start, (jq_state * jq, jv value, int flags), (jq, value, flags))                      \
	F(jv, jq_next, (jq_state * jq), (jq), (jv){0})                                             \
	V(jq_teardown, (jq_state * *jq), (jq))                                                     \
	F(jv, jv_array, (void), (), (jv){0})                                                       \
	F(jv, jv_copy, (jv v), (v), (jv){0})                                                       \
	V(jv_free, (jv v), (v))                                                                    \
	F(jv_kind, jv_get_kind, (jv v), (v), JV_KIND_INVALID)                                      \
	F(jv, jv_string, (const char *s), (s), (jv){0})                                            \
	F(const char *, jv_string_value, (jv v), (v), "")                                          \
	F(jv, jv_parse, (const char *s), (s), (jv){0})                                             \
	F(jv, jv_dump_string, (jv v, int flags), (v, flags), (jv){0})                              \
	F(int, jv_invalid_has_msg, (jv v), (v), 0)                                                 \
	F(jv, jv_invalid_get_msg, (jv v), (v), (jv){0})

enum { KWG_JQ_FUNCS(KWG_LAZY_IDX_F, KWG_LAZY_IDX_V) N_FUNCS };
static const char *const names[] = {KWG_JQ_FUNCS(KWG_LAZY_NAME_F, KWG_LAZY_NAME_V)};
static void *fns[N_FUNCS];

struct kwg_lazylib kwg_lazy_jq = {
    .soname = "libjq.so.1",
    .needed_by = "the jq filter",
    .names = names,
    .fns = fns,
    .n = N_FUNCS,
};

#define STUB_F(ret, name, params, args, fail)                                                      \
	KWG_LAZY_STUB(kwg_lazy_jq, ret, name, params, args, fail)
#define STUB_V(name, params, args) KWG_LAZY_VSTUB(kwg_lazy_jq, name, params, args)
KWG_JQ_FUNCS(STUB_F, STUB_V)
