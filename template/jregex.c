/* SPDX-License-Identifier: Apache-2.0 */
/* Java regular expressions through PCRE2. Java semantics followed (java.util.regex.Pattern and
 * Matcher, JDK 17/21): \d \s \w \b are ASCII (no UNICODE_CHARACTER_CLASS), '.' and '$' know
 * CR, LF and CRLF as line ends, an empty match moves the next search one character on, the
 * replacement syntax is appendReplacement's. See docs/templating.md "Regular expressions". */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "template/jregex.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcre2.h>

#include "common/cleanup.h"

/* Bounds on one match call: backtracking steps, backtracking depth (interpreter), heap for the
 * interpreter's backtracking frames (KiB), JIT stack. A pattern that needs more fails. */
#define MATCH_LIMIT 5000000u
#define DEPTH_LIMIT 100000u
#define HEAP_LIMIT_KIB (64u * 1024u)
#define JIT_STACK_MAX (1024u * 1024u)

struct kwg_jregex {
	char *pattern; /* as given */
	pcre2_code *code;
	pcre2_match_data *md;
	pcre2_match_context *mctx;
	pcre2_jit_stack *jit_stack; /* NULL without JIT */
	size_t groups;
};

/* ==== Java → PCRE2 translation ==== */

struct tr {
	const char *p, *end, *pat;
	struct kwg_buf *out;
	struct kwg_err *err;
	int r;
};

static int tr_fail(struct tr *t, const char *what)
{
	if (t->r >= 0)
		t->r = kwg_err_set(t->err, -EINVAL, "regular expression '%.64s': %s", t->pat, what);
	return t->r;
}

static void tr_put(struct tr *t, const char *s, size_t n)
{
	if (t->r >= 0 && kwg_buf_append(t->out, s, n) < 0)
		t->r =
		    kwg_err_set(t->err, -EINVAL, "regular expression '%.64s' is too long", t->pat);
}

static void tr_puts(struct tr *t, const char *s)
{
	tr_put(t, s, strlen(s));
}

static void tr_cp(struct tr *t, uint32_t cp)
{
	char x[16];
	snprintf(x, sizeof(x), "\\x{%x}", (unsigned)cp);
	tr_puts(t, x);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static bool is_alpha(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_dig(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* \uXXXX at t->p (after the backslash and 'u'): 4 hex digits, a surrogate pair as one. */
static void tr_unicode(struct tr *t)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		int h = t->p < t->end ? hexval(*t->p) : -1;
		if (h < 0) {
			tr_fail(t, "Illegal Unicode escape sequence");
			return;
		}
		v = v * 16 + (uint32_t)h;
		t->p++;
	}
	if (v >= 0xD800 && v < 0xDC00 && t->end - t->p >= 6 && t->p[0] == '\\' && t->p[1] == 'u') {
		uint32_t lo = 0;
		int i;
		for (i = 0; i < 4 && hexval(t->p[2 + i]) >= 0; i++)
			lo = lo * 16 + (uint32_t)hexval(t->p[2 + i]);
		if (i == 4 && lo >= 0xDC00 && lo < 0xE000) {
			t->p += 6;
			tr_cp(t, 0x10000 + ((v - 0xD800) << 10) + (lo - 0xDC00));
			return;
		}
	}
	if (v >= 0xD800 && v < 0xE000) {
		tr_fail(t, "a lone surrogate (\\u) cannot match UTF-8 text");
		return;
	}
	tr_cp(t, v);
}

/* Java's \p{Name} / \P{Name}: t->p at the name (after "\p" or "\P"). */
static void tr_property(struct tr *t, bool neg, bool in_class)
{
	/* Java's POSIX classes (US-ASCII only, as PCRE2's without UCP) and java.lang.Character
	 * classes kept to their ASCII meaning where that is what Java gives for ASCII. */
	static const struct {
		const char *java, *pcre;
	} posix[] = {
	    {"Lower", "[:lower:]"}, {"Upper", "[:upper:]"}, {"ASCII", "[:ascii:]"},
	    {"Alpha", "[:alpha:]"}, {"Digit", "[:digit:]"}, {"Alnum", "[:alnum:]"},
	    {"Punct", "[:punct:]"}, {"Graph", "[:graph:]"}, {"Print", "[:print:]"},
	    {"Blank", "[:blank:]"}, {"Cntrl", "[:cntrl:]"}, {"XDigit", "[:xdigit:]"},
	    {"Space", "[:space:]"},
	};
	/* Categories, scripts and binary properties both know (Java accepts Is and
	 * general_category= / script= prefixes). */
	static const char *const same[] = {
	    "L",  "Lu", "Ll", "Lt", "Lm", "Lo", "M",  "Mn", "Mc", "Me", "N",  "Nd", "Nl",
	    "No", "P",  "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S",  "Sm", "Sc", "Sk",
	    "So", "Z",  "Zs", "Zl", "Zp", "C",  "Cc", "Cf", "Co", "Cs", "Cn", "LC",
	};
	char name[64];
	size_t k = 0;

	if (t->p >= t->end) {
		tr_fail(t, "Illegal character property");
		return;
	}
	if (*t->p != '{') {
		name[k++] = *t->p++; /* \pL */
	} else {
		t->p++;
		while (t->p < t->end && *t->p != '}' && k < sizeof(name) - 1)
			name[k++] = *t->p++;
		if (t->p >= t->end || *t->p != '}') {
			tr_fail(t, "Unclosed character family");
			return;
		}
		t->p++;
	}
	name[k] = 0;
	const char *n = name;
	if (strncmp(n, "Is", 2) == 0)
		n += 2;
	else if (strncmp(n, "general_category=", 17) == 0 || strncmp(n, "gc=", 3) == 0)
		n = strchr(n, '=') + 1;
	else if (strncmp(n, "script=", 7) == 0 || strncmp(n, "sc=", 3) == 0)
		n = strchr(n, '=') + 1;
	for (size_t i = 0; i < sizeof(posix) / sizeof(posix[0]); i++) {
		if (strcmp(name, posix[i].java) == 0) {
			/* "[:alpha:]" only exists inside a class: "[[:alpha:]]" alone, "[:^alpha:]"
			 * negated inside one */
			if (!in_class)
				tr_puts(t, neg ? "[^" : "[");
			tr_put(t, posix[i].pcre, 2);
			if (in_class && neg)
				tr_put(t, "^", 1);
			tr_puts(t, posix[i].pcre + 2);
			if (!in_class)
				tr_puts(t, "]");
			return;
		}
	}
	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		if (strcmp(n, same[i]) == 0) {
			tr_puts(t, neg ? "\\P{" : "\\p{");
			tr_puts(t, n);
			tr_puts(t, "}");
			return;
		}
	}
	/* A script name ("IsLatin", "script=Greek"): PCRE2 knows Unicode's scripts by name. */
	if (n != name && *n && strncmp(name, "In", 2) != 0) {
		for (const char *q = n; *q; q++)
			if (!is_alpha(*q) && *q != '_') {
				tr_fail(t, "Unknown character property name");
				return;
			}
		tr_puts(t, neg ? "\\P{" : "\\p{");
		tr_puts(t, n);
		tr_puts(t, "}");
		return;
	}
	char msg[256];
	snprintf(msg, sizeof(msg),
	         "the Java character class \\p{%s} is not supported (Unicode blocks and java* "
	         "classes have no PCRE2 equivalent)",
	         name);
	tr_fail(t, msg);
}

/* \0 followed by 1-3 octal digits, the first of three at most 3 (Java). */
static void tr_octal(struct tr *t)
{
	uint32_t v = 0;
	int k = 0, max = t->p < t->end && *t->p <= '3' ? 3 : 2;
	while (k < max && t->p < t->end && *t->p >= '0' && *t->p <= '7') {
		v = v * 8 + (uint32_t)(*t->p++ - '0');
		k++;
	}
	if (!k) {
		tr_fail(t, "Illegal octal escape sequence");
		return;
	}
	tr_cp(t, v);
}

/* \Q…\E: each character as a literal. */
static void tr_quote(struct tr *t)
{
	while (t->p < t->end && t->r >= 0) {
		if (t->end - t->p >= 2 && t->p[0] == '\\' && t->p[1] == 'E') {
			t->p += 2;
			return;
		}
		unsigned char ch = (unsigned char)*t->p++;
		if (ch < 0x80 && !is_alpha((char)ch) && !is_dig((char)ch)) {
			if (ch < 0x20 || ch == 0x7F) {
				tr_cp(t, ch);
				continue;
			}
			tr_put(t, "\\", 1);
		}
		tr_put(t, (const char *)&ch, 1);
	}
}

/* One escape at t->p (after the backslash), inside a character class or not. */
static void tr_escape(struct tr *t, bool in_class)
{
	if (t->p >= t->end) {
		tr_fail(t, "Unexpected internal error (a trailing backslash)");
		return;
	}
	char ch = *t->p++;
	switch (ch) {
	case 'u':
		tr_unicode(t);
		return;
	case 'p':
	case 'P':
		tr_property(t, ch == 'P', in_class);
		return;
	case '0':
		tr_octal(t);
		return;
	case 'Q':
		tr_quote(t);
		return;
	case 'E': /* a stray \E: Java ignores it */
		return;
	case 'b':
		if (in_class) {
			tr_fail(t, "Illegal/unsupported escape sequence");
			return;
		}
		if (t->p < t->end && *t->p == '{') {
			tr_fail(t, "\\b{g} (grapheme boundaries) is not supported");
			return;
		}
		tr_put(t, "\\b", 2);
		return;
	case 'N':
		tr_fail(t, "\\N{name} is not supported");
		return;
	case 'k':
		if (in_class || t->p >= t->end || *t->p != '<') {
			tr_fail(t, "\\k is not followed by '<' for named capturing group");
			return;
		}
		tr_put(t, "\\k", 2);
		return;
	case 'x':
		if (t->p < t->end && *t->p == '{') { /* \x{h…h} */
			const char *q = t->p + 1;
			while (q < t->end && hexval(*q) >= 0)
				q++;
			if (q == t->p + 1 || q >= t->end || *q != '}') {
				tr_fail(t, "Unclosed hexadecimal escape sequence");
				return;
			}
			tr_put(t, t->p - 2, (size_t)(q + 1 - (t->p - 2)));
			t->p = q + 1;
			return;
		}
		tr_put(t, t->p - 2, 2);
		return;
	case 't':
	case 'n':
	case 'r':
	case 'f':
	case 'a':
	case 'e':
	case 'c':
	case 'd':
	case 'D':
	case 's':
	case 'S':
	case 'w':
	case 'W':
	case 'h':
	case 'H':
	case 'v':
	case 'V':
		tr_put(t, t->p - 2, 2);
		return;
	case 'R':
	case 'X':
	case 'B':
	case 'A':
	case 'G':
	case 'Z':
	case 'z':
		if (in_class) {
			tr_fail(t, "Illegal/unsupported escape sequence");
			return;
		}
		tr_put(t, t->p - 2, 2);
		return;
	default:
		break;
	}
	if (is_dig(ch)) { /* a backreference \1…\9 (more digits while such a group exists) */
		if (in_class) {
			tr_fail(t, "Illegal/unsupported escape sequence");
			return;
		}
		tr_put(t, t->p - 2, 2);
		return;
	}
	if (is_alpha(ch)) {
		tr_fail(t, "Illegal/unsupported escape sequence");
		return;
	}
	/* any other character, escaped: a literal */
	if ((unsigned char)ch < 0x80) {
		tr_put(t, t->p - 2, 2);
	} else {
		tr_put(t, t->p - 1, 1);
		while (t->p < t->end && ((unsigned char)*t->p & 0xC0) == 0x80)
			tr_put(t, t->p++, 1);
	}
}

/* A character class at t->p (after '['). Java's unions ([a[b]]) and intersections (&&) have no
 * PCRE2 form: refused. POSIX bracket forms are PCRE2's only ("[:", "[.", "[="), so ':', '.'
 * and '=' are escaped. */
static void tr_class(struct tr *t)
{
	tr_put(t, "[", 1);
	if (t->p < t->end && *t->p == '^')
		tr_put(t, t->p++, 1);
	if (t->p < t->end && *t->p == ']') /* Java: a ']' first is a literal */
		tr_put(t, "\\]", 2), t->p++;
	while (t->p < t->end && t->r >= 0) {
		char ch = *t->p++;
		if (ch == ']') {
			tr_put(t, "]", 1);
			return;
		}
		if (ch == '[') {
			tr_fail(t, "Java character class unions ([a[b]]) are not supported");
			return;
		}
		if (ch == '&' && t->p < t->end && *t->p == '&') {
			tr_fail(t, "Java character class intersections (&&) are not supported");
			return;
		}
		if (ch == '\\') {
			tr_escape(t, true);
		} else if (ch == ':' || ch == '.' || ch == '=') {
			tr_put(t, "\\", 1);
			tr_put(t, &ch, 1);
		} else {
			tr_put(t, &ch, 1);
		}
	}
	tr_fail(t, "Unclosed character class");
}

/* "(?" at t->p (after the '('): the group forms Java has. */
static void tr_group(struct tr *t)
{
	const char *p = t->p + 1; /* after '?' */
	if (p >= t->end) {
		tr_fail(t, "Unknown inline modifier");
		return;
	}
	switch (*p) {
	case ':':
	case '=':
	case '!':
	case '>':
		tr_put(t, "(?", 2);
		tr_put(t, p, 1);
		t->p = p + 1;
		return;
	case '<':
		if (p + 1 < t->end && (p[1] == '=' || p[1] == '!')) {
			tr_put(t, "(?<", 3);
			tr_put(t, p + 1, 1);
			t->p = p + 2;
			return;
		}
		/* (?<name>: Java names are an ASCII letter, then letters and digits */
		{
			const char *q = p + 1;
			if (q >= t->end || !is_alpha(*q)) {
				tr_fail(t,
				        "capturing group name does not start with a Latin letter");
				return;
			}
			while (q < t->end && (is_alpha(*q) || is_dig(*q)))
				q++;
			if (q >= t->end || *q != '>') {
				tr_fail(t, "named capturing group is missing trailing '>'");
				return;
			}
			tr_put(t, "(?", 2);
			tr_put(t, p, (size_t)(q + 1 - p));
			t->p = q + 1;
			return;
		}
	default:
		break;
	}
	/* inline flags: (?idmsuxU-idmsuxU) or (?…:X) */
	const char *q = p;
	tr_put(t, "(?", 2);
	while (q < t->end && *q != ')' && *q != ':' && t->r >= 0) {
		switch (*q) {
		case 'i':
		case 'm':
		case 's':
		case 'x':
		case '-':
			tr_put(t, q, 1);
			break;
		case 'u': /* UNICODE_CASE: PCRE2's caseless matching is Unicode already */
			break;
		case 'd':
			tr_fail(t, "the UNIX_LINES flag (?d) is not supported");
			return;
		case 'U':
			tr_fail(t, "the UNICODE_CHARACTER_CLASS flag (?U) is not supported");
			return;
		default:
			tr_fail(t, "Unknown inline modifier");
			return;
		}
		q++;
	}
	if (q >= t->end) {
		tr_fail(t, "Unknown inline modifier");
		return;
	}
	tr_put(t, q, 1);
	t->p = q + 1;
}

/* "{" at t->p: Java accepts only a bounded repetition {n}, {n,}, {n,m}. */
static void tr_brace(struct tr *t)
{
	const char *q = t->p + 1;
	const char *d = q;
	while (q < t->end && is_dig(*q))
		q++;
	if (q == d) {
		tr_fail(t, "Illegal repetition");
		return;
	}
	if (q < t->end && *q == ',')
		for (q++; q < t->end && is_dig(*q);)
			q++;
	if (q >= t->end || *q != '}') {
		tr_fail(t, "Unclosed counted closure");
		return;
	}
	tr_put(t, t->p, (size_t)(q + 1 - t->p));
	t->p = q + 1;
}

static int translate(const char *pat, size_t len, struct kwg_buf *out, struct kwg_err *err)
{
	struct tr t = {.p = pat, .end = pat + len, .pat = pat, .out = out, .err = err};

	while (t.p < t.end && t.r >= 0) {
		char ch = *t.p;
		switch (ch) {
		case '\\':
			t.p++;
			tr_escape(&t, false);
			break;
		case '[':
			t.p++;
			tr_class(&t);
			break;
		case '(':
			if (t.p + 1 < t.end && t.p[1] == '?') {
				t.p++;
				tr_group(&t);
			} else if (t.p + 1 < t.end && t.p[1] == '*') {
				tr_fail(&t, "Dangling meta character '*'");
			} else {
				tr_put(&t, t.p++, 1);
			}
			break;
		case '{':
			tr_brace(&t);
			break;
		default:
			tr_put(&t, t.p++, 1);
		}
	}
	return t.r;
}

/* ==== compile, match ==== */

int kwg_jregex_new(const char *pat, size_t len, struct kwg_jregex **ret, struct kwg_err *err)
{
	struct kwg_buf b;
	struct kwg_jregex *re;
	int r, ec;
	PCRE2_SIZE eo;

	if (len > KWG_JREGEX_MAX_PATTERN)
		return kwg_err_set(err, -EINVAL,
		                   "regular expression '%.64s' is longer than %d bytes", pat,
		                   KWG_JREGEX_MAX_PATTERN);
	if (memchr(pat, 0, len))
		return kwg_err_set(err, -EINVAL, "regular expression '%.64s' holds a NUL", pat);
	kwg_buf_init(&b, 8 * KWG_JREGEX_MAX_PATTERN);
	r = translate(pat, len, &b, err);
	if (r < 0) {
		kwg_buf_done(&b);
		return r;
	}
	re = calloc(1, sizeof(*re));
	if (!re || !(re->pattern = strndup(pat, len))) {
		free(re);
		kwg_buf_done(&b);
		return -ENOMEM;
	}
	pcre2_compile_context *cctx = pcre2_compile_context_create(NULL);
	if (!cctx) {
		kwg_buf_done(&b);
		kwg_jregex_free(re);
		return -ENOMEM;
	}
	/* Java's line terminators minus NEL, LS and PS: CR, LF, CRLF. */
	pcre2_set_newline(cctx, PCRE2_NEWLINE_ANYCRLF);
	pcre2_set_bsr(cctx, PCRE2_BSR_UNICODE);
	re->code =
	    pcre2_compile((PCRE2_SPTR)kwg_buf_str(&b), b.len,
	                  PCRE2_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C, &ec, &eo, cctx);
	pcre2_compile_context_free(cctx);
	kwg_buf_done(&b);
	if (!re->code) {
		PCRE2_UCHAR msg[160];
		if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", ec);
		kwg_jregex_free(re);
		if (ec == PCRE2_ERROR_NOMEMORY)
			return -ENOMEM;
		return kwg_err_set(err, -EINVAL, "bad regular expression '%.64s': %s", pat,
		                   (const char *)msg);
	}
	uint32_t cap = 0;
	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &cap);
	re->groups = cap;
	re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
	re->mctx = pcre2_match_context_create(NULL);
	if (!re->md || !re->mctx) {
		kwg_jregex_free(re);
		return -ENOMEM;
	}
	pcre2_set_match_limit(re->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(re->mctx, HEAP_LIMIT_KIB);
	/* JIT where the platform has it; the interpreter (same limits) otherwise. */
	if (pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0) {
		re->jit_stack = pcre2_jit_stack_create(32 * 1024, JIT_STACK_MAX, NULL);
		if (!re->jit_stack) {
			kwg_jregex_free(re);
			return -ENOMEM;
		}
		pcre2_jit_stack_assign(re->mctx, NULL, re->jit_stack);
	}
	*ret = re;
	return 0;
}

void kwg_jregex_free(struct kwg_jregex *re)
{
	if (!re)
		return;
	pcre2_jit_stack_free(re->jit_stack);
	pcre2_match_context_free(re->mctx);
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	free(re->pattern);
	free(re);
}

const char *kwg_jregex_pattern(const struct kwg_jregex *re)
{
	return re->pattern;
}

size_t kwg_jregex_groups(const struct kwg_jregex *re)
{
	return re->groups;
}

void kwg_jregex_iter_init(struct kwg_jregex_iter *it, struct kwg_jregex *re, const char *s,
                          size_t n)
{
	*it = (struct kwg_jregex_iter){.re = re, .s = s, .n = n};
}

int kwg_jregex_find(struct kwg_jregex_iter *it, struct kwg_err *err)
{
	struct kwg_jregex *re = it->re;
	int rc;

	if (it->done || it->next > it->n)
		return 0;
	rc = pcre2_match(re->code, (PCRE2_SPTR)it->s, it->n, it->next,
	                 it->checked ? PCRE2_NO_UTF_CHECK : 0, re->md, re->mctx);
	it->checked = true;
	if (rc == PCRE2_ERROR_NOMATCH) {
		it->done = true;
		return 0;
	}
	if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
	    rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
		it->done = true;
		return kwg_err_set(err, -E2BIG,
		                   "regular expression '%.64s' backtracks too much on this text "
		                   "(a matching limit was hit)",
		                   re->pattern);
	}
	if (rc == PCRE2_ERROR_NOMEMORY)
		return -ENOMEM;
	if (rc < 0) {
		PCRE2_UCHAR msg[160];
		it->done = true;
		if (pcre2_get_error_message(rc, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", rc);
		return kwg_err_set(err, -EINVAL, "regular expression '%.64s': %s", re->pattern,
		                   (const char *)msg);
	}
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
	/* Java Matcher.find: the next search starts where this match ended, one character
	 * further after an empty match. */
	it->next = ov[1];
	if (ov[1] == ov[0]) {
		if (ov[1] >= it->n) {
			it->done = true;
		} else {
			it->next++;
			while (it->next < it->n && ((unsigned char)it->s[it->next] & 0xC0) == 0x80)
				it->next++;
		}
	}
	return 1;
}

bool kwg_jregex_group(const struct kwg_jregex *re, size_t g, size_t *ret_start, size_t *ret_end)
{
	if (g > re->groups)
		return false;
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
	if (ov[2 * g] == PCRE2_UNSET)
		return false;
	*ret_start = ov[2 * g];
	*ret_end = ov[2 * g + 1];
	return true;
}

/* ==== Matcher.replaceAll, String.split ==== */

/* Matcher.appendReplacement's expansion of rep for the current match. */
static int expand(struct kwg_jregex *re, const char *s, const char *rep, struct kwg_buf *out,
                  struct kwg_err *err)
{
	const char *q = rep;
	int r = 0;

	while (*q && r >= 0) {
		if (*q == '\\') {
			q++;
			if (!*q)
				return kwg_err_set(err, -EINVAL,
				                   "character to be escaped is missing");
			/* one character (a whole UTF-8 sequence) taken literally */
			const char *e = q + 1;
			while (*e && ((unsigned char)*e & 0xC0) == 0x80)
				e++;
			r = kwg_buf_append(out, q, (size_t)(e - q));
			q = e;
			continue;
		}
		if (*q != '$') {
			const char *e = q;
			while (*e && *e != '\\' && *e != '$')
				e++;
			r = kwg_buf_append(out, q, (size_t)(e - q));
			q = e;
			continue;
		}
		q++;
		size_t g;
		if (!*q)
			return kwg_err_set(err, -EINVAL,
			                   "Illegal group reference: group index is missing");
		if (*q == '{') {
			char name[64];
			size_t k = 0;
			q++;
			while ((is_alpha(*q) || is_dig(*q)) && k < sizeof(name) - 1)
				name[k++] = *q++;
			name[k] = 0;
			if (!k)
				return kwg_err_set(err, -EINVAL,
				                   "named capturing group has 0 length name");
			if (*q != '}')
				return kwg_err_set(err, -EINVAL,
				                   "named capturing group is missing trailing '}'");
			if (is_dig(name[0]))
				return kwg_err_set(
				    err, -EINVAL,
				    "capturing group name {%s} starts with digit character", name);
			int num = pcre2_substring_number_from_name(re->code, (PCRE2_SPTR)name);
			if (num < 0)
				return kwg_err_set(err, -EINVAL, "No group with name {%s}", name);
			g = (size_t)num;
			q++;
		} else {
			if (!is_dig(*q))
				return kwg_err_set(err, -EINVAL, "Illegal group reference");
			g = (size_t)(*q++ - '0');
			/* more digits while the number names a group */
			while (is_dig(*q) && g * 10 + (size_t)(*q - '0') <= re->groups)
				g = g * 10 + (size_t)(*q++ - '0');
			if (g > re->groups)
				return kwg_err_set(err, -EINVAL, "No group %zu", g);
		}
		size_t gs, ge;
		if (kwg_jregex_group(re, g, &gs, &ge))
			r = kwg_buf_append(out, s + gs, ge - gs);
	}
	return r;
}

int kwg_jregex_replace_all(struct kwg_jregex *re, const char *s, size_t n, const char *rep,
                           struct kwg_buf *out, int (*steps)(void *data), void *data,
                           struct kwg_err *err)
{
	struct kwg_jregex_iter it;
	size_t last = 0;
	int r;

	kwg_jregex_iter_init(&it, re, s, n);
	while ((r = kwg_jregex_find(&it, err)) > 0) {
		size_t ms, me;
		kwg_jregex_group(re, 0, &ms, &me);
		r = kwg_buf_append(out, s + last, ms - last);
		if (r >= 0)
			r = expand(re, s, rep, out, err);
		if (r >= 0 && steps)
			r = steps(data);
		if (r < 0)
			return r;
		last = me;
	}
	if (r < 0)
		return r;
	return kwg_buf_append(out, s + last, n - last);
}

struct span {
	size_t b, e;
};

int kwg_jregex_split(struct kwg_jregex *re, const char *s, size_t n, long long limit,
                     int (*piece)(void *data, const char *p, size_t len), int (*steps)(void *data),
                     void *data, struct kwg_err *err)
{
	struct kwg_jregex_iter it;
	struct span *sp = NULL;
	size_t nsp = 0, cap = 0, index = 0;
	bool matched = false;
	int r;

	kwg_jregex_iter_init(&it, re, s, n);
	while ((r = kwg_jregex_find(&it, err)) > 0) {
		size_t ms, me;
		kwg_jregex_group(re, 0, &ms, &me);
		if (steps && (r = steps(data)) < 0)
			break;
		if (limit > 0 && (long long)nsp >= limit - 1)
			break;
		/* no leading empty piece for a zero-width match at the start */
		if (index == 0 && ms == 0 && me == 0)
			continue;
		if (nsp == cap) {
			size_t nc = cap ? 2 * cap : 16;
			struct span *x = realloc(sp, nc * sizeof(*sp));
			if (!x) {
				r = -ENOMEM;
				break;
			}
			sp = x;
			cap = nc;
		}
		sp[nsp++] = (struct span){index, ms};
		index = me;
		matched = true;
	}
	if (r < 0) {
		free(sp);
		return r;
	}
	if (!matched) { /* no match: the input itself */
		free(sp);
		return piece(data, s, n);
	}
	size_t keep = nsp + 1;
	if (limit == 0) { /* trailing empty pieces dropped */
		if (index == n)
			for (keep = nsp; keep > 0 && sp[keep - 1].b == sp[keep - 1].e; keep--)
				;
	}
	for (size_t i = 0; i < keep && r >= 0; i++)
		r = i < nsp ? piece(data, s + sp[i].b, sp[i].e - sp[i].b)
		            : piece(data, s + index, n - index);
	free(sp);
	return r;
}
