#!/bin/bash
# shred of a live image (man page, LOCKING and shred):
#  * `shred --yes` of an image a luksfs daemon serves asks that daemon (over its pid socket) to
#    drop its keys first: the view goes dark — a read, even of data read before, fails with EIO —
#    and only then are the keyslots wiped (cryptsetup no longer opens the image);
#  * without --yes it is refused with exit 7, naming the mount; nothing changes;
#  * an image qemu-io holds open is refused (exit 7), keyslots intact.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "shred passphrase"
mk_qemu_luks1 s.img 16 pw
mnt=$(new_mountpoint mnt)

log "shred without --yes of a mounted image: exit 7, nothing changed"
mount_view s.img "$mnt" --passphrase-file pw
head -c 1048576 "$mnt/disk.raw" >/dev/null || fail "first read failed"
cp s.img s.before
assert_exit 7 "$LUKSFS" shred s.img
grep -q "mounted at $mnt" "$WORK/last.err" || fail "refusal does not name the mount: $(cat "$WORK/last.err")"
cmp -s s.img s.before || fail "refused shred changed the image"

log "shred --yes: the daemon goes dark first, then the keyslots are wiped"
assert_exit 0 "$LUKSFS" shred --yes s.img
grep -q "dark" "$WORK/last.err" || fail "shred did not say the view went dark: $(cat "$WORK/last.err")"
_is_mounted "$mnt" || fail "the dark view was unmounted (it should stay, failing I/O)"
set +e
dd if="$mnt/disk.raw" of=/dev/null bs=4k count=1 status=none 2>dd.err
rc=$?
set -e
((rc != 0)) || fail "a read of the dark view (cached data) succeeded"
grep -qi "input/output error" dd.err || fail "dark read failed with something else than EIO: $(cat dd.err)"
cryptsetup open --test-passphrase --key-file pw s.img 2>/dev/null && fail "image still opens after shred"
umount_view "$mnt"

log "an image qemu-io holds open: shred --yes refused, keyslots intact"
mk_qemu_luks1 q.img 16 pw
qemu-io -f raw -c 'sleep 60000' q.img </dev/null >qio.out 2>&1 &
qio=$!
register_pid "$qio"
for _ in $(seq 50); do grep -q OFDLCK /proc/locks && break; sleep 0.1; done
sleep 0.5
assert_exit 7 "$LUKSFS" shred --yes q.img
grep -q "locked by another process" "$WORK/last.err" || fail "refusal: $(cat "$WORK/last.err")"
kill "$qio"; wait "$qio" 2>/dev/null || true
cryptsetup open --test-passphrase --key-file pw q.img || fail "refused shred damaged q.img"
pass
