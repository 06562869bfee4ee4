#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Backs up one tenant: its PostgreSQL database (pg_dump, custom format, from the running
# kestra_<tenant>_postgres task on this node) and, when `mc` has an alias for the cluster's MinIO,
# a mirror of its bucket; keeps the newest KEEP backups and deletes older ones.
# usage: backup-tenant.sh TENANT [--dir DIR] [--keep N]   (defaults: /var/backups/kestra, 7)
# Prints the dump's path last.
set -euo pipefail
tenant= dir=/var/backups/kestra keep=7
while [ $# -gt 0 ]; do
  case "$1" in
  --dir) dir=${2:?--dir needs a value}; shift 2 ;;
  --keep) keep=${2:?--keep needs a value}; shift 2 ;;
  -h | --help) sed -n '3,7s/^# \{0,1\}//p' "$0"; exit 0 ;;
  -*) echo "backup-tenant.sh: unknown option '$1'" >&2; exit 2 ;;
  *) tenant=$1; shift ;;
  esac
done
[[ "$tenant" =~ ^[a-z0-9][a-z0-9-]*$ ]] || { echo "backup-tenant.sh: name a tenant" >&2; exit 2; }
[[ "$keep" =~ ^[1-9][0-9]*$ ]] || { echo "backup-tenant.sh: --keep must be a positive number" >&2; exit 2; }
pg=$(docker ps -q --filter "label=com.docker.swarm.service.name=kestra_${tenant}_postgres" | head -n 1)
[ -n "$pg" ] || { echo "backup-tenant.sh: no running kestra_${tenant}_postgres task on this node (run it where the tenant's database is: docker service ps kestra_${tenant}_postgres)" >&2; exit 1; }
mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%S%3NZ) # milliseconds: two backups in one second stay apart
dump=$dir/kestra_${tenant}_${stamp}.dump
docker exec "$pg" pg_dump -U kestra -d kestra -Fc >"$dump.partial"
mv "$dump.partial" "$dump"
echo "database: $(du -h "$dump" | cut -f1) in $dump"
alias=${MC_ALIAS:-minio}
if command -v mc >/dev/null && mc alias list "$alias" >/dev/null 2>&1; then
  mc mirror --quiet "$alias/kestra-$tenant" "$dir/kestra_${tenant}_${stamp}.bucket" >/dev/null
  echo "bucket: mirrored into $dir/kestra_${tenant}_${stamp}.bucket"
else
  echo "bucket: not mirrored (no mc alias '$alias')"
fi
# Retention: the newest $keep backups stay.
ls -1 "$dir"/kestra_"${tenant}"_*.dump 2>/dev/null | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
  rm -rf "$old" "${old%.dump}.bucket"
  echo "removed $(basename "$old") (keeping $keep)"
done
echo "$dump"
