#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# An S3-compatible server for the storage tests: s3rver (pinned in tests/storage/package-lock.json,
# installed with `npm ci` when missing) behind tests/storage/s3server.js, which adds SigV4 checks
# and Kestra's leading-slash keys. It listens on a free port of 127.0.0.1 with one bucket.
# usage: s3_env.sh start DIR [BUCKET]   prints "S3_ENDPOINT=http://127.0.0.1:PORT" once it answers
#        s3_env.sh stop DIR
# Credentials: S3RVER / S3RVER. DIR holds the data, the log, the pid and the port.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../storage" && pwd)
cmd=${1:?usage: s3_env.sh start|stop DIR [BUCKET]}
dir=${2:?usage: s3_env.sh start|stop DIR [BUCKET]}
bucket=${3:-kwg-test}

case $cmd in
start)
  command -v node >/dev/null || { echo "s3_env: node is not installed (scripts/setup.sh)" >&2; exit 1; }
  # Tests start servers in parallel: one installs, the others wait for it.
  (
    flock 9
    if [ ! -d "$SRC/node_modules/s3rver" ]; then
      (cd "$SRC" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) ||
        { echo "s3_env: npm ci in $SRC failed" >&2; exit 1; }
    fi
  ) 9>"$SRC/.install.lock" || exit 1
  mkdir -p "$dir/data"
  rm -f "$dir/port"
  # s3rver makes continuation tokens with DES, which OpenSSL 3 keeps in its legacy provider
  node --openssl-legacy-provider "$SRC/s3server.js" "$dir/data" "$bucket" "$dir/port" \
    >"$dir/s3.log" 2>&1 &
  echo $! >"$dir/pid"
  deadline=$((SECONDS + 20))
  until [ -s "$dir/port" ] &&
    curl -s -o /dev/null "http://127.0.0.1:$(cat "$dir/port")/" 2>/dev/null; do
    if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
      echo "s3_env: the server exited:" >&2; cat "$dir/s3.log" >&2; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "s3_env: no answer on the port within 20 s:" >&2; cat "$dir/s3.log" >&2; exit 1
    fi
    sleep 0.05
  done
  echo "S3_ENDPOINT=http://127.0.0.1:$(cat "$dir/port")"
  ;;
stop)
  if [ -f "$dir/pid" ]; then
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    rm -f "$dir/pid"
  fi
  ;;
*)
  echo "usage: s3_env.sh start|stop DIR [BUCKET]" >&2
  exit 2
  ;;
esac
