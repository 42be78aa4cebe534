#!/usr/bin/env bash
# Install what peerd needs to build, run and test, from Debian's packages; only what is missing.
# Used by `make run` and `make test`. Needs root (or sudo) the first time.
set -euo pipefail
pkgs=(
  build-essential cmake pkg-config clang llvm libclang-rt-14-dev
  libuv1-dev libc-ares-dev libmsgpack-dev libsodium-dev libmbedtls-dev libcmocka-dev
  nftables iproute2 bind9-dnsutils procps
)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
