#!/bin/bash
# Concurrent writes and reads through the view, verified by fio: 4 jobs of random 4-64 KiB writes
# with crc32c verification headers over disjoint regions, each read back and checked by fio (the
# page cache mount, then --direct-io with O_DIRECT jobs). After unmount the image is decrypted by
# the oracle (volume key from cryptsetup) and must equal what the view served before unmount.
# Also run under ASan/UBSan/LSan by tests/run-all.sh (asan/fio_verify).
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
command -v fio >/dev/null || fail "fio is not installed"
cd "$WORK"
write_secret pw "fio passphrase"
truncate -s 80M img
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file pw img
mnt="$(new_mountpoint mnt)"

run_fio() {  # run_fio VIEW DIRECT
    fio --name=verify --filename="$1" --direct="$2" --rw=randwrite --bsrange=4k-64k \
        --numjobs=4 --size=16M --offset_increment=16M --ioengine=psync --verify=crc32c \
        --verify_fatal=1 --do_verify=1 --randrepeat=0 --group_reporting --output-format=terse \
        >fio.out 2>fio.err || fail "fio (direct=$2) failed: $(tail -3 fio.err | tr '\n' ' ')"
}

mount_view img "$mnt" --passphrase-file pw
run_fio "$mnt/disk.raw" 0
log "page-cache mount: fio verify passed"
umount_view "$mnt"
mount_view img "$mnt" --passphrase-file pw --direct-io
run_fio "$mnt/disk.raw" 1
log "--direct-io mount: fio verify passed"
cp "$mnt/disk.raw" view.raw
umount_view "$mnt"
dump_vk img pw vk
oracle_decrypt img vk plain.raw
assert_files_eq plain.raw view.raw "oracle plaintext vs the view"
pass
