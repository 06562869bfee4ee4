/* SPDX-License-Identifier: Apache-2.0 */
/* Kestra's Pebble subset (docs/templating.md). The template is lexed into tokens, parsed into a
 * small tree (every node in one arena), then evaluated with jansson values: a json_t is a value,
 * NULL is "undefined" (only ever seen by ??, ???, default and "is defined").
 *
 * KESTRA: behaviour read in kestra-io/kestra core/.../runners/VariableRenderer.java (the
 * "Unable to find `x` used in the expression `TEMPLATE` at line N" message: the expression is
 * the whole template, Pebble's file name) and Pebble 3.2's CoreExtension operator table.
 *
 * This header is the engine's inside, shared by its files (template/template.h is its public
 * side): the arena, tokens, tree, render context and call arguments, and the functions one file
 * calls in another (kwg_tpl_*). */
#pragma once
#include "template/template.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/buf.h"
#include "common/cleanup.h"
#include "template/datetime.h"
#include "template/jdecimal.h"
#include "template/jregex.h"
#include "template/unicode.h"
#include "template/yaml.h"

#define MAX_EXPR_DEPTH 200
#define MAX_LIST 1000000
#define MAX_VALUE_DEPTH 1000
#define MAX_STEPS 20000000ull
#define MAX_TEMPLATE_EXPR_SHOWN 200

/* ---- arena: every token and tree node of one render, freed at once ---- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct arena {
	struct arena_block *head;
};

/* ---- tokens ---- */

enum tok_kind {
	T_TEXT,
	T_PRINT_OPEN,
	T_PRINT_CLOSE,
	T_EXEC_OPEN,
	T_EXEC_CLOSE,
	T_NAME,
	T_INT,
	T_DBL,
	T_STR,
	T_ISTR_BEGIN, /* "…#{expr}…": T_STR parts and T_INTERP_OPEN expr T_INTERP_CLOSE */
	T_ISTR_END,
	T_INTERP_OPEN,
	T_INTERP_CLOSE,
	T_OP,
	T_EOF,
};

struct tok {
	enum tok_kind kind;
	int line;
	const char *s; /* text, name, operator, or decoded string (arena) */
	size_t n;
	int64_t i;
	double d;
};

/* ---- tree ---- */

enum expr_kind {
	E_LIT_STR,
	E_LIT_INT,
	E_LIT_DBL,
	E_LIT_BOOL,
	E_LIT_NULL,
	E_VAR,
	E_ATTR,  /* a.name */
	E_INDEX, /* a[b] */
	E_LIST,
	E_MAP, /* args alternate key, value */
	E_NEG,
	E_NOT,
	E_BIN,
	E_TERNARY,
	E_FILTER, /* a | name(args) */
	E_FUNC,   /* name(args) */
	E_TEST,   /* a is [not] name(args) */
	E_INTERP, /* args concatenated */
	E_BODY,   /* the rendered body of the enclosing filter tag */
	E_METHOD, /* a.name(args): a Java String method */
};

enum binop {
	OP_OR,
	OP_AND,
	OP_CONTAINS,
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_GT,
	OP_LE,
	OP_GE,
	OP_ADD,
	OP_SUB,
	OP_MUL,
	OP_DIV,
	OP_MOD,
	OP_CONCAT,
	OP_RANGE,
	OP_NULLCO,  /* ?? */
	OP_UNDEFCO, /* ??? */
};

struct expr {
	enum expr_kind kind;
	int op; /* enum binop; for E_TEST: 1 when negated */
	int line;
	const char *s; /* string literal, variable, attribute, filter, function or test name */
	size_t n;
	int64_t i;
	double d;
	struct expr *a, *b, *c;
	struct expr **args;
	const char **argnames; /* NULL entries: positional */
	size_t nargs;
};

enum node_kind { N_TEXT, N_PRINT, N_IF, N_FOR, N_SET, N_FILTER, N_BLOCK, N_MACRO };

struct node {
	enum node_kind kind;
	int line;
	struct node *next;
	const char *text; /* N_TEXT (points into the template) */
	size_t len;
	struct expr *e;       /* N_PRINT, N_SET value, N_FOR iterable, N_FILTER chain */
	const char *v1, *v2;  /* N_SET name; N_FOR names (v2 may be NULL); N_BLOCK, N_MACRO name */
	struct expr **conds;  /* N_IF; N_MACRO: each parameter's default (NULL: none) */
	struct node **bodies; /* N_IF: one per cond; N_FOR, N_FILTER, N_BLOCK, N_MACRO: bodies[0] */
	size_t nconds;        /* N_IF; N_MACRO: the parameters */
	const char **params;  /* N_MACRO: the parameters' names */
	struct node *els;     /* N_IF, N_FOR */
	struct node *next_def; /* N_BLOCK, N_MACRO: the template's next definition */
};

/* ---- render context ---- */

/* A number of a Java type jansson cannot tell apart (Float, BigDecimal, BigInteger), as the
 * number filter makes it: its class and Java's toString, found by the value's identity. */
struct jnum {
	json_t *v; /* a reference */
	const char *cls;
	char *text;
};

struct scope_var {
	const char *name;
	json_t *value; /* owned */
};

struct ctx {
	const char *tmpl; /* the template of this render (named in strict-mode errors) */
	const struct kwg_template_opts *opts;
	struct kwg_err *err;
	struct arena arena;
	struct tok *toks; /* arena */
	size_t ntoks, cap_toks, pos;
	int pdepth;       /* parser / lexer recursion */
	int edepth;       /* evaluation recursion */
	int render_depth; /* render() nesting */
	uint64_t *steps;  /* shared with nested renders */
	uint64_t *rng;    /* shared with nested renders */
	struct scope_var *scope;
	size_t nscope, cap_scope;
	size_t frame; /* first scope entry of the innermost scope (a for loop opens one) */
	struct kwg_buf *out;
	bool attr_missing; /* the last failure was an undefined variable or attribute */
	struct kwg_jregex *regex_cache[8]; /* owned; patterns compiled by this render */
	size_t regex_next;
	json_t *filter_body; /* E_BODY: the innermost filter tag's rendered body (borrowed) */
	struct node *defs;   /* the blocks and macros, defined when parsed (as Pebble's) */
	size_t scope_base;   /* inside a macro: its first scope entry; nothing below is seen */
	bool isolated;       /* inside a macro: the render's variables are not seen either */
	int macro_depth;
	struct jnum *jnums; /* typed numbers made by this render */
	size_t njnums;
};

/* The argument values of a call, evaluated strictly. */
struct args {
	json_t *v[16];
	const char *names[16];
	size_t n;
	int line;
	const char *what; /* "filter 'x'" */
};

typedef int filter_fn(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                      json_t **ret);

typedef int function_fn(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);

/* Inline so that every file's compiler sees it is negative (-O3 -Werror=maybe-uninitialized). */
static inline int kwg_tpl_oom(void)
{
	return -ENOMEM;
}

/* template.c */
void *kwg_tpl_arena_alloc(struct arena *a, size_t n);
int kwg_tpl_fail(struct ctx *c, int r, int line, const char *fmt, ...) KWG_PRINTF(4, 5);
int kwg_tpl_step(struct ctx *c, int line);
char *kwg_tpl_adup(struct ctx *c, const char *s, size_t n);
int kwg_tpl_render_nested(struct ctx *c, const char *tmpl, int line, char **ret);
const struct node *kwg_tpl_find_def(const struct ctx *c, enum node_kind kind, const char *name);
int kwg_tpl_call_macro(struct ctx *c, const struct node *m, const struct expr *e, json_t **ret);
int kwg_tpl_fn_block(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);

/* lexer.c */
bool kwg_tpl_is_ws(char ch);
bool kwg_tpl_is_name_start(char ch);
bool kwg_tpl_is_digit(char ch);
bool kwg_tpl_java_ws(char ch);
void kwg_tpl_strip_raw(char *s);
int kwg_tpl_lex_template(struct ctx *c);

/* parser.c */
int kwg_tpl_parse_body(struct ctx *c, const char *const *stops, size_t nstops, struct node **ret,
                       size_t *ret_stop);

/* value.c */
int kwg_tpl_jnum_new(struct ctx *c, json_t *v, const char *cls, const char *text);
const struct jnum *kwg_tpl_jnum(const struct ctx *c, const json_t *v);
void kwg_tpl_jnums_done(struct ctx *c);
int kwg_tpl_value_text(const struct ctx *c, struct kwg_buf *b, const json_t *v);
void kwg_tpl_java_float(float f, char *out, size_t n);
void kwg_tpl_java_double(double d, char *out, size_t n);
int kwg_tpl_json_write(struct kwg_buf *b, const json_t *v, int depth);
int kwg_tpl_write_text(struct kwg_buf *b, const json_t *v);
int kwg_tpl_java_text(struct kwg_buf *b, const json_t *v, int depth);
int kwg_tpl_size_err(struct ctx *c, int r, int line);
int kwg_tpl_buf_value(struct ctx *c, struct kwg_buf *b, int line, json_t **ret);
int kwg_tpl_to_string_value(struct ctx *c, const json_t *v, int line, json_t **ret);
bool kwg_tpl_is_number(const json_t *v);
double kwg_tpl_num_value(const json_t *v);
const char *kwg_tpl_type_name(const json_t *v);
bool kwg_tpl_truthy(const json_t *v);
int kwg_tpl_condition(struct ctx *c, const json_t *v, int line, const char *where, bool *ret);
bool kwg_tpl_is_empty(const json_t *v);
bool kwg_tpl_values_equal(const json_t *a, const json_t *b);
int kwg_tpl_compare_values(const json_t *a, const json_t *b);
json_t *kwg_tpl_scope_get(struct ctx *c, const char *name);
int kwg_tpl_scope_set(struct ctx *c, const char *name, json_t *value);
void kwg_tpl_scope_pop_to(struct ctx *c, size_t mark);

/* eval.c */
int kwg_tpl_eval_soft(struct ctx *c, const struct expr *e, json_t **ret);
void kwg_tpl_args_done(struct args *a);
int kwg_tpl_args_eval(struct ctx *c, const struct expr *e, struct args *a);
json_t *kwg_tpl_arg(const struct args *a, size_t pos, const char *name);
int kwg_tpl_arg_str(struct ctx *c, const struct args *a, const char *fn, size_t pos,
                    const char *name, bool required, const char **ret);
int kwg_tpl_arg_int(struct ctx *c, const struct args *a, const char *fn, size_t pos,
                    const char *name, bool required, int64_t def, int64_t *ret);
bool kwg_tpl_arg_bool(const struct args *a, size_t pos, const char *name, bool def);
int kwg_tpl_list_check(struct ctx *c, size_t n, int line);
int kwg_tpl_make_range(struct ctx *c, int64_t from, int64_t to, int64_t inc, int line,
                       json_t **ret);
int kwg_tpl_eval(struct ctx *c, const struct expr *e, bool soft, json_t **ret);

/* tests.c */
int kwg_tpl_call_test(struct ctx *c, const struct expr *e, json_t **ret);

/* registry.c */
int kwg_tpl_need_string(struct ctx *c, const struct expr *e, json_t *in);
int kwg_tpl_need_list(struct ctx *c, const struct expr *e, json_t *in);
int kwg_tpl_call_filter(struct ctx *c, const struct expr *e, json_t **ret);
int kwg_tpl_call_function(struct ctx *c, const struct expr *e, json_t **ret);

/* filters_string.c */
int kwg_tpl_f_upper_lower(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                          json_t **ret);
int kwg_tpl_f_capitalize_title(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                               json_t **ret);
int kwg_tpl_f_trim(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_split(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_replace(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                      json_t **ret);
int kwg_tpl_f_regex_match(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                          json_t **ret);
int kwg_tpl_f_regex_extract(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                            json_t **ret);
int kwg_tpl_f_regex_replace(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                            json_t **ret);
int kwg_tpl_f_slugify(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                      json_t **ret);
int kwg_tpl_f_starts_ends(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                          json_t **ret);
int kwg_tpl_f_substring(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret);
int kwg_tpl_f_indent(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_urlencode(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret);
int kwg_tpl_f_abbreviate(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret);
int kwg_tpl_f_escape_char(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                          json_t **ret);

/* filters_collection.c */
int kwg_tpl_f_length(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_default(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                      json_t **ret);
int kwg_tpl_f_join(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_first_last(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret);
int kwg_tpl_f_keys_values(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                          json_t **ret);
int kwg_tpl_f_tojson(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_yaml(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_sort(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_reverse(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                      json_t **ret);
int kwg_tpl_f_slice(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_merge(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_chunk(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_flatten(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                      json_t **ret);
int kwg_tpl_f_distinct(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret);
int kwg_tpl_f_condense(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret);

/* filters_number.c */
int kwg_tpl_f_abs(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_number(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
const char *kwg_tpl_java_class(const json_t *v);
int kwg_tpl_f_string(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_class_name(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                         json_t **ret);
int kwg_tpl_f_numberformat(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                           json_t **ret);

/* crypto.c */
int kwg_tpl_f_digest(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_base64(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_fn_crypt(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);

/* jq.c */
int kwg_tpl_f_jq(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);

/* dates.c */
int kwg_tpl_format_date(struct ctx *c, const struct expr *e, const struct kwg_datetime *d,
                        const char *format, const char *zone, json_t **ret);
int kwg_tpl_f_date(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_f_date_add(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                       json_t **ret);
int kwg_tpl_f_timestamp(struct ctx *c, const struct expr *e, json_t *in, struct args *a,
                        json_t **ret);
int kwg_tpl_fn_calendar(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_date_compare(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_day_week_in_month(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_last_working_day(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);

/* functions.c */
int kwg_tpl_fn_now(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_secret(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_read(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_kv(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_file_stat(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_context(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_current_each_output(struct ctx *c, const struct expr *e, struct args *a,
                                   json_t **ret);
int kwg_tpl_fn_file_uri(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_from_json(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_render(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_uuid(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_id(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_range_values(struct ctx *c, json_t *s, json_t *t, int64_t inc, int line, json_t **ret);
int kwg_tpl_fn_range(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_yaml(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_unsupported(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_max_min(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);
int kwg_tpl_fn_random_int(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);

/* filters_ion.c */
int kwg_tpl_f_toion(struct ctx *c, const struct expr *e, json_t *in, struct args *a, json_t **ret);
int kwg_tpl_fn_from_ion(struct ctx *c, const struct expr *e, struct args *a, json_t **ret);

/* methods.c */
int kwg_tpl_call_method(struct ctx *c, const struct expr *e, json_t **ret);
