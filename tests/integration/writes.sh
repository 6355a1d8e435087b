#!/bin/bash
# Writes through the view interoperate with other LUKS implementations. Unaligned writes (offsets
# 1, 511, 4095, 4097, unit-spanning writes, a 1 MiB write at an odd offset, the last bytes of the
# device, dd conv=notrunc bs=1, many random ones; page-cache and --direct-io mounts) are applied to
# the view and to a plain model file. After fsync (still mounted) the backing image already
# decrypts (oracle) to the model; after unmount:
#   * qemu-made LUKS1: `qemu-img convert` output == model
#   * cryptsetup LUKS2 with 4096-byte sectors: oracle decryption == model
# and `cryptsetup open --test-passphrase` still succeeds (header intact).
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "writes passphrase"

# apply_writes VIEW MODEL SEED COUNT: fixed edge-case writes (SEED 0) or COUNT random writes,
# each to the view (os.pwrite, full length checked) and the model; then fsync the view and
# verify that reading the view back gives the model.
apply_writes() {
    "$PY" - "$@" <<'PYEOF'
import os, random, sys
view, model, seed, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
size = os.path.getsize(model)
assert os.path.getsize(view) == size, "view size %d != model size %d" % (os.path.getsize(view), size)
r = random.Random(seed)
if seed == 0:
    ops = [(0, 1), (1, 1), (511, 2), (512, 512), (4095, 2), (4097, 100), (8191, 8194),
           (3 * 4096 - 5, 10), (123457, 1 << 20), (2 * 1024 * 1024 + 13, 70000),
           (size - 1, 1), (size - 700, 700), (size - 4097, 4097), (size // 2 - 3, 6)]
else:
    ops = []
    for _ in range(count):
        n = r.choice([1, 2, 3, 17, 511, 513, 1000, 4095, 4097, 9000, 65536 + 7])
        ops.append((r.randrange(size - n), n))
fd = os.open(view, os.O_RDWR)
with open(model, "r+b") as m:
    for off, n in ops:
        data = r.randbytes(n)
        w = os.pwrite(fd, data, off)
        if w != n:
            sys.exit("short write %d of %d at %d" % (w, n, off))
        m.seek(off)
        m.write(data)
os.fsync(fd)
want = open(model, "rb").read()
got = bytearray()
while len(got) < size:
    chunk = os.pread(fd, 1 << 20, len(got))
    if not chunk:
        break
    got += chunk
os.close(fd)
if bytes(got) != want:
    i = next(i for i in range(min(len(got), len(want))) if got[i] != want[i]) if len(got) == len(want) else -1
    sys.exit("read-back through the view differs from the model (first at %d, len %d/%d)" % (i, len(got), len(want)))
PYEOF
}

# dd_write VIEW MODEL OFFSET LEN: dd conv=notrunc bs=1 (one-byte writes) to both.
dd_write() {
    "$PY" -c 'import random,sys; sys.stdout.buffer.write(random.Random(99).randbytes(int(sys.argv[1])))' "$4" >chunk
    dd if=chunk of="$1" bs=1 seek="$3" conv=notrunc status=none || fail "dd to the view failed"
    dd if=chunk of="$2" bs=1 seek="$3" conv=notrunc status=none
}

exercise() {  # exercise NAME IMG MODEL VK: all write phases; checks backing file after fsync
    local name="$1" img="$2" model="$3" vk="$4" mnt
    mnt=$(new_mountpoint "mnt-$name")
    mount_view "$img" "$mnt" --passphrase-file pw
    apply_writes "$mnt/disk.raw" "$model" 0 0 || fail "$name: edge-case writes"
    dd_write "$mnt/disk.raw" "$model" 777777 300
    apply_writes "$mnt/disk.raw" "$model" 1 300 || fail "$name: random writes"
    oracle_decrypt "$img" "$vk" "$name.fsynced"
    assert_files_eq "$model" "$name.fsynced" "$name: backing image after fsync (still mounted)"
    umount_view "$mnt"
    mount_view "$img" "$mnt" --passphrase-file pw --direct-io
    apply_writes "$mnt/disk.raw" "$model" 2 300 || fail "$name: random writes (--direct-io)"
    cmp -s "$model" "$mnt/disk.raw" || fail "$name: view after --direct-io writes differs"
    umount_view "$mnt"
    cryptsetup open --test-passphrase --key-file pw "$img" || fail "$name: cryptsetup cannot open the image after writes"
}

log "qemu-img LUKS1"
pattern_file q.model "$((16 * MiB))" 31
mk_qemu_luks1 q.img 16 pw q.model
dump_vk q.img pw q.vk
exercise qemu q.img q.model q.vk
qemu_decrypt q.img pw q.after
assert_files_eq q.model q.after "qemu LUKS1: qemu-img convert after writes vs model"

log "cryptsetup LUKS2, 4096-byte sectors"
mk_luks2 l2.img 32 pw --sector-size 4096
assert_eq 4096 "$(oracle_field l2.img sector_size)" "LUKS2 test image sector size"
dump_vk l2.img pw l2.vk
size=$(oracle_field l2.img data_size)
pattern_file l2.model "$size" 32
oracle_write l2.img l2.vk 0 l2.model
exercise luks2 l2.img l2.model l2.vk
oracle_decrypt l2.img l2.vk l2.after
assert_files_eq l2.model l2.after "LUKS2 4096: oracle decryption after writes vs model"
pass
