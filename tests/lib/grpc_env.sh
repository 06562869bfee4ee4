# SPDX-License-Identifier: Apache-2.0
# Sourced after it.sh by the Kestra 2.x tests: the controller stand-in (tests/controller/) and a
# kwg worker on it. GWORKER_OPTS (an array) adds options to every gworker.
PY=/usr/bin/python3
CTL=$KWGT_SRC/tests/controller/controller.py
REC=$KWGT_SRC/tests/controller/record.py
FIX=$KWGT_SRC/tests/integration/fixtures
if ! "$PY" -c 'import grpc, grpc_tools' 2>/dev/null; then
  echo "python3-grpcio and python3-grpc-tools are needed (scripts/setup.sh)"
  exit 1
fi
GWORKER_OPTS=()

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
listening_more() { [ "$(grep -c listening "$1" 2>/dev/null)" -gt "$2" ]; }
# controller NAME PORT RECORD [options…]: starts the stand-in (again, with the same NAME, after it
# was stopped: its log grows); its pid in CTL_PID.
controller() {
  local name=$1 port=$2 record=$3 before
  shift 3
  before=$(grep -c listening "$IT_TMP/$name.log" 2>/dev/null || true)
  "$PY" "$CTL" --port "$port" --record "$record" "$@" >>"$IT_TMP/$name.log" 2>&1 &
  CTL_PID=$!
  IT_PIDS+=("$CTL_PID")
  wait_for "controller $name listening" 20 listening_more "$IT_TMP/$name.log" "${before:-0}"
}
# gworker NAME PORT [options…]: a kwg worker on the controller at 127.0.0.1:PORT, its own work
# directory; its pid in WORKER_PID.
gworker() {
  local name=$1 port=$2
  shift 2
  mkdir -p "$IT_TMP/wd-$name"
  "$KWGT_BIN" worker --controller "127.0.0.1:$port" --work-dir "$IT_TMP/wd-$name" \
    --log-level debug --management-port 0 --heartbeat-interval 500ms --default-runner process \
    "${GWORKER_OPTS[@]}" "$@" >"$IT_TMP/$name.log" 2>&1 &
  WORKER_PID=$!
  IT_PIDS+=("$WORKER_PID")
}
q() { "$PY" "$REC" "$@"; }
is_final() { [ -n "$(q "$1" final "$2")" ]; }
# answer_is RECORD QUESTION ARG EXPECTED: for wait_for (the question is asked at each poll).
answer_is() { [ "$(q "$1" "$2" "$3")" = "$4" ]; }
