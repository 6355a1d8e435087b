#!/bin/bash
# The KMS flow with the local keystore (file:), end to end: bind, mount
# with no secret, revocation drops the keys (memory scanned), destroy
# refuses mounts (exit 5); then unbind, wrap/unwrap/rewrap, LUKS1 sidecar
# binding, and shred (afterwards nothing opens the image).
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/tests/kms/e2e.sh"
need_luksfs
export LUKSFS_KEYSTORE_KDF=min     # cheap keystore KDF for tests only

KS="$WORK/keys.db"
KSPW="$WORK/keystore.pw"
printf 'keystore passphrase\n' >"$KSPW"
OPTS=(--keystore-passphrase-file "$KSPW")

assert_exit 0 "$LUKSFS" kms create-key "file:$KS#e2e" "${OPTS[@]}"
assert_eq "file:$KS#e2e" "$(cat "$WORK/last.out")" "created key URI"
kms_e2e "file:$KS#e2e" "${OPTS[@]}"

log "--on-revoke=unmount: the daemon unmounts and exits"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#um" "${OPTS[@]}"
img="$WORK/um.img"
write_secret "$WORK/um.pw" "unmount on revoke"
truncate -s 20M "$img"
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" --key-file "$WORK/um.pw" "$img"
assert_exit 0 "$LUKSFS" bind "$img" --kms "file:$KS#um" --key-file "$WORK/um.pw" "${OPTS[@]}"
mnt="$(new_mountpoint um)"
mount_view "$img" "$mnt" "${OPTS[@]}" --kms-poll 1 --on-revoke=unmount
pid="$(daemon_pid "$mnt")"
assert_exit 0 "$LUKSFS" kms revoke "file:$KS#um" "${OPTS[@]}"
wait_gone "$pid" 10 || fail "daemon $pid still running 10 s after the revocation"
_is_mounted "$mnt" && fail "$mnt still mounted after the revocation"
log "daemon $pid unmounted and exited after the revocation"

log "unbind removes the keyslot and the token"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#k2" "${OPTS[@]}"
img="$WORK/u.img"
write_secret "$WORK/u.pw" "unbind me"
truncate -s 20M "$img"
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" --key-file "$WORK/u.pw" "$img"
assert_exit 0 "$LUKSFS" bind "$img" --kms "file:$KS#k2" --key-file "$WORK/u.pw" "${OPTS[@]}"
assert_exit 1 "$LUKSFS" bind "$img" --kms "file:$KS#k2" --key-file "$WORK/u.pw" "${OPTS[@]}"
grep -q "already bound" "$WORK/last.err" || fail "double bind: $(cat "$WORK/last.err")"
assert_exit 0 "$LUKSFS" unbind "$img"
cryptsetup token export --token-id 0 "$img" >/dev/null 2>&1 && fail "token still there after unbind"
[[ "$(cryptsetup luksDump "$img" | grep -c ': luks2$')" == 1 ]] || fail "keyslot not removed"
cryptsetup open --test-passphrase --key-file "$WORK/u.pw" "$img" || fail "unbind broke the old secret"

log "wrap / unwrap / rewrap (the WDEK flow)"
printf 'a base64 passphrase: c2VjcmV0' >"$WORK/dek"
assert_exit 0 "$LUKSFS" wrap --kms "file:$KS#k2" --in "$WORK/dek" --out "$WORK/dek.wdek" "${OPTS[@]}"
grep -q "c2VjcmV0" "$WORK/dek.wdek" && fail "the WDEK contains the plaintext"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#k3" "${OPTS[@]}"
assert_exit 0 "$LUKSFS" rewrap --in "$WORK/dek.wdek" --from "file:$KS#k2" --kms "file:$KS#k3" \
    --out "$WORK/dek3.wdek" "${OPTS[@]}"
assert_exit 0 "$LUKSFS" unwrap --kms "file:$KS#k3" --in "$WORK/dek3.wdek" --out "$WORK/dek.out" "${OPTS[@]}"
assert_files_eq "$WORK/dek" "$WORK/dek.out" "unwrap(rewrap(wrap(x)))"
assert_exit 5 "$LUKSFS" unwrap --kms "file:$KS#k2" --in "$WORK/dek3.wdek" --out "$WORK/x" "${OPTS[@]}"

log "rewrap a bound image to another key; mount through the new key"
assert_exit 0 "$LUKSFS" bind "$img" --kms "file:$KS#k2" --key-file "$WORK/u.pw" "${OPTS[@]}"
assert_exit 0 "$LUKSFS" rewrap "$img" --kms "file:$KS#k3" "${OPTS[@]}"
assert_exit 0 "$LUKSFS" kms revoke "file:$KS#k2" "${OPTS[@]}"
assert_exit 0 "$LUKSFS" check "$img" "${OPTS[@]}"
grep -q "k3" "$WORK/last.out" || fail "check did not use the new key: $(cat "$WORK/last.out")"

log "LUKS1: the binding lives in a sidecar"
img1="$WORK/l1.img"
truncate -s 20M "$img1"
cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file "$WORK/u.pw" "$img1"
assert_exit 0 "$LUKSFS" bind "$img1" --kms "file:$KS#k3" --key-file "$WORK/u.pw" "${OPTS[@]}"
[[ -f "$img1.luksfs-kms" ]] || fail "no sidecar"
"$LUKSFS" unwrap --kms "file:$KS#k3" "${OPTS[@]}" --out "$WORK/g1.pw" \
    --in <("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["wrapped"])' "$img1.luksfs-kms")
cryptsetup open --test-passphrase --key-file "$WORK/g1.pw" "$img1" || fail "cryptsetup refuses the LUKS1 KMS slot"
assert_exit 0 "$LUKSFS" check "$img1" "${OPTS[@]}"

log "shred: afterwards neither the KMS nor any passphrase opens the image"
assert_exit 1 "$LUKSFS" shred "$img1"
assert_exit 0 "$LUKSFS" shred "$img1" --yes "${OPTS[@]}"
cryptsetup open --test-passphrase --key-file "$WORK/u.pw" "$img1" 2>/dev/null && fail "old passphrase opens a shredded image"
cryptsetup open --test-passphrase --key-file "$WORK/g1.pw" "$img1" 2>/dev/null && fail "KMS passphrase opens a shredded image"
assert_exit 2 "$LUKSFS" check "$img1" --key-file "$WORK/u.pw"
assert_exit 0 "$LUKSFS" shred "$img" --yes "${OPTS[@]}"
cryptsetup open --test-passphrase --key-file "$WORK/u.pw" "$img" 2>/dev/null && fail "old passphrase opens a shredded LUKS2 image"
assert_exit 0 "$LUKSFS" kms state "file:$KS#k3" "${OPTS[@]}"
grep -q destroyed "$WORK/last.out" || fail "shred did not destroy the key: $(cat "$WORK/last.out")"
pass
