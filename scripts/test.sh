#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, checks the format,
# builds with gcc (-Werror) and runs every ctest label, then again with clang under
# AddressSanitizer + UndefinedBehaviorSanitizer. Prints the ctest summaries last.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/setup.sh
scripts/check-format.sh

run_suite() { # run_suite NAME CMAKE_ARGS…
  local name=$1
  shift
  echo "=== $name: configure and build"
  cmake -S . -B "build/$name" -G Ninja -DKWG_WERROR=ON "$@" >/dev/null
  cmake --build "build/$name" -j "$jobs"
  echo "=== $name: ctest"
  (cd "build/$name" && ctest --output-on-failure -j "$jobs" 2>&1 | tee ctest.log)
}

run_suite gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DKWG_SANITIZE=address,undefined

echo "=== summary"
for name in gcc asan; do
  printf '%s: ' "$name"
  grep -E 'tests passed|tests failed' "build/$name/ctest.log" | tail -n 1
done
