#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Tools-stack compose file (deploy/compose) and its wrapper scripts (deploy/scripts), for real:
# the stack comes up from .env.example's values (the password changed), with the locally built
# worker image and a local stand-in for postgres:15; Kestra's image cannot be pulled here, so its
# service runs the worker image idle and `kwg submit` in it plays Kestra's executor. Checks that
# run.sh scales a group and waits for health, status.sh shows the table, tasks run on both workers,
# logs.sh and health.sh work, stop.sh drains and reports each worker, and the scripts fail kindly.
source "$(dirname "$0")/../lib/it.sh"
"$KWGT_SRC/tests/lib/docker_env.sh" >/dev/null || { fail "no Docker Engine"; it_done; }
"$KWGT_SRC/tests/lib/debian_base.sh" >/dev/null || { fail "no Debian base image"; it_done; }
command -v docker-compose >/dev/null || docker compose version >/dev/null 2>&1 ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null ||
  { fail "cannot install docker-compose"; it_done; }
scripts=$KWGT_SRC/deploy/scripts
export KWG_COMPOSE_DIR=$IT_TMP/compose
project=kwgct$$
trap '(cd "$KWG_COMPOSE_DIR" && docker-compose down -v -t 5 >/dev/null 2>&1) || true; it_cleanup' EXIT

docker build -q -f "$KWGT_SRC/deploy/docker/Dockerfile" -t kwg:test "$KWGT_SRC" >"$IT_TMP/build.log" 2>&1 &&
  docker build -q -t kwg-test/postgres:15 "$KWGT_SRC/tests/deploy/postgres" >>"$IT_TMP/build.log" 2>&1 ||
  { fail "the images do not build: $(tail -20 "$IT_TMP/build.log")"; it_done; }

mkdir -p "$KWG_COMPOSE_DIR/flows"
cp "$KWGT_SRC/deploy/compose/docker-compose.yml" "$KWG_COMPOSE_DIR/"
cp "$KWGT_SRC/tests/integration/fixtures/kestra_gen1.sql" "$KWG_COMPOSE_DIR/"
sed -e "s/^COMPOSE_PROJECT_NAME=.*/COMPOSE_PROJECT_NAME=$project/" -e "s/^KESTRA_DB_PASSWORD=.*/KESTRA_DB_PASSWORD=pw-$$/" \
  -e "s|^KWG_IMAGE=.*|KWG_IMAGE=kwg:test|" -e "s|^KESTRA_POSTGRES_IMAGE=.*|KESTRA_POSTGRES_IMAGE=kwg-test/postgres:15|" \
  -e "s/^KESTRA_PORT=.*/KESTRA_PORT=$((20000 + $$ % 20000))/" -e "s/^KWG_STOP_GRACE_PERIOD=.*/KWG_STOP_GRACE_PERIOD=60s/" \
  -e "s/^KWG_TERMINATION_GRACE_PERIOD=.*/KWG_TERMINATION_GRACE_PERIOD=30s/" -e "s/^KWG_CONCURRENCY=.*/KWG_CONCURRENCY=2/" \
  "$KWGT_SRC/deploy/compose/.env.example" >"$KWG_COMPOSE_DIR/.env"
cat >"$KWG_COMPOSE_DIR/docker-compose.override.yml" <<'YAML'
services:
  kestra-postgres:
    volumes:
      # Kestra's Flyway makes these tables in real life.
      - ./kestra_gen1.sql:/docker-entrypoint-initdb.d/kestra.sql:ro
  kestra:
    # The executor's stand-in: the worker image, idle; the test runs `kwg submit` in it.
    image: ${KWG_IMAGE}
    entrypoint: ["sleep"]
    command: ["infinity"]
    user: kwg
    healthcheck:
      disable: true
    volumes:
      - ./flows:/flows:ro
YAML
cat >"$KWG_COMPOSE_DIR/flows/slow.yaml" <<'YAML'
id: slow
type: io.kestra.plugin.scripts.shell.Commands
taskRunner:
  type: io.kestra.plugin.core.runner.Process
commands:
  - sleep 2
  - echo "done on $(hostname)"
YAML
cp "$KWGT_SRC/deploy/examples/hello-outputs.yaml" "$KWG_COMPOSE_DIR/flows/hello.yaml"
dc() { (cd "$KWG_COMPOSE_DIR" && docker-compose "$@"); }
db_url="postgresql://kestra:pw-$$@kestra-postgres:5432/kestra"
psql_in() { dc exec -T kestra-postgres psql -U kestra -d kestra -qAtX -c "$1"; }

# run.sh: a group of two, detached; it waits for their health and prints the table.
out=$("$scripts/run.sh" --group gpu --replicas 2 --detach 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 0 "run.sh --group gpu --replicas 2 --detach succeeds"
if [ "$rc" != 0 ]; then
  echo "$out"
  docker logs "${project}_kwg-gpu_1" 2>&1 | tail -20
  it_done
fi
expect_eq "$(grep -cE "^${project}_kwg-gpu_[0-9]+ +gpu +running +healthy$" <<<"$out")" 2 \
  "it prints both gpu workers running and healthy"
out=$("$scripts/status.sh" 2>&1)
expect_match "$out" "^CONTAINER +GROUP +STATE +HEALTH" "status.sh prints a table"
expect_eq "$(grep -c " gpu " <<<"$out")" 2 "with the two workers of group gpu"

# Tasks through the executor's stand-in, spread over both workers.
dc up -d kestra >/dev/null 2>&1
out=$(dc exec -T kestra kwg submit --timeout 60s --database-url "$db_url" --group gpu /flows/hello.yaml 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 .*SUCCESS" "a task submitted through the stack runs to SUCCESS"
pids=()
for i in 1 2 3 4 5 6; do
  dc exec -T kestra kwg submit --timeout 60s --database-url "$db_url" --group gpu /flows/slow.yaml >"$IT_TMP/slow$i.out" 2>&1 &
  pids+=($!)
done
ok=0
for p in "${pids[@]}"; do wait "$p" && ok=$((ok + 1)); done
expect_eq "$ok" 6 "six concurrent tasks succeed (two at a time per worker)"
expect_eq "$(psql_in "SELECT count(DISTINCT value->'workerInstance'->>'workerUuid') FROM worker_job_running")" 2 \
  "both workers of the group took tasks"

out=$("$scripts/logs.sh" --group gpu --tail 200 2>&1) && rc=0 || rc=$?
expect_eq "$(grep -c "claiming tasks" <<<"$out")" 2 "logs.sh shows both workers' logs"
"$scripts/health.sh" --group gpu >"$IT_TMP/health.out" 2>&1 && rc=0 || rc=$?
expect_eq "$rc/$(grep -c ': running, healthy' "$IT_TMP/health.out")" 0/2 "health.sh: exit 0, both healthy"

out=$("$scripts/run.sh" --group nosuch --detach 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^2 .*no service kwg-nosuch .*groups: default gpu" "run.sh names the groups it knows"

# stop.sh drains and reports each worker; then health and logs say nothing runs.
out=$("$scripts/stop.sh" --group gpu 2>&1) && rc=0 || rc=$?
expect_eq "$rc" 0 "stop.sh succeeds"
[ "$rc" == 0 ] || { echo "$out"; for c in 1 2; do docker logs --tail 15 "${project}_kwg-gpu_$c" 2>&1; done; }
expect_eq "$(grep -cE "^stopped ${project}_kwg-gpu_[0-9]+ \(group gpu, exit 0, drained: yes\)$" <<<"$out")" 2 \
  "stop.sh reports each worker stopped, exit 0, drained"
"$scripts/health.sh" --group gpu >"$IT_TMP/health2.out" 2>&1 && rc=0 || rc=$?
expect_match "$rc $(cat "$IT_TMP/health2.out")" "^1 .*: exited" "health.sh: exit 1 when the workers are down"
out=$("$scripts/logs.sh" --group gpu 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 logs.sh: no kwg worker of group gpu is running .*run.sh --group gpu --detach" \
  "logs.sh fails kindly when nothing runs"
out=$("$scripts/stop.sh" --group gpu 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 nothing to stop" "stop.sh with nothing running says so"
it_done
