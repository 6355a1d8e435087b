#!/bin/bash
# Every KDF implementation luksfs can choose, end to end, against images cryptsetup made:
#  * PBKDF2 with sha1, sha256, sha512 (own kernels) and sha384 (OpenSSL) keyslots, LUKS1 and
#    LUKS2, each under LUKSFS_PBKDF2=auto|sha-ni|openssl-block|portable|openssl;
#  * Argon2i and Argon2id keyslots (2 lanes) under the AVX2 fill and LUKSFS_ARGON2=libargon2.
# `luksfs check` opens a keyslot only when the derived key passes the header's digest, so a wrong
# KDF cannot pass. One Argon2id image is also mounted and compared with the plaintext cryptsetup's
# volume key gives through the independent oracle.
#  * Parallel keyslot trials: four PBKDF2 slots, the passphrase in slot 2 and again in slot 3;
#    luksfs must name the slot cryptsetup names, under every kernel.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "kdf kernels passphrase"
write_secret pw0 "some other passphrase"

check_opens() {  # check_opens WHAT IMG [env...]: luksfs check must open slot $WANT
    local what="$1" img="$2" out
    shift 2
    out=$(env "$@" "$LUKSFS" check "$img" --passphrase-file pw </dev/null 2>"$WORK/check.err") \
        || fail "$what: luksfs check failed (exit $?): $(tr '\n' ' ' <"$WORK/check.err")"
    assert_eq "$img: keyslot $WANT opened" "$out" "$what"
}

PB=(--pbkdf pbkdf2 --pbkdf-force-iterations 20000)
for type in luks1 luks2; do
    for hash in sha1 sha256 sha512 sha384; do
        img=$type-$hash.img
        truncate -s 20M "$img"
        cryptsetup luksFormat -q --type "$type" "${PB[@]}" --hash "$hash" --key-file pw "$img" \
            || fail "luksFormat $type $hash"
        WANT=0
        for kernel in auto sha-ni openssl-block portable openssl; do
            check_opens "$type pbkdf2-$hash, LUKSFS_PBKDF2=$kernel" "$img" LUKSFS_PBKDF2="$kernel"
        done
        log "$type pbkdf2-$hash opens under every PBKDF2 kernel"
    done
done

for pbkdf in argon2i argon2id; do
    img=$pbkdf.img
    truncate -s 20M "$img"
    cryptsetup luksFormat -q --type luks2 --pbkdf "$pbkdf" --pbkdf-force-iterations 4 \
        --pbkdf-memory 65536 --pbkdf-parallel 2 --key-file pw "$img" || fail "luksFormat $pbkdf"
    WANT=0
    check_opens "$pbkdf, AVX2 fill (or libargon2 without AVX2)" "$img"
    check_opens "$pbkdf, LUKSFS_ARGON2=libargon2" "$img" LUKSFS_ARGON2=libargon2
    log "$pbkdf opens with both Argon2 implementations"
done

# The Argon2id view against the oracle (cryptsetup's volume key).
dump_vk argon2id.img pw argon2id.vk
oracle_decrypt argon2id.img argon2id.vk argon2id.oracle
mnt=$(new_mountpoint m1)
mount_view argon2id.img "$mnt" --passphrase-file pw
assert_files_eq argon2id.oracle "$mnt/disk.raw" "argon2id view vs oracle"
umount_view "$mnt"

# Parallel trials keep cryptsetup's answer.
img=multi.img
truncate -s 20M "$img"
cryptsetup luksFormat -q --type luks2 "${PB[@]}" --key-file pw0 --key-slot 0 "$img" || fail "format multi"
cryptsetup luksAddKey -q "${PB[@]}" --key-file pw0 --new-key-slot 1 "$img" pw0 || fail "add 1"
cryptsetup luksAddKey -q "${PB[@]}" --key-file pw0 --new-key-slot 2 "$img" pw || fail "add 2"
cryptsetup luksAddKey -q "${PB[@]}" --key-file pw0 --new-key-slot 3 "$img" pw || fail "add 3"
WANT=$(cryptsetup open --test-passphrase -v --key-file pw "$img" 2>&1 \
    | sed -n 's/^Key slot \([0-9]*\) unlocked\./\1/p')
assert_eq 2 "$WANT" "cryptsetup's slot for the passphrase"
for kernel in auto openssl-block portable openssl; do
    check_opens "four slots, LUKSFS_PBKDF2=$kernel" "$img" LUKSFS_PBKDF2="$kernel"
done
log "parallel trials name cryptsetup's slot ($WANT)"
pass
