#!/bin/bash
# The S3 lease (KEY.luksfs-lease) against radosgw: a second read-write mount of one object is
# refused (exit 4, naming the holder) while the first is mounted, also after the lease time has
# passed (renewal); read-only mounts and -o nolock are not refused; unmount releases the lease
# and a new mount succeeds; a holder killed with -9 leaves its lease, which blocks mounts until it
# expires and is then taken over.
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"
s3 mb images
write_secret pw "lease passphrase"
mk_luks1 img.luks 8 pw
s3 put images vm/img.luks img.luks
URI=s3://images/vm/img.luks
LEASE=vm/img.luks.luksfs-lease
L=6
RW=(--passphrase-file pw "${EP[@]}" --cache-dir "$WORK" --commit-interval 0 --s3-lease-seconds $L)

lease_json() { s3 get images "$LEASE" lease.json >/dev/null 2>&1 && cat lease.json; }

log "first read-write mount takes the lease"
m1=$(new_mountpoint a)
mount_view "$URI" "$m1" "${RW[@]}"
pid1=$(daemon_pid "$m1")
lease_json | grep -q "\"pid\":$pid1," || fail "no lease naming pid $pid1: $(lease_json)"
grep -q "\"host\":\"$(hostname)\"" lease.json || fail "lease does not name the host: $(cat lease.json)"
sleep $((L + 2))   # past one lease time: only renewal keeps it
m2=$(new_mountpoint b)
assert_exit 4 "$LUKSFS" mount "${RW[@]}" "$URI" "$m2"
grep -q "in use: lease s3://images/$LEASE held by host $(hostname) pid $pid1 since" "$WORK/last.err" \
    || fail "refusal message: $(cat "$WORK/last.err")"
_is_mounted "$m2" && fail "refused mount left a mount"

log "read-only and -o nolock are not refused"
mount_view "$URI" "$m2" -r --passphrase-file pw "${EP[@]}"
umount_view "$m2"
mount_view "$URI" "$m2" "${RW[@]}" -o nolock
grep -q "no-lock: taking no lease" "$WORK/mount.err" || fail "no nolock warning: $(cat "$WORK/mount.err")"
umount_view "$m2"
lease_json | grep -q "\"pid\":$pid1," || fail "nolock mount touched the lease: $(lease_json)"

log "unmount releases; the second mount then succeeds"
umount_view "$m1"
s3 head images "$LEASE" >/dev/null 2>&1 && fail "lease still there after unmount"
mount_view "$URI" "$m2" "${RW[@]}"
pid2=$(daemon_pid "$m2")
lease_json | grep -q "\"pid\":$pid2," || fail "second mount's lease: $(lease_json)"

log "kill -9 of the holder: its lease lapses after $L s"
kill -9 "$pid2"
wait_gone "$pid2" 5 || fail "daemon $pid2 did not die"
fusermount3 -u -z "$m2" 2>/dev/null
t_kill=$SECONDS
m3=$(new_mountpoint c)
assert_exit 4 "$LUKSFS" mount "${RW[@]}" "$URI" "$m3"
grep -q "held by host $(hostname) pid $pid2" "$WORK/last.err" || fail "refusal after kill: $(cat "$WORK/last.err")"
sleep $((L + 1))
mount_view "$URI" "$m3" "${RW[@]}"
grep -q "taking over the expired lease of host $(hostname) pid $pid2" "$WORK/mount.err" \
    || fail "no takeover warning: $(cat "$WORK/mount.err")"
pid3=$(daemon_pid "$m3")
lease_json | grep -q "\"pid\":$pid3," || fail "lease after takeover: $(lease_json)"
log "took over $((SECONDS - t_kill)) s after the kill"
# The view works and commits after the takeover.
printf 'lease-ok' | dd of="$m3/disk.raw" bs=1 seek=4096 conv=notrunc,fsync status=none || fail "write failed"
umount_view "$m3"
s3 head images "$LEASE" >/dev/null 2>&1 && fail "lease still there after the last unmount"
assert_exit 1 "$LUKSFS" mount "${RW[@]}" --s3-lease-seconds 2 "$URI" "$m3"
pass
