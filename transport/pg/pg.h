/* SPDX-License-Identifier: Apache-2.0 */
/* One asynchronous PostgreSQL connection on the libuv loop (libpq non-blocking, a uv_poll_t on
 * PQsocket): connects and reconnects with backoff, runs queued statements one at a time in FIFO
 * order. A client that runs a transaction owns the connection (one chain of statements at a
 * time); kwg gives each client its own connection. Owns the PGconn and its poll handle. */
#pragma once
#include <libpq-fe.h>
#include <stdbool.h>
#include <uv.h>

struct kwg_pg;

/* res is the statement's last result (cleared after the call; check PQresultStatus), or NULL
 * when the connection was lost before it completed (error then says why). */
typedef void kwg_pg_result_fn(void *userdata, PGresult *res, const char *error);
/* Connection state changes: connected, or lost (reconnect is already scheduled). */
typedef void kwg_pg_state_fn(void *userdata, bool connected);
typedef void kwg_pg_closed_fn(void *userdata);

/* name appears in logs ("claim", "outbox"). conninfo is copied; it is never logged. */
int kwg_pg_new(uv_loop_t *loop, const char *conninfo, const char *name, kwg_pg_state_fn *on_state,
               void *userdata, struct kwg_pg **ret);
/* Before kwg_pg_start: libpq's pipeline mode. Statements are sent as soon as they are queued,
 * without waiting for the results of those before them (one round trip for a chain of them),
 * each still on its own (an error does not abort the next; a transaction's rules are the
 * server's, as ever). On a lost connection every statement sent fails (its outcome unknown).
 * COPY is not available in this mode. */
void kwg_pg_set_pipeline(struct kwg_pg *pg);
/* Starts connecting. */
void kwg_pg_start(struct kwg_pg *pg);
bool kwg_pg_is_connected(const struct kwg_pg *pg);
/* The server process of the current connection (pg_stat_activity.pid); 0 when not connected. */
int kwg_pg_backend_pid(const struct kwg_pg *pg);
/* Queues a statement with text parameters (copied; NULL = SQL NULL). 0 or -ENOMEM; cb is called
 * exactly once, later. While disconnected the statement waits for the connection. */
int kwg_pg_query(struct kwg_pg *pg, const char *sql, int n_params, const char *const *params,
                 kwg_pg_result_fn *cb, void *userdata);
/* Queues a COPY … FROM STDIN statement (sql) with its data, len bytes in COPY's text format;
 * takes data (freed even on failure). 0, -ENOMEM, or -EINVAL in pipeline mode. cb gets the
 * COPY's result (PGRES_COMMAND_OK when every row was written), or NULL when the connection was
 * lost: the rows may or may not have been written. */
int kwg_pg_copy(struct kwg_pg *pg, const char *sql, char *data, size_t len, kwg_pg_result_fn *cb,
                void *userdata);
/* Called for each NOTIFY received on this connection (after LISTEN); channel borrowed. */
typedef void kwg_pg_notify_fn(void *userdata, const char *channel);
void kwg_pg_on_notify(struct kwg_pg *pg, kwg_pg_notify_fn *fn, void *userdata);
/* Number of statements queued or in flight. */
unsigned kwg_pg_pending(const struct kwg_pg *pg);
/* Fails pending statements (cb with NULL), closes the connection and frees pg once the poll
 * handle is closed; on_closed may be NULL. */
void kwg_pg_close(struct kwg_pg *pg, kwg_pg_closed_fn *on_closed, void *userdata);

/* Connections lost since the process started, over every kwg_pg (a process-wide statistic). */
unsigned long long kwg_pg_reconnects_total(void);

/* A short, single-line description of a failed result (the server's primary message). */
const char *kwg_pg_result_error(const PGresult *res);
