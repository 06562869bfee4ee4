/* SPDX-License-Identifier: Apache-2.0 */
/* The operator commands: `kwg migrate`, `kwg group list|create|delete|pause|resume|drain`,
 * `kwg maintenance enter|exit`, `kwg status`, `kwg notify install|uninstall`,
 * `kwg routing install|uninstall|status|release` (Kestra 1.x or 2.x, as the database says). Each
 * runs its statements on one connection of the caller's loop and prints a table (or JSON with
 * --json). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

enum kwg_ctl_command {
	KWG_CTL_MIGRATE,
	KWG_CTL_GROUP_LIST,
	KWG_CTL_GROUP_CREATE,
	KWG_CTL_GROUP_DELETE,
	KWG_CTL_GROUP_PAUSE,
	KWG_CTL_GROUP_RESUME,
	KWG_CTL_GROUP_DRAIN,
	KWG_CTL_MAINTENANCE_ENTER,
	KWG_CTL_MAINTENANCE_EXIT,
	KWG_CTL_STATUS,
	KWG_CTL_NOTIFY_INSTALL,
	KWG_CTL_NOTIFY_UNINSTALL,
	KWG_CTL_ROUTING_INSTALL,
	KWG_CTL_ROUTING_UNINSTALL,
	KWG_CTL_ROUTING_STATUS,
	KWG_CTL_ROUTING_RELEASE, /* Kestra 2.x: a group's waiting jobs back to the default queue */
};

struct kwg_ctl_opts {
	enum kwg_ctl_command command;
	const char *database_url;
	const char *key;         /* group key; "" for the default group */
	const char *description; /* group create */
	const char *message;     /* maintenance */
	bool json;
	bool wait;    /* drain / maintenance enter: until no task runs */
	bool requeue; /* routing uninstall: give waiting routed jobs back to the default group */
	uint64_t timeout_ms;      /* for wait, and for the whole command */
	const char *queue_prefix; /* Kestra 2.x's kestra.queue.prefix, NULL: none */
	const char *queue_table;  /* Kestra's queue table (kestra_queue_table), NULL: queues */
};

struct kwg_ctl;

/* Borrows opts. The command runs on the loop; kwg_ctl_free gives the exit code. */
int kwg_ctl_new(uv_loop_t *loop, const struct kwg_ctl_opts *opts, struct kwg_ctl **ret);
/* 0 done, 1 failed, 3 no database, 124 timed out. Frees c. */
int kwg_ctl_free(struct kwg_ctl *c);
