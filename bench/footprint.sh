#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kwg's footprint (reported, not asserted): the worker's resident memory idle and with 64 running
# Process tasks (its own RSS: children excluded), and the time from its start to its first claim
# poll. Writes bench/results/footprint-<date>.md and, for bench/run's report, footprint-<date>.json.
# usage: bench/footprint.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
source bench/lib.sh
bench_start footprint
tmp=$BENCH_TMP
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
pss_kib() { awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup"; }
: >"$tmp/idle" ; : >"$tmp/busy" ; : >"$tmp/start" ; : >"$tmp/idle_pss" ; : >"$tmp/anon"
for run in $(seq "$runs"); do
  # From the clock read just before the exec to the worker's own stamp of its first claim
  # statement (KWG_TRACE_LATENCY: the same wall clock; a poll of the log would add its period).
  t0=$(date +%s%6N)
  KWG_TRACE_LATENCY=1 build/bench/kwg worker --database-url "$DB" --group fp --concurrency 64 \
    --default-runner process --work-dir "$tmp/wd" --management-port 0 --log-level debug \
    >"$tmp/worker.log" 2>&1 &
  worker=$!
  until grep -qs "claiming tasks" "$tmp/worker.log"; do sleep 0.005; done
  until grep -qs "^latency [0-9]* claim-sent" "$tmp/worker.log"; do sleep 0.005; done
  awk -v t0="$t0" '$1 == "latency" && $3 == "claim-sent" {printf "%.1f\n", ($2 - t0) / 1000; exit}' \
    "$tmp/worker.log" >>"$tmp/start"
  sleep 2
  rss_kib "$worker" >>"$tmp/idle"
  pss_kib "$worker" >>"$tmp/idle_pss"
  awk '/^Anonymous:/ {print $2}' "/proc/$worker/smaps_rollup" >>"$tmp/anon"
  # Idle RSS by mapping (each library, the heap), of the last run, for the report.
  awk '/^[0-9a-f]+-[0-9a-f]+ / {f = $6 == "" ? "(anonymous)" : $6; sub(/.*\//, "", f)}
       /^Rss:/ {r[f] += $2} /^Anonymous:/ {a[f] += $2}
       END {for (k in r) if (r[k] > 0) printf "%d %d %s\n", r[k], a[k], k}' \
    "/proc/$worker/smaps" | sort -rn >"$tmp/maps"
  echo "$(awk '/^[0-9a-f]+-[0-9a-f]+ .*\.so/ {print $6}' "/proc/$worker/maps" | sort -u | wc -l)" >"$tmp/nlibs"
  bench_jobs "f$run-" 64 fp "$(bench_shell_task '["echo running", "sleep 5"]' "$PROCESS_RUNNER")"
  until [ "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.models.executions.LogEntry' AND value->>'taskRunId' LIKE 'f$run-%' AND value->>'message' = 'running'")" == 64 ]; do
    sleep 0.05
  done
  rss_kib "$worker" >>"$tmp/busy"
  kill -KILL "$worker"
  wait "$worker" 2>/dev/null || true
  worker=
  sleep 6 # the tasks die with their worker (PDEATHSIG); their cgroups go at the next start
done

out=${KWGB_RESULTS:-bench/results}/footprint-$(date +%Y-%m-%d).md
{
  echo "# Footprint, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, median of $runs runs"
  echo
  echo "| | kwg | target (issue 19) |"
  echo "|---|---|---|"
  echo "| RSS idle | $(echo "scale=1; $(bench_p50 "$tmp/idle") / 1024" | bc) MiB | ≤ 8 MiB |"
  echo "| … of which anonymous (heap, stacks) | $(echo "scale=1; $(bench_p50 "$tmp/anon") / 1024" | bc) MiB | |"
  echo "| PSS idle (shared library pages divided among the processes mapping them) | $(echo "scale=1; $(bench_p50 "$tmp/idle_pss") / 1024" | bc) MiB | |"
  echo "| RSS with 64 running tasks (children excluded) | $(echo "scale=1; $(bench_p50 "$tmp/busy") / 1024" | bc) MiB | |"
  echo "| start → first claim poll | $(bench_p50 "$tmp/start") ms | ≤ 20 ms |"
  echo
  echo "Idle RSS by mapping (last run; $(cat "$tmp/nlibs") shared objects mapped), the 15 largest:"
  echo
  echo "| mapping | RSS KiB | of which anonymous KiB |"
  echo "|---|---|---|"
  head -15 "$tmp/maps" | awk '{printf "| %s | %d | %d |\n", $3, $1, $2}'
} | tee "$out"
jq -n --argjson rss "$(echo "scale=2; $(bench_p50 "$tmp/idle") / 1024" | bc)" --argjson start "$(bench_p50 "$tmp/start")" \
  '{rss_idle_mib: $rss, first_claim_ms: $start}' >"${out%.md}.json"
