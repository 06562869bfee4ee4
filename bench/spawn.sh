#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The sandbox spawn benchmark (reported, not asserted): kwg-exec per profile next to plain
# fork+exec, bwrap and firejail, and the whole `kwg sandbox -- /bin/true` process, in one
# alternating run. Writes bench/results/spawn-<date>.md and, for bench/run's report, the
# figures in spawn-<date>.json.
# usage: bench/spawn.sh [ROUNDS]   (as root; installs bubblewrap and firejail when missing)
# KWGB_SPAWN_BASELINE=PATH/kwg adds another build's `kwg sandbox` to the same rounds (an A/B).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ] && ! command -v bwrap >/dev/null || ! command -v firejail >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap firejail >/dev/null || true
fi
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DKWG_TESTS=OFF >/dev/null
cmake --build build/bench --target kwg kwg-exec kwg_bench_spawn >/dev/null
out=${KWGB_RESULTS:-bench/results}/spawn-$(date +%Y-%m-%d).md
{
  echo "# Sandbox spawn, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r)"
  echo
  build/bench/kwg_bench_spawn "$PWD/build/bench/kwg-exec" "${1:-300}" "$PWD/build/bench/kwg" \
    ${KWGB_SPAWN_BASELINE:+"$KWGB_SPAWN_BASELINE"}
} | tee "$out"
# p50 of a row of the table by the start of its name (null when it was not available).
p50() {
  local v
  v=$(awk -F' \\| ' -v row="| $1" 'index($0, row) == 1 { print $2; exit }' "$out")
  [[ $v =~ ^[0-9.]+$ ]] && echo "$v" || echo null
}
jq -n --argjson kwg "$(p50 'kwg sandbox -- ')" --argjson bwrap "$(p50 'bwrap ')" \
  '{sandbox_cli_p50_ms: $kwg, bwrap_p50_ms: $bwrap}' >"${out%.md}.json"
