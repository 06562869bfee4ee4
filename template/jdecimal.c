/* SPDX-License-Identifier: Apache-2.0 */
/* java.text.DecimalFormat, the common subset (see jdecimal.h). The pattern is read as
 * DecimalFormat.applyPattern reads it (the JDK's documented grammar: digit counts, the "#.##"
 * shorthand that behaves as "0.##", grouping from the last ','); the digits come from glibc's
 * printf, which rounds the exact binary value half-even like Java's DigitList. */
#include "template/jdecimal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define AFFIX_MAX 256
#define FRAC_MAX 340       /* DecimalFormat's DOUBLE_FRACTION_DIGITS */
#define INT_MAX_DIGITS 309 /* DecimalFormat's DOUBLE_INTEGER_DIGITS */

struct affix {
	char s[AFFIX_MAX];
	size_t n;
};

struct jpattern {
	struct affix pos_prefix, pos_suffix, neg_prefix, neg_suffix;
	bool has_neg;
	int mult;
	int min_int, min_frac, max_frac, group, min_exp;
	bool sci, dot_always;
};

static int bad(struct kwg_err *err, const char *pattern, const char *why)
{
	return kwg_err_set(err, -EINVAL, "numberformat pattern '%.64s': %s", pattern, why);
}

static int affix_add(struct affix *a, const char *p, size_t n)
{
	if (a->n + n >= AFFIX_MAX)
		return -1;
	memcpy(a->s + a->n, p, n);
	a->n += n;
	a->s[a->n] = '\0';
	return 0;
}

/* Reads an affix from *pp up to a digit character (prefix) or ';'/end (suffix). */
static int read_affix(const char *pattern, const char **pp, bool suffix, struct affix *a, int *mult,
                      struct kwg_err *err)
{
	const char *p = *pp;
	bool quoted = false;

	a->n = 0;
	a->s[0] = '\0';
	for (; *p; p++) {
		if (*p == '\'') {
			if (p[1] == '\'') {
				if (affix_add(a, "'", 1) < 0)
					return bad(err, pattern, "affix too long");
				p++;
			} else {
				quoted = !quoted;
			}
			continue;
		}
		if (quoted) {
			if (affix_add(a, p, 1) < 0)
				return bad(err, pattern, "affix too long");
			continue;
		}
		if (*p == ';')
			break;
		if (strchr("0#,.", *p) || (suffix && *p == 'E')) {
			if (!suffix)
				break;
			return bad(err, pattern, "digit characters after the suffix");
		}
		if (*p == '*')
			return bad(err, pattern, "padding '*' is not supported");
		if (!strncmp(p, "\xc2\xa4", 2))
			return bad(err, pattern, "the currency sign is not supported");
		if (*p == '%')
			*mult = 100;
		else if (!strncmp(p, "\xe2\x80\xb0", 3))
			*mult = 1000;
		if (affix_add(a, p, 1) < 0)
			return bad(err, pattern, "affix too long");
	}
	if (quoted)
		return bad(err, pattern, "unterminated quote");
	*pp = p;
	return 0;
}

static int parse(const char *pattern, struct jpattern *jp, struct kwg_err *err)
{
	int left = 0, zero = 0, right = 0, dot = -1, grouping = -1, total, eff;
	const char *p = pattern;
	struct affix tmp;
	int r;

	memset(jp, 0, sizeof(*jp));
	jp->mult = 1;
	r = read_affix(pattern, &p, false, &jp->pos_prefix, &jp->mult, err);
	if (r < 0)
		return r;
	for (; *p; p++) {
		if (*p == '#') {
			if (zero == 0)
				left++;
			else
				right++;
			if (grouping >= 0 && dot < 0)
				grouping++;
		} else if (*p == '0') {
			if (right > 0)
				return bad(err, pattern, "unexpected '0' after '#'");
			zero++;
			if (grouping >= 0 && dot < 0)
				grouping++;
		} else if (*p == ',') {
			if (dot >= 0)
				return bad(err, pattern, "grouping ',' in the fraction");
			grouping = 0;
		} else if (*p == '.') {
			if (dot >= 0)
				return bad(err, pattern, "more than one '.'");
			dot = left + zero + right;
		} else if (*p == 'E') {
			if (jp->sci)
				return bad(err, pattern, "more than one 'E'");
			jp->sci = true;
			while (p[1] == '0') {
				jp->min_exp++;
				p++;
			}
			if (left + zero < 1 || jp->min_exp < 1)
				return bad(err, pattern, "malformed exponent");
			p++;
			break;
		} else {
			break;
		}
	}
	if (left + zero + right == 0)
		return bad(err, pattern, "no digit ('0' or '#')");
	r = read_affix(pattern, &p, true, &jp->pos_suffix, &jp->mult, err);
	if (r < 0)
		return r;
	if (*p == ';') {
		int m = jp->mult;
		p++;
		jp->has_neg = true;
		r = read_affix(pattern, &p, false, &jp->neg_prefix, &m, err);
		if (r < 0)
			return r;
		while (*p && strchr("0#,.E", *p))
			p++;
		r = read_affix(pattern, &p, true, &jp->neg_suffix, &m, err);
		if (r < 0)
			return r;
		if (*p)
			return bad(err, pattern, "more than one ';'");
	}
	/* "###.###", "###." and ".###" behave as if their first integer '#' were a '0'. */
	if (zero == 0 && left > 0 && dot >= 0) {
		int n = dot == 0 ? 1 : dot;
		right = left - n;
		left = n - 1;
		zero = 1;
	}
	if ((dot < 0 && right > 0) || (dot >= 0 && (dot < left || dot > left + zero)) ||
	    grouping == 0)
		return bad(err, pattern, "malformed digits");
	total = left + zero + right;
	eff = dot >= 0 ? dot : total;
	jp->min_int = eff - left;
	jp->max_frac = dot >= 0 ? total - dot : 0;
	jp->min_frac = dot >= 0 ? left + zero - dot : 0;
	jp->group = grouping > 0 ? grouping : 0;
	jp->dot_always = dot == 0 || dot == total;
	if (jp->max_frac > FRAC_MAX)
		jp->max_frac = FRAC_MAX;
	if (jp->min_int > INT_MAX_DIGITS) /* DecimalFormat clamps to DOUBLE_INTEGER_DIGITS */
		jp->min_int = INT_MAX_DIGITS;
	if (jp->min_frac > jp->max_frac)
		jp->min_frac = jp->max_frac;
	if (jp->sci && (left > 0 || jp->min_int < 1))
		return bad(err, pattern, "engineering notation ('#' before 'E') is not supported");
	if (!jp->has_neg) {
		tmp.n = 0;
		tmp.s[0] = '\0';
		if (affix_add(&tmp, "-", 1) < 0 ||
		    affix_add(&tmp, jp->pos_prefix.s, jp->pos_prefix.n) < 0)
			return bad(err, pattern, "affix too long");
		jp->neg_prefix = tmp;
		jp->neg_suffix = jp->pos_suffix;
	}
	return 0;
}

/* Integer digits int_d (no sign), fraction digits frac_d: writes the number part. */
static int put_fixed(struct kwg_buf *b, const struct jpattern *jp, const char *int_d, size_t ni,
                     const char *frac_d, size_t nf)
{
	size_t pad, total, i;
	int r = 0;

	while (ni > 0 && *int_d == '0') {
		int_d++;
		ni--;
	}
	while (nf > (size_t)jp->min_frac && frac_d[nf - 1] == '0')
		nf--;
	pad = ni < (size_t)jp->min_int ? (size_t)jp->min_int - ni : 0;
	total = pad + ni;
	if (total == 0 && nf == 0) /* nothing printed: a zero */
		return kwg_buf_putc(b, '0');
	for (i = 0; i < total && r >= 0; i++) {
		r = kwg_buf_putc(b, i < pad ? '0' : int_d[i - pad]);
		if (r >= 0 && jp->group > 0 && i + 1 < total &&
		    (total - i - 1) % (size_t)jp->group == 0)
			r = kwg_buf_putc(b, ',');
	}
	if (r >= 0 && (nf > 0 || jp->dot_always))
		r = kwg_buf_putc(b, '.');
	if (r >= 0 && nf > 0)
		r = kwg_buf_append(b, frac_d, nf);
	return r;
}

static int put_sci(struct kwg_buf *b, const struct jpattern *jp, double v)
{
	char digits[FRAC_MAX + 32], buf[FRAC_MAX + 64];
	int sig = jp->min_int + jp->max_frac, e10 = 0, exp, r;
	size_t nd = 0;

	if (sig > FRAC_MAX)
		sig = FRAC_MAX;
	if (v == 0) {
		memset(digits, '0', (size_t)jp->min_int);
		nd = (size_t)jp->min_int;
		exp = 0;
	} else {
		char *e;
		snprintf(buf, sizeof(buf), "%.*e", sig - 1, v);
		for (const char *q = buf; *q && *q != 'e'; q++)
			if (*q >= '0' && *q <= '9')
				digits[nd++] = *q;
		e = strchr(buf, 'e');
		e10 = e ? atoi(e + 1) : 0;
		while (nd < (size_t)jp->min_int)
			digits[nd++] = '0';
		exp = e10 + 1 - jp->min_int;
	}
	r = put_fixed(b, &(struct jpattern){.min_int = jp->min_int, .min_frac = jp->min_frac},
	              digits, (size_t)jp->min_int, digits + jp->min_int, nd - (size_t)jp->min_int);
	if (r >= 0)
		r = kwg_buf_printf(b, "E%s%0*d", exp < 0 ? "-" : "", jp->min_exp,
		                   exp < 0 ? -exp : exp);
	return r;
}

int kwg_jdecimal_format(const char *pattern, bool is_int, int64_t iv, double dv, char **ret,
                        struct kwg_err *err)
{
	struct jpattern jp;
	struct kwg_buf b;
	bool neg;
	int r;

	r = parse(pattern ? pattern : "#,##0.###", &jp, err);
	if (r < 0)
		return r;
	if (!is_int && isnan(dv)) {
		*ret = strdup("NaN");
		return *ret ? 0 : -ENOMEM;
	}
	kwg_buf_init(&b, 1u << 16);
	if (is_int) {
		__int128 x = (__int128)iv * jp.mult;
		unsigned __int128 u;
		char tmp[64];
		size_t n = sizeof(tmp);

		neg = x < 0;
		u = neg ? (unsigned __int128)(-x) : (unsigned __int128)x;
		do {
			tmp[--n] = (char)('0' + (int)(u % 10));
			u /= 10;
		} while (u);
		r = kwg_buf_append(&b, neg ? jp.neg_prefix.s : jp.pos_prefix.s,
		                   neg ? jp.neg_prefix.n : jp.pos_prefix.n);
		if (r >= 0 && jp.sci)
			r = put_sci(&b, &jp, (double)iv * jp.mult * (neg ? -1 : 1));
		else if (r >= 0)
			r = put_fixed(&b, &jp, tmp + n, sizeof(tmp) - n, "", 0);
	} else {
		neg = dv < 0 || (dv == 0 && signbit(dv));
		dv = fabs(dv) * jp.mult;
		r = kwg_buf_append(&b, neg ? jp.neg_prefix.s : jp.pos_prefix.s,
		                   neg ? jp.neg_prefix.n : jp.pos_prefix.n);
		if (r >= 0 && isinf(dv)) {
			r = kwg_buf_puts(&b, "\xe2\x88\x9e");
		} else if (r >= 0 && jp.sci) {
			r = put_sci(&b, &jp, dv);
		} else if (r >= 0) {
			char *s = NULL, *dot;
			if (asprintf(&s, "%.*f", jp.max_frac, dv) < 0) {
				kwg_buf_done(&b);
				return -ENOMEM;
			}
			dot = strchr(s, '.');
			r = put_fixed(&b, &jp, s, dot ? (size_t)(dot - s) : strlen(s),
			              dot ? dot + 1 : "", dot ? strlen(dot + 1) : 0);
			free(s);
		}
	}
	if (r >= 0)
		r = kwg_buf_append(&b, neg ? jp.neg_suffix.s : jp.pos_suffix.s,
		                   neg ? jp.neg_suffix.n : jp.pos_suffix.n);
	if (r >= 0) {
		*ret = kwg_buf_steal(&b);
		if (!*ret)
			r = -ENOMEM;
	}
	kwg_buf_done(&b);
	return r < 0 ? (r == -ENOMEM ? r : kwg_err_set(err, r, "numberformat: output too long"))
	             : 0;
}
