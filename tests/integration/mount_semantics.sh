#!/bin/bash
# Mount semantics (CLI contract):
#  * default mount daemonizes and returns only when serving: the very next command reads the view;
#    the view is a regular file, mode 0600, owned by the caller, size = data segment size;
#    `luksfs pid MNT` prints the daemon's pid (the one process serving it); on a directory that is
#    not a luksfs mount it exits 6 with one line.
#  * luksfs answers no xattr request: getxattr/listxattr on the mount fail with EOPNOTSUPP, so the
#    kernel stops asking, and buffered writes send no GETXATTR(security.capability) to the daemon.
#  * --read-only and -o ro: mode 0400, writes fail with EROFS, the image is unchanged.
#  * --name / -o name= change the file name; the fstab form `luksfs IMAGE MNT -o ...` mounts.
#  * truncate to another size fails with EPERM; a write past the end fails with ENOSPC; a write
#    straddling the end is short.
#  * `luksfs umount` exits 0 and the daemon is gone afterwards.
#  * --foreground works (backgrounded here); `fusermount3 -u` ends it with exit status 0.
#  * a daemon killed with SIGKILL: `luksfs pid` fails with exit 6, also when another user squats the
#    rendezvous socket; `luksfs umount` warns that it cannot wait for the daemon and unmounts.
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

log "luksfs pid: the daemon's pid; exit 6 elsewhere"
pid=$(daemon_pid "$mnt")
[[ "$pid" =~ ^[0-9]+$ ]] || fail "luksfs pid printed no number: '$pid'"
_pid_alive "$pid" || fail "daemon pid $pid from luksfs pid is not running"
[[ "$(cat "/proc/$pid/comm")" == luksfs* ]] || fail "pid $pid is not luksfs but $(cat "/proc/$pid/comm")"
assert_exit 0 "$LUKSFS" pid "$mnt/"
assert_eq "$pid" "$(cat "$WORK/last.out")" "luksfs pid MNT/"
# the same process as the process table shows: the forked daemon keeps mount_view's argv
assert_eq "$pid" "$(pgrep -f -- "^$LUKSFS mount --passphrase-file pw m\.img $mnt\$")" "luksfs pid vs pgrep"
assert_exit 6 "$LUKSFS" pid "$WORK"
assert_eq "luksfs: $WORK: not a luksfs mount" "$(cat "$WORK/last.err")" "luksfs pid on a plain directory"
[[ -s "$WORK/last.out" ]] && fail "luksfs pid on a plain directory printed '$(cat "$WORK/last.out")'"
assert_exit 6 "$LUKSFS" pid /proc
assert_exit 6 "$LUKSFS" pid "$WORK/missing"
grep -q "missing: No such file or directory" "$WORK/last.err" || fail "luksfs pid on a missing path: $(cat "$WORK/last.err")"

log "no xattrs: the kernel gets ENOSYS once and stops asking (EOPNOTSUPP, not ENODATA)"
"$PY" - "$mnt" "$mnt/disk.raw" <<'PYEOF' || fail "xattr requests"
import errno, os, sys
for path in sys.argv[1:]:
    for what, fn in (("getxattr user.x", lambda: os.getxattr(path, "user.x")),
                     ("getxattr user.luksfs.pid", lambda: os.getxattr(path, "user.luksfs.pid")),
                     ("getxattr security.capability", lambda: os.getxattr(path, "security.capability")),
                     ("listxattr", lambda: os.listxattr(path))):
        try:
            fn()
        except OSError as e:
            if e.errno != errno.EOPNOTSUPP:
                sys.exit("%s %s: errno %s, want EOPNOTSUPP" % (what, path, errno.errorcode.get(e.errno)))
            continue
        sys.exit("%s %s: succeeded, want EOPNOTSUPP" % (what, path))
PYEOF

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
"$LUKSFS" mount --foreground --debug --passphrase-file pw m.img "$mnt" </dev/null >fg.out 2>fg.err &
fgpid=$!
register_pid "$fgpid"
for _ in $(seq 100); do
    _is_mounted "$mnt" && break
    _pid_alive "$fgpid" || break
    sleep 0.1
done
_is_mounted "$mnt" || fail "--foreground mount did not appear: $(tr '\n' ' ' <fg.err)"
cmp -s m.plain "$mnt/disk.raw" || fail "--foreground: content"
assert_eq "$fgpid" "$(daemon_pid "$mnt")" "--foreground: luksfs pid is the foreground process"
log "buffered writes send the daemon no GETXATTR (libfuse's -d trace)"
"$PY" - "$mnt/disk.raw" <<'PYEOF' || fail "buffered rewrite of the first 128 KiB"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
for i in range(32):  # rewrite what is there: the image keeps its content
    os.pwrite(fd, os.pread(fd, 4096, i * 4096), i * 4096)
os.fsync(fd)
os.close(fd)
PYEOF
writes=$(grep -c 'opcode: WRITE' fg.err || true)
getxattrs=$(grep -c 'opcode: GETXATTR' fg.err || true)
log "trace: $writes WRITE, $getxattrs GETXATTR requests"
((writes > 0)) || fail "--debug trace shows no WRITE request (trace format changed?)"
((getxattrs <= 1)) || fail "$getxattrs GETXATTR requests for $writes writes: the kernel still asks the daemon"
fusermount3 -u "$mnt" || fail "fusermount3 -u failed"
set +e
timeout 20 tail --pid="$fgpid" -f /dev/null
wait "$fgpid"
rc=$?
set -e
assert_eq 0 "$rc" "exit status of --foreground daemon after fusermount3 -u (stderr: $(tail -5 fg.err | tr '\n' ' '))"

log "daemon killed: luksfs pid fails, refuses a squatter; luksfs umount unmounts anyway"
mount_view m.img "$mnt" --passphrase-file pw --read-only
pid=$(daemon_pid "$mnt")
[[ -n "$pid" ]] || fail "luksfs pid: no pid for the read-only mount"
kill -KILL "$pid"
wait_gone "$pid" 10 || fail "daemon $pid survived SIGKILL"
assert_exit 6 "$LUKSFS" pid "$mnt"
grep -q "^luksfs: $mnt: no daemon listens on @luksfs/" "$WORK/last.err" \
    || fail "luksfs pid with the daemon gone: $(cat "$WORK/last.err")"
dev=$(awk -v m="$mnt" '$5 == m { d = $3 } END { print d }' /proc/self/mountinfo)
[[ "$dev" =~ ^[0-9]+:[0-9]+$ ]] || fail "no mountinfo entry for $mnt"
if [[ "$(id -u)" == 0 ]]; then
    # Anyone may bind an abstract name: a socket of another uid must not pass for the daemon.
    setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\0luksfs/" + sys.argv[1])
s.listen(8)
print("ready", flush=True)
time.sleep(120)' "$dev" >squat.out 2>squat.err &
    squatter=$!
    register_pid "$squatter"
    for _ in $(seq 100); do
        [[ -s squat.out ]] && break
        _pid_alive "$squatter" || fail "squatter failed: $(cat squat.err)"
        sleep 0.05
    done
    assert_exit 6 "$LUKSFS" pid "$mnt"
    assert_eq "luksfs: $mnt: daemon socket owned by uid 65534, mount belongs to uid 0" \
        "$(cat "$WORK/last.err")" "luksfs pid with a squatter"
fi
assert_exit 0 "$LUKSFS" umount "$mnt"
grep -q "^luksfs: warning: $mnt: .*; cannot wait for the daemon, unmounting anyway\$" "$WORK/last.err" \
    || fail "luksfs umount with the daemon gone: warning: $(cat "$WORK/last.err")"
assert_eq 1 "$(wc -l <"$WORK/last.err")" "luksfs umount with the daemon gone: one line"
_is_mounted "$mnt" && fail "$mnt still mounted after luksfs umount of a dead daemon"
if [[ -n "${squatter:-}" ]]; then
    kill "$squatter" 2>/dev/null || true
    wait "$squatter" 2>/dev/null || true
fi
pass
