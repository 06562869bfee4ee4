#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs one libFuzzer target for a while: scripts/run-fuzz.sh STEM SECONDS [BUILD_DIR]
# Builds the clang fuzz preset when needed; new inputs go to a scratch directory, crashes to
# build/fuzz/crashes (minimise them into tests/fuzz/corpus/STEM by hand).
set -euo pipefail
cd "$(dirname "$0")/.."
stem=${1:?usage: run-fuzz.sh STEM SECONDS}
seconds=${2:-60}
build=${3:-build/fuzz}
if [ ! -x "$build/tests/fuzz_$stem" ]; then
  cmake -S . -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug \
    -DKWG_FUZZ=ON -DKWG_SANITIZE=address,undefined >/dev/null
  cmake --build "$build" --target "fuzz_$stem" >/dev/null
fi
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$build/crashes"
dict=()
[ -f "tests/fuzz/$stem.dict" ] && dict=(-dict="tests/fuzz/$stem.dict")
"$build/tests/fuzz_$stem" "$scratch" "tests/fuzz/corpus/$stem" "${dict[@]}" \
  -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1024 \
  -artifact_prefix="$build/crashes/$stem-" -print_final_stats=1 2>&1 | tail -n 12
