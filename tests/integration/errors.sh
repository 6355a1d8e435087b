#!/bin/bash
# Error paths: exit code, ONE line on stderr naming the image (or mountpoint), no crash (exit < 128),
# nothing written to the image, nothing left mounted.
#   2 wrong passphrase (LUKS1, LUKS2)
#   3 random garbage; truncated LUKS2 header (first 1000 bytes); LUKS1 cut at 300 bytes;
#     unsupported cipher (LUKS1 cipherName patched to "twofish"; LUKS2 segment serpent-xts-plain64
#     with valid checksums); LUKS2 with a mandatory requirement (reencrypt --init-only);
#     LUKS2 with an integrity segment
#   4 missing image file
#   6 mountpoint missing / not a directory
#   1 no secret and no TTY; bad option; missing arguments
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "errors passphrase"
write_secret bad "wrong passphrase"
mnt=$(new_mountpoint mnt)
register_mount "$mnt"
touch notadir

# expect CODE NAME_IN_MSG IMG_TO_HASH CMD...: exit code, one stderr line mentioning NAME_IN_MSG,
# IMG_TO_HASH unchanged (or "-"), mountpoint not mounted.
expect() {
    local code="$1" name="$2" img="$3" before="" lines msg rc
    shift 3
    [[ "$img" != - ]] && before=$(sha256 "$img")
    set +e
    "$@" </dev/null >"$WORK/err.out" 2>"$WORK/err.err"
    rc=$?
    set -e
    msg=$(tr '\n' '|' <"$WORK/err.err")
    lines=$(wc -l <"$WORK/err.err")
    if ((rc >= 128)); then
        soft_fail "crashed (status $rc) on: $* -- $msg"
    elif [[ "$rc" != "$code" ]]; then
        soft_fail "exit $rc, want $code, from: $* -- stderr: $msg"
    elif [[ "$lines" != 1 ]]; then
        soft_fail "want exactly one stderr line, got $lines from: $* -- $msg"
    elif [[ -n "$name" ]] && ! grep -qF -- "$name" "$WORK/err.err"; then
        soft_fail "stderr does not name '$name': $msg"
    else
        log "exit $rc: $(head -1 "$WORK/err.err")"
    fi
    if [[ -n "$before" && "$before" != "$(sha256 "$img")" ]]; then
        fail "image $img was written by failing: $*"
    fi
    _is_mounted "$mnt" && fail "left a mount behind after: $*"
    return 0
}

# each failing image is tried with mount, check and (for format errors) info
all_cmds() {  # all_cmds CODE IMG [info too: yes|no]
    local code="$1" img="$2"
    expect "$code" "$img" "$img" "$LUKSFS" mount --passphrase-file pw "$img" "$mnt"
    expect "$code" "$img" "$img" "$LUKSFS" check "$img" --passphrase-file pw
    if [[ "${3:-no}" == yes ]]; then
        expect "$code" "$img" "$img" "$LUKSFS" info "$img"
        expect "$code" "$img" "$img" "$LUKSFS" info --json "$img"
    fi
}

log "images"
mk_luks2 l2.img 20 pw
mk_luks1 l1.img 8 pw

log "2: wrong passphrase"
expect 2 l2.img l2.img "$LUKSFS" mount --passphrase-file bad l2.img "$mnt"
expect 2 l1.img l1.img "$LUKSFS" mount --passphrase-file bad l1.img "$mnt"
expect 2 l2.img l2.img "$LUKSFS" check l2.img --passphrase-file bad
expect 2 l2.img l2.img "$LUKSFS" mount --key-file pw --key-slot 3 l2.img "$mnt"   # empty slot

log "3: not LUKS / corrupt"
head -c "$((4 * MiB))" /dev/urandom >garbage.img
all_cmds 3 garbage.img yes
head -c 1000 l2.img >trunc2.img
all_cmds 3 trunc2.img yes
head -c 300 l1.img >trunc1.img
all_cmds 3 trunc1.img yes
: >empty.img
all_cmds 3 empty.img yes

log "3: unsupported cipher"
cp l1.img twofish.img
printf 'twofish\0\0\0' | dd of=twofish.img bs=1 seek=8 conv=notrunc status=none
all_cmds 3 twofish.img
cp l2.img serpent.img
"$PY" "$ORACLE" edit-json serpent.img 'j["segments"]["0"]["encryption"] = "serpent-xts-plain64"' \
    || fail "could not craft the serpent image"
cryptsetup luksDump serpent.img | grep -q 'cipher: serpent-xts-plain64' || fail "crafted header not accepted by cryptsetup"
all_cmds 3 serpent.img

log "3: LUKS2 integrity segment"
cp l2.img integrity.img
"$PY" "$ORACLE" edit-json integrity.img \
    'j["segments"]["0"]["integrity"] = {"type": "hmac(sha256)", "journal_encryption": "none", "journal_integrity": "none"}' \
    || fail "could not craft the integrity image"
cryptsetup luksDump integrity.img | grep -qi 'integrity' || fail "crafted integrity header not accepted by cryptsetup"
all_cmds 3 integrity.img

log "3: mandatory requirement (reencrypt --init-only)"
cp l2.img reenc.img
cryptsetup reencrypt -q --init-only --key-file pw "${PBKDF2_ARGS[@]}" reenc.img >/dev/null 2>&1 \
    || fail "cryptsetup reencrypt --init-only failed"
"$PY" "$ORACLE" info reenc.img | grep -q 'online-reencrypt' || fail "no mandatory requirement was set"
all_cmds 3 reenc.img

log "4: missing image"
expect 4 nonexistent.img - "$LUKSFS" mount --passphrase-file pw nonexistent.img "$mnt"
expect 4 nonexistent.img - "$LUKSFS" info nonexistent.img
expect 4 nonexistent.img - "$LUKSFS" check nonexistent.img --passphrase-file pw

log "6: bad mountpoint"
expect 6 "" l2.img "$LUKSFS" mount --passphrase-file pw l2.img "$WORK/no-such-dir"
grep -qE 'no-such-dir|l2.img' err.err || soft_fail "mountpoint-missing message names neither image nor mountpoint"
expect 6 "" l2.img "$LUKSFS" mount --passphrase-file pw l2.img "$WORK/notadir"
grep -qE 'notadir|l2.img' err.err || soft_fail "not-a-directory message names neither image nor mountpoint"

log "6: busy mountpoint (already a luksfs mount), umount of a non-mount"
mount_view l2.img "$mnt" --passphrase-file pw
before=$(sha256 l2.img)
set +e
"$LUKSFS" mount --passphrase-file pw l2.img "$mnt" </dev/null >/dev/null 2>"$WORK/busy.err"
rc=$?
set -e
mounts=$(awk -v m="$mnt" '$2 == m' /proc/self/mounts | wc -l)
[[ "$rc $mounts" == "6 1" ]] \
    || soft_fail "mount on a busy mountpoint: exit $rc (want 6), $mounts mounts there (want 1); stderr: $(head -1 "$WORK/busy.err")"
[[ "$rc" != 6 || "$(wc -l <"$WORK/busy.err")" == 1 ]] || soft_fail "stderr for a busy mountpoint is not one line"
while _is_mounted "$mnt"; do
    "$LUKSFS" umount "$mnt" </dev/null >/dev/null 2>&1 || fusermount3 -u "$mnt" || break
done
expect 6 "" - "$LUKSFS" umount "$mnt"
expect 6 "" - "$LUKSFS" umount "$WORK/no-such-dir"

log "3: a detached LUKS2 header is refused, not served over itself"
truncate -s 16M detached-data.img
truncate -s 16M detached-hdr.img
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" --key-file pw \
    --header detached-hdr.img detached-data.img
expect 3 "detached header" detached-hdr.img "$LUKSFS" mount --passphrase-file pw detached-hdr.img "$mnt"
expect 3 "detached header" detached-hdr.img "$LUKSFS" check --passphrase-file pw detached-hdr.img

log "1: usage errors"
expect 1 "" l2.img "$LUKSFS" mount l2.img "$mnt"                          # no secret, stdin not a TTY
expect 1 "" l2.img "$LUKSFS" check l2.img                                 # no secret, stdin not a TTY
expect 1 "" l2.img "$LUKSFS" mount --no-such-option --passphrase-file pw l2.img "$mnt"
expect 1 "" l2.img "$LUKSFS" mount --passphrase-file pw l2.img            # no mountpoint
expect 1 "" - "$LUKSFS" frobnicate
expect 1 "" l2.img "$LUKSFS" mount --passphrase-file pw --key-slot abc l2.img "$mnt"
expect 1 "" l2.img "$LUKSFS" l2.img "$mnt" -o "bogus_option,passphrase_file=$WORK/pw"

log "the images still open with cryptsetup"
cryptsetup open --test-passphrase --key-file pw l2.img || fail "l2.img damaged"
cryptsetup open --test-passphrase --key-file pw l1.img || fail "l1.img damaged"
finish
