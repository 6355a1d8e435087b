#!/usr/bin/env bash
# luksfs unlock benchmark (run as root; part of `make bench`, or directly).
#
# Times, interleaved over several rounds, the wall time of one passphrase
# unlock of the same image by:
#   luksfs      `luksfs check IMG --passphrase-file F` (keyslot KDF + digest)
#   cryptsetup  `cryptsetup open --test-passphrase IMG --key-file F`
#   mount       `luksfs mount IMG MNT --passphrase-file F` until it returns
#               (the view is serving); "mount - check" is the mount's cost
#               beyond the unlock
#   qemu        `qemu-io --image-opts driver=luks,... -c 'read 0 512'`
#               (LUKS1 only; `qemu-img info` opens LUKS without the key)
# on:
#   luks1      a LUKS1 image made by qemu-img (PBKDF2-SHA256, qemu's default
#              iter-time, aes-256-xts: a 64-byte keyslot key, i.e. two
#              PBKDF2 blocks);
#   luks1-2nd  a LUKS1 image made by cryptsetup whose passphrase is in
#              keyslot 1 (slot 0 holds another one): a one-by-one loop pays
#              two KDFs;
#   luks2      a LUKS2 image made by cryptsetup with its default Argon2id;
#   cheap      a LUKS2 image with 1000 PBKDF2 iterations: its "mount - check"
#              is the cost of a mount beyond the unlock.
# and prints a Markdown section (medians, ratios) on stdout, plus the
# PBKDF2 kernel table of kdf_bench.
#
# Environment (optional):
#   BENCH_KDF_ROUNDS     rounds (default 5)
#   BENCH_KDF_ITER_TIME  iter-time in ms for the images (default: each
#                        tool's own default, 2000 ms)
#   BENCH_KDF_IMAGES     subset/order of: luks1 luks1-2nd luks2 cheap
#   BENCH_KDF_NO_MICRO=1 skip the kdf_bench tables
#   BENCH_DIR            work dir (default /var/tmp/luksfs-bench)
#   BENCH_NO_BUILD=1     do not run `make all` first
set -euo pipefail
{
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC=$REPO/contrib/bench
ROUNDS=${BENCH_KDF_ROUNDS:-5}
WORK=${BENCH_DIR:-/var/tmp/luksfs-bench}/kdf
LUKSFS=$REPO/build/luksfs
mkdir -p "$WORK"
cd "$WORK"
log() { echo "[kdf-bench] $*" >&2; }

[ "${BENCH_NO_BUILD:-0}" = 1 ] || make -C "$REPO" -j"$(nproc)" all >&2
g++ -O2 -std=c++20 -I"$REPO" "$SRC/kdf_bench.cc" "$REPO/build/libcrypto.a" \
  "$REPO/build/libcommon.a" -lssl -lcrypto -lsodium -largon2 -pthread -o kdf_bench

printf '%s' 'bench passphrase' >pw
printf '%s' 'another passphrase' >pw0
ITER=()
QITER=()
if [ -n "${BENCH_KDF_ITER_TIME:-}" ]; then
  ITER=(--iter-time "$BENCH_KDF_ITER_TIME")
  QITER=(-o "iter-time=$BENCH_KDF_ITER_TIME")
fi
rm -f luks1.img luks1-2nd.img luks2.img cheap.img
log "making images (KDF calibration takes a few seconds each)"
qemu-img create -q -f luks --object secret,id=sec0,file=pw -o key-secret=sec0 \
  "${QITER[@]}" luks1.img 16M
truncate -s 16M luks1-2nd.img
cryptsetup luksFormat -q --type luks1 --pbkdf pbkdf2 --hash sha256 "${ITER[@]}" \
  --key-file pw0 --key-slot 0 luks1-2nd.img
cryptsetup luksAddKey -q "${ITER[@]}" --key-file pw0 --new-key-slot 1 luks1-2nd.img pw
truncate -s 32M luks2.img
cryptsetup luksFormat -q --type luks2 "${ITER[@]}" --key-file pw luks2.img
rm -f cheap.img
truncate -s 32M cheap.img
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
  --key-file pw cheap.img
IMAGES=(${BENCH_KDF_IMAGES:-luks1 luks1-2nd luks2 cheap})

run_luksfs() { "$LUKSFS" check "$1" --passphrase-file pw >/dev/null; }
mkdir -p mnt
# `luksfs mount` returns once the view is serving; the unmount is not timed.
run_mount() { "$LUKSFS" mount "$1" mnt --passphrase-file pw; }
after_mount() { "$LUKSFS" umount mnt; }
run_cryptsetup() { cryptsetup open --test-passphrase "$1" --key-file pw; }
run_qemu() {  # qemu-img info opens without the key (no I/O): read a sector
  qemu-io --object secret,id=sec0,file=pw --image-opts \
    "driver=luks,key-secret=sec0,file.filename=$1" -c 'read 0 512' >/dev/null
}

declare -A TIMES CPU
now() { date +%s.%N; }
# CPU seconds (user + system) of every child this shell has waited for so
# far, from the `times` builtin ("0m1.234s 0m0.100s" on its second line).
# (`times` must run in this shell, not in a $(...) subshell.)
child_cpu() {
  times >times.txt
  tail -1 times.txt | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, a, "m");
    sub("s", "", a[2]); s += a[1] * 60 + a[2] } printf "%.3f", s }'
}
for ((r = 1; r <= ROUNDS; r++)); do
  log "round $r/$ROUNDS"
  for img in "${IMAGES[@]}"; do
    tools=(luksfs cryptsetup mount)
    [[ "$img" = luks2 || "$img" = cheap ]] || tools+=(qemu)
    # Rotate the start so no tool always runs first (cache, turbo).
    for ((k = 0; k < ${#tools[@]}; k++)); do
      tool=${tools[$(((k + r) % ${#tools[@]}))]}
      child_cpu >c0.txt
      t0=$(now)
      "run_$tool" "$img.img"
      t1=$(now)
      child_cpu >c1.txt
      c0=$(cat c0.txt) c1=$(cat c1.txt)
      TIMES[$img.$tool]+="$(echo "$t1 - $t0" | bc -l) "
      CPU[$img.$tool]+="$(echo "$c1 - $c0" | bc -l) "
      [ "$tool" != mount ] || after_mount
    done
  done
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
kdf_of() {  # one line describing the keyslot KDF luksfs sees
  "$LUKSFS" info "$1" 2>/dev/null | awk -F: '/PBKDF|Hash|Iterations|Memory|Threads|Time cost/ {gsub(/^[ \t]+/, "", $2); printf "%s=%s ", $1, $2}' | tr -d '\t' | cut -c1-120
}

echo "## Unlock time (\`contrib/bench/kdf.sh\`, $ROUNDS interleaved rounds, median seconds)"
echo
echo "$(date -u +%Y-%m-%d), $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
  "SHA-NI: $(grep -qw sha_ni /proc/cpuinfo && echo yes || echo no)), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "luksfs $(git -C "$REPO" rev-parse --short HEAD), $(cryptsetup --version), $(qemu-img --version | head -1)."
echo
echo "| image | KDFs: keyslots, then digest (luksfs info) | luksfs check | cryptsetup | qemu | cryptsetup / luksfs | qemu / luksfs | luksfs mount | mount - check |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for img in "${IMAGES[@]}"; do
  l=$(echo "${TIMES[$img.luksfs]}" | median)
  c=$(echo "${TIMES[$img.cryptsetup]}" | median)
  if [[ "$img" = luks2 || "$img" = cheap ]]; then q=-; qr=-; else
    q=$(echo "${TIMES[$img.qemu]}" | median); qr=$(printf '%.2fx' "$(echo "$q / $l" | bc -l)"); fi
  mt=$(echo "${TIMES[$img.mount]}" | median)
  printf '| %s | %s | %.3f | %.3f | %s | %.2fx | %s | %.3f | %.0f ms |\n' "$img" "$(kdf_of "$img.img")" \
    "$l" "$c" "$q" "$(echo "$c / $l" | bc -l)" "$qr" "$mt" "$(echo "($mt - $l) * 1000" | bc -l)"
done
echo
echo "CPU seconds (user + system, median; the machine is shared, so wall time"
echo "also measures the CPU share a process gets; a daemonised mount is not counted):"
echo
echo "| image | luksfs check | cryptsetup | qemu | cryptsetup / luksfs | qemu / luksfs |"
echo "|---|---:|---:|---:|---:|---:|"
for img in "${IMAGES[@]}"; do
  l=$(echo "${CPU[$img.luksfs]}" | median)
  c=$(echo "${CPU[$img.cryptsetup]}" | median)
  if [[ "$img" = luks2 || "$img" = cheap ]]; then q=-; qr=-; else
    q=$(echo "${CPU[$img.qemu]}" | median); qr=$(printf '%.2fx' "$(echo "$q / $l" | bc -l)"); fi
  printf '| %s | %.3f | %.3f | %s | %.2fx | %s |\n' "$img" "$l" "$c" "$q" "$(echo "$c / $l" | bc -l)" "$qr"
done
echo
echo "Raw CPU seconds: "
for k in $(printf '%s\n' "${!CPU[@]}" | sort); do echo "- $k: ${CPU[$k]}"; done
echo
echo "Raw times (s): "
for k in $(printf '%s\n' "${!TIMES[@]}" | sort); do echo "- $k: ${TIMES[$k]}"; done
echo
[ "${BENCH_KDF_NO_MICRO:-0}" = 1 ] || ./kdf_bench --iterations 500000 --argon2-kib 262144 --argon2-time 4 --argon2-lanes 4
}
