/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl's multi interface driven by the libuv loop (curl's multi-socket pattern, after its
 * docs/examples/multi-uv.c): one uv_poll_t per socket curl watches, one uv_timer_t for curl's
 * timeouts, and the finished transfers handed to the owner. Owns the CURLM, its poll handles and
 * the timer; the owner keeps its CURL easy handles and adds/removes them here. */
#pragma once
#include <curl/curl.h>
#include <uv.h>

struct kwg_curl_uv;

struct kwg_curl_uv_ops {
	/* After each round of socket actions, before the finished transfers are handed over (the
	 * owner may look at its transfers' progress here). May be NULL. */
	void (*on_action)(void *userdata);
	/* A transfer finished: the owner removes it (kwg_curl_uv_remove) before cleaning it up,
	 * normally here. It may add or remove other transfers, or free this object. */
	void (*on_done)(void *userdata, CURL *easy, CURLcode result);
	/* After kwg_curl_uv_free, once the handles are closed: the owner may release memory the
	 * callbacks above still used. May be NULL. */
	void (*on_closed)(void *userdata);
};

/* 0 and *ret (new); -ENOMEM; -ENOENT when libcurl cannot be loaded (kwg_lazy_curl.error says
 * why, naming it; common/lazy_curl.c). ops is copied; userdata is handed to each callback. */
int kwg_curl_uv_new(uv_loop_t *loop, const struct kwg_curl_uv_ops *ops, void *userdata,
                    struct kwg_curl_uv **ret);
/* Adds a transfer (borrowed until it is removed). 0 or -ENOMEM. */
int kwg_curl_uv_add(struct kwg_curl_uv *cu, CURL *easy);
/* Removes a transfer: no callback mentions it afterwards. Accepts NULL. */
void kwg_curl_uv_remove(struct kwg_curl_uv *cu, CURL *easy);
/* The transfers must have been removed. No callback fires afterwards; the memory is released
 * once the loop has closed the handles. Accepts NULL; may be called from the callbacks. */
void kwg_curl_uv_free(struct kwg_curl_uv *cu);

/* libcurl's error for a failed transfer, as a negative errno (the one place they are mapped):
 * -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH (name or host not found), -ENOMEM, -EIO. */
int kwg_curl_uv_errno(CURLcode result);
