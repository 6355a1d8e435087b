#!/bin/bash
# FUSE over io_uring (--io-uring): with the kernel's fuse.enable_uring on, `--io-uring=on` serves
# every request through the rings (the daemon's debug log counts them); data written and read
# through the rings agrees with qemu-img's decryption of the image; `on` without kernel support
# is refused (exit 6, naming enable_uring); `off` never uses the rings; `auto` uses them when
# offered. The parameter is put back as it was.
source "$(dirname "$0")/../lib.sh"
need_luksfs
PARAM=/sys/module/fuse/parameters/enable_uring
[[ -e "$PARAM" ]] || fail "this kernel has no $PARAM (FUSE over io_uring needs Linux 6.14+)"
[[ -w "$PARAM" ]] || fail "$PARAM is not writable: run as root"
BEFORE="$(cat "$PARAM")"
register_cleanup "echo $BEFORE > $PARAM"

img="$WORK/img.luks"
write_secret "$WORK/pw" "uring-pass"
mk_qemu_luks1 "$img" 64 "$WORK/pw"
mnt="$(new_mountpoint mnt)"

# serve MODE LOG: a foreground daemon with a debug log; returns once the view is there.
serve() {
    "$LUKSFS" mount --foreground --debug --io-uring="$1" --passphrase-file "$WORK/pw" "$img" "$mnt" \
        >"$2" 2>&1 &
    register_pid $!
    for _ in $(seq 100); do [[ -e "$(view_file "$mnt")" ]] && return 0; sleep 0.1; done
    fail "mount --io-uring=$1 did not come up: $(tail -3 "$2")"
}
stop() {
    fusermount3 -u "$mnt" || fail "fusermount3 -u failed"
    for _ in $(seq 100); do grep -q "keys wiped" "$1" && return 0; sleep 0.1; done
    fail "daemon did not finish: $(tail -3 "$1")"
}
served() { sed -n 's/.*transport: .*, \([0-9]*\) request(s) through io_uring.*/\1/p' "$1"; }

log "on, with the kernel offering it"
echo Y >"$PARAM"
serve on "$WORK/on.log"
pattern_file "$WORK/p1" $((3 * 1048576 + 4321)) 7
dd if="$WORK/p1" of="$(view_file "$mnt")" bs=1M seek=1048576 oflag=seek_bytes conv=notrunc,fsync status=none ||
    fail "buffered write failed"
dd if="$WORK/p1" of="$(view_file "$mnt")" bs=64k seek=$((9 * 1048576 + 512)) oflag=seek_bytes,direct \
    conv=notrunc status=none 2>/dev/null ||
    dd if="$WORK/p1" of="$(view_file "$mnt")" bs=4k seek=$((9 * 1048576 + 512)) oflag=seek_bytes \
        conv=notrunc,fsync status=none || fail "unaligned write failed"
fio --name=v --filename="$(view_file "$mnt")" --rw=randwrite --bs=4k --direct=1 --ioengine=libaio \
    --iodepth=16 --numjobs=2 --offset=16M --offset_increment=8M --size=8M --verify=crc32c --do_verify=1 \
    --group_reporting >"$WORK/fio.log" 2>&1 || fail "fio verify over io_uring failed: $(tail -5 "$WORK/fio.log")"
cp "$(view_file "$mnt")" "$WORK/view.raw" || fail "reading the whole view failed"
stop "$WORK/on.log"
n="$(served "$WORK/on.log")"
[[ -n "$n" && "$n" -gt 1000 ]] || fail "expected the rings to serve the I/O, log says: $(grep transport "$WORK/on.log")"
grep -q "serving through FUSE over io_uring" "$WORK/on.log" || fail "no 'serving through FUSE over io_uring' line"
log "io_uring served $n requests"
qemu_decrypt "$img" "$WORK/pw" "$WORK/qemu.raw"
assert_files_eq "$WORK/view.raw" "$WORK/qemu.raw" "view read over io_uring vs qemu-img"
cmp -s <(head -c $((3 * 1048576 + 4321)) "$WORK/p1") \
    <(tail -c +$((1048576 + 1)) "$WORK/qemu.raw" | head -c $((3 * 1048576 + 4321))) ||
    fail "the buffered write did not reach the image (qemu-img disagrees)"

log "off, with the kernel offering it"
serve off "$WORK/off.log"
cmp -s <(head -c 4096 "$(view_file "$mnt")") <(head -c 4096 "$WORK/qemu.raw") || fail "read with off failed"
stop "$WORK/off.log"
grep -q "transport: /dev/fuse, 0 request" "$WORK/off.log" || fail "off used the rings: $(grep transport "$WORK/off.log")"

log "auto, with the kernel offering it"
serve auto "$WORK/auto.log"
head -c 1M "$(view_file "$mnt")" >/dev/null
stop "$WORK/auto.log"
grep -q "transport: io_uring" "$WORK/auto.log" || fail "auto did not use the rings: $(grep transport "$WORK/auto.log")"

log "revocation wipes the ring buffers (they hold the plaintext last served)"
export LUKSFS_KEYSTORE_KDF=min
KS="$WORK/keys.db"
printf 'keystore passphrase\n' >"$WORK/ks.pw"
KOPT=(--keystore-passphrase-file "$WORK/ks.pw")
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#ring" "${KOPT[@]}"
assert_exit 0 "$LUKSFS" bind "$img" --kms "file:$KS#ring" --passphrase-file "$WORK/pw" "${KOPT[@]}"
"$LUKSFS" mount --foreground --debug --io-uring=on --kms-poll 1 "${KOPT[@]}" "$img" "$mnt" \
    >"$WORK/rv.log" 2>&1 &
rvpid=$!
register_pid $rvpid
for _ in $(seq 100); do [[ -e "$(view_file "$mnt")" ]] && break; sleep 0.1; done
# One 1 MiB O_DIRECT read: its plaintext fills a whole ring payload. The needle lies 900 KiB in,
# where the 4 KiB reads used below to see the view go dark never write.
dd if="$(view_file "$mnt")" of=/dev/null bs=1M skip=1 count=1 iflag=direct status=none ||
    fail "1 MiB read over io_uring failed"
head -c $((1048576 + 921600 + 64)) "$WORK/qemu.raw" | tail -c 64 >"$WORK/needle"
set +e
"$PY" "$REPO_ROOT/tests/kms/memscan.py" "$rvpid" "$WORK/needle" >"$WORK/scan0.out"
rc=$?
set -e
((rc == 1)) || fail "positive control: the plaintext just served should be in the daemon: $(cat "$WORK/scan0.out")"
assert_exit 0 "$LUKSFS" kms revoke "file:$KS#ring" "${KOPT[@]}"
assert_goes_dark "$mnt" 5 "the revocation"
set +e
"$PY" "$REPO_ROOT/tests/kms/memscan.py" "$rvpid" "$WORK/needle" >"$WORK/scan1.out"
rc=$?
set -e
((rc == 0)) || fail "plaintext left in the daemon after revocation: $(cat "$WORK/scan1.out")"
stop "$WORK/rv.log"
grep -q "transport: io_uring" "$WORK/rv.log" || fail "the revocation case did not run over io_uring"
assert_exit 0 "$LUKSFS" unbind "$img"

log "on, with the kernel not offering it"
echo N >"$PARAM"
rc=0
"$LUKSFS" mount --io-uring=on --passphrase-file "$WORK/pw" "$img" "$mnt" 2>"$WORK/err" || rc=$?
assert_eq "$rc" 6 "exit code of --io-uring=on without kernel support"
grep -q "enable_uring" "$WORK/err" || fail "the refusal does not name enable_uring: $(cat "$WORK/err")"
[[ "$(wc -l <"$WORK/err")" -eq 1 ]] || fail "expected one line: $(cat "$WORK/err")"
_is_mounted "$mnt" && fail "something is mounted after the refusal"

log "auto, with the kernel not offering it: /dev/fuse"
serve auto "$WORK/auto2.log"
cmp -s <(head -c 4096 "$(view_file "$mnt")") <(head -c 4096 "$WORK/qemu.raw") || fail "read with auto/N failed"
stop "$WORK/auto2.log"
grep -q "transport: /dev/fuse, 0 request" "$WORK/auto2.log" || fail "auto used rings that were off"
pass
