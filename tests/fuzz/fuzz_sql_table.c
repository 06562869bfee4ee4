/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzzes the queue table's name (protocol/sql_table.c, kestra_queue_table, from the operator's
 * configuration): checked, and when accepted, quoted and every statement built for it. The
 * built texts must not keep the mark, and the quoted name must be the parts in double quotes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"
#include "protocol/sql.h"
#include "protocol/sql_table.h"

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
		kwg_assert(q[0] == '"' && q[strlen(q) - 1] == '"');
		for (const struct kwg_sql_statement *s = kwg_sql_statements; s->name; s++)
			kwg_assert(!strstr(kwg_sql_table_text(t, s->text), KWG_SQL_TABLE_MARK));
		kwg_sql_table_free(t);
	} else {
		kwg_assert(err.msg[0] != '\0');
	}
	free(text);
	return 0;
}
