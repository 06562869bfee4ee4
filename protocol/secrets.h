/* SPDX-License-Identifier: Apache-2.0 */
/* Secrets as Kestra's open-source edition has them (kestra-script-tasks.md §8.7): SECRET_<NAME>
 * variables of the worker's environment, base64-encoded, looked up upper-cased by secret(); and
 * the log masking of their values (§5.1). Pure: the environment is passed in. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/strv.h"

struct kwg_secrets;

/* Called for each SECRET_ variable whose value is not base64 (Kestra logs an error and skips
 * it). name borrowed. */
typedef void kwg_secrets_bad_fn(void *userdata, const char *name);

/* Reads every SECRET_<NAME> of envp (NULL-terminated "NAME=value"). 0 and *ret (new), -ENOMEM. */
int kwg_secrets_new(char *const *envp, kwg_secrets_bad_fn *bad, void *userdata,
                    struct kwg_secrets **ret);
/* Accepts NULL. Returns NULL. */
struct kwg_secrets *kwg_secrets_free(struct kwg_secrets *s);
size_t kwg_secrets_count(const struct kwg_secrets *s);
/* The value of secret `key` (looked up upper-cased), borrowed; NULL when there is none. */
const char *kwg_secrets_get(const struct kwg_secrets *s, const char *key);

/* Kestra's masking of msg (len bytes, UTF-8) into out: every occurrence of each value in masks
 * becomes as many '*' as it has characters, then the first run of nine '*' becomes "**masked*".
 * Returns true when something was masked (out then holds the masked text), false when msg is
 * unchanged (out untouched); an out-of-memory masks the whole message. */
bool kwg_secrets_mask(const struct kwg_strv *masks, const char *msg, size_t len,
                      struct kwg_buf *out);
