/* SPDX-License-Identifier: Apache-2.0 */
/* KESTRA: kwg_slugify as core/.../utils/Slugify.java @ 09d73de372a4bb4e5108a89428f665938eb48522
 * (unchanged @ 58c1ca2d). */
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

size_t kwg_utf16_units(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c & 0xc0) != 0x80)
			n += c >= 0xf0 ? 2 : 1;
	}
	return n;
}

static bool is_java_space(int c)
{
	/* Java's \s without UNICODE_CHARACTER_CLASS: [ \t\n\x0B\f\r] */
	return c == ' ' || (c >= '\t' && c <= '\r');
}

char *kwg_slugify(const char *s)
{
	size_t len = strlen(s), nlen;
	char *nfd = NULL, *out, *w;
	int r;

	/* Slugify.of: whitespace to '-', NFD (kwg_nfd: libunistring), drop [^\w-]
	 * (so a precomposed letter keeps its ASCII base letter, "é" → "e", U+212A KELVIN SIGN →
	 * "k"; a letter without a canonical decomposition, "ß" "ł" "æ", goes), '_' to '-', no
	 * "--", no '-' at either end, lower case. Text that is not UTF-8 keeps its ASCII only. */
	r = kwg_nfd(s, len, &nfd, &nlen);
	if (r == -ENOMEM)
		return NULL;
	const char *p = r < 0 ? s : nfd, *end = p + (r < 0 ? len : nlen);
	out = malloc((size_t)(end - p) + 1);
	if (!out) {
		free(nfd);
		return NULL;
	}
	w = out;
	for (; p < end; p++) {
		char keep = 0, c = *p;
		if (is_java_space(c) || c == '_' || c == '-')
			keep = '-';
		else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			keep = c;
		else if (c >= 'A' && c <= 'Z')
			keep = (char)(c - 'A' + 'a');
		/* no "--", no leading '-' */
		if (keep == '-' && (w == out || w[-1] == '-'))
			keep = 0;
		if (keep)
			*w++ = keep;
	}
	if (w > out && w[-1] == '-')
		w--;
	*w = '\0';
	free(nfd);
	return out;
}
