/* SPDX-License-Identifier: Apache-2.0 */
/* libpcre2-8, loaded at the first regular expression of a template (template/jregex.c): each
 * function below loads it and forwards. A worker whose tasks use no regular expression never
 * maps it. The names are the library's own, with the code unit width's suffix (pcre2.h maps
 * pcre2_compile to pcre2_compile_8). A missing libpcre2-8: the constructors return NULL (the
 * caller's "out of memory" path; the loader's error, naming the library, is logged once), the
 * error text is the loader's; the others are unreachable without a compiled pattern. */
#include "common/lazylib.h"

#include <stdio.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static int missing_message(int code, PCRE2_UCHAR *buf, PCRE2_SIZE size)
{
	(void)code;
	if (!size)
		return PCRE2_ERROR_NOMEMORY;
	(void)snprintf((char *)buf, size, "%s", kwg_lazy_pcre2.error);
	return PCRE2_ERROR_NOMEMORY;
}

#define KWG_PCRE2_FUNCS(F, V)                                                                      \
	F(pcre2_code *, pcre2_compile_8,                                                           \
	  (PCRE2_SPTR p, PCRE2_SIZE n, uint32_t o, int *e, PCRE2_SIZE *off,                        \
	   pcre2_compile_context *c),                                                              \
	  (p, n, o, e, off, c), NULL)                                                              \
	V(pcre2_code_free_8, (pcre2_code * c), (c))                                                \
	F(pcre2_compile_context *, pcre2_compile_context_create_8, (pcre2_general_context * g),    \
	  (g), NULL)                                                                               \
	V(pcre2_compile_context_free_8, (pcre2_compile_context * c), (c))                          \
	F(int, pcre2_set_bsr_8, (pcre2_compile_context * c, uint32_t v), (c, v),                   \
	  PCRE2_ERROR_BADDATA)                                                                     \
	F(int, pcre2_set_newline_8, (pcre2_compile_context * c, uint32_t v), (c, v),               \
	  PCRE2_ERROR_BADDATA)                                                                     \
	F(int, pcre2_get_error_message_8, (int code, PCRE2_UCHAR *buf, PCRE2_SIZE size),           \
	  (code, buf, size), missing_message(code, buf, size))                                     \
	F(int, pcre2_pattern_info_8, (const pcre2_code *c, uint32_t what, void *where),            \
	  (c, what, where), PCRE2_ERROR_NULL)                                                      \
	F(int, pcre2_jit_compile_8, (pcre2_code * c, uint32_t o), (c, o),                          \
	  PCRE2_ERROR_JIT_BADOPTION)                                                               \
	F(pcre2_jit_stack *, pcre2_jit_stack_create_8,                                             \
	  (PCRE2_SIZE start, PCRE2_SIZE max, pcre2_general_context * g), (start, max, g), NULL)    \
	V(pcre2_jit_stack_free_8, (pcre2_jit_stack * s), (s))                                      \
	V(pcre2_jit_stack_assign_8, (pcre2_match_context * m, pcre2_jit_callback cb, void *data),  \
	  (m, cb, data))                                                                           \
	F(pcre2_match_context *, pcre2_match_context_create_8, (pcre2_general_context * g), (g),   \
	  NULL)                                                                                    \
	V(pcre2_match_context_free_8, (pcre2_match_context * m), (m))                              \
	F(int, pcre2_set_depth_limit_8, (pcre2_match_context * m, uint32_t v), (m, v),             \
	  PCRE2_ERROR_BADDATA)                                                                     \
	F(int, pcre2_set_heap_limit_8, (pcre2_match_context * m, uint32_t v), (m, v),              \
	  PCRE2_ERROR_BADDATA)                                                                     \
	F(int, pcre2_set_match_limit_8, (pcre2_match_context * m, uint32_t v), (m, v),             \
	  PCRE2_ERROR_BADDATA)                                                                     \
	F(pcre2_match_data *, pcre2_match_data_create_from_pattern_8,                              \
	  (const pcre2_code *c, pcre2_general_context *g), (c, g), NULL)                           \
	V(pcre2_match_data_free_8, (pcre2_match_data * d), (d))                                    \
	F(int, pcre2_match_8,                                                                      \
	  (const pcre2_code *c, PCRE2_SPTR s, PCRE2_SIZE n, PCRE2_SIZE start, uint32_t o,          \
	   pcre2_match_data *d, pcre2_match_context *m),                                           \
	  (c, s, n, start, o, d, m), PCRE2_ERROR_NOMEMORY)                                         \
	F(PCRE2_SIZE *, pcre2_get_ovector_pointer_8, (pcre2_match_data * d), (d), NULL)            \
	F(int, pcre2_substring_number_from_name_8, (const pcre2_code *c, PCRE2_SPTR name),         \
	  (c, name), PCRE2_ERROR_NOSUBSTRING)

enum { KWG_PCRE2_FUNCS(KWG_LAZY_IDX_F, KWG_LAZY_IDX_V) N_FUNCS };
static const char *const names[] = {KWG_PCRE2_FUNCS(KWG_LAZY_NAME_F, KWG_LAZY_NAME_V)};
static void *fns[N_FUNCS];

struct kwg_lazylib kwg_lazy_pcre2 = {
    .soname = "libpcre2-8.so.0",
    .needed_by = "kwg's regular expression engine (templates)",
    .names = names,
    .fns = fns,
    .n = N_FUNCS,
};

#define STUB_F(ret, name, params, args, fail)                                                      \
	KWG_LAZY_STUB(kwg_lazy_pcre2, ret, name, params, args, fail)
#define STUB_V(name, params, args) KWG_LAZY_VSTUB(kwg_lazy_pcre2, name, params, args)
KWG_PCRE2_FUNCS(STUB_F, STUB_V)
