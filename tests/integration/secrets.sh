#!/bin/bash
# Secret sources (never argv):
#  * --passphrase-file: the first line, without its "\n", is the passphrase: a file "P\n" opens an
#    image formatted with "P" (no newline); a file with more lines uses only the first; "\r" is kept.
#  * --key-file: the whole file byte for byte, trailing newline included (as cryptsetup --key-file).
#  * "-" reads stdin for both; -o passphrase_file= / key_file= work.
# Every case mounts (or checks) and the negative twin must fail with exit 2.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
mnt=$(new_mountpoint mnt)
register_mount "$mnt"

printf 'secret words' >fmt-nonl         # formatted passphrase: no newline
printf 'secret words\n' >pf-nl          # passphrase file with trailing newline
printf 'secret words\nsecond line\n' >pf-2lines
printf 'secret words' >pf-nonl
printf 'key file\n' >kf-nl              # key file whose newline is part of the key
printf 'key file' >kf-nonl
printf 'cr pass\r' >fmt-cr              # passphrase ending in "\r"
printf 'cr pass\r\n' >pf-cr
printf 'cr pass\n' >pf-nocr

mk_luks2 a.img 20 fmt-nonl
mk_luks2 b.img 20 kf-nl
mk_luks1 c.img 8 fmt-cr
dump_vk a.img fmt-nonl a.vk
size=$(oracle_field a.img data_size)
pattern_file a.plain "$size" 61
oracle_write a.img a.vk 0 a.plain

ok_check() {  # ok_check WHAT IMG luksfs-check-args...
    local what="$1" img="$2"
    shift 2
    assert_exit 0 "$LUKSFS" check "$img" "$@"
    log "ok: $what"
}
no_key() {
    local what="$1" img="$2"
    shift 2
    assert_exit 2 "$LUKSFS" check "$img" "$@"
    log "exit 2 as expected: $what"
}

log "--passphrase-file"
ok_check "passphrase file with trailing newline" a.img --passphrase-file pf-nl
ok_check "passphrase file without newline" a.img --passphrase-file pf-nonl
ok_check "only the first line counts" a.img --passphrase-file pf-2lines
no_key "newline-terminated key file is not the passphrase" a.img --key-file pf-nl
ok_check "key file equal to the passphrase" a.img --key-file fmt-nonl
ok_check "\\r stays part of the passphrase" c.img --passphrase-file pf-cr
no_key "passphrase without the \\r" c.img --passphrase-file pf-nocr

log "--key-file (byte exact)"
ok_check "key file with its newline" b.img --key-file kf-nl
no_key "key file without the newline" b.img --key-file kf-nonl
no_key "passphrase file drops the newline" b.img --passphrase-file kf-nl

log "stdin"
out=$("$LUKSFS" check a.img --passphrase-file - <pf-nl 2>err) || fail "--passphrase-file - failed: $(head -1 err)"
[[ "$out" == "a.img: keyslot 0 opened" ]] || fail "unexpected check output '$out'"
"$LUKSFS" check b.img --key-file - <kf-nl >/dev/null 2>err || fail "--key-file - failed: $(head -1 err)"
set +e
"$LUKSFS" check b.img --key-file - <kf-nonl >/dev/null 2>err
rc=$?
set -e
assert_eq 2 "$rc" "--key-file - with a different key"

log "mounting with each source"
"$LUKSFS" mount --passphrase-file - a.img "$mnt" <pf-nl 2>err || fail "mount --passphrase-file -: $(head -1 err)"
cmp -s a.plain "$mnt/disk.raw" || fail "view content (--passphrase-file -)"
umount_view "$mnt"
mount_view a.img "$mnt" -o "passphrase_file=$WORK/pf-2lines"
cmp -s a.plain "$mnt/disk.raw" || fail "view content (-o passphrase_file)"
umount_view "$mnt"
mount_view b.img "$mnt" -o "key_file=$WORK/kf-nl"
umount_view "$mnt"
"$LUKSFS" mount --key-file - b.img "$mnt" <kf-nl 2>err || fail "mount --key-file -: $(head -1 err)"
umount_view "$mnt"

log "the secret is not on the daemon's command line"
mount_view a.img "$mnt" --passphrase-file pf-nl
pid=$(daemon_pid "$mnt")
[[ -n "$pid" ]] || fail "no daemon pid"
if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "secret words"; then
    fail "passphrase visible in /proc/$pid/cmdline"
fi
umount_view "$mnt"

log "terminal prompt (a real pty from script(1)): no echo, the line without its newline"
command -v script >/dev/null || fail "script(1) missing (util-linux)"
set +e
(sleep 1; printf 'secret words\n') | script -qec "$LUKSFS check a.img" /dev/null >"$WORK/tty.out" 2>&1
rc=$?
set -e
((rc == 0)) || fail "prompted passphrase refused (exit $rc): $(tr '\r\n' '  ' <"$WORK/tty.out")"
grep -q "Enter passphrase for a.img" "$WORK/tty.out" || fail "no prompt: $(cat "$WORK/tty.out")"
grep -q "secret words" "$WORK/tty.out" && fail "the passphrase was echoed to the terminal"
set +e
(sleep 1; printf 'wrong words\n') | script -qec "$LUKSFS check a.img" /dev/null >"$WORK/tty2.out" 2>&1
rc=$?
set -e
((rc == 2)) || fail "wrong prompted passphrase: exit $rc, want 2"
pass
