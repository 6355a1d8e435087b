#!/bin/bash
# SEEK_DATA / SEEK_HOLE on the view follow the image's block map. A raw LUKS image is all data:
# SEEK_DATA at any offset inside returns that offset, SEEK_HOLE returns the view's size (the one
# hole is the end), and both at or past the end fail with ENXIO, as on a regular file.
# fallocate --punch-hole is refused with EOPNOTSUPP (a raw image cannot discard) and writes
# nothing: `cp --sparse=always` of the view afterwards equals the oracle's decryption.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "seek passphrase"

mk_luks2 s.img 20 pw
mnt=$(new_mountpoint m)
mount_view s.img "$mnt" --passphrase-file pw
view=$(view_file "$mnt")
"$PY" - "$view" <<'PYEOF' || fail "seed write through the view"
import os, random, sys
fd = os.open(sys.argv[1], os.O_RDWR)
size = os.fstat(fd).st_size
os.pwrite(fd, random.Random(5).randbytes(size), 0)
os.fsync(fd)
os.close(fd)
PYEOF
"$PY" - "$view" <<'PYEOF' || fail "SEEK_DATA/SEEK_HOLE on a raw view"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(fd).st_size
errs = []
for off in (0, 1, 511, 4096, size // 2 + 3, size - 1):
    d = os.lseek(fd, off, os.SEEK_DATA)
    h = os.lseek(fd, off, os.SEEK_HOLE)
    if d != off: errs.append("SEEK_DATA %d -> %d" % (off, d))
    if h != size: errs.append("SEEK_HOLE %d -> %d (size %d)" % (off, h, size))
for whence in (os.SEEK_DATA, os.SEEK_HOLE):
    try:
        r = os.lseek(fd, size, whence)
        errs.append("lseek(size, %d) -> %d, want ENXIO" % (whence, r))
    except OSError as e:
        if e.errno != errno.ENXIO: errs.append("lseek(size, %d): %s" % (whence, e))
if errs: sys.exit("; ".join(errs))
PYEOF
# A raw LUKS view cannot discard: PUNCH_HOLE is refused (EOPNOTSUPP) and changes nothing.
if fallocate --punch-hole --offset 4096 --length 65536 "$view" 2>punch.err; then
    fail "fallocate --punch-hole on a raw view succeeded"
fi
grep -Eq "not supported|unsupported" punch.err || fail "punch hole: want EOPNOTSUPP, got: $(cat punch.err)"
cp --sparse=always "$view" copy.raw || fail "cp --sparse=always of the view"
umount_view "$mnt"
dump_vk s.img pw vk
oracle_decrypt s.img vk plain.raw
assert_files_eq plain.raw copy.raw "cp --sparse=always of the view vs oracle plaintext"
pass
