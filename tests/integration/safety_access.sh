#!/bin/bash
# Access for another user (a hypervisor's), with the conventions of other FUSE file systems:
#  * without allow_other a second user (made here) cannot open the view, even with mode 0666;
#  * -o allow_other,uid=,gid= makes the view the second user's: it reads and writes it (the
#    write checked against qemu-img's decryption); -o umask= and -o mode= set the bits;
#  * chown/chmod by root, and chmod by the owner, last for the mount; the other user cannot chmod
#    what is not theirs; nothing is written to the image (a new mount is back to the options);
#  * a non-empty mountpoint is refused (exit 6) unless -o nonempty;
#  * a mountpoint whose daemon died (ENOTCONN) gets a message naming `luksfs umount`, which
#    cleans it up;
#  * EACCES on /dev/fuse, for a user without access to it, is named as such.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
chmod 755 "$WORK"
user=luksfs-safety-$$
useradd -M -s /bin/sh "$user" || fail "useradd $user"
register_cleanup userdel "$user"
uid=$(id -u "$user")
gid=$(id -g "$user")
as_user() { su "$user" -s /bin/sh -c "$*"; }

write_secret pw "access passphrase"
mk_qemu_luks1 a.img 16 pw
mnt=$(new_mountpoint mnt)

log "without allow_other the other user gets nothing"
mount_view a.img "$mnt" --passphrase-file pw -o mode=0666
as_user "head -c 512 $mnt/disk.raw >/dev/null" 2>/dev/null && fail "other user read the view without allow_other"
umount_view "$mnt"

log "allow_other,uid=,gid=: the other user reads and writes"
mount_view a.img "$mnt" --passphrase-file pw -o "allow_other,uid=$uid,gid=$gid"
assert_eq "600 $uid $gid" "$(stat -c '%a %u %g' "$mnt/disk.raw")" "view mode/owner"
pattern_file chunk 65536 3
chmod 644 chunk
as_user "dd if=$WORK/chunk of=$mnt/disk.raw bs=64k seek=2 conv=notrunc status=none" \
    || fail "other user could not write the view"
as_user "dd if=$mnt/disk.raw bs=64k skip=2 count=1 status=none" >back || fail "other user could not read"
cmp -s back chunk || fail "other user read back something else"

log "chmod/chown honoured for the mount's life"
chown 0:0 "$mnt/disk.raw"
chmod 0640 "$mnt/disk.raw"
assert_eq "640 0 0" "$(stat -c '%a %u %g' "$mnt/disk.raw")" "after chown/chmod"
as_user "head -c 1 $mnt/disk.raw >/dev/null" 2>/dev/null && fail "mode 0640 root:root let the other user read"
as_user "chmod 666 $mnt/disk.raw" 2>/dev/null && fail "other user could chmod root's view"
chown "$uid:$gid" "$mnt/disk.raw"
as_user "chmod 0604 $mnt/disk.raw" || fail "the owner could not chmod the view"
assert_eq "604" "$(stat -c '%a' "$mnt/disk.raw")" "owner's chmod"
umount_view "$mnt"
qemu_decrypt a.img pw plain
cmp -s <(dd if=plain bs=64k skip=2 count=1 status=none) chunk || fail "other user's write is not in the image"

log "umask= and mode= set the bits; nothing persisted"
mount_view a.img "$mnt" --passphrase-file pw -o umask=0027
assert_eq "640 750 $(id -u)" "$(stat -c '%a' "$mnt/disk.raw") $(stat -c '%a' "$mnt") $(stat -c '%u' "$mnt/disk.raw")" "umask=0027"
umount_view "$mnt"
mount_view a.img "$mnt" --passphrase-file pw -r -o mode=0444
assert_eq "444" "$(stat -c '%a' "$mnt/disk.raw")" "mode=0444"
umount_view "$mnt"
assert_exit 1 "$LUKSFS" mount --passphrase-file pw -o umask=9 a.img "$mnt"

log "a non-empty mountpoint is refused unless -o nonempty"
touch "$mnt/hidden"
assert_exit 6 "$LUKSFS" mount --passphrase-file pw a.img "$mnt"
grep -q "not empty" "$WORK/last.err" || fail "message: $(cat "$WORK/last.err")"
mount_view a.img "$mnt" --passphrase-file pw -o nonempty
umount_view "$mnt"
rm "$mnt/hidden"

log "a dead mountpoint is named, and luksfs umount cleans it up"
mount_view a.img "$mnt" --passphrase-file pw
kill -KILL "$(daemon_pid "$mnt")"
sleep 0.3
assert_exit 6 "$LUKSFS" mount --passphrase-file pw a.img "$mnt"
grep -q "died" "$WORK/last.err" && grep -q "luksfs umount" "$WORK/last.err" \
    || fail "dead mountpoint message: $(cat "$WORK/last.err")"
"$LUKSFS" umount "$mnt" 2>/dev/null || fail "luksfs umount of a dead mount failed"
_is_mounted "$mnt" && fail "dead mount still there after luksfs umount"
mount_view a.img "$mnt" --passphrase-file pw
umount_view "$mnt"

log "EACCES on /dev/fuse is named"
if [[ "$(stat -c %a /dev/fuse)" == 600 ]]; then
    mkdir -p u/m
    cp a.img pw u/
    chown -R "$user" u
    as_user "$LUKSFS mount --passphrase-file $WORK/u/pw $WORK/u/a.img $WORK/u/m" 2>err && fail "mounted without /dev/fuse access"
    grep -q "cannot open /dev/fuse" err || fail "message: $(cat err)"
else
    log "(skipped: /dev/fuse is open to users here)"
fi
pass
