#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kwg's main job on an embedded default: installs what it needs, builds, starts a throwaway
# PostgreSQL 15 cluster with the Kestra 1.x tables, runs `kwg worker` in group "demo", submits the
# sample tasks of deploy/examples as Kestra's executor would, prints their logs and final states,
# installs worker-group routing and submits a task of group demo as open-source Kestra writes it
# (routed by PostgreSQL), then stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)

scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DKWG_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" >/dev/null
kwg=$top/build/release/kwg

run=$(mktemp -d "${TMPDIR:-/tmp}/kwg-demo.XXXXXX")
chmod 755 "$run"
worker_pid=
cleanup() {
  [ -n "$worker_pid" ] && kill -TERM "$worker_pid" 2>/dev/null && wait "$worker_pid" 2>/dev/null
  tests/lib/pg_env.sh stop "$run/pg" >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

echo "== starting a throwaway PostgreSQL 15 cluster with the Kestra 1.x tables"
tests/lib/pg_env.sh start "$run/pg" >/dev/null
db=$(tests/lib/pg_env.sh newdb "$run/pg" kestra)

echo "== starting kwg worker (group demo)"
mkdir -p "$run/wd"
"$kwg" worker --database-url "$db" --group demo --concurrency 4 --default-runner process \
  --work-dir "$run/wd" --storage-type local --storage-base-path "$run/storage" \
  2>"$run/worker.log" &
worker_pid=$!

status=0
for task in deploy/examples/hello-outputs.yaml deploy/examples/files.yaml \
  deploy/examples/failure.yaml deploy/examples/warning.yaml deploy/examples/log.yaml; do
  echo
  echo "== kwg submit --group demo $task"
  rc=0
  "$kwg" submit --database-url "$db" --group demo --timeout 60s "$task" || rc=$?
  echo "(kwg submit exited $rc)"
  [ "$rc" -le 2 ] || status=1
done

echo
echo "== worker groups on open-source Kestra: kwg routing install"
"$kwg" routing install --database-url "$db"
"$kwg" routing status --database-url "$db"
echo
echo "== kwg submit deploy/examples/group.yaml (no --group: inserted as open-source Kestra does)"
rc=0
"$kwg" submit --database-url "$db" --timeout 60s deploy/examples/group.yaml || rc=$?
echo "(kwg submit exited $rc)"
[ "$rc" -eq 0 ] || status=1
echo
"$kwg" status --database-url "$db"

echo
echo "== stopping the worker (SIGTERM: finish running tasks, claim nothing new)"
kill -TERM "$worker_pid"
wait "$worker_pid" || status=1
worker_pid=
echo "== worker log"
cat "$run/worker.log"
exit $status
