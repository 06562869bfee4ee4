#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Shared by the wrapper scripts: the compose project (deploy/compose, or KWG_COMPOSE_DIR) and its
# kwg workers, found by their kwg.group label. Sourced, not run.
set -euo pipefail

compose_dir=${KWG_COMPOSE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../compose" && pwd)}
[ -f "$compose_dir/docker-compose.yml" ] || { echo "${0##*/}: no docker-compose.yml in $compose_dir (set KWG_COMPOSE_DIR)" >&2; exit 2; }
[ -f "$compose_dir/.env" ] || { echo "${0##*/}: no $compose_dir/.env: copy .env.example to .env and fill it in" >&2; exit 2; }
command -v docker >/dev/null || { echo "${0##*/}: docker is not installed" >&2; exit 2; }
docker info >/dev/null 2>&1 || { echo "${0##*/}: the Docker Engine does not answer (is dockerd running? may this user use it?)" >&2; exit 2; }

# compose ARGS...: Compose v2 (docker compose) when present, else docker-compose, in the project.
compose() {
  if docker compose version >/dev/null 2>&1; then
    (cd "$compose_dir" && docker compose "$@")
  elif command -v docker-compose >/dev/null; then
    (cd "$compose_dir" && docker-compose "$@")
  else
    echo "${0##*/}: neither 'docker compose' nor 'docker-compose' is installed" >&2
    exit 2
  fi
}

project=$(sed -n 's/^COMPOSE_PROJECT_NAME=//p' "$compose_dir/.env" | tail -n 1)
project=${project:-$(basename "$compose_dir")}

# workers [GROUP] [--all]: the project's kwg containers (running ones, or all with --all), one per
# line: "name group state health".
workers() {
  local group=${1:-} all=${2:-} filter=(--filter "label=com.docker.compose.project=$project")
  if [ -n "$group" ]; then filter+=(--filter "label=kwg.group=$group"); else filter+=(--filter label=kwg.group); fi
  [ "$all" == --all ] && filter+=(-a)
  docker ps "${filter[@]}" --format '{{.Names}}' | sort | while read -r name; do
    docker inspect "$name" --format '{{.Name}} {{index .Config.Labels "kwg.group"}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}-{{end}}' |
      sed 's|^/||'
  done
}

# service GROUP: the compose service of a group (kwg-GROUP), or exits saying which exist. kwg-routing
# is the routing's init step, not a group.
service() {
  local services
  services=$(compose config --services | grep -vx kwg-routing | sort)
  if ! grep -qx "kwg-$1" <<<"$services"; then
    echo "${0##*/}: no service kwg-$1 in $compose_dir/docker-compose.yml (groups: $(sed -n 's/^kwg-//p' <<<"$services" | tr '\n' ' '))" >&2
    exit 2
  fi
  echo "kwg-$1"
}
