#!/bin/bash
# S3 backend end to end against a real server: Ceph radosgw (single-node mon+osd+rgw on loopback,
# started by tests/s3/ceph-up.sh, stopped by the EXIT trap).
#   1. read-only mount of s3://BUCKET/KEY: the view equals the plaintext written by the independent
#      oracle; `info` and `check` work on s3://; 404 and 403 exit 4 naming bucket and key.
#   2. writes through the view + fsync + unmount: the downloaded object decrypts (oracle) to the
#      expected bytes; the commit was a multipart upload (ETag "...-N").
#   3. a concurrent overwrite of the object is reported (If-Match), never mixed in.
#   4. faults: 503s and dropped connections injected by tests/s3/fault_proxy.py during reads and
#      a commit; radosgw restarted in the middle of reads. No corruption, no lost write.
# Needs radosgw ceph-mon ceph-osd (contrib/install-deps.sh installs them).
source "$(dirname "$0")/../lib.sh"
need_luksfs
S3DIR="$TESTS_DIR/s3"
for b in radosgw ceph-mon ceph-osd curl; do
    command -v "$b" >/dev/null || fail "$b not installed (run make deps)"
done
cd "$WORK"

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export D="$WORK/ceph" PORT MON_PORT STORE=memstore
PORT=$(free_port)
MON_PORT=$(free_port)
PROXY_PORT=$(free_port)
export AWS_ACCESS_KEY_ID=ciaccesskey AWS_SECRET_ACCESS_KEY=cisecretkey0123456789 AWS_REGION=us-east-1
export AK=$AWS_ACCESS_KEY_ID SK=$AWS_SECRET_ACCESS_KEY
export S3_ENDPOINT="http://127.0.0.1:$PORT"
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_SHARED_CREDENTIALS_FILE
PROXY_PID=""
s3_cleanup() {
    local rc=$? mnt
    set +e
    for mnt in "${_MOUNTS[@]+"${_MOUNTS[@]}"}"; do
        _is_mounted "$mnt" && fusermount3 -u "$mnt" 2>/dev/null
    done
    [[ -n "$PROXY_PID" ]] && kill "$PROXY_PID" 2>/dev/null
    "$S3DIR/ceph-down.sh" >/dev/null 2>&1
    (exit $rc)
    _cleanup
}
trap s3_cleanup EXIT

s3() { "$PY" "$S3DIR/s3req.py" "$@"; }
EP=(--s3-endpoint "$S3_ENDPOINT")

log "starting radosgw (mon $MON_PORT, rgw $PORT)"
t0=$SECONDS
# Retries, as tests/s3/rgw_lib.sh does: a start-up on a loaded machine sometimes fails with an OSD
# "wrong fsid" (the memstore OSD found no fsid after its mkfs); the retries use bluestore.
for _try in 1 2 3 4; do
    "$S3DIR/ceph-up.sh" >"$WORK/ceph-up.log" 2>&1 && break
    "$S3DIR/ceph-down.sh" >/dev/null 2>&1
    ((_try < 4)) || fail "ceph-up.sh failed 4 times: $(tail -5 "$WORK/ceph-up.log")"
    log "ceph-up.sh failed ($(grep -m1 -o "wrong fsid\|[Ee]rror.*" "$WORK/ceph-up.log")); retrying"
    MON_PORT=$(free_port)
    STORE=bluestore
done
log "radosgw up in $((SECONDS - t0)) s"
s3 mb images

# --- image: LUKS2 by cryptsetup, plaintext written by the independent oracle -------------------
write_secret pw "s3 passphrase"
mk_luks2 vm1.luks 56 pw --luks2-metadata-size 16k --luks2-keyslots-size 512k
dump_vk vm1.luks pw vm1.vk
size=$(oracle_field vm1.luks data_size)
pattern_file plain "$size" 77
oracle_write vm1.luks vm1.vk 0 plain
s3 put images vm/vm1.luks vm1.luks
URI=s3://images/vm/vm1.luks

# --- 1. read-only ------------------------------------------------------------------------------
log "read-only mount"
assert_exit 0 "$LUKSFS" info "${EP[@]}" "$URI"
grep -q "Version: *2" "$WORK/last.out" || fail "info: $(head -3 "$WORK/last.out")"
assert_exit 0 "$LUKSFS" check "${EP[@]}" --passphrase-file pw "$URI"
mnt=$(new_mountpoint ro)
mount_view "$URI" "$mnt" -r --passphrase-file pw "${EP[@]}"
assert_eq "$size" "$(stat -c %s "$mnt/disk.raw")" "view size"
t0=$(date +%s.%N)
dd if="$mnt/disk.raw" of=view bs=1M status=none
t1=$(date +%s.%N)
log "sequential read through the view: $("$PY" -c "print(f'{$size/($t1-$t0)/1e6:.0f}')") MB/s (cold cache)"
assert_files_eq plain view "read-only view vs oracle plaintext"
"$PY" - "$mnt/disk.raw" plain <<'PYEOF' || fail "random reads differ"
import os, random, sys
r = random.Random(5)
v, p = open(sys.argv[1], "rb"), open(sys.argv[2], "rb")
size = os.fstat(p.fileno()).st_size
for _ in range(300):
    off, n = r.randrange(size), r.randrange(1, 200000)
    v.seek(off); p.seek(off)
    assert v.read(n) == p.read(n), (off, n)
PYEOF
umount_view "$mnt"
t0=$(date +%s.%N)
curl -s -o /dev/null "$S3_ENDPOINT/" 2>/dev/null
s3 get images vm/vm1.luks /dev/null
t1=$(date +%s.%N)
log "raw GET of the whole object (python, same server): $("$PY" -c "print(f'{$(stat -c %s vm1.luks)/($t1-$t0)/1e6:.0f}')") MB/s"

log "errors: 404 and 403"
assert_exit 4 "$LUKSFS" info "${EP[@]}" s3://images/vm/missing.luks
grep -q "no such object (bucket 'images', key 'vm/missing.luks'" "$WORK/last.err" || fail "404 message: $(cat "$WORK/last.err")"
assert_exit 4 "$LUKSFS" info "${EP[@]}" s3://nobucket/x.luks
grep -q "nobucket" "$WORK/last.err" || fail "404 bucket message: $(cat "$WORK/last.err")"
assert_exit 4 env AWS_SECRET_ACCESS_KEY=wrong-secret "$LUKSFS" info "${EP[@]}" "$URI"
grep -q "access denied to bucket 'images', key 'vm/vm1.luks'" "$WORK/last.err" || fail "403 message: $(cat "$WORK/last.err")"
grep -q "wrong-secret" "$WORK/last.err" && fail "the secret appears in an error message"

# --- 2. writes, fsync, unmount, download, oracle ---------------------------------------------------
log "read-write mount: writes + fsync + unmount"
cp plain expect
mnt=$(new_mountpoint rw)
mount_view "$URI" "$mnt" --passphrase-file pw "${EP[@]}" --cache-dir "$WORK" --commit-interval 0
# patch OFFSET BYTES SEED [fsync]: same bytes into the view and into `expect`
patch() {
    pattern_file "p$3" "$2" "$3"
    dd if="p$3" of="$mnt/disk.raw" bs=64k seek="$1" oflag=seek_bytes conv=notrunc${4:+,fsync} status=none
    dd if="p$3" of=expect bs=64k seek="$1" oflag=seek_bytes conv=notrunc status=none
}
patch 4096 3000000 1 fsync
etag1=$(s3 head images vm/vm1.luks | cut -d' ' -f2)
[[ "$etag1" == *-* ]] || fail "fsync did not commit a multipart upload (ETag $etag1)"
patch 12345 777 2
patch $((size - 5000)) 5000 3
patch $((20 * MiB + 100)) $((MiB + 3)) 4
cmp -s "$mnt/disk.raw" expect || fail "rw view differs from the expected bytes before unmount"
umount_view "$mnt"
s3 get images vm/vm1.luks got.luks
oracle_decrypt got.luks vm1.vk got.plain
assert_files_eq expect got.plain "object after unmount vs expected"
etag2=$(s3 head images vm/vm1.luks | cut -d' ' -f2)
[[ "$etag2" != "$etag1" ]] || fail "unmount did not commit"
cmp -s <(head -c 32768 vm1.luks) <(head -c 32768 got.luks) || fail "LUKS header changed by the commit"
cp expect plain

# --- 3. concurrent overwrite is detected ----------------------------------------------------------
log "concurrent overwrite -> reported"
mnt=$(new_mountpoint ow)
mount_view "$URI" "$mnt" -r --passphrase-file pw "${EP[@]}" --direct-io --read-ahead 0 --cache-size 1
dd if="$mnt/disk.raw" of=/dev/null bs=64k count=1 status=none
s3 put images vm/vm1.luks got.luks   # same bytes, new ETag
if dd if="$mnt/disk.raw" of=/dev/null bs=1M skip=10 count=2 status=none 2>"$WORK/ow.err"; then
    fail "read after a concurrent overwrite succeeded"
fi
umount_view "$mnt"
etag_now=$(s3 head images vm/vm1.luks | cut -d' ' -f2)

# --- 4a. 503s and dropped connections (fault proxy) -----------------------------------------------
log "fault injection: 503 every 4th request, cut every 5th GET"
"$PY" "$S3DIR/fault_proxy.py" "$PROXY_PORT" "$PORT" --fail-every 4 --drop-every 5 --log faults.log \
    >proxy.out 2>&1 &
PROXY_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/" && break; sleep 0.1; done
PEP=(--s3-endpoint "http://127.0.0.1:$PROXY_PORT" --s3-retries 10)
mnt=$(new_mountpoint faults)
mount_view "$URI" "$mnt" --passphrase-file pw "${PEP[@]}" --cache-dir "$WORK" --commit-interval 0 \
    --cache-size 8
cmp "$mnt/disk.raw" plain || fail "view through the fault proxy differs"
cp plain expect
patch $((3 * MiB + 7)) 100000 5 fsync
patch $((size - 9 * MiB)) $((2 * MiB)) 6
umount_view "$mnt"
kill "$PROXY_PID"; PROXY_PID=""
n503=$(grep -c '^503' faults.log || true)
ndrop=$(grep -c '^drop' faults.log || true)
log "injected $n503 x 503 and $ndrop dropped GETs"
((n503 > 5 && ndrop > 0)) || fail "too few faults injected ($n503, $ndrop)"
s3 get images vm/vm1.luks got.luks
oracle_decrypt got.luks vm1.vk got.plain
assert_files_eq expect got.plain "object after commits through the fault proxy"
cp expect plain

# --- 4b. radosgw restarted in the middle of reads --------------------------------------------------
log "radosgw restart during reads"
mnt=$(new_mountpoint restart)
mount_view "$URI" "$mnt" -r --passphrase-file pw "${EP[@]}" --s3-retries 12 --direct-io \
    --read-ahead 0 --cache-size 1
slow_copy "$mnt/disk.raw" restart.view 0.02 &
reader=$!
sleep 1
"$S3DIR/ceph-down.sh" rgw
sleep 2
"$S3DIR/ceph-up.sh" rgw >>"$WORK/ceph-up.log" 2>&1 || fail "radosgw restart failed"
wait "$reader" || fail "reader failed across the radosgw restart"
assert_files_eq plain restart.view "view read across a radosgw restart"
umount_view "$mnt"
pass
