#!/bin/bash
# cryptsetup-made LUKS2 images across KDFs (pbkdf2, argon2i, argon2id with 2 lanes), sector sizes
# (512, 4096, plus 1024/2048), ciphers (aes-xts-plain64 with 512- and 256-bit keys, aes-xts-plain,
# aes-cbc-essiv:sha256, aes-cbc-plain64). For each: the oracle fills the data segment with known
# plaintext, the image is mounted, and the full view must equal that plaintext and the oracle's
# decryption; the image is unchanged by the read-only use.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "luks2 passphrase"

A2=("${ARGON2_COST_ARGS[@]}")
# name | expected "cipher sector_size" | luksFormat args
variants=(
    "pbkdf2-xts512-s512|aes-xts-plain64 512|--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-size 512 --sector-size 512"
    "pbkdf2-xts512-s4096|aes-xts-plain64 4096|--pbkdf pbkdf2 --pbkdf-force-iterations 1000 --sector-size 4096"
    "argon2i-xts-s4096|aes-xts-plain64 4096|--pbkdf argon2i ${A2[*]} --sector-size 4096"
    "argon2id-xts-s512|aes-xts-plain64 512|--pbkdf argon2id ${A2[*]} --sector-size 512"
    "argon2id-essiv-s4096|aes-cbc-essiv:sha256 4096|--pbkdf argon2id ${A2[*]} --cipher aes-cbc-essiv:sha256 --key-size 256 --sector-size 4096"
    "pbkdf2-essiv-s512|aes-cbc-essiv:sha256 512|--cipher aes-cbc-essiv:sha256 --key-size 256 --sector-size 512"
    "pbkdf2-xtsplain-s512|aes-xts-plain 512|--cipher aes-xts-plain --key-size 512 --sector-size 512"
    "pbkdf2-cbc64-s4096|aes-cbc-plain64 4096|--cipher aes-cbc-plain64 --key-size 256 --sector-size 4096"
    "pbkdf2-xts256-s4096|aes-xts-plain64 4096|--key-size 256 --sector-size 4096"
    "pbkdf2-xts256-s2048|aes-xts-plain64 2048|--key-size 256 --sector-size 2048"
    "pbkdf2-cbc64-s1024|aes-cbc-plain64 1024|--cipher aes-cbc-plain64 --key-size 256 --sector-size 1024"
)

for v in "${variants[@]}"; do
    IFS='|' read -r name expect args <<<"$v"
    read -r -a fmt <<<"$args"
    log "$name"
    mk_luks2 "$name.img" 22 pw "${fmt[@]}"
    got=$("$PY" "$ORACLE" info "$name.img" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["cipher"], d["sector_size"])')
    assert_eq "$expect" "$got" "$name: header made by cryptsetup"
    if [[ "$name" == argon2* ]]; then
        lanes=$("$PY" "$ORACLE" info "$name.img" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["keyslots"][0]["kdf"]["cpus"])')
        assert_eq 2 "$lanes" "$name: argon2 cpus (lanes)"
    fi
    dump_vk "$name.img" pw "$name.vk"
    size=$(oracle_field "$name.img" data_size)
    pattern_file "$name.plain" "$size" 21
    oracle_write "$name.img" "$name.vk" 0 "$name.plain"
    before=$(sha256 "$name.img")

    mnt=$(new_mountpoint "mnt-$name")
    mount_view "$name.img" "$mnt" --passphrase-file pw
    assert_eq "$size" "$(stat -c %s "$mnt/disk.raw")" "$name: view size"
    cat "$mnt/disk.raw" >"$name.view"
    umount_view "$mnt"
    assert_files_eq "$name.plain" "$name.view" "$name: view vs known plaintext"
    assert_eq "$before" "$(sha256 "$name.img")" "$name: image changed by reading"
    rm -f "$name.img" "$name.view" "$name.plain"
done
log "crafted: fixed segment size (file is 1 MiB + 512 bytes longer) and iv_tweak 24"
mk_luks2 fixed.img 22 pw --sector-size 4096
seg_off=$(oracle_field fixed.img data_offset)
seg_size=$(( $(stat -c %s fixed.img) - seg_off - MiB ))
truncate -s +512 fixed.img
"$PY" "$ORACLE" edit-json fixed.img "j['segments']['0']['size'] = '$seg_size'; j['segments']['0']['iv_tweak'] = '24'" \
    || fail "could not craft the fixed-size image"
cryptsetup luksDump fixed.img | grep -q "length: $seg_size \[bytes\]" || fail "cryptsetup does not see the fixed segment size"
cryptsetup open --test-passphrase --key-file pw fixed.img || fail "cryptsetup rejects the crafted header"
assert_eq "$seg_size 24" "$(oracle_field fixed.img data_size) $(oracle_field fixed.img iv_tweak)" "oracle view of the crafted header"
dump_vk fixed.img pw fixed.vk
pattern_file fixed.plain "$seg_size" 22
oracle_write fixed.img fixed.vk 0 fixed.plain
mnt=$(new_mountpoint mnt-fixed)
mount_view fixed.img "$mnt" --passphrase-file pw
assert_eq "$seg_size" "$(stat -c %s "$mnt/disk.raw")" "view size of a fixed-size segment"
cmp -s fixed.plain "$mnt/disk.raw" || fail "view of the iv_tweak 24 image differs from the plaintext"
umount_view "$mnt"
pass
