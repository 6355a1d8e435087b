#!/bin/bash
# qcow2 with encrypt.format=luks, as qemu-img makes it (the IBM Cloud encrypted-image flow):
#  - 64 KiB and 512-byte clusters, extended_l2=on, refcount_bits=1, compat=0.10 (2 MiB clusters
#    and the other refcount widths are in fs/image/qcow2_map_test.cc): the mounted view equals
#    `qemu-img convert -O raw`; random unaligned writes and a punched hole through the view, then
#    `qemu-img check` reports no errors and `qemu-img compare` agrees with the expected plaintext;
#  - a sparse 1 TiB image written in a few places by qemu-io (incl. write -z): SEEK_DATA/SEEK_HOLE
#    follow the allocation, st_blocks counts the data so `cp --sparse=always` is fast, an
#    allocating write far out lands;
#  - fio verify with 2 jobs of allocating writes;
#  - refusals (exit 3): a backing file, legacy AES, a plaintext qcow2;
#  - a dirty image (lazy refcounts, qemu-io abort): read-only leaves it alone, a read-write mount
#    rebuilds the refcounts and clears the bit; qemu-img check is then clean.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "qcow2 passphrase"
SECRET=(--object "secret,id=sec0,file=pw")
opts() { printf 'driver=qcow2,file.filename=%s,encrypt.key-secret=sec0' "$1"; }

mk_qcow2() {  # mk_qcow2 IMG SIZE [extra -o options]
    rm -f "$1"
    qemu_luks_create qemu-img create -q -f qcow2 "${SECRET[@]}" \
        -o "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10${3:+,$3}" "$1" "$2"
}
qio() {  # qio IMG qemu-io-command...
    local img="$1" a=()
    shift
    for c in "$@"; do a+=(-c "$c"); done
    qemu-io "${SECRET[@]}" --image-opts "$(opts "$img")" "${a[@]}" >"$WORK/qio.out" 2>&1 \
        || fail "qemu-io $* on $img: $(tail -2 "$WORK/qio.out" | tr '\n' ' ')"
    ! grep -q 'Pattern verification failed' "$WORK/qio.out" || fail "qemu-io $*: pattern mismatch"
}
qdec() { qemu-img convert "${SECRET[@]}" --image-opts "$(opts "$1")" -O raw "$2" || fail "convert $1"; }
qcheck() {
    qemu-img check "${SECRET[@]}" --image-opts "$(opts "$1")" >"$WORK/check.out" 2>&1 \
        || fail "qemu-img check $1 (exit $?): $(tr '\n' ' ' <"$WORK/check.out")"
}

# rand_writes VIEW EXPECTED SEED N MAXLEN: the same random unaligned writes into both files.
rand_writes() {
    "$PY" - "$@" <<'EOF'
import os, random, sys
view, exp, seed, n, maxlen = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
r = random.Random(seed)
size = os.path.getsize(exp)
fv, fe = os.open(view, os.O_RDWR), os.open(exp, os.O_RDWR)
for _ in range(n):
    ln = r.randint(1, maxlen)
    off = r.randrange(0, size - ln)
    d = r.randbytes(ln)
    assert os.pwrite(fv, d, off) == ln
    os.pwrite(fe, d, off)
os.fsync(fv)
EOF
}

log "cluster sizes, extended L2, refcount widths, compat 0.10"
for cfg in c64k: c512_rc1:cluster_size=512,refcount_bits=1 \
    ext:extended_l2=on c010:compat=0.10; do
    name="${cfg%%:*}" o="${cfg#*:}"
    mk_qcow2 "$name.qcow2" 32M "$o"
    qio "$name.qcow2" 'write -P 0x41 0 1M' 'write -P 0x42 5000k 100k' 'write -z 8M 1M' \
        'write -P 0x43 33553920 512'
    qdec "$name.qcow2" "$name.exp"
    mnt=$(new_mountpoint "mnt-$name")
    mount_view "$name.qcow2" "$mnt" --passphrase-file pw
    assert_files_eq "$name.exp" "$mnt/disk.raw" "$name: view vs qemu-img convert"
    rand_writes "$mnt/disk.raw" "$name.exp" 5 40 200000
    fallocate -p -o $((12 * MiB)) -l $((3 * MiB / 2)) "$mnt/disk.raw" || fail "$name: punch hole"
    fallocate -p -o $((12 * MiB)) -l $((3 * MiB / 2)) "$name.exp"
    assert_files_eq "$name.exp" "$mnt/disk.raw" "$name: view after writes"
    umount_view "$mnt"
    qcheck "$name.qcow2"
    qemu-img compare "${SECRET[@]}" --image-opts "$(opts "$name.qcow2")" \
        "driver=raw,file.filename=$name.exp" >/dev/null || fail "$name: qemu-img compare"
    log "$name: view == qemu; writes + discard: qemu-img check clean, compare equal"
done

log "sparse 1 TiB image"
mk_qcow2 big.qcow2 1T
qio big.qcow2 'write -P 0x61 0 1M' 'write -P 0x62 500G 3M' 'write -z 700G 4M' \
    'write -P 0x63 1099510579200 1M'
mnt=$(new_mountpoint mnt-big)
mount_view big.qcow2 "$mnt" --passphrase-file pw
"$PY" - "$mnt/disk.raw" <<'EOF' || fail "sparse view: seek/read"
import os, sys
G = 1 << 30
fd = os.open(sys.argv[1], os.O_RDONLY)
assert os.fstat(fd).st_size == 1 << 40
assert os.lseek(fd, 0, os.SEEK_HOLE) == 1 << 20, "first hole"
assert os.lseek(fd, 1 << 20, os.SEEK_DATA) == 500 * G, "data at 500G"
assert os.lseek(fd, 500 * G, os.SEEK_HOLE) == 500 * G + (3 << 20), "hole after 500G"
assert os.lseek(fd, 500 * G + (3 << 20), os.SEEK_DATA) == (1 << 40) - (1 << 20), "zero clusters are holes"
assert os.pread(fd, 3 << 20, 500 * G) == b"\x62" * (3 << 20)
assert os.pread(fd, 4 << 20, 700 * G) == bytes(4 << 20)
assert os.pread(fd, 1 << 20, (1 << 40) - (1 << 20)) == b"\x63" * (1 << 20)
EOF
# st_blocks counts the allocated clusters, so cp takes its SEEK_DATA path and reads only data.
blocks=$(stat -c %b "$mnt/disk.raw")
((blocks * 512 >= 5 * MiB && blocks * 512 < 6 * MiB)) || fail "st_blocks $blocks: not the allocated bytes"
start=$SECONDS
timeout 60 cp --sparse=always "$mnt/disk.raw" big.copy || fail "cp --sparse=always of the 1 TiB view"
log "cp --sparse=always of 1 TiB (5 MiB of data): $((SECONDS - start)) s, $(du -k big.copy | cut -f1) KiB"
(($(du -k big.copy | cut -f1) < 8192)) || fail "the copy is not sparse"
cmp -n $((1 * MiB)) big.copy <(head -c $((1 * MiB)) /dev/zero | tr '\0' 'a') || fail "copy: first MiB"
cmp -i $((500 << 30)):0 -n $((3 * MiB)) big.copy <(head -c $((3 * MiB)) /dev/zero | tr '\0' 'b') \
    || fail "copy: 500G"
rm -f big.copy
"$PY" - "$mnt/disk.raw" <<'EOF' || fail "allocating write at 300G"
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
os.pwrite(fd, b"\x64" * 100000, 300 * (1 << 30) + 777)
os.fsync(fd)
EOF
umount_view "$mnt"
qcheck big.qcow2
qio big.qcow2 'read -P 0x64 322122547977 100000' 'read -P 0 322122547200 777' 'read -P 0x62 500G 3M'
log "sparse: SEEK_DATA/SEEK_HOLE follow the clusters; allocating write far out: check clean"

log "fio verify, 2 jobs, allocating writes"
mk_qcow2 f.qcow2 64M cluster_size=16k
mnt=$(new_mountpoint mnt-fio)
mount_view f.qcow2 "$mnt" --passphrase-file pw
fio --name=v --filename="$mnt/disk.raw" --rw=randwrite --bs=4k --size=16M --numjobs=2 \
    --offset_increment=24M --verify=crc32c --do_verify=1 --ioengine=psync --fsync=64 \
    --output="$WORK/fio.out" >/dev/null 2>&1 || fail "fio verify: $(grep -i err "$WORK/fio.out" | head -3)"
cat "$mnt/disk.raw" >f.view
umount_view "$mnt"
qcheck f.qcow2
qdec f.qcow2 f.exp
assert_files_eq f.exp f.view "fio: view vs qemu-img convert"
log "fio: verify passed, qemu-img check clean, qemu agrees"

log "refusals"
qemu-img create -q -f qcow2 base.qcow2 4M
qemu_luks_create qemu-img create -q -f qcow2 "${SECRET[@]}" -b base.qcow2 -F qcow2 \
    -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 child.qcow2 4M
assert_exit 3 "$LUKSFS" info child.qcow2
grep -q "backing file 'base.qcow2'" "$WORK/last.err" || fail "backing file not named: $(cat "$WORK/last.err")"
if qemu-img create -q -f qcow2 "${SECRET[@]}" -o encrypt.format=aes,encrypt.key-secret=sec0 \
    aes.qcow2 4M 2>/dev/null; then
    assert_exit 3 "$LUKSFS" info aes.qcow2
    grep -q "legacy qcow2 AES encryption (encrypt.format=aes)" "$WORK/last.err" || fail "aes message"
fi
qemu-img create -q -f qcow2 plain.qcow2 4M
assert_exit 3 "$LUKSFS" check plain.qcow2 --passphrase-file pw
grep -q "not encrypted" "$WORK/last.err" || fail "plaintext qcow2 message: $(cat "$WORK/last.err")"
log "refusals: exit 3 with the reason; nothing written"
log "a dirty image (lazy refcounts, qemu-io aborted): read-only leaves it; read-write repairs it"
cp c64k.qcow2 dirty.qcow2
qemu-img amend "${SECRET[@]}" --image-opts "$(opts dirty.qcow2)" -o lazy_refcounts=on \
    || fail "amend lazy_refcounts=on"
(qemu-io "${SECRET[@]}" --image-opts "$(opts dirty.qcow2)" -c 'write -P 0x61 20M 1M' \
    -c 'write -P 0x62 30M 64k' -c abort) >/dev/null 2>&1 || true
[[ "$(od -An -tu1 -j79 -N1 dirty.qcow2 | tr -d ' ')" == 1 ]] || fail "qemu-io abort left no dirty bit"
qemu-img check "${SECRET[@]}" --image-opts "$(opts dirty.qcow2)" >/dev/null 2>&1 \
    && fail "control: qemu-img check finds nothing wrong with the dirty image"
qdec dirty.qcow2 dirty.exp
mnt=$(new_mountpoint mnt-dirty)
before=$(sha256 dirty.qcow2)
mount_view dirty.qcow2 "$mnt" --passphrase-file pw --read-only
assert_files_eq dirty.exp "$mnt/disk.raw" "dirty image read-only"
umount_view "$mnt"
assert_eq "$before" "$(sha256 dirty.qcow2)" "a read-only mount wrote to the dirty image"
mount_view dirty.qcow2 "$mnt" --passphrase-file pw
grep -q "refcount(s) repaired" "$WORK/mount.err" || fail "no repair reported: $(cat "$WORK/mount.err")"
assert_files_eq dirty.exp "$mnt/disk.raw" "repaired dirty image"
rand_writes "$mnt/disk.raw" dirty.exp 9 20 100000
umount_view "$mnt"
[[ "$(od -An -tu1 -j79 -N1 dirty.qcow2 | tr -d ' ')" == 0 ]] || fail "dirty bit still set"
qcheck dirty.qcow2
qemu-img compare "${SECRET[@]}" --image-opts "$(opts dirty.qcow2)" \
    "driver=raw,file.filename=dirty.exp" >/dev/null || fail "dirty: qemu-img compare"
log "dirty image: refcounts rebuilt at the read-write mount, qemu-img check clean"
pass
