#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The per-tenant Swarm stack on a real single-node Swarm (initialised here if needed, and left
# again): create-tenant.sh makes the secrets and deploys kestra_<tenant> (the worker image and a
# local postgres:15 stand-in; Kestra's services, whose image cannot be pulled, run the worker image
# idle). 300 tasks flow while the gpu group scales 1 → 3 → 0: no task is lost or runs twice, each
# scale-down drains (TERMINATED_GRACEFULLY), and the queued rest runs once the group is back.
# backup-tenant.sh keeps its retention; restore-tenant.sh brings the queue and results back.
source "$(dirname "$0")/../lib/it.sh"
"$KWGT_SRC/tests/lib/docker_env.sh" >/dev/null || { fail "no Docker Engine"; it_done; }
"$KWGT_SRC/tests/lib/debian_base.sh" >/dev/null || { fail "no Debian base image"; it_done; }
swarm=$KWGT_SRC/deploy/swarm
tenant=t$$
stack=kestra_$tenant
inited=false
made_nets=()
node=
teardown() {
  docker stack rm "$stack" >/dev/null 2>&1 || true
  local deadline=$((SECONDS + 60))
  while [ -n "$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")" ] && [ $SECONDS -lt $deadline ]; do sleep 1; done
  while docker network inspect "net_${tenant}_private" >/dev/null 2>&1 && [ $SECONDS -lt $deadline ]; do sleep 1; done
  docker secret ls -q --filter "name=${stack}_" | xargs -r docker secret rm >/dev/null 2>&1 || true
  docker volume rm "pg_${tenant}_data" >/dev/null 2>&1 || true
  for n in "${made_nets[@]}"; do docker network rm "$n" >/dev/null 2>&1 || true; done
  [ -z "$node" ] || docker node update --label-rm "kestra.tenant.$tenant.db" --label-rm kwg.group "$node" >/dev/null 2>&1 || true
  ! $inited || docker swarm leave --force >/dev/null 2>&1 || true
}
trap 'teardown; it_cleanup' EXIT

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
  docker swarm init --advertise-addr 127.0.0.1 >/dev/null || { fail "docker swarm init failed"; it_done; }
  inited=true
fi
node=$(docker info --format '{{.Swarm.NodeID}}')
for n in net_proxy net_storage; do docker network inspect "$n" >/dev/null 2>&1 || made_nets+=("$n"); done
docker node update --label-add kwg.group=gpu "$node" >/dev/null
docker build -q -f "$KWGT_SRC/deploy/docker/Dockerfile" -t kwg:test "$KWGT_SRC" >"$IT_TMP/build.log" 2>&1 &&
  docker build -q -t kwg-test/postgres:15 "$KWGT_SRC/tests/deploy/postgres" >>"$IT_TMP/build.log" 2>&1 ||
  { fail "the images do not build: $(tail -20 "$IT_TMP/build.log")"; it_done; }

# The cluster's Traefik and MinIO stacks need images these machines cannot pull: they are checked
# as compose files (structure and variables), not run.
for f in stack-proxy-traefik.yml stack-minio-global.yml stack-kestra-tenant.yml; do
  if ACME_EMAIL=ops@example.com TENANT=check docker-compose -f "$swarm/$f" config -q 2>"$IT_TMP/config.err"; then
    pass "$f is a valid stack file"
  else
    fail "$f: $(cat "$IT_TMP/config.err")"
  fi
done

cp "$KWGT_SRC/tests/integration/fixtures/kestra_gen1.sql" "$IT_TMP/kestra.sql"
chmod 644 "$IT_TMP/kestra.sql"
cat >"$IT_TMP/test-override.yml" <<YAML
version: "3.8"
services:
  postgres:
    volumes:
      # Kestra's Flyway makes these tables in real life.
      - $IT_TMP/kestra.sql:/docker-entrypoint-initdb.d/kestra.sql:ro
  kestra:
    image: kwg:test
    entrypoint: ["sleep"]
    command: ["infinity"]
    healthcheck:
      disable: true
  executor:
    image: kwg:test
    entrypoint: ["sleep"]
    command: ["infinity"]
    healthcheck:
      disable: true
YAML
export KWG_IMAGE=kwg:test KESTRA_POSTGRES_IMAGE=kwg-test/postgres:15 KWG_GPU_REPLICAS=1 KWG_DEFAULT_REPLICAS=0 \
  KWG_CONCURRENCY=4 KWG_TERMINATION_GRACE_PERIOD=60s KWG_STOP_GRACE_PERIOD=90s STACK_FILES=$IT_TMP/test-override.yml
out=$("$swarm/create-tenant.sh" "$tenant" --no-bucket 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 .*secret ${stack}_db_password: created.*stack $stack: deployed" "create-tenant.sh makes the secrets and deploys"
out=$("$swarm/create-tenant.sh" "$tenant" --no-bucket 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 .*secret ${stack}_db_password: kept" "create-tenant.sh again keeps the secrets"
expect_match "$(docker network ls --format '{{.Name}}')" "net_${tenant}_private" "the tenant's network is net_<tenant>_private"

pg() { docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres" | head -n 1; }
psql_in() { docker exec -i "$(pg)" psql -U kestra -d kestra -qAtX -v ON_ERROR_STOP=1 -c "$1"; }
db_ready() { [ -n "$(pg)" ] && [ "$(psql_in "SELECT to_regclass('queues') IS NOT NULL" 2>/dev/null)" == t ]; }
wait_for "the tenant's database with Kestra's tables" 180 db_ready || it_done
expect_eq "$(docker volume ls -q --filter name="pg_${tenant}_data")" "pg_${tenant}_data" "its data is in pg_<tenant>_data"
running_workers() { psql_in "SELECT count(*) FROM service_instance WHERE value->>'type' = 'WORKER' AND state = 'RUNNING'"; }
one_worker() { [ "$(running_workers)" == 1 ]; }
wait_for "the gpu worker registered" 120 one_worker || it_done
pass "the gpu worker of the stack registered"

WJ=io.kestra.core.runners.WorkerJob
WTR=io.kestra.core.runners.WorkerTaskResult
# it_jobs (tests/lib/it.sh) inserts through sql: here, the tenant's database in its container.
sql() { psql_in "$1" >/dev/null; }
finals() { psql_in "SELECT count(*) FROM queues WHERE type = '$WTR' AND value->'taskRun'->'state'->>'current' <> 'RUNNING'"; }

t0=$SECONDS
( for b in $(seq 1 30); do it_jobs "s$b-" 10 gpu '["sleep 1", "echo done"]'; sleep 0.5; done ) &
producer=$!
sleep 3
docker service scale --detach=false "${stack}_kwg-gpu=3" >/dev/null 2>&1
three() { [ "$(running_workers)" == 3 ]; }
wait_for "three gpu workers" 60 three && pass "scaled 1 → 3 while tasks flow"
sleep 4
t_down=$SECONDS
docker service scale --detach=false "${stack}_kwg-gpu=0" >/dev/null 2>&1
none_left() { [ -z "$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_kwg-gpu")" ]; }
wait_for "the gpu workers gone" 120 none_left
drain_s=$((SECONDS - t_down))
wait "$producer"
expect_eq "$(psql_in "SELECT count(*) FROM queues WHERE type = '$WJ'")" 300 "300 tasks queued in all"
claimed_unfinished=$(psql_in "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' GROUP BY key
  HAVING bool_and(value->'taskRun'->'state'->>'current' = 'RUNNING')) r")
expect_eq "$claimed_unfinished" 0 "scaled to 0, no task is left claimed and unfinished (each worker drained)"
done_at_zero=$(finals)
waiting=$(psql_in "SELECT count(*) FROM queues WHERE type = '$WJ' AND NOT consumer_worker")
expect_eq "$((done_at_zero + waiting))" 300 "finished ($done_at_zero) + still queued ($waiting) = 300"
expect_eq "$(psql_in "SELECT count(*) FROM service_instance WHERE value->>'type' = 'WORKER' AND state = 'TERMINATED_GRACEFULLY'")" 3 \
  "the three scaled-down workers ended TERMINATED_GRACEFULLY"

docker service scale --detach=false "${stack}_kwg-gpu=1" >/dev/null 2>&1
all_done() { [ "$(finals)" == 300 ]; }
wait_for "all 300 tasks done" 180 all_done
elapsed=$((SECONDS - t0))
expect_eq "$(psql_in "SELECT count(*) FROM queues WHERE type = '$WTR' AND value->'taskRun'->'state'->>'current' = 'SUCCESS'")" 300 \
  "every task ends SUCCESS"
expect_eq "$(psql_in "SELECT count(*) FROM (SELECT key FROM queues WHERE type = '$WTR' GROUP BY key
  HAVING count(*) FILTER (WHERE value->'taskRun'->'state'->>'current' = 'RUNNING') = 1
     AND count(*) FILTER (WHERE value->'taskRun'->'state'->>'current' = 'SUCCESS') = 1 AND count(*) = 2) k")" 300 \
  "each of the 300 ran exactly once (one RUNNING, one SUCCESS)"
spread=$(psql_in "SELECT string_agg(n::text, ' ' ORDER BY n DESC) FROM (SELECT count(*) n FROM worker_job_running GROUP BY worker_uuid) w")
echo "figures: 300 tasks in ${elapsed}s; scale 3 → 0 drained in ${drain_s}s; ${done_at_zero} done and ${waiting} queued at 0; tasks per worker: $spread"

# Backups with retention, then a restore after the queue is lost.
rows=$(psql_in "SELECT count(*) FROM queues")
for i in 1 2 3; do
  dump=$("$swarm/backup-tenant.sh" "$tenant" --dir "$IT_TMP/backups" --keep 2 2>&1 | tail -n 1)
done
expect_eq "$(ls "$IT_TMP/backups" | grep -c '\.dump$')" 2 "backup-tenant.sh keeps the newest two"
[ -s "$dump" ] && pass "backup-tenant.sh writes a dump ($(du -h "$dump" | cut -f1))" || fail "no dump: $dump"
psql_in "DELETE FROM queues" >/dev/null
out=$("$swarm/restore-tenant.sh" "$tenant" "$dump" --yes 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^0 .*database: restored" "restore-tenant.sh restores"
expect_eq "$(psql_in "SELECT count(*) FROM queues")" "$rows" "the queue and results are back ($rows rows)"
expect_eq "$(finals)" 300 "with the 300 results"
expect_match "$out" "${stack}_kwg-gpu: back to 1" "the workers come back at their replicas"
it_done
