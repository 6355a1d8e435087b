#!/bin/bash
# Mount semantics (CLI contract):
#  * default mount daemonizes and returns only when serving: the very next command reads the view;
#    the view is a regular file, mode 0600, owned by the caller, size = data segment size;
#    the daemon pid is the xattr user.luksfs.pid of the mountpoint.
#  * --read-only and -o ro: mode 0400, writes fail with EROFS, the image is unchanged.
#  * --name / -o name= change the file name; the fstab form `luksfs IMAGE MNT -o ...` mounts.
#  * truncate to another size fails with EPERM; a write past the end fails with ENOSPC; a write
#    straddling the end is short.
#  * `luksfs umount` exits 0 and the daemon is gone afterwards.
#  * --foreground works (backgrounded here); `fusermount3 -u` ends it with exit status 0.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "mount passphrase"
mk_luks2 m.img 24 pw
dump_vk m.img pw m.vk
size=$(oracle_field m.img data_size)
pattern_file m.plain "$size" 51
oracle_write m.img m.vk 0 m.plain
mnt=$(new_mountpoint mnt)

log "default mount: daemonized, serving on return"
mount_view m.img "$mnt" --passphrase-file pw
head -c 65536 "$mnt/disk.raw" >first || fail "reading the view right after mount failed"
cmp -s -n 65536 first m.plain || fail "first 64 KiB of the view are wrong"
[[ -f "$mnt/disk.raw" && ! -L "$mnt/disk.raw" ]] || fail "view is not a regular file"
assert_eq "600 $(id -u) $size" "$(stat -c '%a %u %s' "$mnt/disk.raw")" "view mode/owner/size"
pid=$(daemon_pid "$mnt")
[[ "$pid" =~ ^[0-9]+$ ]] || fail "xattr user.luksfs.pid missing or not a number: '$pid'"
_pid_alive "$pid" || fail "daemon pid $pid from the xattr is not running"
[[ "$(cat "/proc/$pid/comm")" == luksfs* ]] || fail "pid $pid is not luksfs but $(cat "/proc/$pid/comm")"

log "size is fixed: truncate EPERM, write past end ENOSPC, straddling write short"
"$PY" - "$mnt/disk.raw" "$size" <<'PYEOF' || fail "size semantics"
import errno, os, sys
view, size = sys.argv[1], int(sys.argv[2])
def expect_errno(what, want, fn):
    try:
        fn()
    except OSError as e:
        if e.errno != want:
            sys.exit("%s: errno %s, want %s" % (what, errno.errorcode.get(e.errno), errno.errorcode[want]))
        return
    sys.exit("%s: succeeded, want %s" % (what, errno.errorcode[want]))
expect_errno("truncate smaller", errno.EPERM, lambda: os.truncate(view, size - 4096))
expect_errno("truncate larger", errno.EPERM, lambda: os.truncate(view, size + 4096))
fd = os.open(view, os.O_RDWR)
expect_errno("write at end", errno.ENOSPC, lambda: os.pwrite(fd, b"x", size))
expect_errno("write past end", errno.ENOSPC, lambda: os.pwrite(fd, b"x" * 10, size + 12345))
n = os.pwrite(fd, b"E" * 20, size - 10)
if n != 10:
    sys.exit("straddling write returned %d, want 10" % n)
if os.pread(fd, 20, size - 10) != b"E" * 10:
    sys.exit("straddling write: the 10 bytes before the end were not written")
os.fsync(fd)
os.close(fd)
if os.path.getsize(view) != size:
    sys.exit("view size changed to %d" % os.path.getsize(view))
PYEOF
"$PY" -c 'import sys; d=bytearray(open(sys.argv[1],"rb").read()); d[-10:]=b"E"*10; open(sys.argv[1],"wb").write(d)' m.plain

log "luksfs umount: exit 0, daemon gone"
umount_view "$mnt"
_pid_alive "$pid" && fail "daemon $pid still alive after luksfs umount"
oracle_decrypt m.img m.vk m.after
assert_files_eq m.plain m.after "image after straddling write"

ro_check() {  # ro_check WHAT: the view at $mnt/$2 is read-only
    local what="$1" view="$2"
    assert_eq 400 "$(stat -c %a "$view")" "$what: view mode"
    cmp -s m.plain "$view" || fail "$what: read-only view content"
    "$PY" - "$view" <<'PYEOF' || fail "$what: write was not refused with EROFS"
import errno, os, sys
view = sys.argv[1]
try:
    fd = os.open(view, os.O_WRONLY)
except OSError as e:
    sys.exit(0 if e.errno == errno.EROFS else "open for write: %s" % e)
try:
    os.pwrite(fd, b"no", 100)
    os.fsync(fd)
except OSError as e:
    sys.exit(0 if e.errno == errno.EROFS else "write: %s" % e)
sys.exit("write to the read-only view succeeded")
PYEOF
}

before=$(sha256 m.img)
log "--read-only"
mount_view m.img "$mnt" --passphrase-file pw --read-only
ro_check "--read-only" "$mnt/disk.raw"
umount_view "$mnt"
log "-o ro,name=plain.img (and --name)"
mount_view m.img "$mnt" -o ro,name=plain.img,passphrase_file=pw
[[ -e "$mnt/disk.raw" ]] && fail "-o name=: disk.raw still exists"
ro_check "-o ro" "$mnt/plain.img"
umount_view "$mnt"
mount_view m.img "$mnt" --passphrase-file pw --name other.raw --read-only
assert_eq "other.raw" "$(ls "$mnt")" "--name: directory listing"
cmp -s m.plain "$mnt/other.raw" || fail "--name: content"
umount_view "$mnt"
assert_eq "$before" "$(sha256 m.img)" "read-only mounts changed the image"

log "fstab form: luksfs IMAGE MNT -o ro,passphrase_file=..."
register_mount "$mnt"
"$LUKSFS" m.img "$mnt" -o "ro,nodev,nosuid,passphrase_file=$WORK/pw" </dev/null 2>fstab.err \
    || fail "fstab form failed: $(tr '\n' ' ' <fstab.err)"
cmp -s m.plain "$mnt/disk.raw" || fail "fstab form: content"
umount_view "$mnt"

log "mount.luksfs symlink"
ln -s "$LUKSFS" "$WORK/mount.luksfs"
"$WORK/mount.luksfs" m.img "$mnt" -o "ro,passphrase_file=$WORK/pw" </dev/null 2>helper.err \
    || fail "mount.luksfs failed: $(tr '\n' ' ' <helper.err)"
assert_eq 400 "$(stat -c %a "$mnt/disk.raw")" "mount.luksfs -o ro: view mode"
cmp -s m.plain "$mnt/disk.raw" || fail "mount.luksfs: content"
umount_view "$mnt"

log "--foreground, ended by fusermount3 -u: exit status 0"
"$LUKSFS" mount --foreground --passphrase-file pw m.img "$mnt" </dev/null >fg.out 2>fg.err &
fgpid=$!
register_pid "$fgpid"
for _ in $(seq 100); do
    _is_mounted "$mnt" && break
    _pid_alive "$fgpid" || break
    sleep 0.1
done
_is_mounted "$mnt" || fail "--foreground mount did not appear: $(tr '\n' ' ' <fg.err)"
cmp -s m.plain "$mnt/disk.raw" || fail "--foreground: content"
assert_eq "$fgpid" "$(daemon_pid "$mnt")" "--foreground: xattr pid is the foreground process"
fusermount3 -u "$mnt" || fail "fusermount3 -u failed"
set +e
timeout 20 tail --pid="$fgpid" -f /dev/null
wait "$fgpid"
rc=$?
set -e
assert_eq 0 "$rc" "exit status of --foreground daemon after fusermount3 -u (stderr: $(tr '\n' ' ' <fg.err))"
pass
