#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Docker task overhead (reported, not asserted): a `busybox true` task through kwg's Docker runner
# next to `docker run --rm` with the CLI, in alternating rounds on one machine, one Engine.
# kwg's time per task is its attempt, from the RUNNING state to the final one; the CLI's is the
# wall time of `docker run --rm`. kwg runs with its warm pool (docker_pool_size, KWGB_DOCKER_POOL,
# default the round's size; 0: none, every task creates and starts its container): a task takes a
# container started ahead and held, so its time is the earlier-container check, the go, the
# command, wait and inspect; the removal comes after the result. One task of the kind first fills
# the pool (not measured); each round starts once the pool is full again, as the CLI's half of the
# previous round leaves it time to. KWGB_WORKER_ARGS: more worker flags (e.g. --log-level debug,
# whose lines say how long each Engine call took); KWGB_KEEP_LOG=FILE keeps the worker's log.
# Writes bench/results/docker-<date>.md and, for bench/run's report, docker-<date>.json. usage: bench/docker.sh [ROUNDS] [TASKS_PER_ROUND]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
per=${2:-20}
source bench/lib.sh
bench_start docker
tests/lib/docker_env.sh >/dev/null
tmp=$BENCH_TMP
pool=${KWGB_DOCKER_POOL:-$per}
build/bench/kwg worker --database-url "$DB" --group bench --concurrency 1 --default-runner docker \
  --work-dir "$tmp/wd" --management-port 0 --docker-pool-size "$pool" ${KWGB_WORKER_ARGS:-} >"$tmp/worker.log" 2>&1 &
worker=$!
until grep -qs "Docker runner: Engine" "$tmp/worker.log"; do sleep 0.05; done
job() { # job PREFIX N
  bench_jobs "$1" "$2" bench "jsonb_build_object('id', 't', 'type', 'io.kestra.plugin.scripts.shell.Commands',
    'containerImage', 'kwg-test/busybox', 'commands', '[\"true\"]', 'taskRunner',
    jsonb_build_object('type', 'io.kestra.plugin.scripts.runner.docker.Docker', 'pullPolicy', 'NEVER'))"
}
done_count() { sql "SELECT count(*) FROM queues WHERE type = 'io.kestra.core.runners.WorkerTaskResult' AND key LIKE '$1%' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'"; }
# held LABEL: containers of the pool started and not taken (a taken one is renamed kwg-tr-…)
held() { docker ps --filter label=kwg.pool --format '{{.Names}}' | grep -vc '^kwg-tr-' || true; }
pool_full() {
  [ "$pool" -eq 0 ] && return 0
  local deadline=$((SECONDS + 60))
  until [ "$(held)" -ge "$pool" ] || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
}
job warm- 1
until [ "$(done_count warm-)" == 1 ]; do sleep 0.1; done

: >"$tmp/kwg.ms"
: >"$tmp/cli.ms"
for r in $(seq "$rounds"); do
  pool_full
  job "b$r-" "$per"
  until [ "$(done_count "b$r-")" == "$per" ]; do
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

# A stop removes the pool (the exit trap's kill -9 would leave its containers to a later sweep).
kill -TERM "$worker"
wait "$worker" || true
worker=
[ -n "${KWGB_KEEP_LOG:-}" ] && cp "$tmp/worker.log" "$KWGB_KEEP_LOG"

out=${KWGB_RESULTS:-bench/results}/docker-$(date +%Y-%m-%d).md
{
  echo "# Docker task overhead, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(docker version --format 'Engine {{.Server.Version}}')"
  echo
  echo "A busybox \`true\` task, $rounds alternating rounds of $per tasks each side; kwg with a warm pool of $pool (docker_pool_size; 0: none)."
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
