#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The whole test suite, from a fresh Debian 12 machine: installs what it needs, checks the format,
# builds with gcc (-Werror) and runs every ctest label (unit, integration against a real
# PostgreSQL 15, fuzz corpora), then again with clang under AddressSanitizer + UndefinedBehavior-
# Sanitizer, then runs each libFuzzer target briefly. Prints the totals last.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
fuzz_seconds=${FUZZ_SECONDS:-3}
failed_stages=()

scripts/setup.sh
scripts/check-format.sh || failed_stages+=(format)

run_suite() { # run_suite NAME CMAKE_ARGS…
  local name=$1
  shift
  echo "=== $name: configure and build"
  if ! cmake -S . -B "build/$name" -G Ninja -DKWG_WERROR=ON "$@" >/dev/null ||
    ! cmake --build "build/$name" -j "$jobs"; then
    failed_stages+=("$name build")
    return
  fi
  echo "=== $name: ctest"
  (cd "build/$name" && ctest --output-on-failure -j "$jobs" >ctest.log 2>&1) || failed_stages+=("$name ctest")
  cat "build/$name/ctest.log"
}

run_suite gcc -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The warm Docker pool needs a static kwg-exec, which a sanitizer build has not: the gcc one.
export KWGT_EXEC_HELPER=$PWD/build/gcc/kwg-exec
run_suite asan -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DKWG_SANITIZE=address,undefined

fuzz_stems=(worker_job script_output script_task logstream task_def sandbox_spec datetime glob storage_path
  template jregex route hostlimits ion jdecimal kestra_schema sql_table controller grpc_jobs controller_meta host_port)
echo "=== fuzz: build, then each target for ${fuzz_seconds}s, $jobs at a time (one core each)"
if cmake -S . -B build/fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DKWG_FUZZ=ON \
  -DKWG_SANITIZE=address,undefined >/dev/null &&
  cmake --build build/fuzz -j "$jobs" --target "${fuzz_stems[@]/#/fuzz_}" >build/fuzz-build.log 2>&1; then
  running=0
  for stem in "${fuzz_stems[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
      wait -n || true
      running=$((running - 1))
    fi
    rm -f "build/fuzz-$stem.rc"
    (
      rc=0
      scripts/run-fuzz.sh "$stem" "$fuzz_seconds" build/fuzz >"build/fuzz-$stem.log" 2>&1 || rc=$?
      echo "$rc" >"build/fuzz-$stem.rc"
    ) &
    running=$((running + 1))
  done
  wait
  for stem in "${fuzz_stems[@]}"; do
    if [ "$(cat "build/fuzz-$stem.rc" 2>/dev/null)" != 0 ] ||
      grep -qE 'ERROR: (libFuzzer|AddressSanitizer)|runtime error' "build/fuzz-$stem.log"; then
      failed_stages+=("fuzz $stem")
      cat "build/fuzz-$stem.log"
    else
      echo "fuzz $stem: $(grep -E 'stat::number_of_executed_units' "build/fuzz-$stem.log" | awk '{print $2}') runs, no crash"
    fi
  done
else
  failed_stages+=("fuzz build")
  tail -n 30 build/fuzz-build.log 2>/dev/null || true
fi

echo "=== summary"
passed=0
failed=0
for name in gcc asan; do
  line=$(grep -E 'tests passed' "build/$name/ctest.log" 2>/dev/null | tail -n 1 || true)
  echo "$name: ${line:-no ctest summary}"
  total=$(sed -n 's/.* out of \([0-9]*\)$/\1/p' <<<"$line")
  bad=$(sed -n 's/.*, \([0-9]*\) tests failed.*/\1/p' <<<"$line")
  passed=$((passed + ${total:-0} - ${bad:-0}))
  failed=$((failed + ${bad:-0}))
done
if [ ${#failed_stages[@]} -gt 0 ]; then
  echo "failed stages: ${failed_stages[*]}"
  failed=$((failed > 0 ? failed : 1))
fi
echo "total: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
