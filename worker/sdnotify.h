/* SPDX-License-Identifier: Apache-2.0 */
/* systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram to the socket named
 * by $NOTIFY_SOCKET, when systemd runs kwg as a Type=notify service; nothing otherwise. */
#pragma once

/* state: newline-separated assignments ("READY=1", "STOPPING=1", "STATUS=…"). Best effort. */
void kwg_sd_notify(const char *state);
