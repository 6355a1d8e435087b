#!/bin/bash
# An image file truncated by someone else while it is mounted. luksfs reads ciphertext straight out
# of a mapping of the image (fs/storage/mapped_file.h), where touching a page past the new end raises
# SIGBUS; it must turn that into EIO for the reads that hit it, keep serving the rest of the view
# (compared with the oracle's plaintext), keep refusing the part that is gone, and unmount cleanly.
# Run for LUKS1 (512-byte sectors) and LUKS2 (4096-byte sectors), read-only and read-write.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "truncated passphrase"

check() {  # check NAME MOUNT_OPTS...: NAME.img is a 16 MiB image with known plaintext NAME.plain
    local name="$1"
    shift
    local mnt view pid size half
    mnt=$(new_mountpoint "mnt-$name")
    mount_view "$name.img" "$mnt" --passphrase-file pw "$@"
    view=$(view_file "$mnt")
    pid=$(daemon_pid "$mnt")
    size=$(stat -c %s "$view")
    cmp "$view" "$name.plain" || fail "$name: view differs from the plaintext before truncation"
    # Cut the image file at the middle of its data area, from outside the daemon.
    half=$(( $(stat -c %s "$name.img") - size / 2 ))
    truncate -s "$half" "$name.img"
    if dd if="$view" of=/dev/null bs=1M skip=$((size / 1048576 - 1)) count=1 iflag=direct \
        status=none 2>"$WORK/dd.err"; then
        fail "$name: a read past the truncated end succeeded"
    fi
    grep -q "Input/output error" "$WORK/dd.err" || fail "$name: want EIO, got: $(cat "$WORK/dd.err")"
    _pid_alive "$pid" || fail "$name: the daemon died when its image was truncated"
    _is_mounted "$mnt" || fail "$name: the view was unmounted when its image was truncated"
    # The first MiB is still in the file: it reads, and right.
    dd if="$view" of="$name.head" bs=1M count=1 iflag=direct status=none \
        || fail "$name: the first MiB no longer reads after the truncation"
    cmp "$name.head" <(head -c 1048576 "$name.plain") || fail "$name: the first MiB reads wrong"
    # The tail stays refused (now through pread, which names the truncation).
    if dd if="$view" of=/dev/null bs=1M skip=$((size / 1048576 - 1)) count=1 iflag=direct \
        status=none 2>/dev/null; then
        fail "$name: the tail read again after the truncation"
    fi
    _pid_alive "$pid" || fail "$name: the daemon died on the second read past the end"
    umount_view "$mnt"
    log "$name $*: EIO past the cut, the head still right, daemon alive"
}

prepare() {  # prepare NAME mk_luksN-args...
    local name="$1"
    shift
    "$@"
    dump_vk "$name.img" pw "$name.vk"
    pattern_file "$name.plain" "$(oracle_field "$name.img" data_size)" 21
    oracle_write "$name.img" "$name.vk" 0 "$name.plain"
}

prepare l1 mk_luks1 l1.img 16 pw
check l1 --read-only
prepare l1 mk_luks1 l1.img 16 pw
check l1
prepare l2 mk_luks2 l2.img 24 pw --sector-size 4096
check l2 --read-only
prepare l2 mk_luks2 l2.img 24 pw --sector-size 4096
check l2
pass
