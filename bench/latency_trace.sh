#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Where the schedule→start latency goes, step by step (docs/performance.md, "Round 3"): one task
# at a time, 20-200 ms apart, as in bench/queue.sh with `kwg notify`, and the worker started with
# KWG_TRACE_LATENCY=1 (common/log.h), so that it stamps each step on the wall clock. Prints the
# median and p90 of each step, in ms, from the commit of the queue row (the server's clock right
# after it) to the task's own clock (`date +%s%6N`); the total also for a worker without stamps.
# usage: bench/latency_trace.sh [TASKS] [WORKER OPTIONS…]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-40}
shift || true
source bench/lib.sh
bench_start trace
tmp=$BENCH_TMP
build/bench/kwg notify install --database-url "$DB" >/dev/null
KWG_TRACE_LATENCY=1 build/bench/kwg worker --database-url "$DB" --group q --concurrency 4 \
  --default-runner process --work-dir "$tmp/wd" --management-port 0 "$@" >"$tmp/kwg.log" 2>&1 &
worker=$!
until grep -qs "claiming tasks" "$tmp/kwg.log"; do
  kill -0 "$worker" 2>/dev/null || { cat "$tmp/kwg.log" >&2; exit 1; }
  sleep 0.05
done
sleep 1
now_us="(extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
: >"$tmp/inserted"
for i in $(seq "$n"); do
  echo "lt$i $(psql "$DB" -qAtX -v ON_ERROR_STOP=1 -c "INSERT INTO queues (type, key, value, consumer_group)
    VALUES ('io.kestra.core.runners.WorkerJob', 'lt$i', $(bench_job "'lt$i'" "$(bench_shell_task '["date +%s%6N"]' "$PROCESS_RUNNER")"), 'q')" \
    -c "SELECT $now_us")" >>"$tmp/inserted"
  sleep "0.$(printf '%03d' $((20 + RANDOM % 180)))"
done
deadline=$((SECONDS + 60))
started() {
  sql "SELECT value->>'taskRunId', value->>'message' FROM queues
       WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' LIKE 'lt%'
         AND value->>'message' ~ '^[0-9]{16}$'" | tr '|' ' '
}
until [ "$(started | wc -l)" -ge "$n" ]; do
  [ $SECONDS -lt $deadline ] || { echo "latency_trace.sh: tasks missing after 60 s" >&2; exit 1; }
  sleep 0.1
done
started >"$tmp/started"
grep '^latency ' "$tmp/kwg.log" >"$tmp/stamps" || true
python3 - "$tmp/inserted" "$tmp/started" "$tmp/stamps" <<'PY'
import sys, statistics
ins = dict(l.split() for l in open(sys.argv[1]))
st = dict(l.split() for l in open(sys.argv[2]))
stamps = [l.split() for l in open(sys.argv[3])]
steps = ["notified", "claim-sent", "rows", "committed", "workdir", "rendered", "spawned", "task"]
deltas = {s: [] for s in steps}
totals = []
for key, t0 in ins.items():
    t0 = int(t0)
    at = {}
    for _, us, step, ident in stamps:
        if ident == key:
            at[step] = int(us)
    # Stamps without a task run id, walking back from the task's own: the rows of its claim,
    # that claim, the notification that woke it (sent at the commit, which may come before
    # the clock read after it: that step can be negative).
    before = at.get("committed")
    for step in ("rows", "claim-sent", "notified"):
        found = [int(us) for _, us, s, ident in stamps
                 if s == step and ident not in ins and before is not None and int(us) <= before]
        if found:
            at[step] = before = max(found)
        else:
            before = None
    at["task"] = int(st[key])
    totals.append((at["task"] - t0) / 1000)
    prev = t0
    ok = all(s in at for s in steps)
    if not ok:
        continue
    for s in steps:
        deltas[s].append((at[s] - prev) / 1000)
        prev = at[s]
def q(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(len(v) * p))]
print("| step (from the previous) | p50 ms | p90 ms |")
print("|---|---|---|")
for s in steps:
    if deltas[s]:
        print(f"| {s} | {q(deltas[s], .5):.2f} | {q(deltas[s], .9):.2f} |")
print(f"| **commit → task** ({len(totals)} tasks) | {q(totals, .5):.2f} | {q(totals, .9):.2f} |")
PY
