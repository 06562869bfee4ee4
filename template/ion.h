/* SPDX-License-Identifier: Apache-2.0 */
/* Reads one Ion text value (https://amazon-ion.github.io/ion-docs/docs/spec.html) into JSON, as
 * Kestra's KV store holds values (JacksonMapper.ofIon(), kestra-script-tasks.md §7): structs to
 * objects, lists and s-expressions to arrays, symbols, strings, timestamps, blobs and clobs to
 * strings (a timestamp as written, a blob as its base64 text), ints to integers (past 64 bits to
 * reals), decimals and floats to reals (nan and ±inf to the strings Java prints: "NaN",
 * "Infinity", "-Infinity"), every null to null. Annotations and the $ion_1_0 marker are
 * skipped; only the first top-level value is read, as Jackson's readValue does. Pure. */
#pragma once
#include <jansson.h>
#include <stddef.h>

#include "common/err.h"

/* Deepest nesting of containers. */
#define KWG_ION_MAX_DEPTH 64

/* 0 and *ret (new), or -EBADMSG with err naming the offset and what was expected (also for an
 * empty text), -ENOMEM. */
int kwg_ion_parse(const char *text, size_t len, json_t **ret, struct kwg_err *err);

/* The next top-level value of an Ion stream from *pos (advanced past it): 1 and *ret (new), 0 at
 * the end of the text, or kwg_ion_parse's errors. */
int kwg_ion_next(const char *text, size_t len, size_t *pos, json_t **ret, struct kwg_err *err);
