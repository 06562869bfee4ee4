#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A throwaway PostgreSQL 15 cluster for kwg's tests and demo: UNIX socket only, durability off,
# the Kestra 1.x tables (tests/integration/fixtures/kestra_gen1.sql) in a template database.
# initdb refuses root, so as root the cluster runs as the `postgres` user.
#
#   pg_env.sh start DIR          start a cluster in DIR (made if needed); prints `export PG…` lines
#   pg_env.sh stop DIR           stop it and remove DIR
#   pg_env.sh newdb DIR NAME     (re)create database NAME from the Kestra template; prints its conninfo
#   pg_env.sh url DIR [DBNAME]   prints the conninfo of DBNAME (default kestra_template)
#   pg_env.sh restart|pause|resume DIR   restart, stop or start the server (the data stays)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
schema=$here/../integration/fixtures/kestra_gen1.sql
bindir=${KWG_PG_BINDIR:-/usr/lib/postgresql/15/bin}

die() {
  echo "pg_env: $*" >&2
  exit 1
}

as_owner() { # runs a command as the cluster owner, from / (it may not enter the caller's cwd)
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

ensure_postgres() {
  [ -x "$bindir/initdb" ] && return 0
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL 15 is not installed ($bindir/initdb missing); run scripts/setup.sh as root"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null ||
    die "cannot install postgresql-15"
}

port_of() { cat "$1/port" 2>/dev/null || die "no cluster in $1 (run: pg_env.sh start $1)"; }

conninfo() { # conninfo DIR DB
  echo "host=$1/sock port=$(port_of "$1") dbname=$2 user=postgres"
}

cmd_start() {
  local dir=$1 port
  ensure_postgres
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  if [ -f "$dir/port" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    echo "export PGHOST=$dir/sock PGPORT=$(port_of "$dir")"
    return 0
  fi
  # The postgres user must be able to reach DIR: open the path's directories for traversal.
  chmod 755 "$dir"
  mkdir -p "$dir/sock"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir" "$dir/sock"
    local p=$dir
    while [ "$p" != / ]; do
      p=$(dirname "$p")
      chmod o+x "$p" 2>/dev/null || true
    done
  fi
  # A port is only a name for the socket file here; pick one no other cluster of ours uses.
  port=${KWG_PG_PORT:-}
  if [ -z "$port" ]; then
    port=$((20000 + RANDOM % 20000))
  fi
  echo "$port" >"$dir/port"
  # A cluster not running is one a killed run left behind (a restarted machine): start afresh.
  rm -rf "$dir/data"
  as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/sock'
unix_socket_permissions = 0777
port = $port
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
CONF
  as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 start >/dev/null ||
    { tail -n 30 "$dir/server.log" >&2; die "the server did not start"; }
  local deadline=$((SECONDS + 30))
  until "$bindir/pg_isready" -q -h "$dir/sock" -p "$port"; do
    [ $SECONDS -lt $deadline ] || { tail -n 30 "$dir/server.log" >&2; die "server not ready after 30 s"; }
    sleep 0.1
  done
  psql "$(conninfo "$dir" postgres)" -qAtX -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE root SUPERUSER LOGIN" -c "CREATE ROLE kwg LOGIN" \
    -c "CREATE DATABASE kestra_template" >/dev/null
  psql "$(conninfo "$dir" kestra_template)" -qAtX -v ON_ERROR_STOP=1 -f "$schema" >/dev/null ||
    die "loading $schema failed"
  echo "export PGHOST=$dir/sock PGPORT=$port"
}

cmd_stop() {
  local dir=$1
  [ -d "$dir" ] || return 0
  if [ -d "$dir/data" ]; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
}

cmd_ctl() { # cmd_ctl DIR restart|stop|start: the server only, the data stays
  local dir=$1 action=$2
  case "$action" in
    stop) as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
    start | restart) as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 30 "$action" >/dev/null ;;
  esac
}

cmd_newdb() {
  local dir=$1 name=$2
  PGOPTIONS='-c client_min_messages=warning' psql "$(conninfo "$dir" postgres)" -qAtX -v ON_ERROR_STOP=1 \
    -c "DROP DATABASE IF EXISTS \"$name\"" \
    -c "CREATE DATABASE \"$name\" TEMPLATE kestra_template" >/dev/null ||
    die "cannot create database $name"
  conninfo "$dir" "$name"
}

case "${1:-}" in
  start) [ $# -eq 2 ] || die "usage: pg_env.sh start DIR"; cmd_start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: pg_env.sh stop DIR"; cmd_stop "$2" ;;
  newdb) [ $# -eq 3 ] || die "usage: pg_env.sh newdb DIR NAME"; cmd_newdb "$2" "$3" ;;
  restart | pause | resume)
    [ $# -eq 2 ] || die "usage: pg_env.sh restart|pause|resume DIR"
    case "$1" in restart) cmd_ctl "$2" restart ;; pause) cmd_ctl "$2" stop ;; resume) cmd_ctl "$2" start ;; esac ;;
  url) [ $# -ge 2 ] || die "usage: pg_env.sh url DIR [DBNAME]"; conninfo "$2" "${3:-kestra_template}" ;;
  *) die "usage: pg_env.sh start|stop|newdb|url DIR …" ;;
esac
