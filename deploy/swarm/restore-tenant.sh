#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Restores one tenant from a backup-tenant.sh dump (and its bucket mirror, when there is one and
# `mc` has an alias for MinIO). The tenant's kwg workers are scaled to 0 first (each drains:
# running tasks finish, nothing new is claimed), the database is replaced, the workers come back
# at their former replicas. Kestra's own services are left running: stop them first for a restore
# that replaces the tenant's whole state at once (docs/runbooks.md).
# usage: restore-tenant.sh TENANT DUMP [--yes]
set -euo pipefail
tenant= dump= yes=false
while [ $# -gt 0 ]; do
  case "$1" in
  --yes) yes=true; shift ;;
  -h | --help) sed -n '3,8s/^# \{0,1\}//p' "$0"; exit 0 ;;
  -*) echo "restore-tenant.sh: unknown option '$1'" >&2; exit 2 ;;
  *) if [ -z "$tenant" ]; then tenant=$1; else dump=$1; fi; shift ;;
  esac
done
[[ "$tenant" =~ ^[a-z0-9][a-z0-9-]*$ ]] && [ -f "$dump" ] ||
  { echo "usage: restore-tenant.sh TENANT DUMP [--yes] (DUMP: a file from backup-tenant.sh)" >&2; exit 2; }
pg=$(docker ps -q --filter "label=com.docker.swarm.service.name=kestra_${tenant}_postgres" | head -n 1)
[ -n "$pg" ] || { echo "restore-tenant.sh: no running kestra_${tenant}_postgres task on this node" >&2; exit 1; }
if ! $yes; then
  read -r -p "Replace the database of tenant $tenant with $dump? [y/N] " answer
  [[ "$answer" =~ ^[yY] ]] || { echo "nothing done"; exit 1; }
fi
declare -A replicas
# The workers only: kwg-routing is a one-shot install that has completed (scaling it back with
# --detach=false would wait for a task that never stays running).
for svc in $(docker stack services "kestra_$tenant" --format '{{.Name}}' | grep "^kestra_${tenant}_kwg-" |
  grep -v "_kwg-routing$" || true); do
  replicas[$svc]=$(docker service inspect "$svc" --format '{{.Spec.Mode.Replicated.Replicas}}')
  echo "$svc: scaling 0 (was ${replicas[$svc]}), draining"
  docker service scale --detach=false "$svc=0" >/dev/null
done
docker exec -i "$pg" pg_restore -U kestra -d kestra --clean --if-exists --single-transaction <"$dump"
echo "database: restored from $dump"
alias=${MC_ALIAS:-minio}
if [ -d "${dump%.dump}.bucket" ] && command -v mc >/dev/null && mc alias list "$alias" >/dev/null 2>&1; then
  mc mirror --quiet --overwrite "${dump%.dump}.bucket" "$alias/kestra-$tenant" >/dev/null
  echo "bucket: restored from ${dump%.dump}.bucket"
fi
for svc in "${!replicas[@]}"; do
  docker service scale --detach=false "$svc=${replicas[$svc]}" >/dev/null
  echo "$svc: back to ${replicas[$svc]}"
done
