#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The worker image (deploy/docker/Dockerfile), built unchanged on a Debian base made locally:
# the worker runs as the container's root (Docker's default capabilities) with the container
# sandbox profile by default, its HEALTHCHECK turns healthy, it runs a task from the queue
# sandboxed as nobody, it stops gracefully on SIGTERM, and it refuses to start with a sandbox that
# cannot be set up inside the container (default) rather than run tasks less isolated than asked.
source "$(dirname "$0")/../lib/it.sh"
"$KWGT_SRC/tests/lib/docker_env.sh" >/dev/null || { fail "no Docker Engine"; it_done; }
"$KWGT_SRC/tests/lib/debian_base.sh" >/dev/null || { fail "no Debian base image"; it_done; }
it_db image
NAME=kwg-image-test-$$
cleanup_container() { docker rm -f "$NAME" >/dev/null 2>&1 || true; }
trap 'cleanup_container; it_cleanup' EXIT

if docker build -q -f "$KWGT_SRC/deploy/docker/Dockerfile" -t kwg:test "$KWGT_SRC" >"$IT_TMP/build.log" 2>&1; then
  pass "the image builds from the Dockerfile"
else
  fail "the image does not build: $(tail -20 "$IT_TMP/build.log")"
  it_done
fi
expect_eq "$(docker inspect kwg:test --format '{{.Config.User}} {{.Config.StopSignal}} {{json .Config.Healthcheck.Test}}')" \
  'root SIGTERM ["CMD","kwg","health"]' "the container's root (tasks run as nobody), SIGTERM, a health check on /health"
expect_match "$(docker inspect kwg:test --format '{{json .Config.Env}}')" '"KWG_SANDBOX=container"' \
  "the image's sandbox is the container profile"

sock=$(sed -n 's/.*host=\([^ ]*\).*/\1/p' <<<"$DB")
run_worker() { # run_worker [docker run options]: the worker of group img, detached
  docker run -d --name "$NAME" -v "$sock:$sock" -e KWG_DATABASE_URL="$DB" -e KWG_GROUP=img \
    -e KWG_DEFAULT_RUNNER=process "$@" kwg:test >/dev/null
}
# In an unprivileged container the default profile's namespaces are refused: the worker says so
# and stops, naming the profile that works there.
out=$(docker run --rm -v "$sock:$sock" -e KWG_DATABASE_URL="$DB" -e KWG_GROUP=img -e KWG_SANDBOX=default kwg:test 2>&1) && rc=0 || rc=$?
expect_match "$rc $out" "^1 .*the default sandbox cannot be set up on this machine: .*refusing to start \(in a container that may not make namespaces, --sandbox container" \
  "without a usable sandbox the worker refuses to start, saying why and what to use"

# The image's default: the container profile, tasks as nobody.
run_worker
healthy() { [ "$(docker inspect "$NAME" --format '{{.State.Health.Status}}')" == healthy ]; }
wait_for "the container healthy" 60 healthy && pass "the health check turns healthy"
cat >"$IT_TMP/id.yaml" <<'YAML'
id: whoami
type: io.kestra.plugin.scripts.shell.Commands
commands:
  - echo "uid $(id -u)"
YAML
submit "$IT_TMP/id.yaml" --group img
expect_match "$RC $OUT" "^0 .*INFO  uid 65534" "the containerised worker runs a task sandboxed, as nobody"
cat >"$IT_TMP/tz.yaml" <<'YAML'
id: tz
type: io.kestra.plugin.core.log.Log
message: "{{ '2024-01-15T10:30:00Z' | date('HH:mm VV', timeZone='Europe/Paris') }} {{ 'a' | sha1 }} {{ {'k': [1, 2]} | jq('.k[]') | last }}"
YAML
submit "$IT_TMP/tz.yaml" --group img
expect_match "$RC $OUT" "^0 .*INFO  11:30 Europe/Paris 86f7e437faa5a7fce15d1ddcb9eaeaea377667b8 2" \
  "the image renders templates: time zones (tzdata), hashes (libcrypto), jq (libjq)"
docker stop -t 30 "$NAME" >/dev/null
expect_eq "$(docker inspect "$NAME" --format '{{.State.ExitCode}}')" 0 "docker stop ends it cleanly (exit 0)"
expect_match "$(docker logs "$NAME" 2>&1)" "TERMINATED_GRACEFULLY; exiting" "after a graceful drain"
it_done
