/* SPDX-License-Identifier: Apache-2.0 */
/* protocol/sql_table: the queue table's name (kestra_queue_table) checked, quoted, and the
 * statements built for it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/buf.h"
#include "protocol/sql.h"
#include "protocol/sql2.h"
#include "protocol/sql_table.h"

static void expect_refused(const char *name, const char *says)
{
	struct kwg_err err = {{0}};

	if (kwg_sql_table_check(name, &err) != -EINVAL)
		fail_msg("'%s' was accepted", name ? name : "(null)");
	if (!strstr(err.msg, says))
		fail_msg("'%s': '%s' not in '%s'", name ? name : "(null)", says, err.msg);
}

static void test_sql_table_check(void **state)
{
	char long_part[80], ok_part[80];

	(void)state;
	assert_int_equal(kwg_sql_table_check("queues", NULL), 0);
	assert_int_equal(kwg_sql_table_check("kestra_queue", NULL), 0);
	assert_int_equal(kwg_sql_table_check("_Q$1.queues", NULL), 0);
	assert_int_equal(kwg_sql_table_check("Kestra.Queues", NULL), 0);
	memset(ok_part, 'a', 63);
	ok_part[63] = '\0';
	assert_int_equal(kwg_sql_table_check(ok_part, NULL), 0);
	memset(long_part, 'a', 64);
	long_part[64] = '\0';
	expect_refused(long_part, "64 bytes long, PostgreSQL keeps at most 63");
	expect_refused(NULL, "no table name");
	expect_refused("", "empty table name");
	expect_refused(".queues", "empty schema name");
	expect_refused("kestra.", "empty table name");
	expect_refused("a.b.c", "more than one '.'");
	expect_refused("1queues", "must start with a letter or '_'");
	expect_refused("$queues", "must start with a letter or '_'");
	expect_refused("que ues", "not allowed at byte 4");
	expect_refused("queues;drop", "not allowed at byte 7");
	expect_refused("a.q\"x", "not allowed at byte 4");
	expect_refused("kestra.q'x", "'kestra.q'x'");
	expect_refused("qu\xc3\xa9ues", "not allowed at byte 3");
	/* it would end the $$ bodies of the routing scripts */
	expect_refused("q$$x", "has \"$$\" at byte 2");
	expect_refused("s.Q$$", "has \"$$\" at byte 4");
	assert_int_equal(kwg_sql_table_check("q$.x$", NULL), 0);
}

static void expect_quoted(const char *name, const char *want)
{
	struct kwg_buf b;

	kwg_buf_init(&b, 256);
	assert_int_equal(kwg_sql_quote_ident(&b, name), 0);
	assert_string_equal(kwg_buf_str(&b), want);
	kwg_buf_done(&b);
}

static void test_sql_quote_ident(void **state)
{
	struct kwg_buf b;

	(void)state;
	expect_quoted("queues", "\"queues\"");
	expect_quoted("Kestra.Queues", "\"Kestra\".\"Queues\"");
	expect_quoted("a\"b", "\"a\"\"b\"");
	expect_quoted("\"", "\"\"\"\"");
	expect_quoted("", "\"\"");
	kwg_buf_init(&b, 4);
	assert_int_equal(kwg_sql_quote_ident(&b, "queues"), -EMSGSIZE);
	kwg_buf_done(&b);
}

static void test_sql_table_subst(void **state)
{
	char *s;

	(void)state;
	s = kwg_sql_table_subst("SELECT 1 FROM $Q WHERE x = $1 AND y = $Q.c", "\"k\".\"q\"");
	assert_string_equal(s, "SELECT 1 FROM \"k\".\"q\" WHERE x = $1 AND y = \"k\".\"q\".c");
	free(s);
	s = kwg_sql_table_subst("no mark", "\"q\"");
	assert_string_equal(s, "no mark");
	free(s);
}

/* No text kwg sends names queues itself, nor keeps the mark, for any table name. */
static void expect_built(const struct kwg_sql_table *t, const char *name, const char *text)
{
	if (strstr(text, KWG_SQL_TABLE_MARK))
		fail_msg("%s: the mark is left in: %s", name, text);
	if (strstr(text, "FROM queues") || strstr(text, "INTO queues") ||
	    strstr(text, "UPDATE queues") || strstr(text, "ON queues") || strstr(text, "'queues'"))
		fail_msg("%s: names queues itself: %s", name, text);
	(void)t;
}

static void test_sql_table_builds_every_statement(void **state)
{
	struct kwg_sql_table *t = NULL;
	struct kwg_err err = {{0}};
	const char *const *scripts[] = {kwg_sql_routing_install, kwg_sql_routing_uninstall,
	                                kwg_sql_routing_uninstall_requeue, kwg_sql_notify_install,
	                                kwg_sql_notify_uninstall};
	size_t named = 0;
	char **s2;

	(void)state;
	assert_int_equal(kwg_sql_table_new("kestra.kq", &t, &err), 0);
	assert_string_equal(kwg_sql_table_name(t), "kestra.kq");
	assert_string_equal(kwg_sql_table_schema(t), "kestra");
	assert_string_equal(kwg_sql_table_relname(t), "kq");
	assert_string_equal(kwg_sql_table_quoted(t), "\"kestra\".\"kq\"");
	for (const struct kwg_sql_statement *s = kwg_sql_statements; s->name; s++) {
		const char *text = kwg_sql_table_text(t, s->text);
		expect_built(t, s->name, text);
		named += strstr(text, "\"kestra\".\"kq\"") != NULL;
	}
	for (const struct kwg_sql_statement *s = kwg_sql2_statements; s->name; s++) {
		const char *text = kwg_sql_table_text(t, s->text);
		expect_built(t, s->name, text);
		named += strstr(text, "\"kestra\".\"kq\"") != NULL;
	}
	assert_true(named >= 25);
	/* built once: the same text at every call */
	assert_ptr_equal(kwg_sql_table_text(t, KWG_SQL2_CLAIM),
	                 kwg_sql_table_text(t, KWG_SQL2_CLAIM));
	assert_string_equal(kwg_sql_table_text(t, KWG_SQL2_DELETE_CLAIMED),
	                    "DELETE FROM \"kestra\".\"kq\" WHERE \"offset\" = ANY($1::bigint[])");
	assert_string_equal(kwg_sql_table_text(t, KWG_SQL_EMIT_COPY),
	                    "COPY \"kestra\".\"kq\" (\"type\", \"key\", \"value\") FROM STDIN");
	/* a statement that does not name the table comes back as it is */
	assert_ptr_equal(kwg_sql_table_text(t, KWG_SQL_INSTANCE_LOCK), KWG_SQL_INSTANCE_LOCK);
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++) {
		const char *const *built = kwg_sql_table_script(t, scripts[i]);
		assert_ptr_not_equal(built, scripts[i]);
		for (size_t j = 0; built[j]; j++)
			expect_built(t, "script", built[j]);
	}
	assert_ptr_equal(kwg_sql_table_script(t, kwg_sql_migration), kwg_sql_migration);
	/* 2.x routing: the queue name and the table */
	s2 = kwg_sql2_routing_install("p__worker_job_event", t);
	assert_non_null(s2);
	for (size_t j = 0; s2[j]; j++)
		expect_built(t, "routing2", s2[j]);
	kwg_sql2_free(s2);
	s2 = kwg_sql2_routing_uninstall("worker_job_event", 1, t);
	assert_non_null(s2);
	for (size_t j = 0; s2[j]; j++)
		expect_built(t, "unrouting2", s2[j]);
	kwg_sql2_free(s2);
	assert_null(kwg_sql2_routing_install("bad name", t));
	t = kwg_sql_table_free(t);
	assert_null(t);
}

static void test_sql_table_new_refuses(void **state)
{
	struct kwg_sql_table *t = NULL;
	struct kwg_err err = {{0}};

	(void)state;
	assert_int_equal(kwg_sql_table_new("x;y", &t, &err), -EINVAL);
	assert_null(t);
	assert_non_null(strstr(err.msg, "'x;y'"));
	assert_null(kwg_sql_table_free(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sql_table_check),
	    cmocka_unit_test(test_sql_quote_ident),
	    cmocka_unit_test(test_sql_table_subst),
	    cmocka_unit_test(test_sql_table_builds_every_statement),
	    cmocka_unit_test(test_sql_table_new_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
