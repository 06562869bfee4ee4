#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# systemd's readiness protocol (Type=notify): with $NOTIFY_SOCKET set, the worker sends READY=1
# once it claims (or knows it must not), STATUS lines on pause and resume, and STOPPING=1 at SIGTERM.
source "$(dirname "$0")/../lib/it.sh"
it_db sdnotify
sock=$IT_TMP/notify.sock
python3 -u - "$sock" >"$IT_TMP/notify.out" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("listening")
while True:
    print(s.recv(4096).decode().replace("\n", " | "))
PY
IT_PIDS+=($!)
wait_for "the listener" 5 grep -q listening "$IT_TMP/notify.out"
NOTIFY_SOCKET=$sock it_worker w --group sd
wait_for "READY=1" 20 grep -q "^READY=1 | STATUS=claiming tasks$" "$IT_TMP/notify.out" &&
  pass "READY=1 with its status once the worker claims"
"$KWGT_BIN" migrate --database-url "$DB" >/dev/null
"$KWGT_BIN" group pause sd --database-url "$DB" >/dev/null
wait_for "the paused status" 10 grep -q "^STATUS=claiming paused: group paused$" "$IT_TMP/notify.out" &&
  pass "a paused group shows in the status"
it_stop "$WORKER_PID" 30
expect_eq "$STOP_RC" 0 "the worker stops cleanly"
wait_for "STOPPING=1" 5 grep -q "^STOPPING=1 | STATUS=draining" "$IT_TMP/notify.out" &&
  pass "STOPPING=1 at SIGTERM"
expect_eq "$(grep -c "READY=1" "$IT_TMP/notify.out")" 1 "READY=1 is sent once"
it_done
