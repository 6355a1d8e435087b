#!/bin/bash
# Partition files inside the view (man page, PARTITIONS): a GPT written with sfdisk INTO
# MNT/disk.raw makes MNT/disk.raw.p1 and .p2 appear, sized as the table says; an ext4 made on
# disk.raw.p2 is mounted with fuse2fs, written and read back; the bytes are checked with the
# independent oracle (cryptsetup's volume key) at the partition's offset of the decrypted image;
# a write past the end of p1 stops there and leaves p2 alone; deleting p2 through disk.raw makes
# its file go; an MBR made by sfdisk gives files too; on qcow2+LUKS, seeks and a punched hole stay
# in the partition (checked with qemu-img); mount options and revocation apply.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
command -v sfdisk >/dev/null || fail "sfdisk (fdisk package) missing"
command -v fuse2fs >/dev/null || fail "fuse2fs (fuse2fs package) missing"
cd "$WORK"
write_secret pw "partition view passphrase"
truncate -s 64M luks.img
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" luks.img pw
dump_vk luks.img pw vk

# size MNT NAME: st_size of MNT/NAME, or "none".
size_of() { stat -c %s "$1/$2" 2>/dev/null || echo none; }
# files MNT: the names in MNT, one line.
files() { (cd "$1" && ls | tr '\n' ' '); }

mnt=$(new_mountpoint mnt)
mount_view luks.img "$mnt" --passphrase-file pw
view_size=$(size_of "$mnt" disk.raw)
assert_eq "disk.raw " "$(files "$mnt")" "no table yet: only disk.raw"

log "GPT written into disk.raw: p1 (8 MiB) and p2 (32 MiB) appear"
printf 'label: gpt\nstart=2048, size=16384, type=linux\nstart=20480, size=65536, type=linux\n' \
    | sfdisk -q "$mnt/disk.raw" >sfdisk.out 2>&1 || fail "sfdisk into the view: $(cat sfdisk.out)"
assert_eq "disk.raw disk.raw.p1 disk.raw.p2 " "$(files "$mnt")" "files after the GPT"
assert_eq $((16384 * 512)) "$(size_of "$mnt" disk.raw.p1)" "size of p1"
assert_eq $((65536 * 512)) "$(size_of "$mnt" disk.raw.p2)" "size of p2"
[[ "$(stat -c %a "$mnt/disk.raw.p1")" == 600 ]] || fail "mode of p1: $(stat -c %a "$mnt/disk.raw.p1")"
[[ "$(stat -c %b "$mnt/disk.raw.p2")" == 65536 ]] || fail "st_blocks of p2: $(stat -c %b "$mnt/disk.raw.p2")"

log "ext4 on disk.raw.p2, through fuse2fs"
mkfs.ext4 -q -F "$mnt/disk.raw.p2" >mkfs.out 2>&1 || fail "mkfs.ext4 on p2: $(cat mkfs.out)"
head -c $((1 * MiB + 333)) /dev/urandom >hello
fsmnt=$(new_mountpoint fsmnt)
register_mount "$fsmnt"
fuse2fs -o fakeroot "$mnt/disk.raw.p2" "$fsmnt" >fuse2fs.out 2>&1 || fail "fuse2fs p2: $(cat fuse2fs.out)"
cp hello "$fsmnt/hello"
fusermount3 -u "$fsmnt"
fuse2fs -o ro,fakeroot "$mnt/disk.raw.p2" "$fsmnt" >fuse2fs.out 2>&1 || fail "fuse2fs ro p2: $(cat fuse2fs.out)"
cmp hello "$fsmnt/hello" || fail "the file written through fuse2fs reads back different"
fusermount3 -u "$fsmnt"

if [[ $(id -u) == 0 && -e /dev/loop-control ]]; then
    log "mount -o loop of disk.raw.p2 reads the same file"
    lomnt=$(new_mountpoint lomnt)
    if mount -o loop,ro "$mnt/disk.raw.p2" "$lomnt" 2>loop.err; then
        register_cleanup "umount $lomnt"
        cmp hello "$lomnt/hello" || fail "mount -o loop: the file differs"
        umount "$lomnt" || fail "umount of the loop mount"
    else
        log "no loop mount here ($(head -1 loop.err)): skipped"
    fi
fi

log "p1 is bounded: reads end at its end, writes past it stop there (ENOSPC), p2 untouched"
p1_size=$((16384 * 512))
dd if="$mnt/disk.raw.p2" of=p2.head bs=4096 count=16 status=none
dd if="$mnt/disk.raw" of=gap bs=512 skip=18432 count=2048 status=none   # between p1 and p2
head -c 8192 /dev/urandom >tail8k
set +e
dd if=tail8k of="$mnt/disk.raw.p1" bs=4096 seek=$((p1_size / 4096 - 1)) conv=notrunc status=none 2>dd.err
rc=$?
set -e
[[ $rc -ne 0 ]] && grep -q "No space left on device" dd.err || fail "write past the end of p1: rc $rc, $(cat dd.err)"
"$PY" - "$mnt/disk.raw.p1" "$p1_size" <<'EOF' || fail "p1 window checks"
import os, sys
path, size = sys.argv[1], int(sys.argv[2])
fd = os.open(path, os.O_RDWR)
assert os.pwrite(fd, b"x" * 200, size - 100) == 100, "a write across the end is short"
assert os.pread(fd, 4096, size) == b"", "a read at the end is EOF"
assert len(os.pread(fd, 4096, size - 10)) == 10, "a read across the end is short"
assert os.lseek(fd, 0, os.SEEK_HOLE) == size, "SEEK_HOLE: the end of the partition"
assert os.lseek(fd, 4096, os.SEEK_DATA) == 4096, "SEEK_DATA inside"
try:
    os.lseek(fd, size, os.SEEK_DATA)
    raise SystemExit("SEEK_DATA at the end did not fail")
except OSError as e:
    assert e.errno == 6, e  # ENXIO
os.close(fd)
EOF
dd if="$mnt/disk.raw.p2" of=p2.head.after bs=4096 count=16 status=none
cmp p2.head p2.head.after || fail "a write past the end of p1 changed the first bytes of p2"
cmp gap <(dd if="$mnt/disk.raw" bs=512 skip=18432 count=2048 status=none) \
    || fail "a write past the end of p1 changed the bytes after it"
# O_DIRECT through a partition file equals the same bytes through disk.raw
dd if="$mnt/disk.raw.p1" of=p1.direct bs=64k count=4 iflag=direct status=none
dd if="$mnt/disk.raw" of=p1.whole bs=512 skip=2048 count=512 status=none
cmp p1.direct p1.whole || fail "O_DIRECT read of p1 differs from disk.raw at its offset"
log "page caches: a write through disk.raw is seen through p1 at once, and the other way"
head -c 65536 /dev/urandom >c1
head -c 65536 /dev/urandom >c2
dd if="$mnt/disk.raw.p1" of=/dev/null bs=64k skip=16 count=1 status=none    # now cached
dd if="$mnt/disk.raw" of=/dev/null bs=64k skip=$((2048 * 512 / 65536 + 32)) count=1 status=none
dd if=c1 of="$mnt/disk.raw" bs=64k seek=$((2048 * 512 / 65536 + 16)) conv=notrunc status=none
cmp c1 <(dd if="$mnt/disk.raw.p1" bs=64k skip=16 count=1 status=none) \
    || fail "p1 reads stale cached bytes after a write through disk.raw"
dd if=c2 of="$mnt/disk.raw.p1" bs=64k seek=32 conv=notrunc status=none
cmp c2 <(dd if="$mnt/disk.raw" bs=64k skip=$((2048 * 512 / 65536 + 32)) count=1 status=none) \
    || fail "disk.raw reads stale cached bytes after a write through p1"
# what p1 and p2 read now, for the oracle below
cp "$mnt/disk.raw.p1" p1.read
cp "$mnt/disk.raw.p2" p2.read
chmod 0640 "$mnt/disk.raw.p2"
[[ "$(stat -c %a "$mnt/disk.raw.p2")" == 640 ]] || fail "chmod of p2 did not take"

log "deleting p2 through disk.raw makes disk.raw.p2 disappear"
sfdisk -q --delete "$mnt/disk.raw" 2 >sfdisk.out 2>&1 || fail "sfdisk --delete: $(cat sfdisk.out)"
assert_eq "disk.raw disk.raw.p1 " "$(files "$mnt")" "files after deleting p2"
[[ -e "$mnt/disk.raw.p2" ]] && fail "disk.raw.p2 still resolves after its deletion"
assert_eq $((16384 * 512)) "$(size_of "$mnt" disk.raw.p1)" "p1 kept"
umount_view "$mnt"

log "oracle: the partitions' bytes in the decrypted image are what the files read"
oracle_decrypt luks.img vk plain
cmp p1.read <(dd if=plain bs=512 skip=2048 count=16384 status=none) || fail "p1 differs from the oracle"
cmp p2.read <(dd if=plain bs=512 skip=20480 count=65536 status=none) || fail "p2 differs from the oracle"
dd if=plain of=p2.plain bs=512 skip=20480 count=65536 status=none
debugfs -R "dump /hello hello.oracle" p2.plain >/dev/null 2>&1 || fail "debugfs of the oracle's p2"
cmp hello hello.oracle || fail "the oracle's ext4 in p2 does not hold the file written"
cmp <(head -c 3996 tail8k) <(dd if=plain bs=1 skip=$((2048 * 512 + p1_size - 4096)) count=3996 status=none) \
    || fail "the oracle's last block of p1 is not what dd wrote there"
cmp <(printf 'x%.0s' $(seq 100)) <(dd if=plain bs=1 skip=$((2048 * 512 + p1_size - 100)) count=100 status=none) \
    || fail "the oracle's last 100 bytes of p1 are not the short write's"
cmp gap <(dd if=plain bs=512 skip=18432 count=2048 status=none) \
    || fail "the oracle's bytes between p1 and p2 changed"

log "at mount: the table is read; --mode and -o nopartitions apply"
mnt2=$(new_mountpoint mnt2)
mount_view luks.img "$mnt2" --passphrase-file pw --mode 0640
assert_eq "disk.raw disk.raw.p1 " "$(files "$mnt2")" "files read at mount"
[[ "$(stat -c %a "$mnt2/disk.raw.p1")" == 640 ]] || fail "--mode on p1: $(stat -c %a "$mnt2/disk.raw.p1")"
umount_view "$mnt2"
mount_view luks.img "$mnt2" -o nopartitions,ro --passphrase-file pw
assert_eq "disk.raw " "$(files "$mnt2")" "-o nopartitions"
umount_view "$mnt2"
mount_view luks.img "$mnt2" --read-only --passphrase-file pw
[[ "$(stat -c %a "$mnt2/disk.raw.p1")" == 400 ]] || fail "read-only p1 mode"
printf 'x' | dd of="$mnt2/disk.raw.p1" conv=notrunc status=none 2>/dev/null \
    && fail "a write to p1 of a read-only mount succeeded"
umount_view "$mnt2"

log "MBR made by sfdisk inside the view"
mount_view luks.img "$mnt" --passphrase-file pw
assert_eq $((16384 * 512)) "$(size_of "$mnt" disk.raw.p1)" "GPT p1 before the MBR"   # cached now
printf 'label: dos\nstart=2048, size=8192, type=83\nstart=12288, size=4096, type=83\nstart=20480, type=83\n' \
    | sfdisk -q --wipe always "$mnt/disk.raw" >sfdisk.out 2>&1 || fail "sfdisk dos: $(cat sfdisk.out)"
assert_eq "disk.raw disk.raw.p1 disk.raw.p2 disk.raw.p3 " "$(files "$mnt")" "files of the MBR"
assert_eq $((8192 * 512)) "$(size_of "$mnt" disk.raw.p1)" "MBR p1 size"
assert_eq $((4096 * 512)) "$(size_of "$mnt" disk.raw.p2)" "MBR p2 size"
assert_eq $((view_size - 20480 * 512)) "$(size_of "$mnt" disk.raw.p3)" "MBR p3 size (to the end)"
# the MBR's last partition reaches the view's end: a write there fails, a read ends
printf 'y' | dd of="$mnt/disk.raw.p3" bs=1 seek=$((view_size - 20480 * 512)) conv=notrunc status=none 2>/dev/null \
    && fail "a write at the end of MBR p3 succeeded"

log "an MBR extended partition and its logical ones get no file"
printf 'label: dos\nstart=2048, size=8192, type=83\nstart=12288, type=5\nstart=14336, size=4096, type=83\n' \
    | sfdisk -q "$mnt/disk.raw" >sfdisk.out 2>&1 || fail "sfdisk dos extended: $(cat sfdisk.out)"
assert_eq "disk.raw disk.raw.p1 " "$(files "$mnt")" "files of an MBR with an extended partition"

log "qcow2+LUKS: SEEK_DATA/SEEK_HOLE and a punched hole stay inside the partition"
umount_view "$mnt"
rm -f q.qcow2
qemu_luks_create qemu-img create -q -f qcow2 --object "secret,id=sec0,file=pw" \
    -o "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10" q.qcow2 64M
mount_view q.qcow2 "$mnt" --passphrase-file pw
# p1 = [1 MiB, 9 MiB), p2 = [9 MiB, 25 MiB): adjacent
printf 'label: gpt\nstart=2048, size=16384, type=linux\nstart=18432, size=32768, type=linux\n' \
    | sfdisk -q "$mnt/disk.raw" >sfdisk.out 2>&1 || fail "sfdisk into the qcow2 view: $(cat sfdisk.out)"
assert_eq "disk.raw disk.raw.p1 disk.raw.p2 " "$(files "$mnt")" "files of the qcow2 view"
head -c $((1 * MiB)) /dev/urandom >u1
head -c $((1 * MiB)) /dev/urandom >u2
dd if=u1 of="$mnt/disk.raw.p1" bs=1M seek=7 conv=notrunc,fsync status=none
dd if=u2 of="$mnt/disk.raw.p2" bs=1M conv=notrunc,fsync status=none
"$PY" - "$mnt/disk.raw.p1" "$mnt/disk.raw.p2" <<'EOF2' || fail "qcow2 partition seeks"
import os, sys
M = 1 << 20
p1 = os.open(sys.argv[1], os.O_RDWR)
p2 = os.open(sys.argv[2], os.O_RDONLY)
assert os.lseek(p1, 0, os.SEEK_DATA) == 7 * M, "p1: first data"
assert os.lseek(p1, 7 * M, os.SEEK_HOLE) == 8 * M, "p1: the file's end is its last hole"
assert os.lseek(p2, 0, os.SEEK_DATA) == 0, "p2: data at 0"
assert os.lseek(p2, 0, os.SEEK_HOLE) == M, "p2: hole after the data"
try:  # the next data of the view (the GPT backup) lies past p2
    os.lseek(p2, 2 * M, os.SEEK_DATA)
    raise SystemExit("p2: SEEK_DATA past its data did not fail")
except OSError as e:
    assert e.errno == 6, e
EOF2
# a hole punched from p1's last 512 KiB on, 2 MiB long: clipped at p1's end
fallocate -p -o $((8 * MiB - 512 * 1024)) -l $((2 * MiB)) "$mnt/disk.raw.p1" || fail "punch hole in p1"
cmp u2 <(head -c $((1 * MiB)) "$mnt/disk.raw.p2") || fail "a hole punched past p1's end reached p2"
umount_view "$mnt"
qemu-img convert --object "secret,id=sec0,file=pw" \
    --image-opts "driver=qcow2,file.filename=q.qcow2,encrypt.key-secret=sec0" -O raw q.raw \
    || fail "qemu-img convert of q.qcow2"
cmp u2 <(dd if=q.raw bs=1M skip=9 count=1 status=none) || fail "qemu: p2's first MiB"
cmp <(head -c $((512 * 1024)) u1) <(dd if=q.raw bs=512k skip=16 count=1 status=none) \
    || fail "qemu: p1's 7th MiB before the hole"
cmp <(head -c $((512 * 1024)) /dev/zero) <(dd if=q.raw bs=512k skip=17 count=1 status=none) \
    || fail "qemu: the hole at p1's end is not zeros"
mount_view luks.img "$mnt" --passphrase-file pw

log "revocation: partition files go dark with disk.raw"
assert_exit 0 "$LUKSFS" shred --yes luks.img
dd if="$mnt/disk.raw.p2" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null \
    && fail "p2 still reads after the keys were dropped"
dd if="$mnt/disk.raw" of=/dev/null bs=4096 count=1 iflag=direct status=none 2>/dev/null \
    && fail "disk.raw still reads after the keys were dropped"
pass
