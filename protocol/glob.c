/* SPDX-License-Identifier: Apache-2.0 */
/* A glob is translated the way the JDK's sun.nio.fs.Globs.toRegexPattern translates it (the
 * regex Java then runs is reproduced, not Java's regex engine): `*` is [^/]*, `**` is .*
 * (Java's `.` stops at line terminators), `?` is [^/], a class never matches '/', `{a,b}` is an
 * alternation that cannot nest, `\` makes the next character literal. Both the pattern and the
 * path are read as code points, as Java's regex matches them: `?` takes one emoji (a surrogate
 * pair in Java's String); invalid UTF-8 reads as U+FFFD.
 *
 * The translation is a small program for a Thompson/Pike simulation: every position of the path
 * steps a set of program counters, O(path length × program size) whatever the pattern
 * (`**a**a**a…` cannot backtrack exponentially). "regex:" patterns go to POSIX regcomp
 * (REG_EXTENDED), anchored as Java's Matcher.matches() is.
 *
 * KESTRA: core/.../utils/PathMatcherPredicate.java @ 63041b71d63b6e357da2c2537aed06ecd50b6030
 * (the outputFiles and namespace-files rules of kwg_glob_compile_output/_namespace). */
#include "protocol/glob.h"

#include <errno.h>
#include <regex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATTERN_BYTES 4096
/* Program counters kept on the stack per match; larger programs allocate. */
#define STACK_PCS 256

enum op {
	OP_CHAR,  /* one code unit c */
	OP_SEG,   /* [^/] */
	OP_DOT,   /* Java's '.': anything but \n \r U+0085 U+2028 U+2029 */
	OP_CLASS, /* ranges[x .. x+y), negated if c */
	OP_SPLIT, /* try x and y */
	OP_JMP,   /* go to x */
	OP_MATCH,
};

struct inst {
	uint8_t op;
	uint32_t c;
	uint32_t x, y;
};

struct range {
	uint32_t lo, hi;
};

struct kwg_glob {
	bool is_regex;
	regex_t re;
	struct inst *prog;
	size_t n_prog, cap_prog;
	struct range *ranges;
	size_t n_ranges, cap_ranges;
};

/* Decodes UTF-8 into code points; an invalid byte becomes U+FFFD. *ret_units is new; its length
 * is returned, -ENOMEM. */
static long to_code_points(const char *s, size_t len, uint32_t **ret_units)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	uint32_t *u = malloc((len + 1) * sizeof(*u));
	size_t n = 0;

	if (!u)
		return -ENOMEM;
	while (p < end) {
		uint32_t cp = *p, min = 0;
		size_t extra = 0;
		if (cp >= 0xf0 && cp < 0xf5) {
			extra = 3;
			cp &= 0x07;
			min = 0x10000;
		} else if (cp >= 0xe0 && cp < 0xf0) {
			extra = 2;
			cp &= 0x0f;
			min = 0x800;
		} else if (cp >= 0xc2 && cp < 0xe0) {
			extra = 1;
			cp &= 0x1f;
			min = 0x80;
		} else if (cp >= 0x80) {
			u[n++] = 0xfffd;
			p++;
			continue;
		}
		if ((size_t)(end - p) <= extra && extra) {
			u[n++] = 0xfffd;
			p++;
			continue;
		}
		size_t i;
		for (i = 1; i <= extra; i++) {
			if ((p[i] & 0xc0) != 0x80)
				break;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (i <= extra || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) {
			u[n++] = 0xfffd;
			p++;
			continue;
		}
		p += extra + 1;
		u[n++] = cp;
	}
	*ret_units = u;
	return (long)n;
}

/* Appends an instruction; its index, or -ENOMEM. */
static long emit(struct kwg_glob *g, enum op op, uint32_t c, uint32_t x, uint32_t y)
{
	if (g->n_prog == g->cap_prog) {
		size_t cap = g->cap_prog ? 2 * g->cap_prog : 64;
		struct inst *p = realloc(g->prog, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		g->prog = p;
		g->cap_prog = cap;
	}
	g->prog[g->n_prog] = (struct inst){.op = (uint8_t)op, .c = c, .x = x, .y = y};
	return (long)g->n_prog++;
}

static int add_range(struct kwg_glob *g, uint32_t lo, uint32_t hi)
{
	if (g->n_ranges == g->cap_ranges) {
		size_t cap = g->cap_ranges ? 2 * g->cap_ranges : 16;
		struct range *r = realloc(g->ranges, cap * sizeof(*r));
		if (!r)
			return -ENOMEM;
		g->ranges = r;
		g->cap_ranges = cap;
	}
	g->ranges[g->n_ranges++] = (struct range){lo, hi};
	return 0;
}

/* `*` or `**`: L: SPLIT L+1, L+3; L+1: one; L+2: JMP L; L+3: */
static int emit_star(struct kwg_glob *g, enum op one)
{
	long l = emit(g, OP_SPLIT, 0, 0, 0);
	if (l < 0 || emit(g, one, 0, 0, 0) < 0 || emit(g, OP_JMP, 0, (uint32_t)l, 0) < 0)
		return -ENOMEM;
	g->prog[l].x = (uint32_t)l + 1;
	g->prog[l].y = (uint32_t)g->n_prog;
	return 0;
}

struct parser {
	struct kwg_glob *g;
	const uint32_t *u;
	size_t n, i;
	const char *pattern; /* for errors */
	struct kwg_err *err;
};

static uint32_t next_unit(const struct parser *p)
{
	return p->i < p->n ? p->u[p->i] : 0;
}

static int syntax_error(struct parser *p, const char *what)
{
	return kwg_err_set(p->err, -EINVAL, "glob '%.200s': %s near index %zu", p->pattern, what,
	                   p->i);
}

/* After '[': the class up to its ']' (Globs: `!` first negates, `-` first or after `!` is
 * literal, a leading `^` is literal, `a-z` ranges, '/' is an error, `\` and `[` are literal).
 * As in Java, a leading literal `^` or `-` cannot start a range: `[--a]` is an invalid range. */
static int parse_class(struct parser *p)
{
	struct kwg_glob *g = p->g;
	size_t first = g->n_ranges;
	bool negated = false, has_range_start = false, closed = false;
	uint32_t last = 0;
	int r;

	if (next_unit(p) == '^') {
		/* Java escapes it: a literal '^', and no '!' or '-' check after it */
		if ((r = add_range(g, '^', '^')) < 0)
			return r;
		p->i++;
	} else {
		if (next_unit(p) == '!' && p->i < p->n) {
			negated = true;
			p->i++;
		}
		if (next_unit(p) == '-' && p->i < p->n) {
			if ((r = add_range(g, '-', '-')) < 0)
				return r;
			p->i++;
		}
	}
	while (p->i < p->n) {
		uint32_t c = p->u[p->i++];
		if (c == ']') {
			closed = true;
			break;
		}
		if (c == '/')
			return syntax_error(p, "explicit 'name separator' in class");
		if (c != '-') {
			if ((r = add_range(g, c, c)) < 0)
				return r;
			has_range_start = true;
			last = c;
			continue;
		}
		if (!has_range_start)
			return syntax_error(p, "invalid range");
		/* the '-' is taken: [a-] is 'a' or '-' */
		if ((r = add_range(g, '-', '-')) < 0)
			return r;
		uint32_t hi = next_unit(p);
		if (p->i >= p->n)
			break;
		p->i++;
		if (hi == ']') {
			closed = true;
			break;
		}
		/* Java compares UTF-16 units here: after a supplementary character the last unit is
		 * a low surrogate, above any high surrogate or BMP letter, so such a start is
		 * always an invalid range; a supplementary end compares as its code point. */
		if (hi < last || last > 0xffff)
			return syntax_error(p, "invalid range");
		/* the range replaces the single 'last' and the '-' added above */
		g->n_ranges -= 2;
		if ((r = add_range(g, last, hi)) < 0)
			return r;
		has_range_start = false;
	}
	if (!closed)
		return syntax_error(p, "missing ']'");
	if (g->n_ranges == first)
		/* Java: "[[^/]&&[]]" and "[[^/]&&[^]]" do not compile (an unclosed class) */
		return syntax_error(p, "empty class");
	return emit(g, OP_CLASS, negated, (uint32_t)first, (uint32_t)(g->n_ranges - first)) < 0
	           ? -ENOMEM
	           : 0;
}

/* Inside a group: patches the JMPs of the finished alternatives to the group's end. */
struct group {
	bool open;
	size_t split;   /* the SPLIT in front of the current alternative */
	uint32_t *jmps; /* the JMP of each finished alternative */
	size_t n_jmps;
};

static int group_open(struct parser *p, struct group *grp)
{
	long s = emit(p->g, OP_SPLIT, 0, 0, 0);

	if (s < 0)
		return -ENOMEM;
	grp->open = true;
	grp->split = (size_t)s;
	p->g->prog[s].x = (uint32_t)s + 1;
	grp->n_jmps = 0;
	return 0;
}

/* ',' in a group: JMP to the end (patched later), then the next alternative's SPLIT. */
static int group_next(struct parser *p, struct group *grp)
{
	long j = emit(p->g, OP_JMP, 0, 0, 0);
	uint32_t *jmps;

	if (j < 0 || !(jmps = realloc(grp->jmps, (grp->n_jmps + 1) * sizeof(*jmps))))
		return -ENOMEM;
	grp->jmps = jmps;
	grp->jmps[grp->n_jmps++] = (uint32_t)j;
	long s = emit(p->g, OP_SPLIT, 0, 0, 0);
	if (s < 0)
		return -ENOMEM;
	p->g->prog[grp->split].y = (uint32_t)s;
	p->g->prog[s].x = (uint32_t)s + 1;
	grp->split = (size_t)s;
	return 0;
}

/* '}': the last alternative's SPLIT has no second way; every JMP lands here. */
static void group_close(struct parser *p, struct group *grp)
{
	struct kwg_glob *g = p->g;

	/* a SPLIT whose two ways are the same is a plain fall-through */
	g->prog[grp->split].y = g->prog[grp->split].x;
	for (size_t k = 0; k < grp->n_jmps; k++)
		g->prog[grp->jmps[k]].x = (uint32_t)g->n_prog;
	grp->open = false;
}

static int parse_glob(struct parser *p)
{
	struct group grp = {0};
	int r = 0;

	while (r == 0 && p->i < p->n) {
		uint32_t c = p->u[p->i++];
		switch (c) {
		case '\\':
			if (p->i >= p->n) {
				p->i--;
				r = syntax_error(p, "no character to escape");
				break;
			}
			r = emit(p->g, OP_CHAR, p->u[p->i++], 0, 0) < 0 ? -ENOMEM : 0;
			break;
		case '[':
			r = parse_class(p);
			break;
		case '{':
			if (grp.open) {
				p->i--;
				r = syntax_error(p, "cannot nest groups");
			} else {
				r = group_open(p, &grp);
			}
			break;
		case '}':
			if (grp.open)
				group_close(p, &grp);
			else
				r = emit(p->g, OP_CHAR, c, 0, 0) < 0 ? -ENOMEM : 0;
			break;
		case ',':
			if (grp.open)
				r = group_next(p, &grp);
			else
				r = emit(p->g, OP_CHAR, c, 0, 0) < 0 ? -ENOMEM : 0;
			break;
		case '*':
			if (next_unit(p) == '*' && p->i < p->n) {
				p->i++;
				r = emit_star(p->g, OP_DOT);
			} else {
				r = emit_star(p->g, OP_SEG);
			}
			break;
		case '?':
			r = emit(p->g, OP_SEG, 0, 0, 0) < 0 ? -ENOMEM : 0;
			break;
		default:
			r = emit(p->g, OP_CHAR, c, 0, 0) < 0 ? -ENOMEM : 0;
			break;
		}
	}
	if (r == 0 && grp.open)
		r = syntax_error(p, "missing '}'");
	if (r == 0)
		r = emit(p->g, OP_MATCH, 0, 0, 0) < 0 ? -ENOMEM : 0;
	free(grp.jmps);
	return r;
}

/* glibc's regcomp takes time and memory exponential in some inputs that Java rejects or
 * compiles lazily: runs of quantifiers ("a***", which Java calls a dangling metacharacter) and
 * nested counted repetitions ("((a{255}){255}){255}", which glibc expands into copies). This
 * estimates the size of the expanded expression and refuses what would pass MAX_REGEX_NODES. */
#define MAX_REGEX_NODES 20000
#define MAX_REGEX_DEPTH 32

/* "{n}", "{n,}", "{n,m}" at p: the largest count (n when unbounded) and the length; 0 if p is
 * not a bound (then '{' is a literal). */
static size_t parse_bound(const char *p, size_t *ret_max)
{
	const char *q = p + 1;
	size_t n = 0, m = 0;
	bool has_m = false;

	while (*q >= '0' && *q <= '9' && n < 100000)
		n = n * 10 + (size_t)(*q++ - '0');
	if (q == p + 1)
		return 0;
	if (*q == ',') {
		q++;
		while (*q >= '0' && *q <= '9' && m < 100000) {
			m = m * 10 + (size_t)(*q++ - '0');
			has_m = true;
		}
	}
	if (*q != '}')
		return 0;
	*ret_max = has_m && m > n ? m : n;
	return (size_t)(q - p) + 1;
}

/* After '[' at p: the length of the bracket expression ("[]a]", "[^]a]", "[[:alpha:]]"). */
static size_t bracket_len(const char *p)
{
	const char *q = p + 1;

	if (*q == '^')
		q++;
	if (*q == ']')
		q++;
	while (*q && *q != ']') {
		if (*q == '[' && (q[1] == ':' || q[1] == '.' || q[1] == '=')) {
			const char *end = strchr(q + 2, q[1]);
			q = end && end[1] == ']' ? end + 2 : q + 1;
		} else {
			q++;
		}
	}
	return *q ? (size_t)(q - p) + 1 : (size_t)(q - p);
}

static int check_regex(const char *re, struct kwg_err *err)
{
	size_t group[MAX_REGEX_DEPTH + 1] = {0}, depth = 0, last = 0, quantifiers = 0;

	for (const char *p = re; *p;) {
		size_t len = 1, bound = 0, blen;
		char c = *p;
		if (c == '*' || c == '+' || c == '?' ||
		    (c == '{' && (blen = parse_bound(p, &bound)))) {
			/* Java takes one '?' or '+' after a quantifier (lazy, possessive) and
			 * nothing else */
			if (quantifiers && (quantifiers > 1 || c == '*' || c == '{'))
				return kwg_err_set(
				    err, -EINVAL,
				    "regex '%.200s': dangling quantifier at index %zu", re,
				    (size_t)(p - re));
			quantifiers++;
			if (c == '{') {
				len = blen;
				if (bound > MAX_REGEX_NODES || last * bound > MAX_REGEX_NODES)
					goto too_big;
				group[depth] += last * bound;
				last *= bound + 1;
				if (group[depth] > MAX_REGEX_NODES)
					goto too_big;
			}
			p += len;
			continue;
		}
		quantifiers = 0;
		if (c == '(') {
			if (depth == MAX_REGEX_DEPTH)
				goto too_big;
			group[++depth] = 0;
			p++;
			continue;
		}
		if (c == ')' && depth > 0) {
			last = group[depth--] + 1;
			group[depth] += last;
		} else {
			if (c == '\\' && p[1])
				len = 2;
			else if (c == '[')
				len = bracket_len(p);
			last = 1;
			group[depth] += 1;
		}
		if (group[depth] > MAX_REGEX_NODES)
			goto too_big;
		p += len;
	}
	return 0;
too_big:
	return kwg_err_set(err, -EINVAL,
	                   "regex '%.200s': too complex (over %d nodes once expanded)", re,
	                   MAX_REGEX_NODES);
}

static int compile_regex(struct kwg_glob *g, const char *re, struct kwg_err *err)
{
	char msg[128];
	int rc;

	rc = check_regex(re, err);
	if (rc < 0)
		return rc;

	/* Compiled alone first: only a balanced expression may be wrapped in "^(…)$". */
	rc = regcomp(&g->re, re, REG_EXTENDED | REG_NOSUB);
	if (rc == 0) {
		size_t n = strlen(re) + 5;
		char *wrapped = malloc(n);
		regfree(&g->re);
		if (!wrapped)
			return -ENOMEM;
		(void)snprintf(wrapped, n, "^(%s)$", re);
		rc = regcomp(&g->re, wrapped, REG_EXTENDED | REG_NOSUB);
		free(wrapped);
	}
	if (rc == REG_ESPACE)
		return -ENOMEM;
	if (rc != 0) {
		(void)regerror(rc, NULL, msg, sizeof(msg));
		return kwg_err_set(err, -EINVAL, "regex '%.200s': %s", re, msg);
	}
	g->is_regex = true;
	return 0;
}

int kwg_glob_compile(const char *pattern, struct kwg_glob **ret, struct kwg_err *err)
{
	struct kwg_glob *g;
	size_t len = strlen(pattern);
	int r;

	if (len > MAX_PATTERN_BYTES)
		return kwg_err_set(err, -EINVAL, "pattern '%.64s…' is longer than %d bytes",
		                   pattern, MAX_PATTERN_BYTES);
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	if (strncmp(pattern, "regex:", 6) == 0) {
		r = compile_regex(g, pattern + 6, err);
	} else {
		const char *glob = strncmp(pattern, "glob:", 5) == 0 ? pattern + 5 : pattern;
		uint32_t *u = NULL;
		long n = to_code_points(glob, strlen(glob), &u);
		if (n < 0) {
			r = (int)n;
		} else {
			struct parser p = {
			    .g = g, .u = u, .n = (size_t)n, .pattern = pattern, .err = err};
			r = parse_glob(&p);
		}
		free(u);
	}
	if (r < 0) {
		kwg_glob_free(g);
		return r;
	}
	*ret = g;
	return 0;
}

static bool class_has(const struct kwg_glob *g, const struct inst *in, uint32_t c)
{
	bool in_set = false;

	if (c == '/')
		return false;
	for (uint32_t k = 0; k < in->y && !in_set; k++) {
		const struct range *r = &g->ranges[in->x + k];
		in_set = c >= r->lo && c <= r->hi;
	}
	return in_set != (in->c != 0);
}

static bool step_ok(const struct kwg_glob *g, const struct inst *in, uint32_t c)
{
	switch (in->op) {
	case OP_CHAR:
		return c == in->c;
	case OP_SEG:
		return c != '/';
	case OP_DOT:
		return c != '\n' && c != '\r' && c != 0x85 && c != 0x2028 && c != 0x2029;
	case OP_CLASS:
		return class_has(g, in, c);
	default:
		return false;
	}
}

/* The set of consuming instructions (and MATCH) reachable from pc through SPLIT/JMP, added to
 * list (each at most once per step: mark[pc] == gen). stack has room for n_prog entries. */
static void add_thread(const struct kwg_glob *g, uint32_t pc, uint32_t *list, size_t *n,
                       uint32_t *mark, uint32_t gen, uint32_t *stack)
{
	size_t sp = 0;

	stack[sp++] = pc;
	while (sp) {
		pc = stack[--sp];
		if (mark[pc] == gen)
			continue;
		mark[pc] = gen;
		const struct inst *in = &g->prog[pc];
		if (in->op == OP_JMP) {
			stack[sp++] = in->x;
		} else if (in->op == OP_SPLIT) {
			/* each pc is pushed at most once per generation unmarked: sp stays bounded
			 * by the number of SPLIT/JMP edges, at most 2 per instruction */
			stack[sp++] = in->y;
			stack[sp++] = in->x;
		} else {
			list[(*n)++] = pc;
		}
	}
}

static bool match_prog(const struct kwg_glob *g, const uint32_t *u, size_t len)
{
	size_t np = g->n_prog;
	uint32_t small[5 * STACK_PCS];
	uint32_t *mem = np <= STACK_PCS ? small : malloc(5 * np * sizeof(*mem));
	bool matched = false;

	if (!mem)
		return false;
	/* cur, next: np each; mark: np; stack: 2 np */
	uint32_t *cur = mem, *next = mem + np, *mark = mem + 2 * np, *stack = mem + 3 * np;
	size_t n_cur = 0, n_next;
	uint32_t gen = 1;

	memset(mark, 0, np * sizeof(*mark));
	add_thread(g, 0, cur, &n_cur, mark, gen, stack);
	for (size_t i = 0; i < len && n_cur; i++) {
		gen++;
		n_next = 0;
		for (size_t k = 0; k < n_cur; k++) {
			const struct inst *in = &g->prog[cur[k]];
			if (step_ok(g, in, u[i]))
				add_thread(g, cur[k] + 1, next, &n_next, mark, gen, stack);
		}
		uint32_t *t = cur;
		cur = next;
		next = t;
		n_cur = n_next;
	}
	for (size_t k = 0; k < n_cur && !matched; k++)
		matched = g->prog[cur[k]].op == OP_MATCH;
	if (mem != small)
		free(mem);
	return matched;
}

bool kwg_glob_match(const struct kwg_glob *g, const char *path)
{
	uint32_t *u = NULL;
	long n;
	bool matched;

	if (g->is_regex)
		return regexec(&g->re, path, 0, NULL, 0) == 0;
	n = to_code_points(path, strlen(path), &u);
	if (n < 0)
		return false;
	matched = match_prog(g, u, (size_t)n);
	free(u);
	return matched;
}

struct kwg_glob *kwg_glob_free(struct kwg_glob *g)
{
	if (!g)
		return NULL;
	if (g->is_regex)
		regfree(&g->re);
	free(g->prog);
	free(g->ranges);
	free(g);
	return NULL;
}

static bool has_syntax_prefix(const char *pattern)
{
	return strncmp(pattern, "glob:", 5) == 0 || strncmp(pattern, "regex:", 6) == 0;
}

int kwg_glob_compile_output(const char *working_dir, const char *pattern, struct kwg_glob **ret,
                            struct kwg_err *err)
{
	char *full;
	size_t n;
	int r;

	if (has_syntax_prefix(pattern))
		return kwg_glob_compile(pattern, ret, err);
	/* KESTRA: basePath + (p starts with "/" ? p : "/" + p); the working dir is itself read as
	 * a glob, as in Java */
	/* as Java's Path.toString(): no trailing '/' on the working dir */
	size_t wd_len = strlen(working_dir);
	while (wd_len > 1 && working_dir[wd_len - 1] == '/')
		wd_len--;
	n = strlen("glob:") + wd_len + 1 + strlen(pattern) + 1;
	full = malloc(n);
	if (!full)
		return -ENOMEM;
	(void)snprintf(full, n, "glob:%.*s%s%s", (int)wd_len, working_dir,
	               pattern[0] == '/' ? "" : "/", pattern);
	r = kwg_glob_compile(full, ret, err);
	free(full);
	return r;
}

static bool is_word(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_';
}

int kwg_glob_compile_namespace(const char *pattern, struct kwg_glob **ret, struct kwg_err *err)
{
	char *full;
	size_t n;
	int r;

	/* KESTRA: a pattern matching \w+[\s\S]* (a word character first; "glob:" and "regex:"
	 * start with one too, but are checked first) becomes "glob:**" "/" pattern */
	if (has_syntax_prefix(pattern) || !is_word(pattern[0]))
		return kwg_glob_compile(pattern, ret, err);
	n = strlen(pattern) + 4;
	full = malloc(n);
	if (!full)
		return -ENOMEM;
	(void)snprintf(full, n, "**/%s", pattern);
	r = kwg_glob_compile(full, ret, err);
	free(full);
	return r;
}
