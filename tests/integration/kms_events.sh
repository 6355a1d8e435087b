#!/bin/bash
# Key-error events in the audit log, each provoked for real with the local
# keystore (file:):
#   kms_unreachable + grace_expired: the keystore file is removed under a
#     mount; the mount keeps serving (the oracle's plaintext) until the grace
#     period ends, then drops its keys;
#   key_state_changed (old active, new deactivated): the key is revoked;
#   key_not_found: the keystore is replaced by one without the key;
#   unwrap_refused: a mount under a revoked key; kms_unreachable at mount: the
#     keystore is missing; key_not_found at mount: the key is not in it.
source "$(dirname "$0")/../lib.sh"
need_luksfs
export LUKSFS_KEYSTORE_KDF=min     # cheap keystore KDF for tests only

KS="$WORK/keys.db"
KSPW="$WORK/keystore.pw"
printf 'keystore passphrase\n' >"$KSPW"
OPTS=(--keystore-passphrase-file "$KSPW")
AUDIT="$WORK/audit.log"

# new_bound_image NAME KEY: a LUKS2 image with known plaintext, bound to KEY.
new_bound_image() {
    local img="$WORK/$1.img"
    write_secret "$WORK/$1.pw" "passphrase of $1"
    truncate -s 24M "$img"
    cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" --key-file "$WORK/$1.pw" "$img" \
        || fail "luksFormat failed"
    dump_vk "$img" "$WORK/$1.pw" "$WORK/$1.vk"
    pattern_file "$WORK/$1.plain" $((2 * MiB)) 5
    oracle_write "$img" "$WORK/$1.vk" 0 "$WORK/$1.plain"
    oracle_decrypt "$img" "$WORK/$1.vk" "$WORK/$1.oracle"
    assert_exit 0 "$LUKSFS" bind "$img" --kms "file:$KS#$2" --key-file "$WORK/$1.pw" "${OPTS[@]}"
}

# event NAME [FIELD=VALUE]...: the audit log has such a line.
event() {
    "$PY" - "$AUDIT" "$@" <<'EOF'
import json, sys
path, name, *want = sys.argv[1:]
fields = dict(w.split("=", 1) for w in want)
for line in open(path):
    e = json.loads(line)
    if e.get("event") == name and all(e.get(k) == v for k, v in fields.items()):
        if name in ("kms_unreachable", "key_not_found", "key_state_changed",
                    "unwrap_refused", "grace_expired"):
            assert e.get("reason"), "no reason in " + line
        sys.exit(0)
sys.exit(1)
EOF
}

readable() { dd if="$(view_file "$1")" of="$WORK/chunk" bs=65536 count=1 iflag=direct status=none 2>/dev/null; }

assert_exit 0 "$LUKSFS" kms create-key "file:$KS#a" "${OPTS[@]}"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#b" "${OPTS[@]}"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#c" "${OPTS[@]}"
new_bound_image a a
new_bound_image b b
new_bound_image c c

log "keystore file removed under a mount: served through the grace period"
GRACE=4
mnt="$(new_mountpoint a-mnt)"
mount_view "$WORK/a.img" "$mnt" "${OPTS[@]}" --kms-poll 1 --kms-grace "$GRACE" --audit-log "$AUDIT"
mv "$KS" "$KS.away"
start=$(date +%s%N)
until event kms_unreachable; do
    (( $(date +%s%N) - start < 5000000000 )) || fail "no kms_unreachable event 5 s after the keystore went away"
    sleep 0.2
done
t_unreach=$(( ($(date +%s%N) - start) / 1000000 ))
readable "$mnt" || fail "keys dropped at once when the keystore file went away (want: grace)"
cmp -s "$WORK/chunk" <(head -c 65536 "$WORK/a.oracle") || fail "view differs from the oracle during grace"
sleep 1
readable "$mnt" || fail "keys dropped before the grace period ended"
event revocation_seen && fail "revocation before the grace period ended"
until ! readable "$mnt"; do
    (( $(date +%s%N) - start < (GRACE + 4) * 1000000000 )) || fail "still served $((GRACE + 4)) s after the keystore went away"
    sleep 0.2
done
t_dark=$(( ($(date +%s%N) - start) / 1000000 ))
(( t_dark >= GRACE * 1000 - 1500 )) || fail "dark after $t_dark ms, before the ${GRACE} s grace"
event grace_expired grace_seconds="$GRACE" || fail "no grace_expired event"
event keys_dropped || fail "no keys_dropped event"
log "kms_unreachable after $t_unreach ms; served until $t_dark ms (grace ${GRACE} s); grace_expired"
umount_view "$mnt"
mv "$KS.away" "$KS"

log "key revoked: key_state_changed active -> deactivated"
mnt="$(new_mountpoint b-mnt)"
mount_view "$WORK/b.img" "$mnt" "${OPTS[@]}" --kms-poll 1 --audit-log "$AUDIT"
assert_exit 0 "$LUKSFS" kms revoke "file:$KS#b" "${OPTS[@]}"
start=$(date +%s%N)
until event key_state_changed old=active new=deactivated; do
    (( $(date +%s%N) - start < 5000000000 )) || fail "no key_state_changed event: $(cat "$AUDIT")"
    sleep 0.2
done
umount_view "$mnt"

log "mount under the revoked key: unwrap_refused"
mnt="$(new_mountpoint b2-mnt)"
assert_exit 5 "$LUKSFS" mount "$WORK/b.img" "$mnt" "${OPTS[@]}" --audit-log "$AUDIT"
event unwrap_refused || fail "no unwrap_refused event: $(tail -3 "$AUDIT")"

log "keystore replaced by one without the key: key_not_found"
mnt="$(new_mountpoint c-mnt)"
mount_view "$WORK/c.img" "$mnt" "${OPTS[@]}" --kms-poll 1 --audit-log "$AUDIT"
KS2="$WORK/other.db"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS2#z" "${OPTS[@]}"
cp "$KS" "$KS.orig"
mv "$KS2" "$KS"
start=$(date +%s%N)
until event key_not_found; do
    (( $(date +%s%N) - start < 5000000000 )) || fail "no key_not_found event: $(tail -3 "$AUDIT")"
    sleep 0.2
done
start=$(date +%s%N)
while readable "$mnt"; do
    (( $(date +%s%N) - start < 3000000000 )) || fail "still served after key_not_found"
    sleep 0.2
done
umount_view "$mnt"

log "at mount: keystore missing (kms_unreachable), key missing (key_not_found)"
lines_before=$(wc -l <"$AUDIT")
assert_exit 5 "$LUKSFS" mount "$WORK/c.img" "$mnt" "${OPTS[@]}" --audit-log "$AUDIT"
tail -n +$((lines_before + 1)) "$AUDIT" | grep -q '"event":"key_not_found"' || fail "no key_not_found at mount"
rm -f "$KS"
assert_exit 5 "$LUKSFS" mount "$WORK/a.img" "$mnt" "${OPTS[@]}" --audit-log "$AUDIT"
tail -n 3 "$AUDIT" | grep -q '"event":"kms_unreachable"' || fail "no kms_unreachable at mount: $(tail -3 "$AUDIT")"
grep -qF "$(cat "$WORK/a.pw")" "$AUDIT" && fail "a passphrase is in the audit log"
log "events: $(grep -o '"event":"[a-z_]*"' "$AUDIT" | sort | uniq -c | tr -s ' \n' ' ')"
pass
