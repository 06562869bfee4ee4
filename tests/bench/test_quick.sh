#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# bench/run --quick from this tree: every benchmark scenario runs (kwg, graphile-worker from npm,
# bwrap, firejail, the Docker Engine) and the report has a figure in every row. Figures are not
# judged here: targets live in the report (docs/performance.md).
source "$(dirname "$0")/../lib/it.sh"
export KWGB_RESULTS=$IT_TMP/results
mkdir -p "$KWGB_RESULTS"
if (cd "$KWGT_SRC" && bench/run --quick) >"$IT_TMP/run.log" 2>&1; then
  pass "bench/run --quick completes"
else
  fail "bench/run --quick failed: $(tail -20 "$IT_TMP/run.log")"
  it_done
fi
report=$(cat "$KWGB_RESULTS/$(date +%Y-%m-%d).md")
num='[0-9]+(\.[0-9]+)?'
for row in "plain fork\+exec" "kwg-exec --profile default" "kwg-exec --profile default, parked \(as in the worker\)" "bwrap --unshare-all" \
  "firejail --noprofile" "kwg, polling alone" "kwg, \`kwg notify\`" "graphile-worker \(LISTEN/NOTIFY\)"; do
  expect_match "$report" "\| $row[^|]* \| $num \| $num \| $num \|" "a figure for: $row"
done
expect_match "$report" "\| kwg \(Process runner, default sandbox\) \| $num \|" "kwg's throughput"
expect_match "$report" "\| graphile-worker \(child_process.spawn\) \| $num \|" "graphile-worker's throughput"
expect_match "$report" "\| kwg Docker runner [^|]* \| $num \|" "kwg's Docker task time"
expect_match "$report" "\| docker run --rm [^|]* \| $num \|" "the CLI's Docker task time"
expect_match "$report" "\| RSS idle \| $num MiB" "the idle footprint"
expect_match "$report" "\| kwg → LogEntry rows \| $num \|" "the log throughput (every line checked in order)"
expect_match "$report" "\| kwg over gRPC, one task at a time[^|]* \| $num \| $num \| $num \|" "Kestra 2.x over gRPC: dispatch → start"
expect_match "$report" "\| kwg over gRPC \(Process runner[^|]* \| $num \|" "Kestra 2.x over gRPC: throughput"
json=$KWGB_RESULTS/$(date +%Y-%m-%d).json
for field in latency_p50_ms.kwg_grpc latency_p99_ms.kwg_grpc throughput_per_s.kwg_grpc; do
  expect_eq "$(jq -r ".$field | type" "$json")" number "the report's JSON: $field is a number"
done
it_done
