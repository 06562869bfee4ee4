/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/secrets.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "protocol/log_entry.h"

struct kwg_secrets {
	struct kwg_strv names, values; /* same order; names upper-cased without SECRET_ */
};

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 (Java's Base64.getDecoder: padding optional, nothing else tolerated) after
 * line breaks are removed. New NUL-terminated string, NULL when invalid or on OOM. */
static char *b64_decode(const char *in, int *ret_r)
{
	size_t len = strlen(in), n = 0, pad = 0, bits = 0;
	uint32_t acc = 0;
	char *out = malloc(len / 4 * 3 + 4);

	*ret_r = -ENOMEM;
	if (!out)
		return NULL;
	*ret_r = -EINVAL;
	for (const char *p = in; *p; p++) {
		int v;
		if (*p == '\n' || *p == '\r')
			continue;
		if (*p == '=') {
			pad++;
			continue;
		}
		v = b64_value((unsigned char)*p);
		if (v < 0 || pad) {
			free(out);
			return NULL;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	/* Left-over bits must be padding bits; a lone sixth of a byte is not base64. */
	if (bits >= 6 || pad > 2 || (pad && (n + pad) % 3 != 0) || memchr(out, '\0', n)) {
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*ret_r = 0;
	return out;
}

int kwg_secrets_new(char *const *envp, kwg_secrets_bad_fn *bad, void *userdata,
                    struct kwg_secrets **ret)
{
	struct kwg_secrets *s = calloc(1, sizeof(*s));
	int r = 0;

	if (!s)
		return -ENOMEM;
	for (; envp && *envp && r >= 0; envp++) {
		const char *eq = strchr(*envp, '=');
		cleanup_free char *name = NULL, *value = NULL;
		if (strncmp(*envp, "SECRET_", 7) != 0 || !eq || eq == *envp + 7)
			continue;
		name = strndup(*envp + 7, (size_t)(eq - *envp - 7));
		if (!name) {
			r = -ENOMEM;
			break;
		}
		for (char *p = name; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		value = b64_decode(eq + 1, &r);
		if (!value && r == -EINVAL) {
			if (bad)
				bad(userdata, name);
			r = 0;
			continue;
		}
		if (value && (r = kwg_strv_push(&s->names, name)) >= 0)
			r = kwg_strv_push_take(&s->values, steal_ptr(&value));
	}
	if (r < 0) {
		kwg_secrets_free(s);
		return r;
	}
	*ret = s;
	return 0;
}

struct kwg_secrets *kwg_secrets_free(struct kwg_secrets *s)
{
	if (s) {
		kwg_strv_done(&s->names);
		kwg_strv_done(&s->values);
		free(s);
	}
	return NULL;
}

size_t kwg_secrets_count(const struct kwg_secrets *s)
{
	return s ? s->names.n : 0;
}

const char *kwg_secrets_get(const struct kwg_secrets *s, const char *key)
{
	for (size_t i = 0; s && i < s->names.n; i++)
		if (strcasecmp(s->names.v[i], key) == 0)
			return s->values.v[i];
	return NULL;
}

/* Replaces every occurrence of secret in b (in place, through tmp). */
static int mask_one(struct kwg_buf *b, struct kwg_buf *tmp, const char *secret, bool *changed)
{
	size_t slen = strlen(secret), stars = kwg_utf16_units(secret, slen);
	const char *p = b->data, *end = b->data + b->len, *hit;
	int r = 0;

	if (!slen || !(hit = memmem(p, b->len, secret, slen)))
		return 0;
	kwg_buf_clear(tmp);
	for (; hit && r >= 0; hit = memmem(p, (size_t)(end - p), secret, slen)) {
		r = kwg_buf_append(tmp, p, (size_t)(hit - p));
		for (size_t i = 0; r >= 0 && i < stars; i++)
			r = kwg_buf_putc(tmp, '*');
		p = hit + slen;
	}
	if (r >= 0)
		r = kwg_buf_append(tmp, p, (size_t)(end - p));
	if (r >= 0) {
		kwg_buf_clear(b);
		r = kwg_buf_append(b, tmp->data, tmp->len);
	}
	*changed = true;
	return r;
}

bool kwg_secrets_mask(const struct kwg_strv *masks, const char *msg, size_t len,
                      struct kwg_buf *out)
{
	struct kwg_buf tmp;
	bool changed = false;
	char *nine;
	int r;

	if (!masks || !masks->n)
		return false;
	kwg_buf_clear(out);
	kwg_buf_init(&tmp, out->max);
	r = kwg_buf_append(out, msg, len);
	for (size_t i = 0; r >= 0 && i < masks->n; i++)
		r = mask_one(out, &tmp, masks->v[i], &changed);
	kwg_buf_done(&tmp);
	if (r < 0) {
		/* Never let a secret through because memory ran out. */
		kwg_buf_clear(out);
		(void)kwg_buf_puts(out, "**masked*");
		return true;
	}
	if (changed && (nine = out->data ? strstr(out->data, "*********") : NULL))
		memcpy(nine, "**masked*", 9);
	return changed;
}
