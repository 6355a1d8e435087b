#!/bin/bash
# --partition N and --offset BYTES: a LUKS2 header inside partition 2 of a GPT disk image (made
# with sfdisk), and inside partition 1 of an MBR disk. The view is written through luksfs and
# the partition's ciphertext is checked with the independent oracle (cryptsetup's volume key);
# the bytes outside the partition stay untouched.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
command -v sfdisk >/dev/null || fail "sfdisk (fdisk package) missing"
cd "$WORK"
write_secret pw "partition passphrase"
truncate -s 64M luks.img
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" luks.img pw
dump_vk luks.img pw vk

log "GPT disk: LUKS in partition 2"
truncate -s 100M gpt.disk
printf 'label: gpt\nstart=2048, size=16384, type=linux\nstart=20480, size=131072, type=linux\n' \
    | sfdisk -q gpt.disk >/dev/null
dd if=luks.img of=gpt.disk bs=512 seek=20480 conv=notrunc status=none
head -c $((3 * MiB)) /dev/urandom >pattern
before_p1=$(dd if=gpt.disk bs=512 skip=0 count=20480 status=none | sha256sum)
after_p2=$(dd if=gpt.disk bs=512 skip=$((20480 + 131072)) status=none | sha256sum)

assert_exit 0 "$LUKSFS" check gpt.disk --partition 2 --passphrase-file pw
assert_exit 0 "$LUKSFS" info --json gpt.disk --partition 2
grep -q '"view_size": 50331648' "$WORK/last.out" || fail "info --partition 2: view size: $(grep view_size "$WORK/last.out")"
mnt=$(new_mountpoint mnt)
mount_view gpt.disk "$mnt" --partition 2 --passphrase-file pw
dd if=pattern of="$mnt/disk.raw" bs=1M seek=1 conv=notrunc,fsync status=none
umount_view "$mnt"
dd if=gpt.disk of=p2.img bs=512 skip=20480 count=131072 status=none
oracle_decrypt p2.img vk p2.plain
cmp pattern <(dd if=p2.plain bs=1M skip=1 count=3 status=none) || fail "partition 2 does not decrypt to what was written"
[[ "$(dd if=gpt.disk bs=512 skip=0 count=20480 status=none | sha256sum)" == "$before_p1" ]] \
    || fail "bytes before partition 2 changed"
[[ "$(dd if=gpt.disk bs=512 skip=$((20480 + 131072)) status=none | sha256sum)" == "$after_p2" ]] \
    || fail "bytes after partition 2 changed"

log "--offset: the same header by byte offset; errors"
assert_exit 0 "$LUKSFS" check gpt.disk --offset $((20480 * 512)) --passphrase-file pw
assert_exit 2 "$LUKSFS" check gpt.disk --partition 2 --passphrase-file <(printf 'wrong')
assert_exit 3 "$LUKSFS" check gpt.disk --partition 1 --passphrase-file pw   # not LUKS
assert_exit 4 "$LUKSFS" check gpt.disk --partition 3 --passphrase-file pw
grep -q 'no partition 3 in the gpt table (it has: 1, 2)' "$WORK/last.err" || fail "partition 3: $(cat "$WORK/last.err")"
assert_exit 1 "$LUKSFS" check gpt.disk --offset 100 --passphrase-file pw
assert_exit 3 "$LUKSFS" check luks.img --partition 1 --passphrase-file pw      # no table
grep -q 'partition table: no MBR signature' "$WORK/last.err" || fail "no table: $(cat "$WORK/last.err")"

log "a damaged GPT header is refused (CRC), exit 3"
cp gpt.disk bad.disk
printf 'X' | dd of=bad.disk bs=1 seek=$((512 + 40)) conv=notrunc status=none
assert_exit 3 "$LUKSFS" check bad.disk --partition 2 --passphrase-file pw
grep -q 'GPT header CRC mismatch' "$WORK/last.err" || fail "damaged GPT: $(cat "$WORK/last.err")"

log "MBR disk: LUKS in partition 1, through -o partition=1"
truncate -s 80M mbr.disk
printf 'label: dos\nstart=4096, size=131072, type=83\n' | sfdisk -q mbr.disk >/dev/null
dd if=luks.img of=mbr.disk bs=512 seek=4096 conv=notrunc status=none
mnt2=$(new_mountpoint mnt2)
register_mount "$mnt2"
"$LUKSFS" mbr.disk "$mnt2" -o ro,partition=1,passphrase_file="$WORK/pw" || fail "mount -o partition=1"
oracle_decrypt luks.img vk orig.plain
cmp "$mnt2/disk.raw" orig.plain || fail "MBR partition 1 view differs from the oracle's plaintext"
umount_view "$mnt2"
pass
