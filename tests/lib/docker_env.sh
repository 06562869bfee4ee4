#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A Docker Engine for the tests: uses the one that answers, or starts Debian's dockerd (root); then
# builds the test image locally (no registry can be reached): kwg-test/busybox, a busybox-static
# rootfs imported with `docker import`, plus a `python` that prints the script it is given (the
# Script tasks' file transfer is checked with it). With `scripts`, also kwg-test/scripts: the same
# busybox with this machine's real python3 and node (binaries, their libraries, Python's standard
# library) for the Python and Node tasks of the fidelity tests. Fails, never skips, when no daemon
# can run.
# usage: docker_env.sh start [scripts]
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
# copy_with_libs ROOT BINARY…: the binaries and the shared libraries they load, at their paths.
copy_with_libs() {
  local root=$1 f
  shift
  for f in "$@" $(ldd "$@" | grep -o '/[^ :]*' | sort -u); do
    mkdir -p "$root$(dirname "$f")"
    cp -L "$f" "$root$f"
  done
}
SCRIPTS_IMAGE=kwg-test/scripts:latest
if [ "${2:-}" == scripts ] && ! docker image inspect "$SCRIPTS_IMAGE" >/dev/null 2>&1; then
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  mkdir -p "$root/bin" "$root/tmp" "$root/usr/bin" "$root/usr/lib"
  chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/busybox"
  for c in $(/bin/busybox --list); do
    [ "$c" == busybox ] || ln -sf busybox "$root/bin/$c"
  done
  python=$(readlink -f /usr/bin/python3) # Debian's, whose standard library is /usr/lib/python3.*
  node=$(readlink -f "$(command -v node)")
  copy_with_libs "$root" "$python" "$node"
  tar -C /usr/lib --exclude=test --exclude=__pycache__ --exclude=idlelib --exclude=tkinter \
    -c "$(basename "$python")" | tar -C "$root/usr/lib" -x
  ln -sf "$python" "$root/usr/bin/python"
  ln -sf "$python" "$root/usr/bin/python3"
  [ "$node" == /usr/bin/node ] || ln -sf "$node" "$root/usr/bin/node"
  tar -C "$root" -c . | docker import -c 'ENV PATH=/usr/bin:/bin' - "$SCRIPTS_IMAGE" >/dev/null
fi
echo "docker_env: $(docker version --format 'Engine {{.Server.Version}}, API {{.Server.APIVersion}}'), image $IMAGE"
