/* SPDX-License-Identifier: Apache-2.0 */
#include "template/unicode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

/* A libunistring result (malloc'd, not NUL-terminated) as a C string. */
static int finish(uint8_t *r, size_t len, char **ret, size_t *ret_len)
{
	if (!r)
		return errno == ENOMEM ? -ENOMEM : -EINVAL;
	char *s = realloc(r, len + 1);
	if (!s) {
		free(r);
		return -ENOMEM;
	}
	s[len] = '\0';
	*ret = s;
	*ret_len = len;
	return 0;
}

int kwg_java_case(const char *s, size_t n, bool upper, char **ret, size_t *ret_len)
{
	size_t len = 0;
	uint8_t *r;

	if (n == 0)
		return finish(calloc(1, 1), 0, ret, ret_len);
	errno = 0;
	r = upper ? u8_toupper((const uint8_t *)s, n, "", NULL, NULL, &len)
	          : u8_tolower((const uint8_t *)s, n, "", NULL, NULL, &len);
	return finish(r, len, ret, ret_len);
}

bool kwg_java_is_whitespace(uint32_t cp)
{
	if ((cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20))
		return true;
	if (cp == 0xA0 || cp == 0x2007 || cp == 0x202F) /* non-breaking spaces are not */
		return false;
	return uc_is_general_category(cp, UC_SPACE_SEPARATOR) ||
	       uc_is_general_category(cp, UC_LINE_SEPARATOR) ||
	       uc_is_general_category(cp, UC_PARAGRAPH_SEPARATOR);
}

int kwg_java_titlecase(const char *s, size_t n, bool title, char **ret, size_t *ret_len)
{
	const uint8_t *p = (const uint8_t *)s, *end = p + n;
	/* a BMP character's title case takes at most 1.5 times its bytes */
	uint8_t *out = malloc(n * 2 + 8), *w = out;
	bool next = true, done = false;

	if (!out)
		return -ENOMEM;
	while (p < end) {
		ucs4_t cp;
		int k = u8_mbtoucr(&cp, p, (size_t)(end - p));
		if (k < 0) {
			free(out);
			return -EINVAL;
		}
		if (done) {
			memcpy(w, p, (size_t)k);
			w += k;
		} else if (kwg_java_is_whitespace(cp)) {
			memcpy(w, p, (size_t)k);
			w += k;
			next = next || title;
		} else if (next) {
			/* Java's toTitleCase(char): a character past U+FFFF (a surrogate) stays */
			int m = cp < 0x10000 ? u8_uctomb(w, uc_totitle(cp), 6) : -1;
			if (m > 0) {
				w += m;
			} else {
				memcpy(w, p, (size_t)k);
				w += k;
			}
			next = false;
			done = !title;
		} else {
			memcpy(w, p, (size_t)k);
			w += k;
		}
		p += k;
	}
	return finish(out, (size_t)(w - out), ret, ret_len);
}

int kwg_nfd(const char *s, size_t n, char **ret, size_t *ret_len)
{
	size_t len = 0;

	if (n == 0)
		return finish(calloc(1, 1), 0, ret, ret_len);
	errno = 0;
	uint8_t *r = u8_normalize(UNINORM_NFD, (const uint8_t *)s, n, NULL, &len);
	return finish(r, len, ret, ret_len);
}

size_t kwg_utf16_offset(const char *s, size_t n, size_t k)
{
	size_t i = 0, units = 0;
	while (i < n && units < k) {
		unsigned char c = (unsigned char)s[i];
		size_t l = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
		units += l == 4 ? 2 : 1;
		i += l;
	}
	return i < n ? i : n;
}
