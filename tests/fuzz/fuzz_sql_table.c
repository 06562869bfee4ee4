/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the queue table's name (protocol/sql_table.c, kestra_queue_table, from the operator's
 * configuration): checked, and when accepted, quoted and every statement built for it. An
 * accepted name never holds "$$" (the scripts' dollar-quoted bodies), its quoted form is the
 * parts in double quotes, and each built text is its template with each mark replaced once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"
#include "protocol/sql.h"
#include "protocol/sql_table.h"

static size_t marks(const char *s)
{
	size_t n = 0;

	for (const char *m = strstr(s, KWG_SQL_TABLE_MARK); m;
	     m = strstr(m + 2, KWG_SQL_TABLE_MARK))
		n++;
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kwg_sql_table *t = NULL;
	struct kwg_err err = {{0}};
	struct kwg_buf b;
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* Quoting takes any text (the check is the gate). */
	kwg_buf_init(&b, 4 * size + 8);
	kwg_assert(kwg_sql_quote_ident(&b, text) == 0);
	kwg_buf_done(&b);
	if (kwg_sql_table_new(text, &t, &err) == 0) {
		const char *q = kwg_sql_table_quoted(t);
		size_t qlen = strlen(q);
		kwg_assert(q[0] == '"' && q[qlen - 1] == '"' && !strstr(q, "$$"));
		for (const struct kwg_sql_statement *s = kwg_sql_statements; s->name; s++)
			kwg_assert(strlen(kwg_sql_table_text(t, s->text)) ==
			           strlen(s->text) + marks(s->text) * (qlen - 2));
		kwg_sql_table_free(t);
	} else {
		kwg_assert(err.msg[0] != '\0');
	}
	free(text);
	return 0;
}
