/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "outbox"
#include "worker/outbox.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/log.h"
#include "protocol/sql.h"
#include "worker/pg.h"

#define BATCH_MAX_MESSAGES 1000
#define BATCH_MAX_BYTES (8u << 20)
#define HIGH_WATER_BYTES (64u << 20)
#define LOW_WATER_BYTES (16u << 20)

struct msg {
	struct msg *next;
	enum kwg_queue_type type;
	char *key;
	char *value;
	size_t bytes;
};

struct kwg_outbox {
	struct kwg_pg *pg;
	struct msg *head, *tail;
	size_t bytes;
	size_t in_flight; /* messages at the head that the statement in flight carries */
	bool was_congested;
	bool isolate; /* a batch failed: send one message at a time to find the bad one */
	kwg_outbox_event_fn *on_drained;
	void *userdata;
	struct kwg_buf types, keys, values; /* parameter scratch */
};

static void flush(struct kwg_outbox *ob);

static void msg_free(struct msg *m)
{
	free(m->key);
	free(m->value);
	free(m);
}

static void drop_head(struct kwg_outbox *ob)
{
	struct msg *m = ob->head;

	ob->head = m->next;
	if (!ob->head)
		ob->tail = NULL;
	ob->bytes -= m->bytes;
	msg_free(m);
}

static void on_emitted(void *userdata, PGresult *res, const char *error)
{
	struct kwg_outbox *ob = userdata;
	size_t n = ob->in_flight;

	ob->in_flight = 0;
	if (!res) {
		/* Connection lost: the batch was rolled back; it goes again after reconnecting. */
		kwg_log_debug("batch of %zu messages not written (%s), will retry", n, error);
		return;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		if (n > 1) {
			kwg_log_warning(
			    "a batch of %zu messages was refused (%s); retrying one by one", n,
			    kwg_pg_result_error(res));
			ob->isolate = true;
		} else {
			kwg_log_error("%s message '%s' was refused by the database and is lost: %s",
			              kwg_queue_type_label(ob->head->type), ob->head->key,
			              kwg_pg_result_error(res));
			drop_head(ob);
		}
		flush(ob);
		return;
	}
	for (size_t i = 0; i < n; i++)
		drop_head(ob);
	if (ob->isolate && n == 1)
		ob->isolate = ob->head != NULL;
	if (ob->was_congested && ob->bytes < LOW_WATER_BYTES) {
		ob->was_congested = false;
		ob->on_drained(ob->userdata);
	} else if (!ob->head) {
		ob->on_drained(ob->userdata);
	}
	flush(ob);
}

static void flush(struct kwg_outbox *ob)
{
	const char *params[3];
	size_t n = 0, bytes = 0, max = ob->isolate ? 1 : BATCH_MAX_MESSAGES;
	const char *types[BATCH_MAX_MESSAGES], *keys[BATCH_MAX_MESSAGES];
	const char **values = NULL;
	int r;

	if (ob->in_flight || !ob->head || !kwg_pg_is_connected(ob->pg))
		return;
	values = malloc(max * sizeof(*values));
	if (!values)
		return;
	for (struct msg *m = ob->head;
	     m && n < max && (n == 0 || bytes + m->bytes <= BATCH_MAX_BYTES); m = m->next, n++) {
		types[n] = kwg_queue_type_label(m->type);
		keys[n] = m->key;
		values[n] = m->value;
		bytes += m->bytes;
	}
	kwg_buf_clear(&ob->types);
	kwg_buf_clear(&ob->keys);
	kwg_buf_clear(&ob->values);
	r = kwg_sql_text_array(&ob->types, types, n);
	if (r >= 0)
		r = kwg_sql_text_array(&ob->keys, keys, n);
	if (r >= 0)
		r = kwg_sql_text_array(&ob->values, values, n);
	free(values);
	params[0] = kwg_buf_str(&ob->types);
	params[1] = kwg_buf_str(&ob->keys);
	params[2] = kwg_buf_str(&ob->values);
	if (r >= 0)
		r = kwg_pg_query(ob->pg, KWG_SQL_EMIT, 3, params, on_emitted, ob);
	if (r < 0) {
		kwg_log_errno(KWG_LOG_ERROR, r, "cannot send %zu messages now, will retry", n);
		return;
	}
	ob->in_flight = n;
}

static void on_pg_state(void *userdata, bool connected)
{
	if (connected)
		flush(userdata);
}

int kwg_outbox_new(uv_loop_t *loop, const char *conninfo, kwg_outbox_event_fn *on_drained,
                   void *userdata, struct kwg_outbox **ret)
{
	struct kwg_outbox *ob = calloc(1, sizeof(*ob));
	int r;

	if (!ob)
		return -ENOMEM;
	ob->on_drained = on_drained;
	ob->userdata = userdata;
	/* Escaping can double a value; a batch holds at most BATCH_MAX_BYTES plus one message. */
	kwg_buf_init(&ob->types, SIZE_MAX / 4);
	kwg_buf_init(&ob->keys, SIZE_MAX / 4);
	kwg_buf_init(&ob->values, SIZE_MAX / 4);
	r = kwg_pg_new(loop, conninfo, "outbox", on_pg_state, ob, &ob->pg);
	if (r < 0) {
		free(ob);
		return r;
	}
	kwg_pg_start(ob->pg);
	*ret = ob;
	return 0;
}

void kwg_outbox_push(struct kwg_outbox *ob, enum kwg_queue_type type, const char *key, char *value)
{
	struct msg *m = calloc(1, sizeof(*m));

	if (m)
		m->key = strdup(key);
	if (!m || !m->key) {
		kwg_log_error("out of memory: %s message '%s' is lost", kwg_queue_type_label(type),
		              key);
		free(m);
		free(value);
		return;
	}
	m->type = type;
	m->value = value;
	m->bytes = strlen(value) + strlen(key) + 64;
	if (ob->tail)
		ob->tail->next = m;
	else
		ob->head = m;
	ob->tail = m;
	ob->bytes += m->bytes;
	if (ob->bytes > HIGH_WATER_BYTES)
		ob->was_congested = true;
	flush(ob);
}

bool kwg_outbox_congested(const struct kwg_outbox *ob)
{
	return ob->bytes > HIGH_WATER_BYTES;
}

bool kwg_outbox_empty(const struct kwg_outbox *ob)
{
	return !ob->head;
}

size_t kwg_outbox_bytes(const struct kwg_outbox *ob)
{
	return ob->bytes;
}

void kwg_outbox_close(struct kwg_outbox *ob)
{
	size_t lost = 0;

	if (!ob)
		return;
	kwg_pg_close(ob->pg, NULL, NULL);
	while (ob->head) {
		lost++;
		drop_head(ob);
	}
	if (lost)
		kwg_log_error("%zu messages were not written before exit and are lost", lost);
	kwg_buf_done(&ob->types);
	kwg_buf_done(&ob->keys);
	kwg_buf_done(&ob->values);
	free(ob);
}
