#!/bin/bash
# Discard, zeroing and holes on the view (fallocate on MNT/disk.raw, qemu discard=unmap), for raw
# LUKS1 made by cryptsetup and by qemu-img, LUKS2 with 4096-byte sectors, and qcow2+LUKS:
#  - FALLOC_FL_ZERO_RANGE (with and without KEEP_SIZE) writes ENCRYPTED zeros on raw images: the
#    oracle (cryptsetup's volume key) decrypts zeros there and the image file has no hole;
#    without KEEP_SIZE a range past the end is EINVAL, with it the range is clipped;
#  - PUNCH_HOLE on a raw image is EOPNOTSUPP (nothing written) unless mounted with -o
#    allow_discards; then whole blocks are holes of the image FILE (SEEK_HOLE, st_blocks), the
#    view reads zeros there (also after a remount), and the oracle agrees with the model on every
#    byte that is not in a hole;
#  - qemu-io write -z (write-zeroes) on the view is ZERO_RANGE: encrypted zeros;
#  - qemu-io discard against the view, with `-f raw -d unmap` and with --image-opts
#    driver=raw,file.driver=file,...,discard=unmap, reaches luksfs and reads back zeros;
#  - qcow2: ZERO_RANGE and PUNCH_HOLE always work (zero flag / freed clusters), qemu-img check is
#    clean and qemu-img compare agrees with the model;
#  - mmap of the view with --direct-io (MAP_SHARED): reads the oracle's bytes, and a store through
#    the mapping plus msync reaches the image (oracle after unmount). Where the kernel does not
#    offer FUSE_DIRECT_IO_ALLOW_MMAP, MAP_SHARED must fail with ENODEV (what the man page says).
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "discard passphrase"

cat >chk.py <<'PYEOF'
"""chk.py CMD ...: checks for system_discard.sh (files are compared byte for byte).
  fill VIEW MODEL SEED          random bytes into the view (pwrite, fsync) and into MODEL
  zero MODEL OFF LEN            zeros into MODEL (clipped to its size)
  same VIEW MODEL               the view equals MODEL
  holes IMG DATA_OFF OFF LEN    every whole 4 KiB block of the data segment inside [OFF, OFF+LEN)
                                is a hole of IMG (SEEK_HOLE / SEEK_DATA); prints their count
  nohole IMG DATA_OFF SIZE      no hole anywhere in the data segment
  falloc VIEW MODE OFF LEN       fallocate(2) with MODE (punch, punch-keep, zero, zero-keep); prints
                                "ok" or the errno name (EOPNOTSUPP prints as ENOTSUP)
  masked PLAIN MODEL IMG DATA_OFF
                                PLAIN (the oracle's decryption) equals MODEL on every byte whose
                                4 KiB block is not a hole of IMG; in the holes MODEL is zero
"""
import ctypes, errno, os, random, sys

B = 4096
cmd, a = sys.argv[1], sys.argv[2:]


def holes(img, base, size):
    """Set of block numbers (relative to base) that are holes of img."""
    fd = os.open(img, os.O_RDONLY)
    out, pos, end = set(), base, base + size
    try:
        while pos < end:
            try:
                h = os.lseek(fd, pos, os.SEEK_HOLE)
            except OSError:
                break
            if h >= end:
                break
            try:
                d = os.lseek(fd, h, os.SEEK_DATA)
            except OSError:
                d = os.fstat(fd).st_size
            for blk in range((h - base + B - 1) // B, (min(d, end) - base) // B):
                out.add(blk)
            pos = max(d, h + 1)
    finally:
        os.close(fd)
    return out


if cmd == "fill":
    view, model, seed = a[0], a[1], int(a[2])
    fd = os.open(view, os.O_RDWR)
    size = os.fstat(fd).st_size
    data = random.Random(seed).randbytes(size)
    os.pwrite(fd, data, 0)
    os.fsync(fd)
    os.close(fd)
    open(model, "wb").write(data)
elif cmd == "zero":
    model, off, n = a[0], int(a[1]), int(a[2])
    buf = bytearray(open(model, "rb").read())
    end = min(len(buf), off + n)
    buf[off:end] = bytes(end - off)
    open(model, "wb").write(buf)
elif cmd == "same":
    got, want = open(a[0], "rb").read(), open(a[1], "rb").read()
    if got != want:
        bad = next(i for i in range(min(len(got), len(want))) if got[i] != want[i]) \
            if len(got) == len(want) else -1
        sys.exit("view differs from the model (sizes %d/%d, first difference at %d)"
                 % (len(got), len(want), bad))
elif cmd == "holes":
    img, base, off, n = a[0], int(a[1]), int(a[2]), int(a[3])
    want = set(range((off + B - 1) // B, (off + n) // B))
    got = holes(img, base, off + n + B)
    if not want or not want <= got:
        sys.exit("blocks %s of the data segment are not holes of %s"
                 % (sorted(want - got)[:5], img))
    print(len(want))
elif cmd == "nohole":
    img, base, size = a[0], int(a[1]), int(a[2])
    h = holes(img, base, size)
    if h:
        sys.exit("%d hole block(s) in the data segment of %s, first %d" % (len(h), img, min(h)))
elif cmd == "falloc":
    modes = {"punch": 0x02, "punch-keep": 0x03, "zero": 0x10, "zero-keep": 0x11}
    libc = ctypes.CDLL(None, use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fd = os.open(a[0], os.O_RDWR)
    r = libc.fallocate(fd, modes[a[1]], int(a[2]), int(a[3]))
    os.close(fd)
    print("ok" if r == 0 else errno.errorcode[ctypes.get_errno()])
elif cmd == "masked":
    plain, model = open(a[0], "rb").read(), open(a[1], "rb").read()
    h = holes(a[2], int(a[3]), len(model))
    if len(plain) != len(model):
        sys.exit("oracle plaintext has %d bytes, model %d" % (len(plain), len(model)))
    for blk in range(0, (len(model) + B - 1) // B):
        lo, hi = blk * B, min(len(model), blk * B + B)
        if blk in h:
            if model[lo:hi] != bytes(hi - lo):
                sys.exit("block %d is a hole but the model is not zero there" % blk)
        elif plain[lo:hi] != model[lo:hi]:
            sys.exit("oracle and model differ in block %d (not a hole)" % blk)
    print(len(h))
else:
    sys.exit("unknown command " + cmd)
PYEOF
chk() { "$PY" "$WORK/chk.py" "$@"; }

# expect_falloc WANT VIEW MODE OFF LEN: fallocate(2) answers WANT ("ok" or an errno name).
expect_falloc() {
    local want="$1"
    shift
    assert_eq "$want" "$(chk falloc "$@")" "fallocate $*"
}

# raw_case NAME IMG: the raw-image flow, with the oracle decrypting IMG with cryptsetup's key.
raw_case() {
    local name="$1" img="$2" mnt view size doff sum
    log "$name: ZERO_RANGE and refused PUNCH_HOLE without allow_discards"
    dump_vk "$img" pw "$name.vk"
    doff=$(oracle_field "$img" data_offset)
    mnt=$(new_mountpoint "m-$name")
    view=$(view_file "$mnt")
    mount_view "$img" "$mnt" --passphrase-file pw
    size=$(stat -c %s "$view")
    chk fill "$view" "$name.model" 7 || fail "$name: fill"
    sum=$(sha256sum <"$img")
    expect_falloc ENOTSUP "$view" punch-keep 8192 65536
    [[ "$(sha256sum <"$img")" == "$sum" ]] || fail "$name: a refused punch changed the image"
    fallocate -z -o 12345 -l 300000 "$view" || fail "$name: fallocate -z"
    chk zero "$name.model" 12345 300000
    fallocate -z -n -o $((size - 1000)) -l 1000000 "$view" || fail "$name: fallocate -z -n at the end"
    chk zero "$name.model" $((size - 1000)) 1000
    expect_falloc EINVAL "$view" zero $((size - 1000)) 1000000
    expect_falloc ENOTSUP "$view" punch 0 4096  # PUNCH_HOLE needs KEEP_SIZE (the kernel says so)
    # qemu's write-zeroes on a raw file is fallocate(ZERO_RANGE).
    qemu-io -f raw -c "write -z 4M 64k" "$view" >"$WORK/qio.out" 2>&1 \
        || fail "$name: qemu-io write -z: $(cat "$WORK/qio.out")"
    chk zero "$name.model" $((4 * MiB)) $((64 * 1024))
    chk same "$view" "$name.model" || fail "$name: view after ZERO_RANGE"
    umount_view "$mnt"
    oracle_decrypt "$img" "$name.vk" "$name.plain"
    chk same "$name.plain" "$name.model" || fail "$name: oracle after ZERO_RANGE"
    chk nohole "$img" "$doff" "$size" || fail "$name: ZERO_RANGE left a hole"

    log "$name: PUNCH_HOLE and qemu discard with allow_discards"
    mount_view "$img" "$mnt" --passphrase-file pw -o allow_discards
    fallocate -p -o 100000 -l 1000000 "$view" || fail "$name: fallocate -p with allow_discards"
    chk zero "$name.model" 100000 1000000
    chk same "$view" "$name.model" || fail "$name: view after PUNCH_HOLE"
    qemu-io -f raw -d unmap -c "discard 2M 512k" "$view" >"$WORK/qio.out" 2>&1 \
        || fail "$name: qemu-io -d unmap discard: $(cat "$WORK/qio.out")"
    chk zero "$name.model" $((2 * MiB)) $((512 * 1024))
    qemu-io --image-opts "driver=raw,file.driver=file,file.filename=$view,discard=unmap" \
        -c "discard 3M 1M" -c "read -P 0 3M 1M" >"$WORK/qio.out" 2>&1 \
        || fail "$name: qemu-io --image-opts discard=unmap: $(cat "$WORK/qio.out")"
    ! grep -q 'Pattern verification failed' "$WORK/qio.out" || fail "$name: qemu reads non-zero after discard"
    chk zero "$name.model" $((3 * MiB)) $((1 * MiB))
    chk same "$view" "$name.model" || fail "$name: view after qemu discard"
    umount_view "$mnt"
    n=$(chk holes "$img" "$doff" 100000 1000000) || fail "$name: fallocate -p made no hole"
    chk holes "$img" "$doff" $((2 * MiB)) $((512 * 1024)) >/dev/null || fail "$name: qemu -d unmap made no hole"
    chk holes "$img" "$doff" $((3 * MiB)) $((1 * MiB)) >/dev/null || fail "$name: qemu discard=unmap made no hole"
    oracle_decrypt "$img" "$name.vk" "$name.plain"
    h=$(chk masked "$name.plain" "$name.model" "$img" "$doff") || fail "$name: oracle outside the holes"
    log "$name: $h hole blocks in the image ($n from fallocate -p), the rest agrees with the oracle"
    # Remounted: the holes still read as zeros, the rest as before.
    mount_view "$img" "$mnt" --passphrase-file pw -o allow_discards,ro
    chk same "$view" "$name.model" || fail "$name: view after remount"
    # The view's holes are the file's: st_blocks and SEEK_HOLE/SEEK_DATA.
    assert_eq $(((size - h * 4096) / 512)) "$(stat -c %b "$view")" "$name: st_blocks of the view"
    assert_eq "102400 1097728" "$("$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
print(os.lseek(fd, 0, os.SEEK_HOLE), os.lseek(fd, 102400, os.SEEK_DATA))' "$view")" \
        "$name: SEEK_HOLE/SEEK_DATA on the view"
    umount_view "$mnt"
    cryptsetup open --test-passphrase --key-file pw "$img" || fail "$name: header damaged"
}

mk_luks1 l1.img 12 pw
raw_case luks1 l1.img

pattern_file q.raw $((8 * MiB)) 3
mk_qemu_luks1 q.img 8 pw q.raw
raw_case qemu-luks1 q.img
qemu_decrypt q.img pw q.qemu
chk masked q.qemu qemu-luks1.model q.img "$(oracle_field q.img data_offset)" >/dev/null \
    || fail "qemu-luks1: qemu-img's plaintext differs from the model outside the holes"

mk_luks2 l2.img 24 pw --sector-size 4096
raw_case luks2-4k l2.img

log "qcow2: ZERO_RANGE and PUNCH_HOLE (always allowed), qemu discard"
SECRET=(--object "secret,id=sec0,file=pw")
qopts="driver=qcow2,file.filename=$WORK/c.qcow2,encrypt.key-secret=sec0"
qemu_luks_create qemu-img create -q -f qcow2 "${SECRET[@]}" \
    -o "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,cluster_size=64k" c.qcow2 8M
mnt=$(new_mountpoint m-qcow2)
view=$(view_file "$mnt")
mount_view c.qcow2 "$mnt" --passphrase-file pw
chk fill "$view" c.model 9 || fail "qcow2: fill"
fallocate -z -o 70000 -l 400000 "$view" || fail "qcow2: fallocate -z"
chk zero c.model 70000 400000
fallocate -p -o $((2 * MiB + 100)) -l $((1 * MiB)) "$view" || fail "qcow2: fallocate -p"
chk zero c.model $((2 * MiB + 100)) $((1 * MiB))
qemu-io -f raw -d unmap -c "discard 5M 1M" "$view" >"$WORK/qio.out" 2>&1 \
    || fail "qcow2: qemu-io discard: $(cat "$WORK/qio.out")"
chk zero c.model $((5 * MiB)) $((1 * MiB))
chk same "$view" c.model || fail "qcow2: view after zeroing and discards"
umount_view "$mnt"
qemu-img check "${SECRET[@]}" --image-opts "$qopts" >"$WORK/check.out" 2>&1 \
    || fail "qcow2: qemu-img check: $(cat "$WORK/check.out")"
qemu-img convert "${SECRET[@]}" --image-opts "$qopts" -O raw c.qemu || fail "qcow2: convert"
chk same c.qemu c.model || fail "qcow2: qemu-img's plaintext differs from the model"
qemu-img map "${SECRET[@]}" --image-opts "$qopts" --output=json >c.map || fail "qcow2: map"
"$PY" - c.map <<'PYEOF' || fail "qcow2: the discarded clusters are still data"
import json, sys
m = json.load(open(sys.argv[1]))
lo, hi = 5 << 20, 6 << 20
bad = [e for e in m if e["data"] and e["start"] < hi and e["start"] + e["length"] > lo]
sys.exit("data extents in the discarded range: %s" % bad[:3] if bad else 0)
PYEOF

log "mmap of the view with --direct-io (MAP_SHARED read, store + msync)"
mk_luks2 mm.img 20 pw
dump_vk mm.img pw mm.vk
msize=$(oracle_field mm.img data_size)
pattern_file mm.model "$msize" 11
oracle_write mm.img mm.vk 0 mm.model
mnt=$(new_mountpoint m-mmap)
mount_view mm.img "$mnt" --passphrase-file pw --direct-io
# FUSE_DIRECT_IO_ALLOW_MMAP came with Linux 6.6; before it MAP_SHARED is ENODEV.
want=mapped
IFS=. read -r kmaj kmin _ <<<"$(uname -r)"
((kmaj > 6 || (kmaj == 6 && kmin >= 6))) || want=ENODEV
got=$("$PY" - "$(view_file "$mnt")" mm.model <<'PYEOF'
import errno, mmap, os, random, sys
view, model = sys.argv[1], sys.argv[2]
fd = os.open(view, os.O_RDWR)
size = os.fstat(fd).st_size
try:
    m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
except OSError as e:
    print(errno.errorcode[e.errno])
    sys.exit(0)
want = bytearray(open(model, "rb").read())
if m[:] != want:
    sys.exit("mapped bytes differ from the oracle's plaintext")
patch = random.Random(12).randbytes(70000)
off = (1 << 20) + 100
m[off:off + len(patch)] = patch
m.flush()  # msync(MS_SYNC)
m.close()
want[off:off + len(patch)] = patch
open(model, "wb").write(want)
os.close(fd)
print("mapped")
PYEOF
) || fail "mmap of the view: $got"
assert_eq "$want" "$got" "shared mmap of a --direct-io view (kernel $(uname -r))"
umount_view "$mnt"
if [[ "$got" == mapped ]]; then
    oracle_decrypt mm.img mm.vk mm.plain
    chk same mm.plain mm.model || fail "a store through the mapping did not reach the image"
fi

pass
