/* SPDX-License-Identifier: Apache-2.0 */
/* jansson helpers for protocol/ only (a json_t never leaves this layer): bounded parsing whose
 * errors name the JSON path, typed getters, compact dumping, and a JSON string escaper. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

#define KWG_JSON_MAX_DEPTH 64

/* Parses data (len bytes, not NUL-terminated) rejecting duplicate keys, inputs larger than
 * max_bytes and nesting deeper than KWG_JSON_MAX_DEPTH. 0 and *ret (new), or -EMSGSIZE/-EBADMSG
 * with err naming where. */
int kwg_json_parse(const char *data, size_t len, size_t max_bytes, json_t **ret,
                   struct kwg_err *err);
/* Depth of the deepest container (a scalar is 0). */
int kwg_json_depth(const json_t *j);

/* Returns the string member, NULL when absent or JSON null; -EBADMSG via err for another type.
 * path names the object for the message ("$.taskRun"). Borrowed. */
int kwg_json_get_str(const json_t *obj, const char *key, const char *path, bool required,
                     const char **ret, struct kwg_err *err);
/* Object member or NULL; -EBADMSG when present and not an object (or absent and required). */
int kwg_json_get_obj(const json_t *obj, const char *key, const char *path, bool required,
                     json_t **ret, struct kwg_err *err);
/* Boolean member; dflt when absent or JSON null; -EBADMSG via err for another type. */
int kwg_json_get_bool(const json_t *obj, const char *key, const char *path, bool dflt, bool *ret,
                      struct kwg_err *err);

/* Compact dump with keys in insertion order. New string, NULL on OOM. */
char *kwg_json_dump(const json_t *j);

/* Appends s (len bytes, valid UTF-8 without NUL) as a JSON string literal with quotes. */
int kwg_json_escape(struct kwg_buf *b, const char *s, size_t len);
