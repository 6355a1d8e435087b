#!/bin/bash
# cryptsetup-made LUKS1 images (aes-xts-plain64 512-bit key; aes-cbc-essiv:sha256 256-bit key):
# the data area is filled with known plaintext by the oracle, the image is mounted through luksfs,
# and the whole view is byte-compared with the known plaintext, with qemu-img's decryption and with
# the oracle's decryption. Random unaligned reads are checked too.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "luks1 passphrase"

check_image() {
    local name="$1"
    shift
    log "$name: luksFormat --type luks1 $*"
    mk_luks1 "$name.img" 12 pw "$@"
    dump_vk "$name.img" pw "$name.vk"
    local size
    size=$(oracle_field "$name.img" data_size)
    pattern_file "$name.plain" "$size" 11
    oracle_write "$name.img" "$name.vk" 0 "$name.plain"
    qemu_decrypt "$name.img" pw "$name.qemu"
    assert_files_eq "$name.plain" "$name.qemu" "$name: qemu-img disagrees with the oracle (oracle bug)"

    local mnt
    mnt=$(new_mountpoint "mnt-$name")
    mount_view "$name.img" "$mnt" --passphrase-file pw
    assert_eq "$size" "$(stat -c %s "$mnt/disk.raw")" "$name: view size"
    cat "$mnt/disk.raw" >"$name.view"
    assert_files_eq "$name.plain" "$name.view" "$name: view vs plaintext"
    "$PY" - "$mnt/disk.raw" "$name.plain" <<'PYEOF' || fail "$name: random unaligned reads differ"
import os, random, sys
view, plain = sys.argv[1], open(sys.argv[2], "rb").read()
fd = os.open(view, os.O_RDONLY)
r = random.Random(5)
for i in range(2000):
    off = r.randrange(len(plain))
    n = r.choice([1, 7, 511, 512, 513, 4095, 4097, 65537, 300000])
    got = os.pread(fd, n, off)
    if got != plain[off:off + n]:
        sys.exit("pread(%d, %d) mismatch" % (off, n))
os.close(fd)
PYEOF
    umount_view "$mnt"
    oracle_decrypt "$name.img" "$name.vk" "$name.oracle"
    assert_files_eq "$name.plain" "$name.oracle" "$name: image changed by a read-only use"
}

check_image xts512 --cipher aes-xts-plain64 --key-size 512 --hash sha256
check_image essiv256 --cipher aes-cbc-essiv:sha256 --key-size 256 --hash sha1
pass
