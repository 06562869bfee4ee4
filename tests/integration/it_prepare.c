/* SPDX-License-Identifier: Apache-2.0 */
/* Prepares every SQL statement kwg sends (protocol/sql.c) on the database named by argv[1], so
 * that a wrong table, column, type or enum label fails the test suite; with --table NAME, the
 * texts built for a queue table of that name (kestra_queue_table, protocol/sql_table.h). Blocking
 * libpq: a test. */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "protocol/sql.h"
#include "protocol/sql2.h"
#include "protocol/sql_table.h"

static struct kwg_sql_table *table;

static const char *text(const char *tpl)
{
	return kwg_sql_table_text(table, tpl);
}

/* The statements of protocol/sql.c that kwg also sends to a Kestra 2.x database. */
static const char *const shared_with_gen2[] = {
    "kestra_schema", "running_upsert",  "instance_lock",   "instance_upsert", "group_upsert",
    "group_delete",  "group_set_flags", "maintenance_set", "workers",         NULL,
};

static int exec_script(PGconn *conn, char **script)
{
	int failed = 0;

	for (char **m = script; m && *m; m++) {
		PGresult *res = PQexec(conn, *m);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "FAIL script: %s", PQresultErrorMessage(res));
			failed++;
		}
		PQclear(res);
	}
	return script ? failed : 1;
}

static int prepare(PGconn *conn, const char *name, const char *text)
{
	PGresult *res = PQprepare(conn, name, text, 0, NULL);
	int failed = PQresultStatus(res) != PGRES_COMMAND_OK;

	if (failed)
		fprintf(stderr, "FAIL %s: %s", name, PQresultErrorMessage(res));
	else
		printf("ok   %s\n", name);
	PQclear(res);
	return failed;
}

/* A Kestra 2.x database (kestra_gen2.sql): schema kwg, the 2.x routing installed twice, removed
 * with --requeue and installed again (each script must be idempotent), then every statement of
 * protocol/sql2.c and the shared ones. */
static int gen2(PGconn *conn)
{
	int failed = 0, n = 0;
	char **s;

	for (int pass = 0; pass < 2; pass++)
		for (const char *const *m = kwg_sql_migration; *m; m++) {
			PGresult *res = PQexec(conn, *m);
			failed += PQresultStatus(res) != PGRES_COMMAND_OK;
			PQclear(res);
		}
	for (int pass = 0; pass < 4; pass++) {
		s = pass == 2 ? kwg_sql2_routing_uninstall("worker_job_event", 1, table)
		              : kwg_sql2_routing_install("worker_job_event", table);
		failed += exec_script(conn, s);
		kwg_sql2_free(s);
	}
	for (const struct kwg_sql_statement *st = kwg_sql2_statements; st->name; st++, n++)
		failed += prepare(conn, st->name, text(st->text));
	for (const struct kwg_sql_statement *st = kwg_sql_statements; st->name; st++)
		for (const char *const *k = shared_with_gen2; *k; k++)
			if (strcmp(*k, st->name) == 0) {
				failed += prepare(conn, st->name, text(st->text));
				n++;
			}
	printf("%d statements prepared, %d failed\n", n, failed);
	return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
	PGconn *conn;
	struct kwg_err err = {{0}};
	const char *name = KWG_SQL_TABLE_DEFAULT;
	bool gen2_db = false;
	int failed = 0, n = 0;

	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--gen2") == 0)
			gen2_db = true;
		else if (strcmp(argv[i], "--table") == 0 && i + 1 < argc)
			name = argv[++i];
		else
			argc = 0;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: it_prepare CONNINFO [--gen2] [--table NAME]\n");
		return 2;
	}
	if (kwg_sql_table_new(name, &table, &err) < 0) {
		fprintf(stderr, "it_prepare: --table: %s\n", err.msg);
		return 2;
	}
	printf("queue table %s\n", kwg_sql_table_quoted(table));
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "it_prepare: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 2;
	}
	if (gen2_db) {
		int r = gen2(conn);
		PQfinish(conn);
		kwg_sql_table_free(table);
		return r;
	}
	/* schema kwg first, as `kwg migrate` makes it, then the routing as `kwg routing install`
	 * does (twice each: they must be idempotent) */
	for (int pass = 0; pass < 4; pass++) {
		const char *const *script =
		    pass < 2 ? kwg_sql_migration
		             : kwg_sql_table_script(table, kwg_sql_routing_install);
		for (const char *const *m = script; *m; m++) {
			PGresult *res = PQexec(conn, *m);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				fprintf(stderr, "FAIL migration: %s", PQresultErrorMessage(res));
				failed++;
			}
			PQclear(res);
		}
	}
	for (const struct kwg_sql_statement *s = kwg_sql_statements; s->name; s++, n++) {
		PGresult *res = PQprepare(conn, s->name, text(s->text), 0, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "FAIL %s: %s", s->name, PQresultErrorMessage(res));
			failed++;
		} else {
			printf("ok   %s\n", s->name);
		}
		PQclear(res);
	}
	/* COPY cannot be prepared: it runs here with no rows, in a transaction rolled back. */
	{
		PGresult *res = PQexec(conn, "BEGIN");
		PQclear(res);
		res = PQexec(conn, text(KWG_SQL_EMIT_COPY));
		if (PQresultStatus(res) == PGRES_COPY_IN) {
			PQclear(res);
			res = NULL;
			if (PQputCopyEnd(conn, NULL) == 1)
				res = PQgetResult(conn);
		}
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "FAIL emit_copy: %s",
			        res ? PQresultErrorMessage(res) : PQerrorMessage(conn));
			failed++;
		} else {
			printf("ok   emit_copy (run with no rows)\n");
		}
		PQclear(res);
		while ((res = PQgetResult(conn)))
			PQclear(res);
		PQclear(PQexec(conn, "ROLLBACK"));
		n++;
	}
	/* kwg notify's trigger, installed and removed on the table */
	for (int pass = 0; pass < 2; pass++) {
		const char *const *script = kwg_sql_table_script(
		    table, pass == 0 ? kwg_sql_notify_install : kwg_sql_notify_uninstall);
		for (const char *const *m = script; *m; m++) {
			PGresult *res = PQexec(conn, *m);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				fprintf(stderr, "FAIL notify: %s", PQresultErrorMessage(res));
				failed++;
			}
			PQclear(res);
		}
	}
	PQfinish(conn);
	kwg_sql_table_free(table);
	printf("%d statements prepared, %d failed\n", n, failed);
	return failed ? 1 : 0;
}
