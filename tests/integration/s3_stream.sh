#!/bin/bash
# Streaming read-ahead of an s3:// image (one long GET per window, fed into the block cache as
# it arrives) against radosgw, every read compared with the plaintext the independent oracle
# wrote:
#   1. a cold sequential read is served by the stream (the daemon's log says how many MiB);
#   2. a sequential read broken by random reads far away: the stream is abandoned and restarted;
#      a reader that pauses 12 s: the stream, waiting ahead of it, is abandoned after 10 s and a
#      new one starts when the read goes on;
#   3. through tests/s3/fault_proxy.py, which cuts every 3rd GET halfway: the stream resumes at
#      the first byte it has not delivered;
#   4. radosgw restarted in the middle of a slow streamed read.
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"
s3 mb images

write_secret pw "stream passphrase"
mk_luks2 img.luks 72 pw --luks2-metadata-size 16k --luks2-keyslots-size 512k
dump_vk img.luks pw img.vk
size=$(oracle_field img.luks data_size)
pattern_file plain "$size" 41
oracle_write img.luks img.vk 0 plain
s3 put images s/img.luks img.luks
URI=s3://images/s/img.luks
# stream_mib LOG: MiB delivered by the read-ahead streams logged in LOG
stream_mib() { awk '/read-ahead stream from byte/ {for (i = 1; i < NF; i++) if ($(i+1) == "MiB") s += $i} END {print s + 0}' "$1"; }

# --- 1. cold sequential read --------------------------------------------------------------------
log "cold sequential read"
mnt=$(new_mountpoint seq)
mount_view "$URI" "$mnt" -r --passphrase-file pw "${EP[@]}" -v --log-file "$WORK/seq.log"
dd if="$mnt/disk.raw" of=view bs=1M status=none || fail "dd of the view failed"
umount_view "$mnt"
assert_files_eq plain view "sequential read vs oracle plaintext"
n=$(stream_mib seq.log)
log "streamed $n MiB of $((size / MiB))"
((n >= size / MiB - 8)) || fail "the sequential read was not streamed ($n MiB): $(grep -i stream seq.log | head -5)"

# --- 2. random reads in the middle of a sequential one ----------------------------------------------
log "sequential read broken by random reads"
mnt=$(new_mountpoint mix)
mount_view "$URI" "$mnt" -r --passphrase-file pw "${EP[@]}" --direct-io --cache-size 16 \
    -v --log-file "$WORK/mix.log"
"$PY" - "$mnt/disk.raw" plain <<'PYEOF' || fail "reads differ from the oracle plaintext"
import os, random, sys
r = random.Random(7)
v, p = open(sys.argv[1], "rb", buffering=0), open(sys.argv[2], "rb")
size = os.fstat(p.fileno()).st_size
off, k = 0, 0
while off < size:
    n = min(1 << 20, size - off)
    v.seek(off); p.seek(off)
    assert v.read(n) == p.read(n), ("sequential", off, n)
    off += n
    k += 1
    if k % 9 == 0:  # a few random reads far away, then the sequential run goes on
        for _ in range(3):
            o, m = r.randrange(size), r.randrange(1, 300000)
            v.seek(o); p.seek(o)
            assert v.read(m) == p.read(m), ("random", o, m)
PYEOF
umount_view "$mnt"
starts=$(grep -c "read-ahead stream from byte" mix.log || true)
abandoned=$(grep -c "read-ahead stream from byte.*abandoned" mix.log || true)
log "$starts streams, $abandoned abandoned"
((starts >= 3 && abandoned >= 2)) || fail "random reads did not abandon and restart the stream: $(grep -i stream mix.log | head -5)"

# --- 2b. the reader pauses: the stream waits, then is abandoned; the read goes on -----------------
log "reader pauses longer than the stream waits"
mnt=$(new_mountpoint pause)
mount_view "$URI" "$mnt" -r --passphrase-file pw "${EP[@]}" --direct-io -v --log-file "$WORK/pause.log"
"$PY" - "$mnt/disk.raw" pause.view <<'PYEOF' || fail "paused read failed"
import sys, time
with open(sys.argv[1], "rb", buffering=0) as f, open(sys.argv[2], "wb") as o:
    n = 0
    while chunk := f.read(1 << 20):
        o.write(chunk)
        n += 1
        if n == 8:
            time.sleep(12)
PYEOF
umount_view "$mnt"
assert_files_eq plain pause.view "read with a pause vs oracle plaintext"
grep -q "the reader stopped; abandoning it" pause.log || fail "the waiting stream was not abandoned: $(grep -i stream pause.log | head -5)"
starts=$(grep -c "read-ahead stream from byte" pause.log || true)
((starts >= 2)) || fail "no new stream after the pause ($starts)"

# --- 3. GETs cut halfway (fault proxy) ------------------------------------------------------------
log "fault proxy: every 3rd GET cut halfway"
PROXY_PORT=$(free_port)
"$PY" "$S3DIR/fault_proxy.py" "$PROXY_PORT" "$PORT" --drop-every 3 --log faults.log >proxy.out 2>&1 &
PROXY_PID=$!
register_pid "$PROXY_PID"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PROXY_PORT/" && break; sleep 0.1; done
mnt=$(new_mountpoint cut)
mount_view "$URI" "$mnt" -r --passphrase-file pw --s3-endpoint "http://127.0.0.1:$PROXY_PORT" \
    --s3-retries 10 --s3-stream-window 8 -v --log-file "$WORK/cut.log"
dd if="$mnt/disk.raw" of=view bs=1M status=none || fail "dd through the fault proxy failed"
umount_view "$mnt"
kill "$PROXY_PID"
assert_files_eq plain view "read through the fault proxy vs oracle plaintext"
ndrop=$(grep -c '^drop' faults.log || true)
nresume=$(grep -c "resuming at byte" cut.log || true)
log "$ndrop GETs cut, $nresume stream resumes, $(stream_mib cut.log) MiB streamed"
((ndrop >= 2 && nresume >= 1)) || fail "no stream was cut and resumed ($ndrop cut, $nresume resumed)"

# --- 4. radosgw restarted during a streamed read -----------------------------------------------------
log "radosgw restart during a streamed read"
mnt=$(new_mountpoint restart)
mount_view "$URI" "$mnt" -r --passphrase-file pw "${EP[@]}" --s3-retries 12 --direct-io \
    --read-ahead 4096 -v --log-file "$WORK/restart.log"
slow_copy "$mnt/disk.raw" restart.view 0.01 &
reader=$!
sleep 1
"$S3DIR/ceph-down.sh" rgw
sleep 2
"$S3DIR/ceph-up.sh" rgw >>"$WORK/ceph-up.log" 2>&1 || fail "radosgw restart failed"
wait "$reader" || fail "reader failed across the radosgw restart"
umount_view "$mnt"
assert_files_eq plain restart.view "streamed read across a radosgw restart"
log "$(grep -c "read-ahead stream from byte" restart.log || true) streams, $(grep -c "resuming at byte" restart.log || true) resumes, $(stream_mib restart.log) MiB streamed"
pass
