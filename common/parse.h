/* SPDX-License-Identifier: Apache-2.0 */
/* Strict parsers for configuration values: whole string, range-checked. 0 or -EINVAL/-ERANGE. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

int kwg_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *ret);
int kwg_parse_i64(const char *s, int64_t *ret);
/* true/false, yes/no, on/off, 1/0 (any case). */
int kwg_parse_bool(const char *s, bool *ret);
/* "512MiB", "8GiB", "64KiB", "1000"; a bare number is bytes. */
int kwg_parse_size_bytes(const char *s, uint64_t *ret);
/* "250ms", "30s", "5m", "1h"; a bare number is milliseconds. */
int kwg_parse_duration_ms(const char *s, uint64_t *ret);
/* HOST:PORT or [IPV6]:PORT, as a gRPC target: the host (without brackets, not empty, no spaces or
 * '/', '@'; an IPv6 address only in brackets) and the port (1-65535), each new. ret_host and
 * ret_port may be NULL (both NULL: a check only, nothing allocated). -EINVAL with *why saying what
 * is wrong, or -ENOMEM. */
int kwg_parse_host_port(const char *s, char **ret_host, char **ret_port, const char **why);
