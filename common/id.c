/* SPDX-License-Identifier: Apache-2.0 */
#include "common/id.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "common/compat.h"

void kwg_random_bytes(void *buf, unsigned n)
{
	unsigned char *p = buf;

	while (n > 0) {
		ssize_t r = getrandom(p, n, 0);
		if (r <= 0)
			continue; /* EINTR only: getrandom blocks until seeded, never fails
			             otherwise */
		p += r;
		n -= (unsigned)r;
	}
}

static void make_uuid4(unsigned char u[16])
{
	kwg_random_bytes(u, 16);
	u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
	u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
}

void kwg_id_friendly(char out[KWG_ID_LEN])
{
	static const char alphabet[] =
	    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	unsigned char u[16];
	uint32_t words[4];
	char tmp[KWG_ID_LEN];
	size_t n = 0;
	bool nonzero;

	make_uuid4(u);
	for (int i = 0; i < 4; i++)
		words[i] = (uint32_t)u[4 * i] << 24 | (uint32_t)u[4 * i + 1] << 16 |
		           (uint32_t)u[4 * i + 2] << 8 | u[4 * i + 3];
	/* Long division of the 128-bit big-endian number by 62, least significant digit first. */
	do {
		uint64_t rem = 0;
		nonzero = false;
		for (int i = 0; i < 4; i++) {
			uint64_t cur = rem << 32 | words[i];
			words[i] = (uint32_t)(cur / 62);
			rem = cur % 62;
			nonzero |= words[i] != 0;
		}
		tmp[n++] = alphabet[rem];
	} while (nonzero && n < KWG_ID_LEN - 1);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

void kwg_id_uuid4(char out[KWG_UUID_LEN])
{
	unsigned char u[16];

	make_uuid4(u);
	(void)snprintf(out, KWG_UUID_LEN,
	               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
	               u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
	               u[13], u[14], u[15]);
}
