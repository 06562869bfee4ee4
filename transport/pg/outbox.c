/* SPDX-License-Identifier: Apache-2.0 */
#define KWG_LOG_MODULE "outbox"
#include "transport/pg/outbox.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/compat.h"
#include "common/log.h"
#include "protocol/sql.h"
#include "protocol/sql2.h"
#include "protocol/sql_table.h"
#include "transport/pg/pg.h"

#define BATCH_MAX_MESSAGES 1000
#define BATCH_MAX_BYTES (8u << 20)
/* Past this many bytes in memory, new messages go to the spill file (in order, after the ones in
 * memory); past SPILL_MAX_BYTES there, producers are asked to pause. */
#define MEMORY_MAX_BYTES (16u << 20)
#define REFILL_BYTES (8u << 20)
#define SPILL_MAX_BYTES ((off_t)1 << 30)

/* In the spill file's type byte: the message ends its task run's worker_job_running record. */
#define SPILL_END_RUNNING 0x80

struct msg {
	struct msg *next;
	enum kwg_queue_type type;
	bool end_running; /* Kestra 2.x: a terminal result; its record goes with it */
	char *key;
	char *value;
	size_t bytes;
};

struct kwg_outbox {
	struct kwg_pg *pg;
	const struct kwg_sql_table *sql; /* the statements for the queue table: borrowed */
	struct msg *head, *tail;
	size_t bytes;
	size_t in_flight; /* messages at the head that the statement in flight carries */
	bool was_congested;
	bool isolate;   /* a batch failed: send one message at a time to find the bad one */
	bool ambiguous; /* the connection was lost during a batch: it may have been written */
	/* Spill file: records "type(1) key length(4) value length(4) key value", written at
	 * spill_end, read back from spill_start. An unlinked file in the spill directory. */
	char *spill_dir;
	int spill_fd;
	off_t spill_start, spill_end;
	bool spill_failed; /* the file could not be created: memory only */
	bool spill_error;  /* the last write to it failed (said once, until one succeeds) */
	/* Messages newer than the spill file's that it could not take (a write failed, e.g. its
	 * filesystem is full, or it reached SPILL_MAX_BYTES): they wait here, in order, and join
	 * the memory queue once the file has been read back. */
	struct msg *over_head, *over_tail;
	size_t over_bytes;
	kwg_outbox_event_fn *on_drained;
	void *userdata;
	struct kwg_buf types, keys, values, ends; /* parameter scratch */
	/* Kestra 2.x: queue names per type (kwg_outbox_set_gen2); every batch goes through
	 * KWG_SQL2_EMIT, which also deletes the records of the task runs that ended. */
	bool gen2;
	char names[KWG_QUEUE_TYPE__COUNT][KWG_QUEUE_NAME_MAX + 1];
};

static void flush(struct kwg_outbox *ob);

static const char *type_name(const struct kwg_outbox *ob, enum kwg_queue_type t)
{
	return ob->gen2 && t < KWG_QUEUE_TYPE__COUNT ? ob->names[t] : kwg_queue_type_label(t);
}

static void msg_free(struct msg *m)
{
	free(m->key);
	free(m->value);
	free(m);
}

static void memory_append(struct kwg_outbox *ob, struct msg *m)
{
	if (ob->tail)
		ob->tail->next = m;
	else
		ob->head = m;
	ob->tail = m;
	ob->bytes += m->bytes;
}

static void over_append(struct kwg_outbox *ob, struct msg *m)
{
	if (ob->over_tail)
		ob->over_tail->next = m;
	else
		ob->over_head = m;
	ob->over_tail = m;
	ob->over_bytes += m->bytes;
}

static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Appends m to the spill file (m is freed on success). The file is opened on first use. */
static int spill_append(struct kwg_outbox *ob, struct msg *m)
{
	uint32_t klen = (uint32_t)strlen(m->key), vlen = (uint32_t)strlen(m->value);
	unsigned char head[9];
	int r;

	if (ob->spill_failed || ob->spill_end > SPILL_MAX_BYTES)
		return -ENOSPC;
	if (ob->spill_fd < 0) {
		ob->spill_fd = open(ob->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (ob->spill_fd < 0) {
			ob->spill_failed = true;
			return kwg_log_errno(
			    KWG_LOG_ERROR, -errno,
			    "cannot create a spill file in '%s'; messages stay in "
			    "memory and task output is paused while the database is away",
			    ob->spill_dir);
		}
		kwg_log_warning(
		    "the database is not keeping up: messages now spill to a file in '%s'",
		    ob->spill_dir);
	}
	head[0] = (unsigned char)((unsigned)m->type | (m->end_running ? SPILL_END_RUNNING : 0));
	memcpy(head + 1, &klen, 4);
	memcpy(head + 5, &vlen, 4);
	r = write_all(ob->spill_fd, head, sizeof(head), ob->spill_end);
	if (r >= 0)
		r = write_all(ob->spill_fd, m->key, klen, ob->spill_end + 9);
	if (r >= 0)
		r = write_all(ob->spill_fd, m->value, vlen, ob->spill_end + 9 + klen);
	if (r < 0) {
		if (!ob->spill_error)
			kwg_log_warning("the spill file in '%s' cannot grow (%s); messages wait in "
			                "memory, task output waits past %u MiB, until the database "
			                "takes them",
			                ob->spill_dir, strerror(-r), MEMORY_MAX_BYTES >> 20);
		ob->spill_error = true;
		return r;
	}
	if (ob->spill_error)
		kwg_log_notice("the spill file in '%s' takes messages again", ob->spill_dir);
	ob->spill_error = false;
	ob->spill_end += 9 + klen + vlen;
	msg_free(m);
	return 0;
}

static int read_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Moves spilled messages back into memory, oldest first, while memory has room; once the file
 * is read back, the messages that waited behind it follow. */
static void spill_refill(struct kwg_outbox *ob)
{
	while (ob->spill_start < ob->spill_end && ob->bytes < REFILL_BYTES) {
		unsigned char head[9];
		uint32_t klen, vlen;
		struct msg *m = calloc(1, sizeof(*m));
		int r = m ? read_all(ob->spill_fd, head, sizeof(head), ob->spill_start) : -ENOMEM;
		if (r >= 0) {
			memcpy(&klen, head + 1, 4);
			memcpy(&vlen, head + 5, 4);
			m->type = (enum kwg_queue_type)(head[0] & ~SPILL_END_RUNNING);
			m->end_running = (head[0] & SPILL_END_RUNNING) != 0;
			m->key = malloc(klen + 1);
			m->value = malloc(vlen + 1);
			r = m->key && m->value ? 0 : -ENOMEM;
		}
		if (r >= 0)
			r = read_all(ob->spill_fd, m->key, klen, ob->spill_start + 9);
		if (r >= 0)
			r = read_all(ob->spill_fd, m->value, vlen, ob->spill_start + 9 + klen);
		if (r < 0) {
			/* Try again later: nothing is skipped. */
			kwg_log_errno(KWG_LOG_ERROR, r, "reading the spill file failed");
			if (m)
				msg_free(m);
			return;
		}
		m->key[klen] = m->value[vlen] = '\0';
		m->bytes = klen + vlen + 64;
		ob->spill_start += 9 + klen + vlen;
		memory_append(ob, m);
	}
	if (ob->spill_fd >= 0 && ob->spill_start == ob->spill_end && ob->spill_end > 0) {
		if (ftruncate(ob->spill_fd, 0) < 0)
			kwg_log_warning(
			    "cannot shrink the spill file (%s); it is reused from the start",
			    strerror(errno));
		ob->spill_start = ob->spill_end = 0;
		kwg_log_notice("the spill file is empty again");
	}
	if (ob->spill_start == ob->spill_end && ob->over_head) {
		if (ob->tail)
			ob->tail->next = ob->over_head;
		else
			ob->head = ob->over_head;
		ob->tail = ob->over_tail;
		ob->bytes += ob->over_bytes;
		ob->over_head = ob->over_tail = NULL;
		ob->over_bytes = 0;
	}
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
		/* Connection lost: the batch may or may not have been committed. It goes again
		 * after reconnecting, through the statement that skips rows already written. */
		kwg_log_debug("batch of %zu messages not confirmed (%s), will retry", n, error);
		ob->ambiguous = n > 0;
		return;
	}
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		if (n > 1) {
			kwg_log_warning(
			    "a batch of %zu messages was refused (%s); retrying one by one", n,
			    kwg_pg_result_error(res));
			ob->isolate = true;
		} else {
			kwg_log_error("%s message '%s' was refused by the database and is lost: %s",
			              type_name(ob, ob->head->type), ob->head->key,
			              kwg_pg_result_error(res));
			drop_head(ob);
		}
		flush(ob);
		return;
	}
	for (size_t i = 0; i < n; i++)
		drop_head(ob);
	ob->ambiguous = false;
	if (ob->isolate && n == 1)
		ob->isolate = ob->head != NULL;
	spill_refill(ob);
	if (ob->was_congested && ob->bytes + ob->over_bytes < REFILL_BYTES) {
		ob->was_congested = false;
		ob->on_drained(ob->userdata);
	} else if (!ob->head) {
		ob->on_drained(ob->userdata);
	}
	flush(ob);
}

/* Kestra 2.x: the batch at the head through one statement (KWG_SQL2_EMIT, or its dedupe form),
 * at most max messages: each LogEntry also as a FollowLogEvent (the live log view's broadcast,
 * kestra-2x-queue.md §3.1), and the worker_job_running keys of the task runs whose terminal
 * result is in the batch. n or a negative errno. */
static ssize_t flush_gen2(struct kwg_outbox *ob, size_t max)
{
	const char **types = malloc(2 * max * sizeof(*types));
	const char **keys = malloc(2 * max * sizeof(*keys));
	const char **values = malloc(2 * max * sizeof(*values));
	const char **ends = malloc(max * sizeof(*ends));
	const char *params[4];
	size_t n = 0, rows = 0, n_ends = 0, bytes = 0;
	int r = types && keys && values && ends ? 0 : -ENOMEM;

	for (struct msg *m = ob->head;
	     r >= 0 && m && n < max && (n == 0 || bytes + m->bytes <= BATCH_MAX_BYTES);
	     m = m->next, n++) {
		types[rows] = type_name(ob, m->type);
		keys[rows] = m->key;
		values[rows++] = m->value;
		if (m->type == KWG_QUEUE_LOG_ENTRY) {
			types[rows] = ob->names[KWG_QUEUE_FOLLOW_LOG_EVENT];
			keys[rows] = m->key;
			values[rows++] = m->value;
		}
		if (m->end_running)
			ends[n_ends++] = m->key;
		bytes += m->bytes;
	}
	kwg_buf_clear(&ob->types);
	kwg_buf_clear(&ob->keys);
	kwg_buf_clear(&ob->values);
	kwg_buf_clear(&ob->ends);
	if (r >= 0)
		r = kwg_sql_text_array(&ob->types, types, rows);
	if (r >= 0)
		r = kwg_sql_text_array(&ob->keys, keys, rows);
	if (r >= 0)
		r = kwg_sql_text_array(&ob->values, values, rows);
	if (r >= 0)
		r = kwg_sql_text_array(&ob->ends, ends, n_ends);
	params[0] = kwg_buf_str(&ob->types);
	params[1] = kwg_buf_str(&ob->keys);
	params[2] = kwg_buf_str(&ob->values);
	params[3] = kwg_buf_str(&ob->ends);
	if (r >= 0)
		r = kwg_pg_query(ob->pg,
		                 ob->ambiguous ? kwg_sql_table_text(ob->sql, KWG_SQL2_EMIT_DEDUPE)
		                               : kwg_sql_table_text(ob->sql, KWG_SQL2_EMIT),
		                 4, params, on_emitted, ob);
	free(types);
	free(keys);
	free(values);
	free(ends);
	return r < 0 ? r : (ssize_t)n;
}

/* The batch at the head through COPY (KWG_SQL_EMIT_COPY): the server spends ~15 % less per
 * row than on the INSERT of arrays (docs/performance.md). n or a negative errno. */
static ssize_t flush_copy(struct kwg_outbox *ob)
{
	struct kwg_buf *b = &ob->values;
	size_t n = 0, bytes = 0, len;
	char *data;
	int r = 0;

	kwg_buf_clear(b);
	for (struct msg *m = ob->head; r >= 0 && m && n < BATCH_MAX_MESSAGES &&
	                               (n == 0 || bytes + m->bytes <= BATCH_MAX_BYTES);
	     m = m->next, n++) {
		r = kwg_buf_puts(b, kwg_queue_type_label(m->type));
		if (r >= 0)
			r = kwg_buf_putc(b, '\t');
		if (r >= 0)
			r = kwg_sql_copy_field(b, m->key);
		if (r >= 0)
			r = kwg_buf_putc(b, '\t');
		if (r >= 0)
			r = kwg_sql_copy_field(b, m->value);
		if (r >= 0)
			r = kwg_buf_putc(b, '\n');
		bytes += m->bytes;
	}
	len = b->len;
	data = r >= 0 ? kwg_buf_steal(b) : NULL;
	if (r >= 0 && !data)
		r = -ENOMEM;
	if (r >= 0)
		r = kwg_pg_copy(ob->pg, kwg_sql_table_text(ob->sql, KWG_SQL_EMIT_COPY), data, len,
		                on_emitted, ob);
	return r < 0 ? r : (ssize_t)n;
}

/* Sends the batch at the head, if the connection is free: through COPY normally; through the
 * INSERT of arrays one message at a time to find a refused one (isolate), or with the check
 * that skips rows already written when the last batch's outcome is unknown (ambiguous). */
static void flush(struct kwg_outbox *ob)
{
	const char *params[3];
	size_t n = 0, bytes = 0, max = ob->isolate ? 1 : BATCH_MAX_MESSAGES;
	const char *types[BATCH_MAX_MESSAGES], *keys[BATCH_MAX_MESSAGES];
	const char **values = NULL;
	int r;

	if (ob->in_flight || !ob->head || !kwg_pg_is_connected(ob->pg))
		return;
	if (ob->gen2) {
		ssize_t sent = flush_gen2(ob, max);
		if (sent < 0)
			kwg_log_errno(KWG_LOG_ERROR, (int)sent,
			              "cannot send messages now, will retry");
		else
			ob->in_flight = (size_t)sent;
		return;
	}
	if (!ob->isolate && !ob->ambiguous) {
		ssize_t sent = flush_copy(ob);
		if (sent < 0)
			kwg_log_errno(KWG_LOG_ERROR, (int)sent,
			              "cannot send messages now, will retry");
		else
			ob->in_flight = (size_t)sent;
		return;
	}
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
		r = kwg_pg_query(ob->pg,
		                 ob->ambiguous ? kwg_sql_table_text(ob->sql, KWG_SQL_EMIT_DEDUPE)
		                               : kwg_sql_table_text(ob->sql, KWG_SQL_EMIT),
		                 3, params, on_emitted, ob);
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

int kwg_outbox_new(uv_loop_t *loop, const char *conninfo, const struct kwg_sql_table *sql,
                   const char *spill_dir, kwg_outbox_event_fn *on_drained, void *userdata,
                   struct kwg_outbox **ret)
{
	struct kwg_outbox *ob = calloc(1, sizeof(*ob));
	int r;

	if (!ob)
		return -ENOMEM;
	ob->spill_fd = -1;
	ob->spill_dir = strdup(spill_dir);
	if (!ob->spill_dir) {
		free(ob);
		return -ENOMEM;
	}
	ob->sql = sql;
	ob->on_drained = on_drained;
	ob->userdata = userdata;
	/* Escaping can double a value; a batch holds at most BATCH_MAX_BYTES plus one message. */
	kwg_buf_init(&ob->types, SIZE_MAX / 4);
	kwg_buf_init(&ob->keys, SIZE_MAX / 4);
	kwg_buf_init(&ob->values, SIZE_MAX / 4);
	kwg_buf_init(&ob->ends, SIZE_MAX / 4);
	r = kwg_pg_new(loop, conninfo, "outbox", on_pg_state, ob, &ob->pg);
	if (r < 0) {
		free(ob->spill_dir);
		free(ob);
		return r;
	}
	*ret = ob;
	return 0;
}

void kwg_outbox_connect(struct kwg_outbox *ob)
{
	kwg_pg_start(ob->pg);
}

int kwg_outbox_set_gen2(struct kwg_outbox *ob, const char *prefix)
{
	for (int t = 0; t < KWG_QUEUE_TYPE__COUNT; t++) {
		int r = kwg_queue_name2((enum kwg_queue_type)t, prefix, ob->names[t],
		                        sizeof(ob->names[t]));
		if (r < 0)
			return r;
	}
	ob->gen2 = true;
	return 0;
}

void kwg_outbox_push(struct kwg_outbox *ob, enum kwg_queue_type type, const char *key, char *value)
{
	kwg_outbox_push_ex(ob, type, key, value, false);
}

void kwg_outbox_push_ex(struct kwg_outbox *ob, enum kwg_queue_type type, const char *key,
                        char *value, bool end_running)
{
	struct msg *m = calloc(1, sizeof(*m));
	bool spilled;

	kwg_pg_start(ob->pg); /* (once: the first push, if it comes before the first claim) */
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
	m->end_running = end_running;
	m->value = value;
	m->bytes = strlen(value) + strlen(key) + 64;
	/* Once anything is spilled, everything after it is too, or waits behind the file when
	 * it cannot take more, so the order holds. */
	spilled = ob->spill_end > ob->spill_start;
	if (ob->over_head) {
		over_append(ob, m);
	} else if (spilled || ob->bytes + m->bytes > MEMORY_MAX_BYTES) {
		if (spill_append(ob, m) == 0) {
			flush(ob);
			return;
		}
		if (spilled)
			over_append(ob, m);
		else
			memory_append(ob, m);
	} else {
		memory_append(ob, m);
	}
	if (kwg_outbox_congested(ob))
		ob->was_congested = true;
	flush(ob);
}

bool kwg_outbox_congested(const struct kwg_outbox *ob)
{
	/* Memory is full and the spill file cannot take more. */
	return ob->bytes + ob->over_bytes > MEMORY_MAX_BYTES &&
	       (ob->spill_failed || ob->spill_error || ob->spill_end > SPILL_MAX_BYTES);
}

bool kwg_outbox_empty(const struct kwg_outbox *ob)
{
	return !ob->head && ob->spill_start == ob->spill_end && !ob->over_head;
}

size_t kwg_outbox_bytes(const struct kwg_outbox *ob)
{
	return ob->bytes + ob->over_bytes + (size_t)(ob->spill_end - ob->spill_start);
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
	while (ob->over_head) {
		struct msg *m = ob->over_head;
		ob->over_head = m->next;
		lost++;
		msg_free(m);
	}
	if (lost || ob->spill_start < ob->spill_end)
		kwg_log_error(
		    "%zu messages (and %lld spilled bytes) were not written before exit and "
		    "are lost",
		    lost, (long long)(ob->spill_end - ob->spill_start));
	if (ob->spill_fd >= 0)
		(void)close(ob->spill_fd);
	free(ob->spill_dir);
	kwg_buf_done(&ob->types);
	kwg_buf_done(&ob->keys);
	kwg_buf_done(&ob->values);
	kwg_buf_done(&ob->ends);
	free(ob);
}
