/* SPDX-License-Identifier: Apache-2.0 */
/* YAML documents into jansson values. Pure. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* Parses the first YAML document of text into a value (new in *ret): plain scalars as the YAML
 * core schema (null, booleans, integers, decimals), quoted ones as strings; anchors ignored and
 * an alias read as the anchor's name, as Jackson's YAMLParser does; nesting at most 64. A repeated key fails, or with last_key_wins replaces the earlier
 * one. 0; -EBADMSG with err; -ENOMEM. */
int kwg_yaml_load(const char *text, size_t len, bool last_key_wins, json_t **ret,
                  struct kwg_err *err);
