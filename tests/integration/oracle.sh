#!/bin/bash
# The oracle itself, checked against cryptsetup and qemu-img (no luksfs involved):
#  * cryptsetup `reencrypt --encrypt` (real ciphertext) of a tagged plaintext, for every LUKS2
#    cipher/sector size the suite uses: the oracle decrypts it back to the plaintext.
#  * the oracle's own unlock (PBKDF2, Argon2 via libargon2, AF merge, digest) yields the same
#    volume key as `cryptsetup luksDump --dump-volume-key`, for LUKS1 and LUKS2 keyslots.
#  * the oracle's encrypt, on cryptsetup-made LUKS1 images, is read back correctly by qemu-img;
#    and on a qemu-made LUKS1 image the oracle decrypts what qemu wrote.
#  * the oracle's encrypt on LUKS2 round-trips through its decrypt and changes the ciphertext.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"

cd "$WORK"
write_secret pw "oracle-pass"
tagged_file plain "$((4 * MiB))"

log "reencrypt --encrypt (LUKS2) vs oracle decrypt"
variants=(
    "x512|"
    "x4k|--sector-size 4096"
    "x256-1k|--key-size 256 --sector-size 1024"
    "xplain|--cipher aes-xts-plain --key-size 512"
    "essiv4k|--cipher aes-cbc-essiv:sha256 --key-size 256 --sector-size 4096"
    "cbc64-2k|--cipher aes-cbc-plain64 --key-size 256 --sector-size 2048"
)
for v in "${variants[@]}"; do
    name="${v%%|*}"
    read -r -a extra <<<"${v#*|}"
    cp plain "$name.img"
    truncate -s +4M "$name.img"
    cryptsetup reencrypt -q --encrypt --type luks2 --reduce-device-size 4M "${PBKDF2_ARGS[@]}" \
        --key-file pw "${extra[@]}" "$name.img" >"$name.log" 2>&1 \
        || fail "cryptsetup reencrypt $name: $(tail -1 "$name.log")"
    dump_vk "$name.img" pw "$name.vk"
    oracle_decrypt "$name.img" "$name.vk" "$name.out"
    cmp -s -n "$((4 * MiB))" "$name.out" plain || fail "oracle decrypt of reencrypted $name differs from plaintext"
    # unlock by the oracle itself must give cryptsetup's volume key
    "$PY" "$ORACLE" unlock "$name.img" pw --vk-out "$name.vk2" >/dev/null || fail "oracle unlock $name"
    cmp -s "$name.vk" "$name.vk2" || fail "oracle volume key differs from cryptsetup's ($name)"
done

log "detached header reencrypt (4096 sectors)"
cp plain det.img
cryptsetup reencrypt -q --encrypt --type luks2 --header det.hdr --sector-size 4096 "${PBKDF2_ARGS[@]}" \
    --key-file pw det.img >det.log 2>&1 || fail "detached reencrypt: $(tail -1 det.log)"
dump_vk det.img pw det.vk --header det.hdr
oracle_decrypt det.img det.vk det.out --header det.hdr
assert_files_eq plain det.out "detached-header decrypt"
cmp -s -n 4096 plain det.img && fail "detached reencrypt left plaintext in place"

log "oracle unlock (argon2i / argon2id, 2 lanes; LUKS1 sha1/sha256) vs --dump-volume-key"
mk_luks2 a2id.img 20 pw --pbkdf argon2id "${ARGON2_COST_ARGS[@]}"
mk_luks2 a2i.img 20 pw --pbkdf argon2i "${ARGON2_COST_ARGS[@]}"
mk_luks1 l1x.img 8 pw --cipher aes-xts-plain64 --key-size 512
mk_luks1 l1e.img 8 pw --cipher aes-cbc-essiv:sha256 --key-size 256 --hash sha1
for name in a2id a2i l1x l1e; do
    dump_vk "$name.img" pw "$name.vk"
    "$PY" "$ORACLE" unlock "$name.img" pw --vk-out "$name.vk2" >/dev/null || fail "oracle unlock $name"
    cmp -s "$name.vk" "$name.vk2" || fail "oracle volume key differs from cryptsetup's ($name)"
done
cpus=$("$PY" "$ORACLE" info a2id.img | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["keyslots"][0]["kdf"]["cpus"])')
assert_eq 2 "$cpus" "argon2 lanes of the test image"

log "oracle encrypt on cryptsetup LUKS1 -> qemu-img decrypt"
for name in l1x l1e; do
    size=$(oracle_field "$name.img" data_size)
    pattern_file "$name.plain" "$size" 7
    oracle_write "$name.img" "$name.vk" 0 "$name.plain"
    qemu_decrypt "$name.img" pw "$name.qemu"
    assert_files_eq "$name.plain" "$name.qemu" "qemu view of oracle-encrypted $name"
    oracle_decrypt "$name.img" "$name.vk" "$name.out"
    assert_files_eq "$name.plain" "$name.out" "oracle round trip $name"
done

log "qemu-img LUKS1 -> oracle decrypt"
pattern_file q.raw "$((4 * MiB))" 9
mk_qemu_luks1 q.img 4 pw q.raw
dump_vk q.img pw q.vk
oracle_decrypt q.img q.vk q.out
assert_files_eq q.raw q.out "oracle decrypt of qemu LUKS1"

log "oracle unaligned encrypt on LUKS2 4096 round trip"
cp x4k.out x4k.model
printf 'hello, unaligned world' >small
"$PY" - x4k.model <<'EOF'
import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4093); f.write(b"hello, unaligned world")
EOF
before=$(sha256 x4k.img)
oracle_write x4k.img x4k.vk 4093 small
[[ "$(sha256 x4k.img)" != "$before" ]] || fail "oracle write did not change the image"
oracle_decrypt x4k.img x4k.vk x4k.out2
assert_files_eq x4k.model x4k.out2 "oracle unaligned write round trip"
cryptsetup open --test-passphrase --key-file pw x4k.img || fail "header damaged by oracle write"

pass
