#!/bin/bash
# `luksfs convert` and `luksfs compare`, every result checked by the other tools:
#   * raw -> LUKS2: oracle decryption with cryptsetup's volume key == SRC; cryptsetup opens it
#   * raw -> LUKS1: qemu-img compare against SRC
#   * LUKS2 (cryptsetup-made) -> raw: cmp / qemu-img compare; zero runs left as holes
#   * re-key LUKS2 -> LUKS2 (same secret; and a new one): a new volume key (--dump-volume-key
#     differs), cryptsetup refuses the old key (open --volume-key-file), the oracle decrypts
#     with the new one
#   * LUKS1 (qemu-made) -> LUKS2 with 512-byte sectors, compared by the oracle
#   * --kms: DST bound at once to a local-keystore key, mounted with no secret
#   * compare: 0 identical, 1 "Content mismatch at offset N!" at the byte qemu-img agrees with
#   * qcow2+LUKS SRC (qemu-img) -> raw equals SRC, once the image layer reads qcow2 (until then
#     the refusal is checked: exit 3, "not supported")
#   * refusals: existing DST without --force, raw -> raw, wrong secret (exit 2)
#   * plain qcow2 SRC -> LUKS1: qemu-img compare
#   * SIGINT mid-way through a 256 MiB convert: exit 130, no DST and no temporary left
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "convert passphrase"
write_secret pw2 "another passphrase"
write_secret bad "wrong"
CHEAP=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)

pattern_file src.raw $((40 * MiB)) 3
dd if=/dev/zero of=src.raw bs=1M seek=8 count=16 conv=notrunc status=none   # a zero run

log "raw -> LUKS2 (default type), -p progress"
assert_exit 0 "$LUKSFS" convert -p "${CHEAP[@]}" --new-passphrase-file pw src.raw l2.img
grep -q '100.00/100%' "$WORK/last.err" || fail "no final progress: $(tr '\r' '\n' <"$WORK/last.err" | tail -2)"
cryptsetup luksDump l2.img | grep -q '^Version:[[:space:]]*2' || fail "l2.img is not LUKS2"
cryptsetup open --test-passphrase --key-file pw l2.img || fail "cryptsetup refuses l2.img"
dump_vk l2.img pw l2.vk
oracle_decrypt l2.img l2.vk l2.plain
assert_files_eq src.raw l2.plain "oracle plaintext of raw -> LUKS2"

log "raw -> LUKS1: qemu-img compare"
assert_exit 0 "$LUKSFS" convert -O luks1 "${CHEAP[@]}" --new-passphrase-file pw --json-progress src.raw l1.img
tail -1 "$WORK/last.err" | grep -q '"percent":100.00' || fail "no final JSON progress line"
qemu-img compare --object secret,id=s0,file=pw --image-opts \
    "driver=luks,key-secret=s0,file.filename=l1.img" "driver=raw,file.filename=src.raw" >/dev/null \
    || fail "qemu-img compare: raw -> LUKS1 differs"

log "LUKS2 (cryptsetup) -> raw: decrypt, sparse"
mk_luks2 cs.img 56 pw
dump_vk cs.img pw cs.vk
oracle_write cs.img cs.vk 0 src.raw
assert_exit 0 "$LUKSFS" convert -O raw --passphrase-file pw cs.img dec.raw
assert_files_eq src.raw dec.raw "decrypted cryptsetup LUKS2"
qemu-img compare -q dec.raw src.raw || fail "qemu-img compare: decrypted differs"
used=$(($(stat -c %b dec.raw) * 512))
((used <= 25 * MiB)) || fail "the 16 MiB zero run was written: $used bytes allocated"

log "re-key LUKS2 -> LUKS2, same secret: a new volume key"
assert_exit 0 "$LUKSFS" convert "${CHEAP[@]}" --passphrase-file pw cs.img rk.img
dump_vk rk.img pw rk.vk
cmp -s cs.vk rk.vk && fail "re-keyed image has the old volume key"
oracle_decrypt rk.img rk.vk rk.plain
assert_files_eq src.raw rk.plain "re-keyed plaintext (new key)"
cryptsetup open --test-passphrase --volume-key-file rk.vk rk.img || fail "new volume key refused"
cryptsetup open --test-passphrase --volume-key-file cs.vk rk.img 2>/dev/null \
    && fail "the old volume key still opens the re-keyed image"

log "re-key with a new secret: only the new one opens it"
assert_exit 0 "$LUKSFS" convert "${CHEAP[@]}" --passphrase-file pw --new-passphrase-file pw2 cs.img rk2.img
cryptsetup open --test-passphrase --key-file pw2 rk2.img || fail "new secret refused"
cryptsetup open --test-passphrase --key-file pw rk2.img 2>/dev/null && fail "old secret still opens rk2.img"
dump_vk rk2.img pw2 rk2.vk
oracle_decrypt rk2.img rk2.vk rk2.plain
assert_files_eq src.raw rk2.plain "re-keyed plaintext (new secret)"

log "LUKS1 (qemu-img) -> LUKS2 with 512-byte sectors"
mk_qemu_luks1 q1.img 40 pw src.raw
assert_exit 0 "$LUKSFS" convert -O luks2 --sector-size 512 "${CHEAP[@]}" --passphrase-file pw q1.img q2.img
cryptsetup luksDump q2.img | grep -q 'sector: 512 \[bytes\]' || fail "sector size not 512"
dump_vk q2.img pw q2.vk
oracle_decrypt q2.img q2.vk q2.plain
assert_files_eq src.raw q2.plain "LUKS1 -> LUKS2 plaintext"

log "raw -> LUKS2 bound to a KMS key at once (--kms, local keystore): mounts with no secret"
export LUKSFS_KEYSTORE_KDF=min
printf 'keystore passphrase\n' >kspw
KO=(--keystore-passphrase-file kspw)
assert_exit 0 "$LUKSFS" kms create-key "file:$WORK/keys.db#cv" "${KO[@]}"
assert_exit 0 "$LUKSFS" convert --kms "file:$WORK/keys.db#cv" "${KO[@]}" src.raw kms.img
cryptsetup token export --token-id 0 kms.img | grep -q '"luksfs-kms"' || fail "no luksfs-kms token"
mnt="$(new_mountpoint mk)"
mount_view kms.img "$mnt" -r "${KO[@]}"
cmp -s src.raw "$mnt/disk.raw" || fail "the KMS-bound convert output does not read back as SRC"
umount_view "$mnt"
assert_exit 1 "$LUKSFS" convert -O raw --kms "file:$WORK/keys.db#cv" "${KO[@]}" kms.img x.raw

log "compare: identical and different, qemu-img agrees"
assert_exit 0 "$LUKSFS" compare src.raw l2.img --b-passphrase-file pw
grep -q 'Images are identical.' "$WORK/last.out" || fail "compare output: $(cat "$WORK/last.out")"
assert_exit 0 "$LUKSFS" compare l1.img rk.img --passphrase-file pw --b-passphrase-file pw
cp dec.raw mod.raw
printf 'Z' | dd of=mod.raw bs=1 seek=$((20 * MiB + 777)) conv=notrunc status=none
assert_exit 1 "$LUKSFS" compare l2.img mod.raw --passphrase-file pw
grep -q "Content mismatch at offset $((20 * MiB + 777))!" "$WORK/last.out" \
    || fail "compare mismatch output: $(cat "$WORK/last.out")"
set +e; qemu-img compare -q mod.raw src.raw; q=$?; set -e
[[ $q == 1 ]] || fail "qemu-img compare says $q for mod.raw"
assert_exit 2 "$LUKSFS" compare l2.img src.raw --passphrase-file bad
truncate -s $((48 * MiB)) long.raw && dd if=src.raw of=long.raw conv=notrunc status=none
assert_exit 0 "$LUKSFS" compare long.raw l2.img --b-passphrase-file pw
assert_exit 1 "$LUKSFS" compare -s long.raw l2.img --b-passphrase-file pw

log "qcow2+LUKS SRC (qemu-img made) through the image layer, when it reads qcow2"
qemu_luks_create qemu-img convert -f raw -O qcow2 --object secret,id=s0,file=pw \
    -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 src.raw q.qcow2
set +e
"$LUKSFS" convert -O raw --passphrase-file pw q.qcow2 qdec.raw >q.out 2>q.err
rc=$?
set -e
if [[ $rc == 3 ]] && grep -q 'not supported' q.err; then
    log "qcow2 not read by this build: $(cat q.err)"
else
    [[ $rc == 0 ]] || fail "convert of a qcow2+LUKS SRC: exit $rc: $(cat q.err)"
    assert_files_eq src.raw qdec.raw "qcow2+LUKS -> raw"
    assert_exit 0 "$LUKSFS" compare q.qcow2 l2.img --passphrase-file pw --b-passphrase-file pw
fi

log "refusals"
assert_exit 1 "$LUKSFS" convert "${CHEAP[@]}" --new-passphrase-file pw src.raw l2.img
grep -q 'already exists' "$WORK/last.err" || fail "no 'already exists'"
dump_vk l2.img pw l2b.vk
cmp -s l2.vk l2b.vk || fail "the refused convert changed l2.img"
assert_exit 0 "$LUKSFS" convert --force "${CHEAP[@]}" --new-passphrase-file pw src.raw l2.img
assert_exit 1 "$LUKSFS" convert -O raw src.raw x.raw
assert_exit 1 "$LUKSFS" convert -O qcow2 --cluster-size 3000 --new-passphrase-file pw src.raw x.img
assert_exit 2 "$LUKSFS" convert --passphrase-file bad cs.img x.img
[[ -e x.img || -e x.raw ]] && fail "a refused convert left a DST"

log "re-key keeps SRC's cipher, key size, sector size, hash and label unless options say otherwise"
mk_luks2 fmt.img 24 pw --cipher aes-cbc-essiv:sha256 --key-size 256 --sector-size 512 \
    --hash sha512 --label seedlabel
assert_exit 0 "$LUKSFS" convert "${CHEAP[@]}" --passphrase-file pw fmt.img fmt2.img
cryptsetup luksDump fmt2.img >fmt2.dump
grep -q 'cipher: aes-cbc-essiv:sha256' fmt2.dump || fail "cipher not inherited: $(grep cipher: fmt2.dump)"
grep -q 'Cipher key:[[:space:]]*256 bits' fmt2.dump || fail "key size not inherited"
grep -q 'sector: 512 \[bytes\]' fmt2.dump || fail "sector size not inherited"
grep -q 'Hash:[[:space:]]*sha512' fmt2.dump || fail "hash not inherited: $(grep -i hash fmt2.dump)"
grep -q '^Label:[[:space:]]*seedlabel' fmt2.dump || fail "label not inherited"
assert_exit 0 "$LUKSFS" convert "${CHEAP[@]}" --passphrase-file pw --cipher aes-xts-plain64 \
    --key-size 512 --label other fmt.img fmt3.img
cryptsetup luksDump fmt3.img >fmt3.dump
grep -q 'cipher: aes-xts-plain64' fmt3.dump || fail "--cipher not applied"
grep -q '^Label:[[:space:]]*other' fmt3.dump || fail "--label not applied"
grep -q 'Hash:[[:space:]]*sha512' fmt3.dump || fail "hash not inherited with other options"

log "plain qcow2 SRC -> LUKS1 (plain qcow2 sources are read since qcow2 DSTs exist)"
qemu-img create -q -f qcow2 plain.qcow2 16M
qemu-io -c 'write -P 0x33 1M 2M' plain.qcow2 >/dev/null
assert_exit 0 "$LUKSFS" convert -O luks1 "${CHEAP[@]}" --new-passphrase-file pw plain.qcow2 pq.img
qemu-img compare --object secret,id=s0,file=pw --image-opts \
    "driver=luks,key-secret=s0,file.filename=pq.img" "driver=qcow2,file.filename=plain.qcow2" >/dev/null \
    || fail "qemu-img compare: plain qcow2 -> LUKS1 differs"

log "SIGINT mid-way: no DST, no temporary"
truncate -s 384M big.raw
for off in 0 100 200 300; do head -c 4M /dev/urandom | dd of=big.raw bs=1M seek=$off conv=notrunc status=none; done
assert_convert_interrupt int.img "${CHEAP[@]}" --new-passphrase-file pw --threads 1 --block-size 1 \
    --json-progress big.raw
finish
