#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A Docker Engine for the tests: uses the one that answers, or starts Debian's dockerd (root); then
# builds the test image locally (no registry can be reached): kwg-test/busybox, a busybox-static
# rootfs imported with `docker import`, plus a `python` that prints the script it is given (the
# Script tasks' file transfer is checked with it). Fails, never skips, when no daemon can run.
# usage: docker_env.sh start
set -euo pipefail
IMAGE=kwg-test/busybox:latest

answers() { docker info >/dev/null 2>&1; }

if ! answers; then
  command -v dockerd >/dev/null || { echo "docker_env: dockerd is not installed (scripts/setup.sh)" >&2; exit 1; }
  [ "$(id -u)" -eq 0 ] || { echo "docker_env: no Docker daemon answers, and starting one needs root" >&2; exit 1; }
  nohup dockerd >/var/log/kwg-test-dockerd.log 2>&1 &
  for _ in $(seq 600); do answers && break; sleep 0.1; done
  answers || { echo "docker_env: dockerd did not answer within 60 s:" >&2; tail -20 /var/log/kwg-test-dockerd.log >&2; exit 1; }
fi
if ! docker image inspect "$IMAGE" >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/tmp"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for c in $(/bin/busybox --list); do
    [ "$c" == busybox ] || ln -sf busybox "$root/bin/$c"
  done
  printf '#!/bin/sh\n# kwg tests: prints the script instead of running it\nexec cat "$@"\n' >"$root/bin/python"
  chmod 755 "$root/bin/python"
  tar -C "$root" -c . | docker import - "$IMAGE" >/dev/null
fi
echo "docker_env: $(docker version --format 'Engine {{.Server.Version}}, API {{.Server.APIVersion}}'), image $IMAGE"
