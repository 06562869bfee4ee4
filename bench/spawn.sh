#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The sandbox spawn benchmark (reported, not asserted): kwg-exec per profile next to plain
# fork+exec, bwrap and firejail, in one alternating run. Writes bench/results/spawn-<date>.md.
# usage: bench/spawn.sh [ROUNDS]   (as root; installs bubblewrap and firejail when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -eq 0 ] && ! command -v bwrap >/dev/null || ! command -v firejail >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap firejail >/dev/null || true
fi
cmake -S . -B build/bench -G Ninja -DCMAKE_BUILD_TYPE=Release -DKWG_TESTS=OFF >/dev/null
cmake --build build/bench --target kwg-exec kwg_bench_spawn >/dev/null
out=${KWGB_RESULTS:-bench/results}/spawn-$(date +%Y-%m-%d).md
{
  echo "# Sandbox spawn, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, kernel $(uname -r)"
  echo
  build/bench/kwg_bench_spawn "$PWD/build/bench/kwg-exec" "${1:-300}"
} | tee "$out"
