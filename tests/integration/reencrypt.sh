#!/bin/bash
# Real ciphertext written by cryptsetup: `cryptsetup reencrypt --encrypt` (offline, in place, header
# in the file via --reduce-device-size) of a tagged plaintext. The luksfs view must equal the
# original plaintext AND the oracle's decryption. Covers LUKS2 aes-xts-plain64 with 4096-byte
# sectors (IV counted in 512-byte units), LUKS2 aes-cbc-essiv:sha256 with 512-byte sectors, and the
# same ciphertext after `cryptsetup convert` to LUKS1 and back to LUKS2 (20-byte digest); the XTS
# images on both XTS kernels (VAES where the CPU has it, and LUKSFS_XTS=portable).
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "reencrypt passphrase"
PLAIN=$((8 * MiB))
tagged_file plain "$PLAIN"

check_view() {  # check_view NAME IMG [MOUNT-OPTS...]: view == original plaintext (+ shifted tail) == oracle
    local name="$1" img="$2" mnt
    shift 2
    dump_vk "$img" pw "$name.vk"
    oracle_decrypt "$img" "$name.vk" "$name.oracle"
    cmp -s -n "$PLAIN" plain "$name.oracle" || fail "$name: oracle decryption != original plaintext"
    mnt=$(new_mountpoint "mnt-$name")
    mount_view "$img" "$mnt" --passphrase-file pw "$@"
    cat "$mnt/disk.raw" >"$name.view"
    umount_view "$mnt"
    cmp -s -n "$PLAIN" plain "$name.view" || fail "$name: view != original plaintext ($(cmp plain "$name.view" 2>&1 | head -1))"
    assert_files_eq "$name.oracle" "$name.view" "$name: view vs oracle"
    log "$name: view ok ($(stat -c %s "$name.view") bytes)"
}

encrypt_in_place() {  # encrypt_in_place IMG reencrypt-args...
    local img="$1"
    shift
    cp plain "$img"
    truncate -s +8M "$img"
    cryptsetup reencrypt -q --encrypt --type luks2 --reduce-device-size 8M "${PBKDF2_ARGS[@]}" \
        --key-file pw "$@" "$img" >"$img.log" 2>&1 || fail "cryptsetup reencrypt --encrypt $*: $(tail -1 "$img.log")"
    cmp -s -n 4096 plain "$img" && fail "reencrypt left the plaintext in place"
    return 0
}

log "LUKS2 aes-xts-plain64, 4096-byte sectors"
encrypt_in_place x4k.img --sector-size 4096
assert_eq 4096 "$(oracle_field x4k.img sector_size)" "sector size of reencrypted image"
check_view x4k x4k.img

log "LUKS2 aes-cbc-essiv:sha256, 512-byte sectors"
encrypt_in_place essiv.img --cipher aes-cbc-essiv:sha256 --key-size 256 --sector-size 512
check_view essiv essiv.img

log "LUKS2 aes-xts-plain64 512, converted to LUKS1 and back"
encrypt_in_place cv.img --sector-size 512
cryptsetup convert -q --type luks1 cv.img || fail "cryptsetup convert --type luks1"
assert_eq 1 "$(oracle_field cv.img version)" "converted image version"
check_view cv-luks1 cv.img
cryptsetup convert -q --type luks2 cv.img || fail "cryptsetup convert --type luks2"
assert_eq 2 "$(oracle_field cv.img version)" "converted image version"
check_view cv-luks2 cv.img

# The same XTS ciphertexts through the portable kernel (batched XTS over OpenSSL at 512, OpenSSL's
# XTS at 4096), which CPUs without VAES/AVX-512 run; above, this CPU ran the VAES kernel if it has it.
log "the XTS images again with LUKSFS_XTS=portable"
for v in x4k cv; do
    LUKSFS_XTS=portable check_view "$v-portable" "$v.img" --debug
    # mount.err holds that mount's log (up to the point it detached): the kernel it chose.
    grep -q "crypto: aes-xts-plain64, .*portable kernel" "$WORK/mount.err" \
        || fail "$v: LUKSFS_XTS=portable did not select the portable kernel: $(grep -h 'crypto:' "$WORK/mount.err")"
done
pass
