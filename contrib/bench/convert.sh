#!/usr/bin/env bash
# Image preparation benchmark: `luksfs convert` against `qemu-img convert`
# and `cp` of the same bytes, interleaved in one run, each timed until its
# output is on disk (luksfs and qemu-img flush at the end; cp is followed by
# `sync DST`). Prints a Markdown section for contrib/bench/RESULTS.md
# (`make bench` appends it there after contrib/bench/run.sh).
#
#   contrib/bench/convert.sh            (~1-2 min on 2 cores; as root it drops
#                                        the page cache before each run)
# Environment: CONV_DIR (default /var/tmp/luksfs-convert-bench),
#   CONV_SIZE_MIB (default 1024), CONV_ROUNDS (default 3), LUKSFS.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LUKSFS=${LUKSFS:-$REPO/build/luksfs}
DIR=${CONV_DIR:-/var/tmp/luksfs-convert-bench}
MIB=${CONV_SIZE_MIB:-1024}
ROUNDS=${CONV_ROUNDS:-3}
mkdir -p "$DIR"
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"
printf 'bench passphrase' >pw
# Incompressible, non-zero plaintext (so no tool can skip any of it).
{ openssl enc -aes-128-ctr -pass pass:bench -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } |
    head -c $((MIB << 20)) >src.raw
KDF=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)

# qemu-img benchmarks PBKDF2 with a coarse CPU clock and sometimes fails with
# "Unable to get accurate CPU usage": retry that case.
qemu_conv() {
    local i
    for i in $(seq 1 20); do
        qemu-img convert "$@" 2>q.err && return 0
        grep -q 'accurate CPU usage' q.err || { cat q.err >&2; return 1; }
    done
    return 1
}

run() {  # NAME CMD...: seconds from start until the output is durable
    local name=$1 t0 t1
    shift
    rm -f out.img
    sync
    # Every run starts from the same memory state: the page cache dropped
    # (as root), then the inputs read back in, so that no run inherits
    # another's cached output or has to reclaim it first.
    if [ -w /proc/sys/vm/drop_caches ]; then echo 3 >/proc/sys/vm/drop_caches; fi
    cat src.raw $(ls l1.img l2.img 2>/dev/null) >/dev/null
    t0=$(date +%s.%N)
    "$@" >/dev/null
    t1=$(date +%s.%N)
    echo "$name $(python3 -c "print($t1 - $t0)")" >>times.txt
}

: >times.txt
for r in $(seq 1 "$ROUNDS"); do
    run cp bash -c 'cp src.raw out.img && sync out.img'
    run luksfs-raw-to-luks2 "$LUKSFS" convert "${KDF[@]}" --new-passphrase-file pw src.raw out.img
    cp --reflink=never out.img l2.img 2>/dev/null || cp out.img l2.img
    run qemu-raw-to-luks1 qemu_conv -f raw -O luks --object secret,id=s0,file=pw \
        -o key-secret=s0,iter-time=10 src.raw out.img
    mv out.img l1.img
    run luksfs-luks2-to-raw "$LUKSFS" convert -O raw --passphrase-file pw l2.img out.img
    run qemu-luks1-to-raw qemu_conv --object secret,id=s0,file=pw \
        --image-opts "driver=luks,key-secret=s0,file.filename=l1.img" -O raw out.img
    run luksfs-rekey-luks2 "$LUKSFS" convert "${KDF[@]}" --passphrase-file pw l2.img out.img
    # qcow2+LUKS, as the IBM Cloud VPC flow makes it (64 KiB clusters).
    # Measured when these rows were added (1 GiB, 2 shared cores, Dec 2026):
    #   load ~4:  cp+sync 0.60-0.67 s, luksfs 0.73-0.90 s, qemu-img 5.23-5.34 s (~6x)
    #   load ~17: cp+sync 3.88-6.54 s, luksfs 2.94-5.12 s, qemu-img 21.6 s (~4-7x)
    run luksfs-raw-to-qcow2luks "$LUKSFS" convert -O qcow2 --pbkdf-force-iterations 1000 \
        --new-passphrase-file pw src.raw out.img
    run qemu-raw-to-qcow2luks qemu_conv -f raw -O qcow2 --object secret,id=s0,file=pw \
        -o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 src.raw out.img
    rm -f l1.img l2.img
done

echo
echo '## Image preparation: `luksfs convert` (contrib/bench/convert.sh)'
echo
echo "Run $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
echo
python3 - "$MIB" "$ROUNDS" times.txt <<'PYEOF'
import statistics, sys
mib, rounds = int(sys.argv[1]), int(sys.argv[2])
t = {}
for line in open(sys.argv[3]):
    name, secs = line.split()
    t.setdefault(name, []).append(float(secs))
med = {k: statistics.median(v) for k, v in t.items()}
rate = lambda k: mib * 1.048576 / med[k]
print(f"Plaintext {mib} MiB, {rounds} rounds interleaved, median; MB/s = 10^6 bytes of plaintext per s,")
print("each timed until its output is durable.\n")
print("| run | median s | MB/s | per round (s) |")
print("|---|---:|---:|---|")
for k in t:
    print(f"| {k} | {med[k]:.2f} | {rate(k):.0f} | {' '.join(f'{x:.2f}' for x in t[k])} |")
print()
r = lambda a, b: med[b] / med[a]
print(f"- raw -> LUKS2: {r('luksfs-raw-to-luks2', 'qemu-raw-to-luks1'):.2f}x the speed of qemu-img convert to LUKS1; "
      f"{med['luksfs-raw-to-luks2'] / med['cp']:.2f}x the time of cp (target: >= 2x, <= 1.3x)")
print(f"- decrypt: {r('luksfs-luks2-to-raw', 'qemu-luks1-to-raw'):.2f}x the speed of qemu-img; "
      f"{med['luksfs-luks2-to-raw'] / med['cp']:.2f}x the time of cp (target: >= 2x, <= 1.3x)")
print(f"- re-key LUKS2 -> LUKS2: {med['luksfs-rekey-luks2'] / med['cp']:.2f}x the time of cp (target: <= 1.3x)")
print(f"- raw -> qcow2+LUKS: {r('luksfs-raw-to-qcow2luks', 'qemu-raw-to-qcow2luks'):.2f}x the speed of qemu-img convert "
      f"-O qcow2 -o encrypt.format=luks; {med['luksfs-raw-to-qcow2luks'] / med['cp']:.2f}x the time of cp (target: >= 2x, <= 1.3x)")
PYEOF
