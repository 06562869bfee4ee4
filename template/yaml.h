/* SPDX-License-Identifier: Apache-2.0 */
/* YAML documents into jansson values, and values into YAML as Kestra's yaml filter writes it.
 * Pure. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

/* Parses the first YAML document of text into a value (new in *ret): plain scalars as the YAML
 * core schema (null, booleans, integers, decimals), quoted ones as strings; anchors ignored and
 * an alias read as the anchor's name, as Jackson's YAMLParser does; nesting at most 64. A repeated
 * key fails, or with last_key_wins replaces the earlier one. 0; -EBADMSG with err; -ENOMEM. */
int kwg_yaml_load(const char *text, size_t len, bool last_key_wins, json_t **ret,
                  struct kwg_err *err);

/* Appends v as one YAML document, laid out as Kestra's yaml filter (Jackson's YAMLGenerator with
 * MINIMIZE_QUOTES and INDENT_ARRAYS over SnakeYAML's emitter) writes it, ending with a line break.
 * 0, -ENOMEM, -EMSGSIZE (b's bound), -ELOOP (nested past 2,000). */
int kwg_yaml_dump(const json_t *v, struct kwg_buf *b);
