#!/bin/bash
# One read-write mount of an s3:// image at a time (man page, LOCKING), against radosgw:
#  * a read-write mount creates KEY.luksfs-lease with a conditional PUT (If-None-Match: *); a
#    second read-write mount of the object (another mountpoint, as another host would) exits 7
#    naming the holder; a clean unmount deletes the lease and the next mount succeeds at once;
#  * the lease is renewed while mounted (its ETag changes, it outlives its first expiry);
#  * a daemon killed with -9 leaves its lease: a new mount is refused until the lease expires
#    (--s3-lease-ttl), then takes it over; -o nolock skips the lease.
# Needs radosgw ceph-mon ceph-osd (contrib/install-deps.sh installs them).
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"   # radosgw on free ports, stopped at exit; s3, EP
EP=(--s3-endpoint "$S3_ENDPOINT" --s3-path-style)
s3 mb images
write_secret pw "lease passphrase"
mk_luks1 vm.luks 8 pw
s3 put images vm/vm.luks vm.luks
URI=s3://images/vm/vm.luks
a=$(new_mountpoint a)
b=$(new_mountpoint b)
register_mount "$b"
TTL=6

log "the first read-write mount takes the lease; a second is refused (exit 7)"
mount_view "$URI" "$a" --passphrase-file pw "${EP[@]}" --s3-lease-ttl $TTL
pid=$(daemon_pid "$a")
s3 get images vm/vm.luks.luksfs-lease lease1 || fail "no lease object while mounted"
grep -q "^pid=$pid$" lease1 || fail "lease does not name daemon $pid: $(cat lease1)"
grep -q "^mount=$a$" lease1 || fail "lease does not name the mountpoint: $(cat lease1)"
assert_exit 7 "$LUKSFS" mount --passphrase-file pw "${EP[@]}" "$URI" "$b"
grep -q "in use by luksfs pid $pid on $(hostname), mounted at $a" "$WORK/last.err" \
    || fail "refusal does not name the holder: $(cat "$WORK/last.err")"
_is_mounted "$b" && fail "refused mount is mounted"

log "renewed while mounted"
etag1=$(s3 head images vm/vm.luks.luksfs-lease | cut -d' ' -f2)
sleep $((TTL + 2))
etag2=$(s3 head images vm/vm.luks.luksfs-lease | cut -d' ' -f2)
[[ "$etag1" != "$etag2" ]] || fail "the lease was not renewed in $((TTL + 2)) s"
assert_exit 7 "$LUKSFS" mount --passphrase-file pw "${EP[@]}" "$URI" "$b"

log "a clean unmount releases the lease"
umount_view "$a"
s3 head images vm/vm.luks.luksfs-lease >/dev/null 2>&1 && fail "lease still there after unmount"
mount_view "$URI" "$b" --passphrase-file pw "${EP[@]}" --s3-lease-ttl $TTL

log "kill -9: the lease stays until it expires, then a new mount takes it over"
kill -KILL "$(daemon_pid "$b")"
sleep 0.5
fusermount3 -u "$b" 2>/dev/null || fusermount3 -uz "$b"
t0=$SECONDS
assert_exit 7 "$LUKSFS" mount --passphrase-file pw "${EP[@]}" "$URI" "$a"
ok=""
for _ in $(seq $((TTL * 4))); do
    if "$LUKSFS" mount --passphrase-file pw "${EP[@]}" --s3-lease-ttl $TTL "$URI" "$a" \
        </dev/null >/dev/null 2>"$WORK/take.err"; then
        ok=1
        break
    fi
    sleep 0.5
done
[[ -n "$ok" ]] || fail "the stale lease was never taken over: $(cat "$WORK/take.err")"
((SECONDS - t0 <= TTL + 3)) || fail "took $((SECONDS - t0)) s to take over a $TTL s lease"
head -c 4096 "$a/disk.raw" >/dev/null || fail "taken-over mount does not read"
umount_view "$a"

log "-o nolock skips the lease"
mount_view "$URI" "$a" --passphrase-file pw "${EP[@]}" -o nolock
s3 head images vm/vm.luks.luksfs-lease >/dev/null 2>&1 && fail "-o nolock created a lease"
umount_view "$a"
pass
