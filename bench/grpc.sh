#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kwg on Kestra 2.x's worker controller (gRPC, transport/grpc/), against the project's stand-in
# (tests/controller/controller.py --bench), reported, not asserted. Each task is a shell task
# printing its start time (`date +%s%6N`, the Process runner, default sandbox), which reaches the
# stand-in as a LogEntry; the stand-in stamps each dispatch.
#  - latency: dispatch → process start, one task at a time, 20-200 ms after the last completion
#    (--bench-serial, concurrency 4), as bench/queue.sh measures the 1.x path's;
#  - throughput: TASKS tasks dispatched as fast as the worker's permits allow, from the first
#    dispatch to the last final result (and dispatch → start under that load);
#  - the CPU per task of the stand-in (Python grpcio, one result per call as Kestra's worker sends
#    them) and of the worker itself.
# Writes bench/results/grpc-<date>.md and, for bench/run's report, grpc-<date>.json.
# usage: bench/grpc.sh [ROUNDS] [LATENCY_TASKS] [TASKS] [CONCURRENCY]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
per=${2:-40}
bulk=${3:-10000}
conc=${4:-16}
PY=/usr/bin/python3 # Debian's, with python3-grpcio (not a pyenv one first in PATH)
"$PY" -c 'import grpc, grpc_tools' 2>/dev/null ||
  { echo "grpc.sh: python3-grpcio and python3-grpc-tools are needed (scripts/setup.sh)" >&2; exit 1; }
source bench/lib.sh
bench_prepare grpc
tmp=$BENCH_TMP
ctl=
stop_all() {
  for p in ${worker:-} ${ctl:-}; do kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null || true; done
  worker= ctl=
}
trap 'stop_all; bench_cleanup' EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# cpu_s PID: user + system CPU seconds of the process itself (not its children) so far.
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.3f", ($14 + $15) / hz}' "/proc/$1/stat"; }

# phase NAME TASKS CONCURRENCY [controller options…]: a stand-in and a worker until every task
# has its final result; the run's summary (record.py bench) in $sum, its record in $rec.
phase() {
  local name=$1 n=$2 c=$3 port
  shift 3
  rec=$tmp/$name.jsonl
  port=$(free_port)
  "$PY" tests/controller/controller.py --port "$port" --record "$rec" --bench "$n" "$@" \
    >"$tmp/controller.log" 2>&1 &
  ctl=$!
  local deadline=$((SECONDS + 30))
  until grep -qs listening "$tmp/controller.log"; do
    kill -0 "$ctl" 2>/dev/null ||
      { cat "$tmp/controller.log" >&2; echo "grpc.sh: $name: the controller stand-in exited before listening" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] ||
      { echo "grpc.sh: $name: the controller stand-in (tests/controller/controller.py) not listening on port $port after 30 s" >&2; exit 1; }
    sleep 0.05
  done
  build/bench/kwg worker --controller "127.0.0.1:$port" --concurrency "$c" --default-runner process \
    --work-dir "$tmp/wd" --management-port 0 ${KWGB_WORKER_ARGS:-} >"$tmp/kwg.log" 2>&1 &
  worker=$!
  deadline=$((SECONDS + 900))
  until grep -qs '"bench-done"' "$rec"; do
    kill -0 "$worker" 2>/dev/null || { tail -20 "$tmp/kwg.log" >&2; exit 1; }
    [ $SECONDS -lt $deadline ] || { echo "grpc.sh: $name: $n tasks not done after 900 s" >&2; exit 1; }
    sleep 0.05
  done
  kwg_cpu=$(cpu_s "$worker")
  stop_all
  sum=$("$PY" tests/controller/record.py "$rec" bench)
  [ "$(jq .failed <<<"$sum")" == 0 ] || { echo "grpc.sh: $name: tasks failed: $sum" >&2; exit 1; }
  [ "$(jq .started <<<"$sum")" == "$n" ] || { echo "grpc.sh: $name: start times missing: $sum" >&2; exit 1; }
}

round() { # round N: appends to $tmp/lat.ms, $tmp/load.ms, $tmp/tp, $tmp/ctl-cpu, $tmp/kwg-cpu
  phase latency-$1 "$per" 4 --bench-serial
  "$PY" tests/controller/record.py "$rec" bench-latencies >>"$tmp/lat.ms"
  phase throughput-$1 "$bulk" "$conc"
  "$PY" tests/controller/record.py "$rec" bench-latencies >>"$tmp/load.ms"
  jq .throughput_per_s <<<"$sum" >>"$tmp/tp"
  jq .cpu_s <<<"$sum" >>"$tmp/ctl-cpu"
  echo "$kwg_cpu" >>"$tmp/kwg-cpu"
  rm -f "$tmp"/*.jsonl
}
for r in $(seq "$rounds"); do round "$r"; done

pct() { sort -n "$1" | awk -v p="$2" '{v[NR]=$1} END {print v[int(NR*p)+1]}'; }
tp=$(bench_p50 "$tmp/tp")
# CPU per task (ms): the median round's seconds over its tasks.
per_task_ms() { awk -v s="$(bench_p50 "$1")" -v n="$bulk" 'BEGIN {printf "%.3f", s * 1000 / n}'; }
ctl_ms=$(per_task_ms "$tmp/ctl-cpu")
kwg_ms=$(per_task_ms "$tmp/kwg-cpu")
out=${KWGB_RESULTS:-bench/results}/grpc-$(date +%Y-%m-%d).md
{
  echo "# kwg on Kestra 2.x's worker controller (gRPC, the project's stand-in), $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores"
  echo
  echo "The stand-in (tests/controller/controller.py --bench, Python grpcio) stamps each dispatch; each task prints its start time. $rounds rounds."
  echo
  echo "| dispatch → process start | p50 ms | p90 ms | p99 ms | tasks |"
  echo "|---|---|---|---|---|"
  echo "| kwg over gRPC, one task at a time, 20-200 ms apart (concurrency 4) | $(bench_stats "$tmp/lat.ms") |"
  echo "| kwg over gRPC, $bulk tasks as fast as the permits allow (concurrency $conc) | $(bench_stats "$tmp/load.ms") |"
  echo
  echo "| first dispatch → last final result | tasks/s (median) | rounds |"
  echo "|---|---|---|"
  echo "| kwg over gRPC (Process runner, ${KWGB_WORKER_ARGS:-default sandbox}) | $tp | $(tr '\n' ' ' <"$tmp/tp") |"
  echo
  echo "| CPU per task (median round) | ms |"
  echo "|---|---|"
  echo "| the stand-in controller (Python, from the first dispatch) | $ctl_ms |"
  echo "| the kwg worker itself, start-up included (not its tasks) | $kwg_ms |"
  echo
  echo "Reported, no target (issue 20): the stand-in is not Kestra's controller, and on $(nproc) cores it competes with the worker for CPU."
} | tee "$out"
jq -n --argjson l "$(pct "$tmp/lat.ms" 0.5)" --argjson h "$(pct "$tmp/lat.ms" 0.99)" --argjson t "$tp" \
  --argjson c "$ctl_ms" --argjson k "$kwg_ms" \
  '{latency_p50_ms: {kwg_grpc: $l}, latency_p99_ms: {kwg_grpc: $h}, throughput_per_s: {kwg_grpc: $t},
    grpc_cpu_per_task_ms: {controller: $c, kwg: $k}}' >"${out%.md}.json"
