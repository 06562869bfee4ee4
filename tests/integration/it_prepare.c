/* SPDX-License-Identifier: Apache-2.0 */
/* Prepares every SQL statement kwg sends (protocol/sql.c) on the database named by argv[1], so
 * that a wrong table, column, type or enum label fails the test suite. Blocking libpq: a test. */
#include <libpq-fe.h>
#include <stdio.h>

#include "protocol/sql.h"

int main(int argc, char **argv)
{
	PGconn *conn;
	int failed = 0, n = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: it_prepare CONNINFO\n");
		return 2;
	}
	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "it_prepare: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 2;
	}
	/* schema kwg first, as `kwg migrate` makes it, then the routing as `kwg routing install`
	 * does (twice each: they must be idempotent) */
	for (int pass = 0; pass < 4; pass++) {
		const char *const *script = pass < 2 ? kwg_sql_migration : kwg_sql_routing_install;
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
		PGresult *res = PQprepare(conn, s->name, s->text, 0, NULL);
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
		res = PQexec(conn, KWG_SQL_EMIT_COPY);
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
	PQfinish(conn);
	printf("%d statements prepared, %d failed\n", n, failed);
	return failed ? 1 : 0;
}
