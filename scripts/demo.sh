#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kwg's main job on an embedded default: installs what it needs, builds, starts a throwaway
# PostgreSQL 15 cluster with the Kestra 1.x tables, runs `kwg worker` in group "demo", submits the
# sample tasks of deploy/examples as Kestra's executor would, prints their logs and final states,
# installs worker-group routing and submits a task of group demo as open-source Kestra writes it
# (routed by PostgreSQL), then stops everything it started. Works from any checkout directory, as
# root in a fresh container too: where namespaces cannot be made (an ordinary container) the worker
# runs its tasks in the container sandbox profile. When the worker dies it stops at once; the
# worker's log is always printed at the end.
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
log_shown=
show_log() {
  [ -n "$log_shown" ] && return 0
  log_shown=1
  echo "== worker log"
  cat "$run/worker.log" 2>/dev/null || echo "(no worker log)"
}
cleanup() {
  local rc=$?
  if [ -n "$worker_pid" ]; then
    kill -TERM "$worker_pid" 2>/dev/null || true
    wait "$worker_pid" 2>/dev/null || true
  fi
  show_log
  "$top/tests/lib/pg_env.sh" stop "$run/pg" >/dev/null 2>&1 || true
  rm -rf "$run"
  exit "$rc"
}
trap cleanup EXIT
# Commands are run from the run directory: the cluster's commands run as `postgres` when root,
# and that user may not enter the checkout (under /root, say).
cd "$run"

echo "== starting a throwaway PostgreSQL 15 cluster with the Kestra 1.x tables"
"$top/tests/lib/pg_env.sh" start "$run/pg" >/dev/null
db=$("$top/tests/lib/pg_env.sh" newdb "$run/pg" kestra)

# The default sandbox needs namespaces; an ordinary container refuses them.
sandbox=default
if ! unshare --pid --fork --mount --ipc --uts true 2>/dev/null && [ "$(id -u)" -eq 0 ]; then
  sandbox=container
  echo "== no namespaces here (an ordinary container?): tasks run in the container sandbox profile"
fi
echo "== starting kwg worker (group demo, sandbox $sandbox)"
mkdir -p "$run/wd"
"$kwg" worker --database-url "$db" --group demo --concurrency 4 --default-runner process \
  --sandbox "$sandbox" --work-dir "$run/wd" --storage-type local \
  --storage-base-path "$run/storage" 2>"$run/worker.log" &
worker_pid=$!
# Ready once it says it started; a worker that stops first is the demo's end.
for _ in $(seq 300); do
  grep -q "worker .*: group demo" "$run/worker.log" && break
  kill -0 "$worker_pid" 2>/dev/null || break
  sleep 0.1
done
alive() {
  kill -0 "$worker_pid" 2>/dev/null && return 0
  rc=0
  wait "$worker_pid" || rc=$?
  worker_pid=
  echo "== the worker stopped (exit $rc); its log says why:"
  show_log
  return 1
}
alive || exit 1

status=0
for task in deploy/examples/hello-outputs.yaml deploy/examples/files.yaml \
  deploy/examples/failure.yaml deploy/examples/warning.yaml deploy/examples/log.yaml; do
  echo
  echo "== kwg submit --group demo $task"
  rc=0
  "$kwg" submit --database-url "$db" --group demo --timeout 60s "$top/$task" || rc=$?
  echo "(kwg submit exited $rc)"
  [ "$rc" -le 2 ] || status=1
  alive || exit 1
done

echo
echo "== worker groups on open-source Kestra: kwg routing install"
"$kwg" routing install --database-url "$db"
"$kwg" routing status --database-url "$db"
echo
echo "== kwg submit deploy/examples/group.yaml (no --group: inserted as open-source Kestra does)"
rc=0
"$kwg" submit --database-url "$db" --timeout 60s "$top/deploy/examples/group.yaml" || rc=$?
echo "(kwg submit exited $rc)"
[ "$rc" -eq 0 ] || status=1
alive || exit 1
echo
"$kwg" status --database-url "$db"

echo
echo "== stopping the worker (SIGTERM: finish running tasks, claim nothing new)"
kill -TERM "$worker_pid" 2>/dev/null || true
rc=0
wait "$worker_pid" || rc=$?
worker_pid=
[ "$rc" -eq 0 ] || status=1
show_log
exit $status
