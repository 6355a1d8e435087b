#!/bin/bash
# Image locking with qemu's OFD lock bytes (man page, LOCKING), checked with qemu-io itself:
#  * qemu-io cannot open a read-write-mounted image for writing;
#  * a second luksfs mount of it, read-write or read-only, exits 7 naming the holder (luksfs pid,
#    mount point); -o nolock overrides with a warning;
#  * two read-only mounts coexist; qemu-io still cannot write, a read-write mount is refused;
#  * luksfs refuses (exit 7, "locked by another process") an image qemu-io holds open for writing,
#    and mounts once qemu-io is gone;
#  * header edits (unbind, shred) of a mounted image exit 7 and change nothing.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
command -v qemu-io >/dev/null || fail "qemu-io not installed"
cd "$WORK"
write_secret pw "lock passphrase"
mk_qemu_luks1 l.img 16 pw
a=$(new_mountpoint a)
b=$(new_mountpoint b)
qemu_write() { qemu-io -f raw -c 'write -P 0x55 1M 4k' "$1"; }

log "read-write mount: qemu-io may not write"
mount_view l.img "$a" --passphrase-file pw
pid=$(daemon_pid "$a")
assert_exit 1 qemu_write l.img
grep -q 'Failed to get "write" lock' "$WORK/last.err" || fail "qemu-io's refusal: $(cat "$WORK/last.err")"
assert_exit 0 qemu-io -r -U -f raw -c 'read 0 4k' l.img
grep -q OFDLCK /proc/locks || fail "no OFD lock in /proc/locks"

log "a second mount is refused with exit 7, naming the holder"
register_mount "$b"
assert_exit 7 "$LUKSFS" mount --passphrase-file pw l.img "$b"
grep -q "in use by luksfs pid $pid, mounted at $a" "$WORK/last.err" \
    || fail "refusal does not name the holder: $(cat "$WORK/last.err")"
assert_exit 7 "$LUKSFS" mount -r --passphrase-file pw l.img "$b"
_is_mounted "$b" && fail "refused mount is mounted"

log "header edits of a mounted image exit 7"
cp l.img l.before
assert_exit 7 "$LUKSFS" shred l.img
assert_exit 7 "$LUKSFS" unbind l.img
cmp -s l.img l.before || fail "a refused header edit changed the image"

log "-o nolock overrides, with a warning"
assert_exit 0 "$LUKSFS" mount -o nolock --passphrase-file pw l.img "$b"
_is_mounted "$b" || fail "-o nolock mount is not mounted"
grep -qi "not locked" "$WORK/last.err" || fail "no warning for -o nolock: $(cat "$WORK/last.err")"
umount_view "$b"
umount_view "$a"
assert_exit 0 qemu_write l.img

log "read-only mounts share; writers are refused"
mount_view l.img "$a" -r --passphrase-file pw
mount_view l.img "$b" -o ro --passphrase-file pw
assert_exit 1 qemu_write l.img
c=$(new_mountpoint c)
register_mount "$c"
assert_exit 7 "$LUKSFS" mount --passphrase-file pw l.img "$c"
umount_view "$b"
umount_view "$a"

log "an image qemu-io holds open for writing is refused"
qemu-io -f raw -c 'sleep 60000' l.img </dev/null >qio.out 2>&1 &
qio=$!
register_pid "$qio"
for _ in $(seq 50); do grep -q OFDLCK /proc/locks && break; sleep 0.1; done
sleep 0.5
assert_exit 7 "$LUKSFS" mount --passphrase-file pw l.img "$a"
grep -q "locked by another process" "$WORK/last.err" || fail "refusal: $(cat "$WORK/last.err")"
_is_mounted "$a" && fail "mounted over qemu-io"
assert_exit 7 "$LUKSFS" mount -r --passphrase-file pw l.img "$a"
kill "$qio"; wait "$qio" 2>/dev/null || true
mount_view l.img "$a" --passphrase-file pw
umount_view "$a"
pass
