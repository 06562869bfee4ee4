#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Creates (or updates) one tenant's Kestra on this Swarm: its secrets (database password and URL,
# object-storage keys), its bucket kestra-<tenant> and user in MinIO (when `mc` has an alias for
# it), the shared networks if missing, the placement label of its database node, and deploys the
# stack kestra_<tenant>. Idempotent: existing secrets are kept (Swarm secrets cannot be read back).
# usage: create-tenant.sh TENANT [--db-node NODE] [--no-bucket]
#   TENANT      [a-z0-9][a-z0-9-]* (the stack is kestra_TENANT, the bucket kestra-TENANT)
#   --db-node   the node whose volume holds the tenant's PostgreSQL (default: this node)
#   --no-bucket do not touch MinIO (make the bucket and its user by hand)
# Environment: the stack's variables (KWG_IMAGE, KESTRA_IMAGE, KWG_GPU_REPLICAS, … see the stack
# file); MC_ALIAS (default minio): the `mc` alias of the cluster's MinIO; STACK_FILES: further
# compose files merged over the stack (space-separated).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tenant= db_node= bucket=true
while [ $# -gt 0 ]; do
  case "$1" in
  --db-node) db_node=${2:?--db-node needs a value}; shift 2 ;;
  --no-bucket) bucket=false; shift ;;
  -h | --help) sed -n '3,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
  -*) echo "create-tenant.sh: unknown option '$1'" >&2; exit 2 ;;
  *) tenant=$1; shift ;;
  esac
done
[[ "$tenant" =~ ^[a-z0-9][a-z0-9-]*$ ]] || { echo "create-tenant.sh: tenant '$tenant': use [a-z0-9][a-z0-9-]*" >&2; exit 2; }
[ "$(docker info --format '{{.Swarm.ControlAvailable}}' 2>/dev/null)" == true ] ||
  { echo "create-tenant.sh: this Docker Engine is not a Swarm manager (docker swarm init / join as manager)" >&2; exit 2; }

random() { head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "$1"; }
secret() { # secret NAME VALUE: creates it unless it exists; says which
  if docker secret inspect "$1" >/dev/null 2>&1; then
    echo "secret $1: kept"
  else
    printf '%s' "$2" | docker secret create "$1" - >/dev/null
    echo "secret $1: created"
  fi
}
prefix=kestra_${tenant}
if docker secret inspect "${prefix}_db_password" >/dev/null 2>&1; then
  echo "secret ${prefix}_db_password: kept (and ${prefix}_db_url with it)"
else
  password=$(random 32)
  secret "${prefix}_db_password" "$password"
  docker secret rm "${prefix}_db_url" >/dev/null 2>&1 || true
  secret "${prefix}_db_url" "postgresql://kestra:${password}@postgres:5432/kestra"
fi
access_key=kestra-${tenant}
secret_key=$(random 40)
if docker secret inspect "${prefix}_s3_access_key" >/dev/null 2>&1; then
  echo "secrets ${prefix}_s3_*: kept"
  bucket_keys_new=false
else
  secret "${prefix}_s3_access_key" "$access_key"
  secret "${prefix}_s3_secret_key" "$secret_key"
  bucket_keys_new=true
fi

if $bucket; then
  alias=${MC_ALIAS:-minio}
  if command -v mc >/dev/null && mc alias list "$alias" >/dev/null 2>&1; then
    mc mb --ignore-existing "$alias/kestra-$tenant" >/dev/null
    if $bucket_keys_new; then
      mc admin user add "$alias" "$access_key" "$secret_key" >/dev/null
      mc admin policy attach "$alias" readwrite --user "$access_key" >/dev/null 2>&1 || true
    fi
    echo "bucket kestra-$tenant: ready in $alias"
  else
    echo "bucket kestra-$tenant: not made (no mc alias '$alias'); make it and user $access_key by hand, or pass --no-bucket" >&2
  fi
fi

for net in "${PROXY_NETWORK:-net_proxy}" "${STORAGE_NETWORK:-net_storage}"; do
  docker network inspect "$net" >/dev/null 2>&1 ||
    { docker network create --driver overlay --attachable "$net" >/dev/null && echo "network $net: created"; }
done
node=${db_node:-$(docker info --format '{{.Swarm.NodeID}}')}
docker node update --label-add "kestra.tenant.$tenant.db=true" "$node" >/dev/null
echo "node $node: holds pg_${tenant}_data"

files=(-c "$here/stack-kestra-tenant.yml")
for f in ${STACK_FILES:-}; do files+=(-c "$f"); done
TENANT=$tenant docker stack deploy --prune "${files[@]}" "$prefix" >/dev/null
echo "stack $prefix: deployed ($(docker stack services "$prefix" --format '{{.Name}}' | tr '\n' ' '))"
