#!/bin/bash
# Concurrent unaligned I/O through the view. N worker threads (os.pread/os.pwrite release the GIL)
# own interleaved byte stripes ((offset // 97) % N == id): they share every sector unit but never
# a byte. Each does random unaligned writes inside its own stripes and random unaligned reads of
# ranges that span everybody's stripes, verifying its own bytes on every read. Runs on a
# page-cache mount and on a --direct-io mount (which sends every unaligned write to the daemon's
# read-modify-write). Zero mismatches allowed; after unmount the oracle's decryption of the image
# equals the merged model. Image: cryptsetup LUKS2, 4096-byte sectors.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "concurrency passphrase"
SECONDS_PER_PHASE="${CONCURRENCY_SECONDS:-10}"

mk_luks2 c.img 32 pw --sector-size 4096
dump_vk c.img pw c.vk
size=$(oracle_field c.img data_size)
pattern_file c.model "$size" 41
oracle_write c.img c.vk 0 c.model

stress() {  # stress VIEW MODEL SEED
    "$PY" - "$1" "$2" "$3" "$SECONDS_PER_PHASE" <<'PYEOF'
import os, random, sys, threading, time
view, model_path, seed, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
N, STRIPE = 4, 97
model = bytearray(open(model_path, "rb").read())
size = len(model)
errors, stats = [], [0, 0]
lock = threading.Lock()
deadline = time.monotonic() + seconds

def check_own(wid, off, data):
    # compare the bytes of `data` (read at `off`) that belong to worker wid with the model
    end = off + len(data)
    k = off // STRIPE
    while k * STRIPE < end:
        if k % N == wid:
            a, b = max(off, k * STRIPE), min(end, (k + 1) * STRIPE)
            if data[a - off:b - off] != model[a:b]:
                return a
        k += 1
    return None

def worker(wid):
    r = random.Random(seed * 100 + wid)
    fd = os.open(view, os.O_RDWR)
    writes = reads = 0
    try:
        while time.monotonic() < deadline and not errors:
            if r.random() < 0.6:
                # a write inside one of my stripes
                k = r.randrange(size // STRIPE)
                k -= (k % N) - wid
                if k < 0 or (k + 1) * STRIPE > size:
                    continue
                a = k * STRIPE + r.randrange(STRIPE)
                b = r.randrange(a + 1, (k + 1) * STRIPE + 1)
                data = r.randbytes(b - a)
                model[a:b] = data          # only I touch these bytes
                if os.pwrite(fd, data, a) != len(data):
                    errors.append("worker %d: short write at %d" % (wid, a))
                writes += 1
            else:
                n = r.choice([1, 100, 4095, 4097, 20000, 70000])
                off = r.randrange(size - n)
                data = os.pread(fd, n, off)
                if len(data) != n:
                    errors.append("worker %d: short read at %d" % (wid, off))
                bad = check_own(wid, off, data)
                if bad is not None:
                    errors.append("worker %d: mismatch at byte %d (read %d+%d)" % (wid, bad, off, n))
                reads += 1
    except OSError as e:
        errors.append("worker %d: %s" % (wid, e))
    finally:
        os.close(fd)
    with lock:
        stats[0] += writes
        stats[1] += reads

threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
for t in threads: t.start()
for t in threads: t.join()
fd = os.open(view, os.O_RDONLY)
final = bytearray()
while len(final) < size:
    c = os.pread(fd, 1 << 20, len(final))
    if not c: break
    final += c
os.close(fd)
if final != model:
    errors.append("final read of the view differs from the merged model")
open(model_path, "wb").write(model)
print("%d writes, %d reads, %d errors" % (stats[0], stats[1], len(errors)))
if errors:
    print("\n".join(errors[:5]), file=sys.stderr)
    sys.exit(1)
PYEOF
}

mnt=$(new_mountpoint mnt)
log "page-cache mount, 4 workers, ${SECONDS_PER_PHASE}s"
mount_view c.img "$mnt" --passphrase-file pw
out=$(stress "$mnt/disk.raw" c.model 1) || fail "page-cache phase: $out"
log "  $out"
umount_view "$mnt"
oracle_decrypt c.img c.vk c.after1
assert_files_eq c.model c.after1 "image after page-cache phase vs merged model"

log "--direct-io mount, 4 workers, ${SECONDS_PER_PHASE}s"
mount_view c.img "$mnt" --passphrase-file pw --direct-io --threads 2
out=$(stress "$mnt/disk.raw" c.model 2) || fail "direct-io phase: $out"
log "  $out"
umount_view "$mnt"
oracle_decrypt c.img c.vk c.after2
assert_files_eq c.model c.after2 "image after direct-io phase vs merged model"
cryptsetup open --test-passphrase --key-file pw c.img || fail "cryptsetup cannot open the image afterwards"
pass
