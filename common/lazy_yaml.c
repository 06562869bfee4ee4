/* SPDX-License-Identifier: Apache-2.0 */
/* libyaml, loaded at the first YAML parsed (template/yaml.c: a task file given to `kwg submit`,
 * the yaml template function): each function below loads it and forwards. A worker at idle never
 * maps it. A missing libyaml: yaml_parser_initialize() fails (the caller's "out of memory" path;
 * the loader's error, naming the library, is logged once); the others are unreachable then. */
#include "common/lazylib.h"

#include <yaml.h>

#define KWG_YAML_FUNCS(F, V)                                                                       \
	F(int, yaml_parser_initialize, (yaml_parser_t * p), (p), 0)                                \
	V(yaml_parser_delete, (yaml_parser_t * p), (p))                                            \
	V(yaml_parser_set_input_string, (yaml_parser_t * p, const unsigned char *in, size_t n),    \
	  (p, in, n))                                                                              \
	F(int, yaml_parser_parse, (yaml_parser_t * p, yaml_event_t * e), (p, e), 0)                \
	V(yaml_event_delete, (yaml_event_t * e), (e))

enum { KWG_YAML_FUNCS(KWG_LAZY_IDX_F, KWG_LAZY_IDX_V) N_FUNCS };
static const char *const names[] = {KWG_YAML_FUNCS(KWG_LAZY_NAME_F, KWG_LAZY_NAME_V)};
static void *fns[N_FUNCS];

struct kwg_lazylib kwg_lazy_yaml = {
    .soname = "libyaml-0.so.2",
    .needed_by = "kwg's YAML reader (task files, the yaml function)",
    .names = names,
    .fns = fns,
    .n = N_FUNCS,
};

#define STUB_F(ret, name, params, args, fail)                                                      \
	KWG_LAZY_STUB(kwg_lazy_yaml, ret, name, params, args, fail)
#define STUB_V(name, params, args) KWG_LAZY_VSTUB(kwg_lazy_yaml, name, params, args)
KWG_YAML_FUNCS(STUB_F, STUB_V)
