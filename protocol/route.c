/* SPDX-License-Identifier: Apache-2.0 */
#include "protocol/route.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common/cleanup.h"
#include "common/compat.h"
#include "protocol/log_entry.h"
#include "protocol/task_render.h"
#include "template/template.h"

/* Keys and values quoted in messages are cut to this many characters. */
#define QUOTE_CHARS 200

static const char key_rule[] =
    "a worker group key is 1 to 250 characters of a-z, A-Z, 0-9, '_' and '-'";

bool kwg_group_key_valid(const char *key)
{
	size_t n = strlen(key);

	return n >= 1 && n <= KWG_GROUP_KEY_MAX &&
	       strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* The length of s to quote: at most QUOTE_CHARS characters, never half a code point. */
static int quoted_len(const char *s)
{
	return (int)kwg_utf8_prefix_chars(s, strlen(s), QUOTE_CHARS);
}

static const char *ellipsis(const char *s)
{
	return (size_t)quoted_len(s) < strlen(s) ? "…" : "";
}

static void end(struct kwg_route_decision *d, enum kwg_state state, const char *fmt, ...)
    KWG_PRINTF(3, 4);
static void end(struct kwg_route_decision *d, enum kwg_state state, const char *fmt, ...)
{
	va_list ap;

	d->action = KWG_ROUTE_END;
	d->state = state;
	va_start(ap, fmt);
	(void)vsnprintf(d->message, sizeof(d->message), fmt, ap);
	va_end(ap);
}

void kwg_route_fallback_end(struct kwg_route_decision *d)
{
	char group[sizeof(d->group)];

	memcpy(group, d->group, sizeof(group));
	end(d, d->fallback_state,
	    "no worker of worker group '%s' is alive, and workerGroup.fallback is %s: the task run "
	    "is %s",
	    group, d->fallback, d->fallback_state == KWG_STATE_CANCELLED ? "cancelled" : "failed");
}

/* Renders a Pebble key as Kestra's executor does before routing (kestra-protocol.md §8.1). */
static int render_key(const struct kwg_job *job, const char *key, int64_t now_us,
                      struct kwg_route_decision *d)
{
	cleanup_free char *out = NULL;
	struct kwg_err err = {{0}};
	int r = kwg_task_render_string(job, key, now_us, &out, &err);

	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		end(d, KWG_STATE_FAILED, "workerGroup.key '%.*s%s' cannot be rendered: %s",
		    quoted_len(key), key, ellipsis(key), err.msg);
		return 0;
	}
	if (!kwg_group_key_valid(out)) {
		end(d, KWG_STATE_FAILED,
		    "workerGroup.key '%.*s%s' renders to '%.*s%s', which is not a worker group key "
		    "(%s)",
		    quoted_len(key), key, ellipsis(key), quoted_len(out), out, ellipsis(out),
		    key_rule);
		return 0;
	}
	d->action = KWG_ROUTE_TO_GROUP;
	memcpy(d->group, out, strlen(out) + 1);
	return 0;
}

int kwg_route_decide(const struct kwg_job *job, const char *held, const char *wg, int64_t now_us,
                     struct kwg_route_decision *d)
{
	json_t *root = wg ? json_loads(wg, JSON_DECODE_ANY, NULL) : NULL;
	const json_t *jkey, *jfb;
	const char *key, *fb;
	int r = 0;

	memset(d, 0, sizeof(*d));
	d->fallback = "WAIT";
	d->fallback_state = KWG_STATE_FAILED;
	if (json_is_object(root) && json_is_string(json_object_get(root, "kwg.error"))) {
		end(d, KWG_STATE_FAILED,
		    "the worker group of this task cannot be read (kwg routing): %s; the task run "
		    "is "
		    "failed rather than run in a wrong group",
		    json_string_value(json_object_get(root, "kwg.error")));
		goto out;
	}
	if (!json_is_object(root)) {
		cleanup_free char *text = root ? json_dumps(root, JSON_ENCODE_ANY) : NULL;
		const char *t = text ? text : wg ? wg : "null";
		end(d, KWG_STATE_FAILED,
		    "invalid workerGroup %.*s%s: expected an object with a key (and a fallback)",
		    quoted_len(t), t, ellipsis(t));
		goto out;
	}
	jkey = json_object_get(root, "key");
	if (!json_is_string(jkey)) {
		cleanup_free char *text = jkey ? json_dumps(jkey, JSON_ENCODE_ANY) : NULL;
		const char *t = text ? text : "null";
		end(d, KWG_STATE_FAILED, "invalid workerGroup.key %.*s%s: %s", quoted_len(t), t,
		    ellipsis(t), key_rule);
		goto out;
	}
	key = json_string_value(jkey);
	jfb = json_object_get(root, "fallback");
	fb = json_is_string(jfb) ? json_string_value(jfb) : "WAIT";
	if (strcasecmp(fb, "FAIL") == 0) {
		d->strict = true;
		d->fallback = "FAIL";
	} else if (strcasecmp(fb, "CANCEL") == 0) {
		d->strict = true;
		d->fallback = "CANCEL";
		d->fallback_state = KWG_STATE_CANCELLED;
	}
	if (strcmp(held, KWG_ROUTE_HOLD_RENDER) == 0 && kwg_template_needs_render(key)) {
		r = render_key(job, key, now_us, d);
		goto out;
	}
	if (!kwg_group_key_valid(key)) {
		end(d, KWG_STATE_FAILED, "invalid workerGroup.key '%.*s%s': %s", quoted_len(key),
		    key, ellipsis(key), key_rule);
		goto out;
	}
	memcpy(d->group, key, strlen(key) + 1);
	if (strcmp(held, KWG_ROUTE_HOLD_FALLBACK) == 0 && d->strict) {
		kwg_route_fallback_end(d);
		goto out;
	}
	if (strcmp(held, KWG_ROUTE_HOLD_RENDER) == 0 ||
	    strcmp(held, KWG_ROUTE_HOLD_FALLBACK) == 0) {
		/* Held, but the key is plain now (the flow changed?): route it again. */
		d->action = KWG_ROUTE_TO_GROUP;
		goto out;
	}
	end(d, KWG_STATE_FAILED,
	    "kwg routing could not route workerGroup.key '%s' (its trigger failed: see the "
	    "PostgreSQL log); the task run is failed rather than run in a wrong group",
	    key);
out:
	json_decref(root);
	return r;
}
