#!/usr/bin/env bash
# `make demo`: the main job end to end. Makes a small LUKS2 image with cryptsetup, mounts its
# plaintext view with luksfs, writes and reads back through the view, checks the image holds only
# ciphertext, then binds it to a root key in a local keystore, mounts it with no passphrase, and
# revokes the key: the view goes dark. Last, a qcow2+LUKS image made by qemu-img as the IBM Cloud
# VPC flow makes it: mounted, written through the view, and checked by qemu-img and qemu-io. Then
# the IBM Cloud VPC seed flow on local files: a plaintext qcow2 encrypted by `luksfs convert -p`
# into qcow2+LUKS, its passphrase bound to a local-keystore key, mounted with no secret, and
# compared with `luksfs compare` and `qemu-img compare`.
#
# Needs build/luksfs (`make all`), cryptsetup-bin and fuse3 (`make deps`), and /dev/fuse.
# LUKSFS=path overrides the binary.
set -euo pipefail

cd "$(dirname "$0")/.."
LUKSFS="${LUKSFS:-$PWD/build/luksfs}"
MSG='hello from luksfs'
OFFSET=1000003                         # unaligned: inside a 4096-byte sector, not at its start

step() { printf '== %s\n' "$*"; }
die() { printf 'demo: FAILED: %s\n' "$*" >&2; exit 1; }

[ -x "$LUKSFS" ] || die "$LUKSFS not built (run: make all)"
command -v cryptsetup >/dev/null || die "cryptsetup missing (run: make deps)"
command -v fusermount3 >/dev/null || die "fusermount3 missing (run: make deps)"

DIR="$(mktemp -d "${TMPDIR:-/tmp}/luksfs-demo.XXXXXX")"
step "work dir $DIR"
cd "$DIR"
IMG=demo.luks PW=demo.key MNT=mnt
mkdir "$MNT"
cleanup() {
    cd "$DIR/.."
    MNT="$DIR/mnt"
    if mountpoint -q "$MNT"; then
        "$LUKSFS" umount "$MNT" 2>/dev/null || fusermount3 -u "$MNT" 2>/dev/null || true
    fi
    # Never delete under a live mount.
    if mountpoint -q "$MNT"; then
        echo "demo: $MNT is still mounted; left $DIR in place" >&2
    else
        rm -rf "$DIR"
    fi
}
trap cleanup EXIT
trap 'echo "demo: FAILED at line $LINENO: $BASH_COMMAND" >&2' ERR

step "random key file (the whole file is the passphrase, as for cryptsetup --key-file)"
(umask 077 && head -c 24 /dev/urandom | base64 >"$PW")
stat -c '%A %s bytes %n' "$PW"

step "64 MiB LUKS2 image (cryptsetup luksFormat, argon2id)"
truncate -s 64M "$IMG"
cryptsetup luksFormat -q --type luks2 --pbkdf argon2id --pbkdf-force-iterations 4 \
    --pbkdf-memory 65536 --key-file "$PW" "$IMG"

step "luksfs info (selected lines)"
info="$("$LUKSFS" info "$IMG")"
sed -nE '/^(Version|UUID|Header copies|Mountable)|cipher:|sector:|view size|PBKDF|Memory|Threads/{s/^[[:space:]]+//;p}' \
    <<<"$info"

step "luksfs check"
"$LUKSFS" check "$IMG" --key-file "$PW"

step "mount"
"$LUKSFS" mount --key-file "$PW" "$IMG" "$MNT"
ls -l "$MNT"

step "write \"$MSG\" at offset $OFFSET of the view, read it back"
printf '%s\n' "$MSG" | dd of="$MNT/disk.raw" bs=1 seek="$OFFSET" conv=notrunc,fsync status=none
got="$(dd if="$MNT/disk.raw" bs=1 skip="$OFFSET" count=$((${#MSG} + 1)) status=none)"
printf 'read back: %s\n' "$got"
[ "$got" = "$MSG" ] || die "read back '$got'"

step "unmount"
"$LUKSFS" umount "$MNT"
! mountpoint -q "$MNT" || die "$MNT still mounted"

step "the image holds only ciphertext"
n="$(grep -a -c -F -- "$MSG" "$IMG" || true)"
printf 'lines of %s containing the message: %s\n' "$IMG" "$n"
[ "$n" = 0 ] || die "plaintext found in the image"

step "KMS: a root key in a local keystore (file:), sealed by its own passphrase"
export LUKSFS_KEYSTORE_KDF=interactive   # keep the demo quick
(umask 077 && head -c 18 /dev/urandom | base64 >keystore.pw)
KEY="file:$DIR/keys.db#demo"
"$LUKSFS" kms create-key "$KEY" --keystore-passphrase-file keystore.pw

step "bind: a new keyslot holds a generated passphrase, wrapped by that key (token luksfs-kms)"
"$LUKSFS" bind "$IMG" --kms "$KEY" --key-file "$PW" --keystore-passphrase-file keystore.pw
cryptsetup token export --token-id 0 "$IMG" | cut -c1-100; echo ...

step "mount with no passphrase: the KMS unwraps it; read the message again"
"$LUKSFS" mount "$IMG" "$MNT" --keystore-passphrase-file keystore.pw --kms-poll 1
got="$(dd if="$MNT/disk.raw" bs=1 skip="$OFFSET" count=$((${#MSG} + 1)) status=none)"
printf 'read back: %s\n' "$got"
[ "$got" = "$MSG" ] || die "after the KMS mount, read back '$got'"

step "revoke the root key: the mount drops its keys and the view goes dark"
"$LUKSFS" kms revoke "$KEY" --keystore-passphrase-file keystore.pw
dark=no
for _ in $(seq 30); do
    if ! err="$(dd if="$MNT/disk.raw" of=/dev/null bs=4096 count=1 status=none 2>&1)"; then
        dark=yes
        printf 'read now fails: %s\n' "${err##*: }"
        break
    fi
    sleep 0.1
done
[ "$dark" = yes ] || die "the view still serves plaintext after the revocation"
"$LUKSFS" umount "$MNT"
if "$LUKSFS" mount "$IMG" "$MNT" --keystore-passphrase-file keystore.pw 2>err.txt; then
    die "mounted under a revoked key"
fi
printf 'a new mount is refused (exit 5): %s\n' "$(cat err.txt)"

step "qcow2 with LUKS, as IBM Cloud VPC encrypted images are made (qemu-img create -f qcow2 -o encrypt.format=luks)"
command -v qemu-img >/dev/null || die "qemu-img missing (run: make deps)"
(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n' >vpc.pw)
QOBJ=(--object "secret,id=sec0,file=vpc.pw")
for _ in $(seq 1 20); do  # qemu's PBKDF2 benchmark sometimes fails: "Unable to get accurate CPU usage"
    qemu-img create -q -f qcow2 "${QOBJ[@]}" \
        -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=100 vpc.qcow2 10G && break
done
[ -f vpc.qcow2 ] || die "qemu-img create failed"
ls -ls vpc.qcow2
"$LUKSFS" info vpc.qcow2 | grep -E -i '^(Container|qcow2|Version|UUID)|cluster|virtual|allocated|cipher:' | sed 's/^[[:space:]]*//'

step "mount the 10 GiB qcow2+LUKS view, write \"$MSG\" at 3 GiB + $OFFSET (allocates a cluster)"
QOFF=$((3 * 1024 * 1024 * 1024 + OFFSET))
"$LUKSFS" mount --passphrase-file vpc.pw vpc.qcow2 "$MNT"
printf '%s\n' "$MSG" | dd of="$MNT/disk.raw" bs=1 seek="$QOFF" conv=notrunc,fsync status=none
got="$(dd if="$MNT/disk.raw" bs=1 skip="$QOFF" count=$((${#MSG} + 1)) status=none)"
printf 'read back: %s\n' "$got"
[ "$got" = "$MSG" ] || die "qcow2: read back '$got'"
"$LUKSFS" umount "$MNT"
ls -ls vpc.qcow2

step "qemu agrees: qemu-img check, and qemu-io reads the message back"
qemu-img check -q "${QOBJ[@]}" --image-opts "driver=qcow2,encrypt.key-secret=sec0,file.filename=vpc.qcow2" ||
    die "qemu-img check found errors"
echo "qemu-img check: no errors"
qemu-io "${QOBJ[@]}" --image-opts "driver=qcow2,encrypt.key-secret=sec0,file.filename=vpc.qcow2" \
    -c "read -v $QOFF ${#MSG}" | head -2
qemu-io "${QOBJ[@]}" --image-opts "driver=qcow2,encrypt.key-secret=sec0,file.filename=vpc.qcow2" \
    -c "read -v $QOFF ${#MSG}" | grep -qF "$(printf '%s' "${MSG:0:16}" | tr ' ' .)" ||
    die "qemu-io does not read the message"
n="$(grep -a -c -F -- "$MSG" vpc.qcow2 || true)"
[ "$n" = 0 ] || die "plaintext found in vpc.qcow2"
echo "vpc.qcow2 holds no plaintext"

step "IBM Cloud VPC seed flow: a plaintext qcow2 (qemu-img create, qemu-io writes)"
qemu-img create -q -f qcow2 seed.qcow2 4G
qemu-io -c "write -P 0x5e 0 8M" -c "write -P 0x17 2G 1M" seed.qcow2 >/dev/null
printf '%s' "$MSG" >msg.txt
qemu-io -c "write -s msg.txt $OFFSET ${#MSG}" seed.qcow2 >/dev/null
ls -ls seed.qcow2

step "luksfs convert -p: encrypt it into qcow2+LUKS (qemu's format: LUKS1 inside, host-offset IVs)"
(umask 077 && head -c 18 /dev/urandom | base64 | tr -d '\n' >seed.pw)
"$LUKSFS" convert -p -O qcow2 --iter-time 200 --new-passphrase-file seed.pw seed.qcow2 seed-luks.qcow2
ls -ls seed-luks.qcow2
SOBJ=(--object "secret,id=sec1,file=seed.pw")
SOPTS="driver=qcow2,encrypt.key-secret=sec1,file.filename=seed-luks.qcow2"
qemu-img info seed-luks.qcow2 | grep -E '^(virtual size|encrypted)|format: luks' | sed 's/^[[:space:]]*//'
qemu-img check -q "${SOBJ[@]}" --image-opts "$SOPTS" || die "qemu-img check found errors in seed-luks.qcow2"
echo "qemu-img check: no errors"
qemu-img compare "${SOBJ[@]}" --image-opts "$SOPTS" "driver=qcow2,file.filename=seed.qcow2" ||
    die "qemu-img compare: seed-luks.qcow2 differs from seed.qcow2"

step "bind its passphrase to a root key in the local keystore (as Key Protect wraps it), drop the file"
VKEY="file:$DIR/keys.db#vpc-seed"
"$LUKSFS" kms create-key "$VKEY" --keystore-passphrase-file keystore.pw
"$LUKSFS" bind seed-luks.qcow2 --kms "$VKEY" --key-file seed.pw --keystore-passphrase-file keystore.pw
rm -f seed.pw

step "mount seed-luks.qcow2 with no secret (the KMS unwraps it), read the message"
"$LUKSFS" mount seed-luks.qcow2 "$MNT" --keystore-passphrase-file keystore.pw
got="$(dd if="$MNT/disk.raw" bs=1 skip="$OFFSET" count=${#MSG} status=none)"
printf 'read back: %s\n' "$got"
[ "$got" = "$MSG" ] || die "seed: read back '$got'"
"$LUKSFS" umount "$MNT"

step "luksfs compare: the plaintext of seed-luks.qcow2 is seed.qcow2's"
"$LUKSFS" compare seed.qcow2 seed-luks.qcow2 --keystore-passphrase-file keystore.pw

echo "demo: OK"
