#!/bin/bash
# `luksfs create`: every image is checked by the other tools, never by luksfs itself.
#   * LUKS2 (pbkdf2, argon2id benchmarked, 512-byte sectors, label, uuid): cryptsetup luksDump
#     shows the requested layout, open --test-passphrase accepts the secret and refuses another;
#     data written through a luksfs mount decrypts with cryptsetup's volume key in the oracle.
#   * LUKS1: qemu-img reads what was written through the view (qemu_decrypt).
#   * the image is sparse; existing files are refused without --force; bad options exit 1.
#   * on a terminal the passphrase is asked twice; different answers create nothing.
#   * --kms with the local keystore: bound at once (token 0), mounts with no secret.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "create passphrase"
write_secret bad "not it"
CHEAP=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)

log "LUKS2 defaults (pbkdf2 forced): layout as cryptsetup luksFormat"
assert_exit 0 "$LUKSFS" create "${CHEAP[@]}" --passphrase-file pw --label mydisk a.img 64M
cryptsetup luksDump a.img >dump.txt || fail "cryptsetup luksDump a.img"
grep -q '^Version:[[:space:]]*2' dump.txt || fail "not LUKS2: $(head -3 dump.txt)"
grep -q 'offset: 16777216 \[bytes\]' dump.txt || fail "data offset is not 16 MiB"
grep -q 'sector: 4096 \[bytes\]' dump.txt || fail "sector size is not 4096"
grep -q 'Label:[[:space:]]*mydisk' dump.txt || fail "label missing"
grep -q 'Cipher:[[:space:]]*aes-xts-plain64' dump.txt || fail "cipher"
grep -q 'Key:[[:space:]]*512 bits' dump.txt || fail "key size"
assert_eq $((16 * MiB + 64 * MiB)) "$(stat -c %s a.img)" "image size"
used=$(($(stat -c %b a.img) * 512))
((used < 2 * MiB)) || fail "image is not sparse: $used bytes allocated"
cryptsetup open --test-passphrase --key-file pw a.img || fail "cryptsetup refuses the passphrase"
cryptsetup open --test-passphrase --key-file bad a.img 2>/dev/null && fail "cryptsetup accepts a wrong passphrase"

log "data written through a luksfs mount decrypts with cryptsetup's volume key"
pattern_file model $((64 * MiB)) 7
mnt="$(new_mountpoint m1)"
mount_view a.img "$mnt" --passphrase-file pw
dd if=model of="$mnt/disk.raw" bs=1M conv=notrunc,fsync status=none
umount_view "$mnt"
dump_vk a.img pw a.vk
oracle_decrypt a.img a.vk a.plain
assert_files_eq model a.plain "oracle plaintext of a.img"

log "LUKS2 argon2id benchmarked (--iter-time 200), 512-byte sectors, 256-bit key, given UUID"
U=3f1a9c52-7d4e-4b6a-9e0f-1c2d3e4f5a6b
assert_exit 0 "$LUKSFS" create --iter-time 200 --pbkdf-memory 65536 --sector-size 512 \
    --key-size 256 --uuid "$U" --passphrase-file pw b.img 8M
cryptsetup luksDump b.img >dump.txt
grep -q 'PBKDF:[[:space:]]*argon2id' dump.txt || fail "KDF is not argon2id"
grep -q 'sector: 512 \[bytes\]' dump.txt || fail "sector size is not 512"
grep -q 'Key:[[:space:]]*256 bits' dump.txt || fail "key size is not 256"
grep -q "UUID:[[:space:]]*$U" dump.txt || fail "UUID not kept"
mem=$(awk '/Memory:/ {print $2; exit}' dump.txt)
((mem <= 65536)) || fail "argon2 memory $mem above --pbkdf-memory"
# CPU time, not wall time, so that a loaded machine does not fail the check: the lanes run in
# parallel, so the CPU time is up to lanes x the target; 3 s means the calibration is far off.
ms=$("$PY" -c '
import resource, subprocess, sys
r = subprocess.run(["cryptsetup", "open", "--test-passphrase", "--key-file", "pw", "b.img"])
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(int((u.ru_utime + u.ru_stime) * 1000) if r.returncode == 0 else -1)')
((ms >= 0)) || fail "cryptsetup refuses b.img"
log "cryptsetup opened the argon2id keyslot in $ms ms of CPU (target 200 ms per lane)"
((ms < 3000)) || fail "unlock took $ms ms of CPU for a 200 ms target"

log "LUKS1: qemu-img reads what luksfs wrote"
assert_exit 0 "$LUKSFS" create --type luks1 --pbkdf-force-iterations 1000 --passphrase-file pw c.img 16M
cryptsetup luksDump c.img | grep -q '^Version:[[:space:]]*1' || fail "c.img is not LUKS1"
cryptsetup luksDump c.img | grep -q 'Payload offset:[[:space:]]*4096' || fail "LUKS1 payload offset"
pattern_file model1 $((16 * MiB)) 8
mnt="$(new_mountpoint m2)"
mount_view c.img "$mnt" --passphrase-file pw
dd if=model1 of="$mnt/disk.raw" bs=1M conv=notrunc,fsync status=none
umount_view "$mnt"
qemu_decrypt c.img pw c.plain
assert_files_eq model1 c.plain "qemu-img plaintext of c.img"

log "refusals: existing file, bad options, no secret"
assert_exit 1 "$LUKSFS" create "${CHEAP[@]}" --passphrase-file pw a.img 64M
grep -q 'already exists' "$WORK/last.err" || fail "no 'already exists': $(cat "$WORK/last.err")"
dump_vk a.img pw a2.vk
cmp -s a.vk a2.vk || fail "the refused create changed a.img"
assert_exit 0 "$LUKSFS" create "${CHEAP[@]}" --passphrase-file pw --force a.img 32M
dump_vk a.img pw a3.vk
cmp -s a.vk a3.vk && fail "--force kept the old volume key"
assert_exit 1 "$LUKSFS" create --sector-size 768 --passphrase-file pw x.img 8M
assert_exit 1 "$LUKSFS" create --type luks1 --pbkdf argon2id --passphrase-file pw x.img 8M
assert_exit 1 "$LUKSFS" create --type qcow2 --cluster-size 3000 --passphrase-file pw x.img 8M
assert_exit 1 "$LUKSFS" create --passphrase-file pw x.img 12Q
assert_exit 1 "$LUKSFS" create --sector-size 4096 "${CHEAP[@]}" --passphrase-file pw x.img 5000
assert_exit 2 "$LUKSFS" create "${CHEAP[@]}" x.img 8M
assert_exit 2 "$LUKSFS" create "${CHEAP[@]}" --passphrase-file missing x.img 8M
[[ -e x.img ]] && fail "a refused create left x.img"
ls ./*.tmp-* 2>/dev/null && fail "temporary files left behind"

log "the prompt is asked twice on a terminal (script(1) provides one)"
(sleep 1; printf 'tty secret\n'; sleep 0.5; printf 'tty secret\n') |
    script -qec "$LUKSFS create ${CHEAP[*]} t.img 8M" /dev/null >tty.out 2>&1 || fail "create on a tty: $(cat tty.out)"
grep -q '(again)' tty.out || fail "no second prompt: $(cat tty.out)"
write_secret tpw "tty secret"
cryptsetup open --test-passphrase --key-file tpw t.img || fail "cryptsetup refuses the prompted passphrase"
set +e
(sleep 1; printf 'one\n'; sleep 0.5; printf 'two\n') |
    script -qec "$LUKSFS create ${CHEAP[*]} t2.img 8M" /dev/null >tty.out 2>&1
set -e
grep -q 'do not match' tty.out || fail "mismatched prompts accepted: $(cat tty.out)"
[[ -e t2.img ]] && fail "mismatched prompts left t2.img"

log "--kms: a generated passphrase, bound at once; mounts with no secret"
export LUKSFS_KEYSTORE_KDF=min
printf 'keystore passphrase\n' >kspw
KO=(--keystore-passphrase-file kspw)
assert_exit 0 "$LUKSFS" kms create-key "file:$WORK/keys.db#c" "${KO[@]}"
assert_exit 0 "$LUKSFS" create --kms "file:$WORK/keys.db#c" "${KO[@]}" k.img 16M
cryptsetup token export --token-id 0 k.img | grep -q '"luksfs-kms"' || fail "no luksfs-kms token"
cryptsetup luksDump k.img | grep -q '0: luks2' || fail "no keyslot 0"
mnt="$(new_mountpoint m3)"
mount_view k.img "$mnt" "${KO[@]}"
dd if=model1 of="$mnt/disk.raw" bs=1M conv=notrunc,fsync status=none
cmp -s model1 "$mnt/disk.raw" || fail "k.img view does not read back"
umount_view "$mnt"
finish
