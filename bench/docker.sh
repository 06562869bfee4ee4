#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Docker task overhead (reported, not asserted): a `busybox true` task through kwg's Docker runner
# next to `docker run --rm` with the CLI, in alternating rounds on one machine, one Engine.
# kwg's time per task is its attempt, from the RUNNING state to the final one (image check,
# create, start, logs, wait, inspect, remove); the CLI's is the wall time of `docker run --rm`.
# Writes bench/results/docker-<date>.md and, for bench/run's report, docker-<date>.json. usage: bench/docker.sh [ROUNDS] [TASKS_PER_ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
per=${2:-20}
source bench/lib.sh
bench_start docker
tests/lib/docker_env.sh >/dev/null
tmp=$BENCH_TMP
build/bench/kwg worker --database-url "$DB" --group bench --concurrency 1 --default-runner docker \
  --work-dir "$tmp/wd" --management-port 0 >"$tmp/worker.log" 2>&1 &
worker=$!
until grep -qs "Docker runner: Engine" "$tmp/worker.log"; do sleep 0.05; done

: >"$tmp/kwg.ms"
: >"$tmp/cli.ms"
for r in $(seq "$rounds"); do
  bench_jobs "b$r-" "$per" bench "jsonb_build_object('id', 't', 'type', 'io.kestra.plugin.scripts.shell.Commands',
    'containerImage', 'kwg-test/busybox', 'commands', '[\"true\"]', 'taskRunner',
    jsonb_build_object('type', 'io.kestra.plugin.scripts.runner.docker.Docker', 'pullPolicy', 'NEVER'))"
  until [ "$(sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key LIKE 'b$r-%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" == "$per" ]; do
    sleep 0.1
  done
  sql "SELECT round(extract(epoch FROM (max(h.d) FILTER (WHERE h.s = 'SUCCESS') - max(h.d) FILTER (WHERE h.s = 'RUNNING'))) * 1000, 3)
       FROM queues q, LATERAL (SELECT x->>'state' AS s, (x->>'date')::timestamptz AS d
                               FROM jsonb_array_elements(q.value->'taskRun'->'state'->'histories') x) h
       WHERE q.type = 'io.kestra.core.runners.WorkerTaskResult' AND q.key LIKE 'b$r-%'
         AND q.value->'taskRun'->'state'->>'current' = 'SUCCESS'
       GROUP BY q.key" >>"$tmp/kwg.ms"
  for _ in $(seq "$per"); do
    t0=$(date +%s%N)
    docker run --rm kwg-test/busybox sh -c 'set -e
true'
    echo "scale=3; ($(date +%s%N) - $t0) / 1000000" | bc >>"$tmp/cli.ms"
  done
done

out=${KWGB_RESULTS:-bench/results}/docker-$(date +%Y-%m-%d).md
{
  echo "# Docker task overhead, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(docker version --format 'Engine {{.Server.Version}}')"
  echo
  echo "A busybox \`true\` task, $rounds alternating rounds of $per tasks each side."
  echo
  echo "| per task | p50 ms | p90 ms | p99 ms | tasks |"
  echo "|---|---|---|---|---|"
  echo "| kwg Docker runner (RUNNING → SUCCESS) | $(bench_stats "$tmp/kwg.ms") |"
  echo "| docker run --rm (CLI wall time) | $(bench_stats "$tmp/cli.ms") |"
  echo
  echo "kwg / CLI at p50: $(echo "scale=2; $(bench_p50 "$tmp/kwg.ms") / $(bench_p50 "$tmp/cli.ms")" | bc) (target, issue 19: ≤ 0.5)"
} | tee "$out"
jq -n --argjson k "$(bench_p50 "$tmp/kwg.ms")" --argjson c "$(bench_p50 "$tmp/cli.ms")" \
  '{docker_p50_ms: {kwg: $k, cli: $c}}' >"${out%.md}.json"
