#!/usr/bin/env bash
# Installs the Debian 12 packages luksfs needs to build and test, if missing.
# Runs apt as root, or through sudo. Does nothing when all are present.
set -euo pipefail

PACKAGES=(
  # build
  g++ make pkg-config libfuse3-dev libssl-dev libsodium-dev libargon2-dev
  libboost-program-options-dev nlohmann-json3-dev libcurl4-openssl-dev
  libgtest-dev clang libclang-rt-14-dev liburing-dev
  libsystemd-dev fdisk
  # run and test
  fuse3 cryptsetup-bin qemu-utils python3 python3-cryptography fio argon2
  util-linux procps python3-pykmip openssl
  fuse2fs e2fsprogs
  radosgw ceph-mon ceph-osd curl
  # fault injection (crash and write-error tests)
  strace
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
