#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs what kwg needs to build and test on Debian 12, from Debian's packages only. Idempotent:
# packages already present are not touched. Run as root (or with sudo).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libuv1-dev libjansson-dev libpq-dev libcurl4-openssl-dev libseccomp-dev libyaml-dev
  libmicrohttpd-dev libarchive-dev libssl-dev openssl libjq-dev libpcre2-dev libunistring-dev
  libnghttp2-dev libprotobuf-c-dev protobuf-c-compiler
  libcmocka-dev clang libclang-rt-14-dev
  clang-format
  postgresql-15 postgresql-client-15
  python3 python-is-python3 python3-cryptography python3-grpcio python3-grpc-tools
  docker.io docker-compose busybox-static debootstrap
  nodejs
)
# npm: the storage tests' S3 server (tests/storage) and the benchmark peers come from npm. Debian
# packages it apart from nodejs; NodeSource's nodejs includes it.
command -v npm >/dev/null || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "setup: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a default cluster on install; kwg's scripts use clusters of their own.
if command -v pg_lsclusters >/dev/null && pg_lsclusters -h 2>/dev/null | grep -q '^15 main'; then
  pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
fi
echo "setup: done"
