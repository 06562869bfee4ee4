#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian 12 base images the Dockerfile builds FROM, made locally (no image registry can be
# reached from the test machines): `debootstrap --variant=minbase bookworm` from Debian's mirror,
# imported as debian:bookworm and tagged debian:bookworm-slim. Does nothing when both exist.
set -euo pipefail
if docker image inspect debian:bookworm >/dev/null 2>&1 &&
  docker image inspect debian:bookworm-slim >/dev/null 2>&1; then
  exit 0
fi
command -v debootstrap >/dev/null ||
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
root=$(mktemp -d /tmp/kwg-debian.XXXXXX)
trap 'rm -rf "$root"' EXIT
mirror=${KWGT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
if ! debootstrap --variant=minbase bookworm "$root" "$mirror" >"$root.log" 2>&1; then
  echo "debian_base: debootstrap from $mirror failed:" >&2
  tail -20 "$root.log" >&2
  exit 1
fi
rm -f "$root.log"
# The image's apt sources: the same mirror.
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb
tar -C "$root" -c . | docker import --change 'CMD ["bash"]' - debian:bookworm >/dev/null
docker tag debian:bookworm debian:bookworm-slim
echo "debian_base: debian:bookworm and debian:bookworm-slim imported from $mirror"
