#!/bin/bash
# kill -9 of the daemon during allocating writes to a qcow2+LUKS image, three times: afterwards
# `qemu-img check` may report leaked clusters (exit 3) but never corruption (exit 2), and every
# write that fsync() acknowledged reads back through qemu.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "qcow2 crash"
SECRET=(--object "secret,id=sec0,file=pw")
opts() { printf 'driver=qcow2,file.filename=%s,encrypt.key-secret=sec0' "$1"; }

qemu_luks_create qemu-img create -q -f qcow2 "${SECRET[@]}" \
    -o "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,cluster_size=4k" \
    crash.qcow2 256M
: >durable.log
for round in 1 2 3; do
    mnt=$(new_mountpoint "mnt-$round")
    mount_view crash.qcow2 "$mnt" --passphrase-file pw
    pid="$(daemon_pid "$mnt")"
    [[ -n "$pid" ]] || fail "no daemon pid for $mnt"
    # Writer: non-overlapping unaligned writes into new clusters, an fsync every 4 writes; a write
    # is logged as durable only once its fsync returned.
    "$PY" - "$mnt/disk.raw" durable.log "$round" <<'EOF' &
import os, random, sys
view, log, rnd = sys.argv[1], sys.argv[2], int(sys.argv[3])
r = random.Random(rnd)
fd = os.open(view, os.O_RDWR)
pending = []
try:
    for i in range(80 * 14):  # stays inside each 1 MiB slot: no overlap
        off = ((rnd - 1) * 80 + i % 80) * (1 << 20) + (i // 80) * 70000 + r.randrange(4096)
        data = r.randbytes(r.randint(1, 60000))
        os.pwrite(fd, data, off)
        pending.append((off, data))
        if len(pending) == 4:
            os.fsync(fd)
            with open(log, "a") as f:
                for o, d in pending:
                    f.write("%d %s\n" % (o, d.hex()))
            pending = []
except OSError:
    pass
EOF
    writer=$!
    sleep "0.$((RANDOM % 9 + 1))"
    sleep 1
    kill -9 "$pid"
    wait "$writer" || true
    fusermount3 -u -z "$mnt" 2>/dev/null || true
    set +e
    qemu-img check "${SECRET[@]}" --image-opts "$(opts crash.qcow2)" >"check-$round.out" 2>&1
    rc=$?
    set -e
    ((rc == 0 || rc == 3)) || fail "round $round: qemu-img check exit $rc: $(tr '\n' ' ' <"check-$round.out")"
    log "round $round: killed daemon $pid; qemu-img check exit $rc ($(grep -c . durable.log) durable writes so far)"
done
qemu-img convert "${SECRET[@]}" --image-opts "$(opts crash.qcow2)" -O raw crash.raw || fail "convert"
"$PY" - crash.raw durable.log <<'EOF' || fail "an fsync'd write was lost"
import sys
raw = open(sys.argv[1], "rb").read()
n = 0
for line in open(sys.argv[2]):
    off, hx = line.split()
    d = bytes.fromhex(hx)
    off = int(off)
    assert raw[off:off + len(d)] == d, "write at %d (%d bytes) lost" % (off, len(d))
    n += 1
assert n > 0, "no write was made durable"
print("verified", n, "durable writes")
EOF
pass
