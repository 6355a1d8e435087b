#!/bin/bash
# qemu-img made LUKS1 images (qemu is an independent LUKS1 implementation). Data is written by
# qemu-io (patterns at odd places, including the last sector) and by `qemu-img convert -O luks`
# from a patterned raw file. The luksfs view must byte-equal `qemu-img convert -f luks -O raw`.
# Variants: default aes-256-xts-plain64; aes-256-cbc-essiv:sha256; aes-128-xts-plain64.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "qemu passphrase"
SECRET=(--object "secret,id=sec0,file=pw")

compare_view() {  # compare_view NAME IMG
    local name="$1" img="$2" mnt
    qemu_decrypt "$img" pw "$name.qemu"
    mnt=$(new_mountpoint "mnt-$name")
    mount_view "$img" "$mnt" --passphrase-file pw
    assert_eq "$(stat -c %s "$name.qemu")" "$(stat -c %s "$mnt/disk.raw")" "$name: view size"
    cat "$mnt/disk.raw" >"$name.view"
    umount_view "$mnt"
    assert_files_eq "$name.qemu" "$name.view" "$name: view vs qemu-img convert"
    log "$name: view equals qemu's plaintext"
}

log "qemu-img create 32M + qemu-io writes"
mk_qemu_luks1 q1.img 32 pw
qemu-io "${SECRET[@]}" --image-opts "driver=luks,key-secret=sec0,file.filename=q1.img" \
    -c 'write -P 0x41 0 1M' -c 'write -P 0x42 1049088 8192' -c 'write -P 0x5a 4608 512' \
    -c 'write -P 0x43 33553920 512' >/dev/null || fail "qemu-io write"
compare_view qemu-io q1.img
[[ "$(od -An -tx1 -j 4608 -N 2 qemu-io.view | tr -d ' ')" == 5a5a ]] || fail "qemu-io pattern not at 4608"

log "qemu-img convert -O luks from patterned raw"
pattern_file r.raw "$((24 * MiB))" 12
mk_qemu_luks1 q2.img 0 pw r.raw
compare_view convert q2.img
assert_files_eq r.raw convert.view "convert: view vs original raw"

log "aes-256-cbc-essiv:sha256 and aes-128-xts-plain64"
pattern_file s.raw "$((8 * MiB))" 13
mk_qemu_luks1 q3.img 0 pw s.raw cipher-alg=aes-256,cipher-mode=cbc,ivgen-alg=essiv,ivgen-hash-alg=sha256
compare_view essiv q3.img
assert_files_eq s.raw essiv.view "essiv: view vs original raw"
mk_qemu_luks1 q4.img 0 pw s.raw cipher-alg=aes-128,cipher-mode=xts,ivgen-alg=plain64
compare_view aes128 q4.img
assert_files_eq s.raw aes128.view "aes128: view vs original raw"
pass
