/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/sql_table.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"
#include "protocol/sql.h"
#include "protocol/sql2.h"

/* The scripts of protocol/sql.h that name the queue table. */
static const char *const *const scripts[] = {
    kwg_sql_routing_install, kwg_sql_routing_uninstall, kwg_sql_routing_uninstall_requeue,
    kwg_sql_notify_install,  kwg_sql_notify_uninstall,
};

struct built_script {
	const char *const *tpl;
	char **text; /* NULL-terminated, each string owned */
};

struct kwg_sql_table {
	char *name;    /* as configured */
	char *schema;  /* NULL: unqualified */
	char *relname; /* the table's own name */
	char *quoted;  /* "schema"."relname" or "relname" */
	size_t n;      /* statements that name the table */
	const char **tpl;
	char **text;
	struct built_script scripts[ARRAY_SIZE(scripts)];
};

static bool is_ident_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_ident_char(char c)
{
	return is_ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

/* Checks one part of len bytes; what names it in a message. */
static int check_part(const char *name, const char *p, size_t len, const char *what,
                      struct kwg_err *err)
{
	if (len == 0)
		return kwg_err_set(err, -EINVAL,
		                   "'%.140s' has an empty %s name (expected "
		                   "TABLE or SCHEMA.TABLE)",
		                   name, what);
	if (len > KWG_SQL_IDENT_MAX)
		return kwg_err_set(err, -EINVAL,
		                   "the %s name of '%.140s' is %zu bytes long, "
		                   "PostgreSQL keeps at most %d",
		                   what, name, len, KWG_SQL_IDENT_MAX);
	if (!is_ident_start(p[0]))
		return kwg_err_set(err, -EINVAL,
		                   "the %s name of '%.140s' must start with a "
		                   "letter or '_' (expected [A-Za-z_][A-Za-z0-9_$]*)",
		                   what, name);
	for (size_t i = 1; i < len; i++) {
		if (!is_ident_char(p[i]))
			return kwg_err_set(
			    err, -EINVAL,
			    "'%.140s' has a character that is not allowed at byte %zu "
			    "(expected TABLE or SCHEMA.TABLE, each "
			    "[A-Za-z_][A-Za-z0-9_$]*)",
			    name, (size_t)(p - name) + i + 1);
		/* SECURITY: the name goes into the $$-quoted bodies of the routing scripts' DO
		 * blocks, which "$$" would end. */
		if (p[i] == '$' && p[i - 1] == '$')
			return kwg_err_set(err, -EINVAL,
			                   "'%.140s' has \"$$\" at byte %zu, which kwg cannot "
			                   "quote in its scripts",
			                   name, (size_t)(p - name) + i);
	}
	return 0;
}

int kwg_sql_table_check(const char *name, struct kwg_err *err)
{
	const char *dot;
	int r;

	if (!name)
		return kwg_err_set(err, -EINVAL, "no table name");
	dot = strchr(name, '.');
	if (!dot)
		return check_part(name, name, strlen(name), "table", err);
	r = check_part(name, name, (size_t)(dot - name), "schema", err);
	if (r < 0)
		return r;
	if (strchr(dot + 1, '.'))
		return kwg_err_set(err, -EINVAL,
		                   "'%.140s' has more than one '.' (expected "
		                   "TABLE or SCHEMA.TABLE)",
		                   name);
	return check_part(name, dot + 1, strlen(dot + 1), "table", err);
}

int kwg_sql_quote_ident(struct kwg_buf *b, const char *name)
{
	int r = kwg_buf_putc(b, '"');

	for (const char *p = name; r >= 0 && *p; p++) {
		if (*p == '.')
			r = kwg_buf_puts(b, "\".\"");
		else if (*p == '"')
			r = kwg_buf_puts(b, "\"\"");
		else
			r = kwg_buf_putc(b, *p);
	}
	return r < 0 ? r : kwg_buf_putc(b, '"');
}

char *kwg_sql_table_subst(const char *tpl, const char *quoted)
{
	size_t mark = strlen(KWG_SQL_TABLE_MARK);
	struct kwg_buf b;
	const char *p = tpl, *m;
	int r = 0;

	kwg_buf_init(&b, SIZE_MAX / 2);
	while (r >= 0 && (m = strstr(p, KWG_SQL_TABLE_MARK))) {
		r = kwg_buf_append(&b, p, (size_t)(m - p));
		if (r >= 0)
			r = kwg_buf_puts(&b, quoted);
		p = m + mark;
	}
	if (r >= 0)
		r = kwg_buf_puts(&b, p);
	if (r < 0) {
		kwg_buf_done(&b);
		return NULL;
	}
	return kwg_buf_steal(&b);
}

static bool names_table(const char *tpl)
{
	return strstr(tpl, KWG_SQL_TABLE_MARK) != NULL;
}

/* The constant statements that name the table (those of sql.h, of sql2.h, and COPY, which is in
 * neither list) into out when not NULL; returns their count. */
static size_t each_statement(const char **out)
{
	const struct kwg_sql_statement *const lists[] = {kwg_sql_statements, kwg_sql2_statements};
	size_t n = 0;

	for (size_t l = 0; l < ARRAY_SIZE(lists); l++)
		for (const struct kwg_sql_statement *s = lists[l]; s->name; s++) {
			if (!names_table(s->text))
				continue;
			if (out)
				out[n] = s->text;
			n++;
		}
	if (out)
		out[n] = KWG_SQL_EMIT_COPY;
	return n + 1;
}

static char **build_script(const char *const *tpl, const char *quoted)
{
	size_t n = 0;
	char **out;

	while (tpl[n])
		n++;
	out = calloc(n + 1, sizeof(*out));
	for (size_t i = 0; out && i < n; i++) {
		out[i] = kwg_sql_table_subst(tpl[i], quoted);
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static int split_name(struct kwg_sql_table *t, const char *name)
{
	const char *dot = strchr(name, '.');
	struct kwg_buf q;

	t->name = strdup(name);
	t->schema = dot ? strndup(name, (size_t)(dot - name)) : NULL;
	t->relname = strdup(dot ? dot + 1 : name);
	kwg_buf_init(&q, 2 * strlen(name) + 8);
	if (kwg_sql_quote_ident(&q, name) < 0) {
		kwg_buf_done(&q);
		return -ENOMEM;
	}
	t->quoted = kwg_buf_steal(&q);
	if (!t->name || (dot && !t->schema) || !t->relname || !t->quoted)
		return -ENOMEM;
	return 0;
}

int kwg_sql_table_new(const char *name, struct kwg_sql_table **ret, struct kwg_err *err)
{
	struct kwg_sql_table *t;
	int r = kwg_sql_table_check(name, err);

	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	r = split_name(t, name);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	t->n = each_statement(NULL);
	t->tpl = calloc(t->n, sizeof(*t->tpl));
	t->text = calloc(t->n, sizeof(*t->text));
	if (!t->tpl || !t->text)
		goto fail;
	(void)each_statement(t->tpl);
	for (size_t i = 0; i < t->n; i++) {
		t->text[i] = kwg_sql_table_subst(t->tpl[i], t->quoted);
		if (!t->text[i])
			goto fail;
	}
	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++) {
		t->scripts[i].tpl = scripts[i];
		t->scripts[i].text = build_script(scripts[i], t->quoted);
		if (!t->scripts[i].text)
			goto fail;
	}
	*ret = t;
	return 0;
fail:
	kwg_sql_table_free(t);
	return r;
}

struct kwg_sql_table *kwg_sql_table_free(struct kwg_sql_table *t)
{
	if (!t)
		return NULL;
	for (size_t i = 0; t->text && i < t->n; i++)
		free(t->text[i]);
	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++)
		for (char **s = t->scripts[i].text; s && *s; s++)
			free(*s);
	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++)
		free(t->scripts[i].text);
	free(t->text);
	free(t->tpl);
	free(t->name);
	free(t->schema);
	free(t->relname);
	free(t->quoted);
	free(t);
	return NULL;
}

const char *kwg_sql_table_name(const struct kwg_sql_table *t)
{
	return t->name;
}

const char *kwg_sql_table_schema(const struct kwg_sql_table *t)
{
	return t->schema;
}

const char *kwg_sql_table_relname(const struct kwg_sql_table *t)
{
	return t->relname;
}

const char *kwg_sql_table_quoted(const struct kwg_sql_table *t)
{
	return t->quoted;
}

const char *kwg_sql_table_text(const struct kwg_sql_table *t, const char *tpl)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->tpl[i] == tpl)
			return t->text[i];
	/* A template naming the table that is not in the lists above is a programming error: its
	 * text would reach the server with the mark in it. */
	kwg_assert(!names_table(tpl));
	return tpl;
}

const char *const *kwg_sql_table_script(const struct kwg_sql_table *t, const char *const *script)
{
	for (size_t i = 0; i < ARRAY_SIZE(scripts); i++)
		if (t->scripts[i].tpl == script)
			return (const char *const *)t->scripts[i].text;
	for (const char *const *s = script; *s; s++)
		kwg_assert(!names_table(*s));
	return script;
}
