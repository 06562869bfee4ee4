/* SPDX-License-Identifier: Apache-2.0 */
/* Random identifiers: Kestra's 22-character base-62 "friendly ids" and UUID v4 strings. */
#pragma once

#define KWG_ID_LEN 23   /* 22 characters + NUL */
#define KWG_UUID_LEN 37 /* 36 characters + NUL */

/* A random UUID written in base 62 (alphabet 0-9A-Za-z), as Kestra's IdUtils.create(). */
void kwg_id_friendly(char out[KWG_ID_LEN]);
/* A random RFC 4122 version-4 UUID, lower case. */
void kwg_id_uuid4(char out[KWG_UUID_LEN]);
/* Fills buf with n random bytes (getrandom, which cannot fail for n <= 256 once seeded). */
void kwg_random_bytes(void *buf, unsigned n);
