#!/usr/bin/env bash
# luksfs benchmark harness: `make bench` (or run directly, as root).
#
# Measures, interleaved in one run: luksfs (LUKS1 and LUKS2 images),
# qemu-storage-daemon's FUSE export (LUKS1), nbdkit --filter=luks under
# nbdfuse (LUKS1), a plain FUSE passthrough of the same bytes (the ceiling)
# and the raw backing file, with fio; plus a crypto micro-benchmark. Writes
# contrib/bench/RESULTS.md. See contrib/bench/README.md.
#
# Environment (all optional):
#   BENCH_QUICK=1        256 MiB images, 5 s jobs, 1 s ramp, 1 round: ~10 min
#   BENCH_DIR            work dir (default /var/tmp/luksfs-bench); images,
#                        mounts, raw fio JSON and logs live there
#   BENCH_SIZE           plaintext size of each image (default 1G; quick 256M)
#   BENCH_RUNTIME        seconds per timed fio job (default 10; quick 5)
#   BENCH_RAMP           fio ramp seconds (default 2; quick 1)
#   BENCH_ROUNDS         rounds over all configurations (default 2; quick 1)
#   BENCH_CONFIGS        subset/order of: luksfs qsd nbdfuse ceiling raw luksfs2
#                        (also available: luksfs-dio = luksfs --direct-io)
#   BENCH_JOBS           subset of the fio job names (see JOB_NAMES below)
#   BENCH_RESULTS        output file (default contrib/bench/RESULTS.md;
#                        quick mode: $BENCH_DIR/RESULTS-quick.md)
#   BENCH_LUKSFS_OPTS    extra `luksfs mount` options, e.g. "--threads 4"
#   BENCH_CEILING_OPTS   extra passthrough options, e.g. "--clone-fd"
#   BENCH_SKIP_CRYPTO=1  skip the crypto micro-benchmark
#   BENCH_SKIP_KDF=1     skip the unlock benchmark (contrib/bench/kdf.sh)
#   BENCH_KEEP=1         keep the images after the run
#   BENCH_NO_BUILD=1     do not run `make all` first (make bench already did)
set -euo pipefail

# The whole script is one brace group: bash parses it completely before
# running it, so editing this file during a run cannot break that run.
{

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SRC=$REPO/contrib/bench

QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  SIZE_SPEC=${BENCH_SIZE:-256M}
  RUNTIME=${BENCH_RUNTIME:-5}
  RAMP=${BENCH_RAMP:-1}
  CRYPTO_SECONDS=0.2
  DEFAULT_ROUNDS=1
else
  SIZE_SPEC=${BENCH_SIZE:-1G}
  RUNTIME=${BENCH_RUNTIME:-10}
  RAMP=${BENCH_RAMP:-2}
  CRYPTO_SECONDS=0.5
  DEFAULT_ROUNDS=2
fi
WORK=${BENCH_DIR:-/var/tmp/luksfs-bench}
ROUNDS=${BENCH_ROUNDS:-$DEFAULT_ROUNDS}
CONFIGS=(${BENCH_CONFIGS:-luksfs qsd nbdfuse ceiling raw luksfs2})
LUKSFS_OPTS=(${BENCH_LUKSFS_OPTS:-})
CEILING_OPTS=(${BENCH_CEILING_OPTS:-})
if [ -n "${BENCH_RESULTS:-}" ]; then
  RESULTS=$BENCH_RESULTS
elif [ "$QUICK" = 1 ]; then
  RESULTS=$WORK/RESULTS-quick.md
else
  RESULTS=$SRC/RESULTS.md
fi

JOB_NAMES=(seqread-dio seqread-buf seqwrite-dio seqwrite-buf
           randread-qd1 randread-qd32 randread-4jobs
           randwrite-qd1 randwrite-qd32 randwrite-4jobs)
[ -n "${BENCH_JOBS:-}" ] && JOB_NAMES=(${BENCH_JOBS})

T0=$SECONDS
log() { printf '[bench %s +%ds] %s\n' "$(date +%H:%M:%S)" $((SECONDS - T0)) "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (FUSE mounts of other daemons, drop_caches, apt)"
SIZE=$(numfmt --from=iec "$SIZE_SPEC") || die "bad BENCH_SIZE $SIZE_SPEC"
[ $((SIZE % 1048576)) -eq 0 ] || die "BENCH_SIZE must be a multiple of 1 MiB"

# ---------------------------------------------------------------- packages
# Bench-only Debian packages. qemu-storage-daemon ships in qemu-system-common
# on Debian 12; nbdfuse in libnbd-bin; nbdkit's luks filter in nbdkit.
PACKAGES=(fio nbdkit libnbd-bin qemu-utils qemu-system-common cryptsetup-bin
          fuse3 libfuse3-dev python3 python3-cryptography openssl g++ pkg-config
          libssl-dev libsodium-dev libargon2-dev procps coreutils)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
for c in fio nbdkit nbdfuse qemu-img qemu-storage-daemon cryptsetup fusermount3; do
  command -v "$c" >/dev/null || die "$c not found after installing packages"
done

# ---------------------------------------------------------------- work dir
mkdir -p "$WORK"
for m in "$WORK"/mnt/*; do   # leftovers of an interrupted run
  [ -e "$m" ] || continue
  if grep -q " $m " /proc/mounts; then fusermount3 -u -z "$m" 2>/dev/null || true; fi
done
rm -rf "$WORK/mnt" "$WORK/results" "$WORK/run"
mkdir -p "$WORK"/{bin,img,mnt,results,run}
BIN=$WORK/bin IMG=$WORK/img MNT=$WORK/mnt RES=$WORK/results RUN=$WORK/run
PW=$IMG/passphrase
REF=$IMG/ref.raw        # random plaintext, never written after creation
PLAIN=$IMG/plain.raw    # copy of REF: backing of the ceiling and raw configs
LUKS1=$IMG/luks1.img    # qemu-img convert of REF
LUKS2=$IMG/luks2.img    # cryptsetup luksFormat, filled with REF through luksfs
CMDS=$RES/commands.txt
: >"$CMDS"
declare -A CMD_SEEN=()
# Records a command template once (paths shown relative to the work dir).
record() {
  local line="$*"
  line=${line//$WORK/\$BENCH_DIR}
  line=${line//$REPO/.}
  [ -n "${CMD_SEEN[$line]:-}" ] && return 0
  CMD_SEEN[$line]=1
  printf '%s\n' "$line" >>"$CMDS"
}
# Runs a command, recording it first.
rec() { record "$@"; "$@"; }

# ---------------------------------------------------------------- cleanup
declare -A LIVE_PIDS=()   # pid -> what, for processes this script started
MOUNTED=()                # mountpoints this script mounted
alive() {  # alive PID: running and not a zombie
  [ -r "/proc/$1/status" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}
wait_gone() {  # wait_gone PID SECONDS
  local end=$((SECONDS + $2))
  while alive "$1"; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.1
  done
  return 0
}
is_mounted() { grep -q " $1 fuse" /proc/mounts; }
cleanup() {
  local rc=$?
  set +e
  for m in "${MOUNTED[@]}"; do
    is_mounted "$m" || continue
    log "cleanup: unmounting $m"
    case ${m##*/} in
      luksfs*) timeout 20 "$BIN/luksfs" umount "$m" 2>/dev/null ;;
    esac
    is_mounted "$m" && fusermount3 -u "$m" 2>/dev/null
    is_mounted "$m" && fusermount3 -u -z "$m" 2>/dev/null
  done
  for pid in "${!LIVE_PIDS[@]}"; do
    if alive "$pid"; then
      log "cleanup: stopping ${LIVE_PIDS[$pid]} (pid $pid)"
      kill "$pid" 2>/dev/null
      wait_gone "$pid" 10 || kill -9 "$pid" 2>/dev/null
    fi
  done
  for m in "${MOUNTED[@]}"; do is_mounted "$m" && fusermount3 -u -z "$m" 2>/dev/null; done
  if [ "${BENCH_KEEP:-0}" != 1 ] && [ $rc -eq 0 ]; then
    rm -f "$REF" "$PLAIN" "$LUKS1" "$LUKS2" "$IMG"/check*.raw
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- build
if [ -z "${MAKELEVEL:-}" ] && [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  log "building luksfs (make all)"
  make -C "$REPO" -s all
fi
[ -x "$REPO/build/luksfs" ] || die "build/luksfs missing: run make"
# Snapshot the binary so a rebuild during the run does not change what is measured.
cp "$REPO/build/luksfs" "$BIN/luksfs"
LUKSFS_SHA=$(sha256sum "$BIN/luksfs" | cut -c1-16)
LUKSFS_MTIME=$(date -r "$REPO/build/luksfs" '+%Y-%m-%d %H:%M:%S')
log "building passthrough and crypto_bench"
CXXF=(-O2 -g -std=c++20 -Wall -Wextra -pthread -D_FILE_OFFSET_BITS=64)
# shellcheck disable=SC2046
g++ "${CXXF[@]}" -DFUSE_USE_VERSION=314 $(pkg-config --cflags fuse3) \
  "$SRC/passthrough.cc" -o "$BIN/passthrough" $(pkg-config --libs fuse3)
record "g++ ${CXXF[*]} -DFUSE_USE_VERSION=314 \$(pkg-config --cflags fuse3) contrib/bench/passthrough.cc -o passthrough \$(pkg-config --libs fuse3)"
(cd "$REPO" && g++ "${CXXF[@]}" -I. "$SRC/crypto_bench.cc" build/libcrypto.a build/libcommon.a \
   -lssl -lcrypto -lsodium -largon2 -o "$BIN/crypto_bench")
record "g++ ${CXXF[*]} -I. contrib/bench/crypto_bench.cc build/libcrypto.a build/libcommon.a -lssl -lcrypto -lsodium -largon2 -o crypto_bench"

# ---------------------------------------------------------------- machine
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
  echo "cores: $(nproc) online ($(lscpu 2>/dev/null | sed -n 's/^Thread(s) per core:[[:space:]]*//p') thread(s) per core)"
  echo "memory: $(free -g | awk '/^Mem:/{print $2}') GiB"
  echo "kernel: $(uname -r)"
  echo "os: $(. /etc/os-release && echo "$PRETTY_NAME")"
  echo "libfuse: $(pkg-config --modversion fuse3) (fuse3 package $(dpkg-query -W -f='${Version}' fuse3))"
  echo "openssl: $(openssl version)"
  echo "qemu: $(qemu-storage-daemon --version | head -1)"
  echo "nbdkit: $(nbdkit --version); $(nbdfuse --version | head -1)"
  echo "fio: $(fio --version)"
  echo "cryptsetup: $(cryptsetup --version)"
  echo "luksfs: $("$BIN/luksfs" --version 2>&1 | head -1), binary sha256 $LUKSFS_SHA..., built $LUKSFS_MTIME"
  echo "git: $(cd "$REPO" && { git rev-parse --short HEAD 2>/dev/null || echo 'no commit'; }) ($(cd "$REPO" && git status --porcelain 2>/dev/null | wc -l) changed files)"
  echo "disk: $(df -h --output=source,fstype "$WORK" | tail -1 | tr -s ' ')"
  echo "settings: size=$SIZE_SPEC runtime=${RUNTIME}s ramp=${RAMP}s rounds=$ROUNDS quick=$QUICK configs=${CONFIGS[*]} luksfs_opts='${LUKSFS_OPTS[*]}' ceiling_opts='${CEILING_OPTS[*]}'"
  echo "load_start: $LOAD_START"
} >"$RES/machine.txt"

# ---------------------------------------------------------------- crypto micro-bench
if [ "${BENCH_SKIP_CRYPTO:-0}" != 1 ]; then
  log "crypto micro-benchmark"
  record "crypto_bench --seconds $CRYPTO_SECONDS --threads $(nproc)"
  if ! "$BIN/crypto_bench" --seconds "$CRYPTO_SECONDS" --threads "$(nproc)" >"$RES/crypto.md" 2>"$RES/crypto.err"; then
    log "crypto_bench FAILED: $(cat "$RES/crypto.err")"
    echo "**crypto_bench failed:** $(cat "$RES/crypto.err")" >>"$RES/crypto.md"
  fi
fi

# ---------------------------------------------------------------- unlock (KDF) bench
if [ "${BENCH_SKIP_KDF:-0}" != 1 ]; then
  log "unlock benchmark (contrib/bench/kdf.sh)"
  record "BENCH_DIR=\$BENCH_DIR contrib/bench/kdf.sh"
  if ! BENCH_NO_BUILD=1 BENCH_DIR="$WORK" "$SRC/kdf.sh" >"$RES/kdf.md" 2>"$RES/kdf.err"; then
    log "kdf.sh FAILED: $(tail -3 "$RES/kdf.err")"
    echo "**kdf.sh failed:** $(tail -3 "$RES/kdf.err")" >>"$RES/kdf.md"
  fi
fi

# ---------------------------------------------------------------- images
log "making images ($SIZE_SPEC plaintext each) in $IMG"
printf 'luksfs-bench-passphrase' >"$PW"
chmod 600 "$PW"
rm -f "$REF" "$PLAIN" "$LUKS1" "$LUKS2"
# Random plaintext (AES-CTR keystream: fast, incompressible).
record "openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:luksfs-bench -in /dev/zero | head -c $SIZE > ref.raw"
openssl enc -aes-128-ctr -nosalt -pbkdf2 -pass pass:luksfs-bench -in /dev/zero 2>/dev/null \
  | head -c "$SIZE" >"$REF" || true
[ "$(stat -c %s "$REF")" -eq "$SIZE" ] || die "could not make $REF"
cp "$REF" "$PLAIN"
QEMU_SECRET=(--object "secret,id=sec0,file=$PW")
# qemu's PBKDF2 calibration sometimes fails on a busy machine ("Unable to
# get accurate CPU usage"); retry a few times.
for try in 1 2 3 4; do
  rec qemu-img convert "${QEMU_SECRET[@]}" -O luks \
    -o key-secret=sec0,cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64,hash-alg=sha256 \
    "$REF" "$LUKS1" && break
  rm -f "$LUKS1"
  [ "$try" -lt 4 ] || die "qemu-img convert failed"
  log "qemu-img convert failed; retrying"
  sleep 2
done
truncate -s $((SIZE + 16 * 1048576)) "$LUKS2"
rec cryptsetup luksFormat --batch-mode --type luks2 --sector-size 4096 \
  --cipher aes-xts-plain64 --key-size 512 --pbkdf argon2id --pbkdf-force-iterations 4 \
  --pbkdf-memory 1048576 --pbkdf-parallel 2 --key-file "$PW" "$LUKS2"

json_field() {  # json_field IMAGE PYEXPR  (over `luksfs info --json`)
  "$BIN/luksfs" info --json "$1" | python3 -c "import json,sys; j=json.load(sys.stdin); print($2)"
}
L1_OFFSET=$(json_field "$LUKS1" 'j["data_offset"]')
L1_VIEW=$(json_field "$LUKS1" 'j["view_size"]')
L1_KDF=$(json_field "$LUKS1" '"pbkdf2-%s, %d iterations" % (j["keyslots"][0]["kdf"]["hash"], j["keyslots"][0]["kdf"]["iterations"])')
L2_OFFSET=$(json_field "$LUKS2" 'j["data_offset"]')
L2_VIEW=$(json_field "$LUKS2" 'j["view_size"]')
L2_KDF=$(json_field "$LUKS2" '"%s, time %d, memory %d KiB, %d threads" % (j["keyslots"][0]["kdf"]["type"], j["keyslots"][0]["kdf"]["time"], j["keyslots"][0]["kdf"]["memory"], j["keyslots"][0]["kdf"]["cpus"])')
[ "$L1_VIEW" -eq "$SIZE" ] && [ "$L2_VIEW" -eq "$SIZE" ] \
  || die "unexpected view sizes: LUKS1 $L1_VIEW, LUKS2 $L2_VIEW, want $SIZE"
{
  echo "luks1_image: qemu-img convert -O luks, aes-xts-plain64, 512-byte sectors, data offset $L1_OFFSET, keyslot $L1_KDF"
  echo "luks2_image: cryptsetup luksFormat --type luks2, aes-xts-plain64, 4096-byte sectors, data offset $L2_OFFSET, keyslot $L2_KDF"
} >>"$RES/machine.txt"

volume_key() {  # the LUKS volume key, hex (for the independent check only)
  cryptsetup luksDump --dump-volume-key --batch-mode --key-file "$PW" "$1" \
    | awk '/MK dump:/{f=1; sub(/.*MK dump:/,"")} f && /^[ \t]*([0-9a-f][0-9a-f] )+/{print} !/MK dump|^[ \t]/{f=0}' \
    | tr -d ' \t\n'
}

# ---------------------------------------------------------------- configurations
# mount_CONFIG sets TARGET (the file fio uses), PIDS (daemon pids, for RSS),
# MOUNT_SECS; umount_CONFIG undoes it. Each mount waits until serving.
TARGET= PIDS=() MOUNT_SECS=
now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print('%.2f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
wait_file() {  # wait_file FILE SECONDS: until FILE is non-empty
  local end=$((SECONDS + $2))
  until [ -s "$1" ]; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.02
  done
}
luksfs_pid() {
  "$BIN/luksfs" pid "$1"
}

mount_luksfs_image() {  # mount_luksfs_image IMAGE DIR [extra options]
  local image=$1 dir=$2; shift 2
  mkdir -p "$dir"
  MOUNTED+=("$dir")
  local t0; t0=$(now)
  rec "$BIN/luksfs" mount --key-file "$PW" "${LUKSFS_OPTS[@]}" "$@" "$image" "$dir" >>"$RUN/luksfs.log" 2>&1 \
    || die "luksfs mount of $image failed: $(tail -3 "$RUN/luksfs.log")"
  MOUNT_SECS=$(elapsed "$t0" "$(now)")
  PIDS=("$(luksfs_pid "$dir")")
  TARGET=$dir/disk.raw
}
umount_luksfs_dir() {
  rec "$BIN/luksfs" umount "$1" >>"$RUN/luksfs.log" 2>&1 || {
    log "luksfs umount $1 failed; using fusermount3 -u"
    fusermount3 -u "$1" || true
  }
  for p in "${PIDS[@]}"; do wait_gone "$p" 30 || log "WARNING: luksfs pid $p still running after umount"; done
}
mount_luksfs()     { mount_luksfs_image "$LUKS1" "$MNT/luksfs"; }
umount_luksfs()    { umount_luksfs_dir "$MNT/luksfs"; }
mount_luksfs2()    { mount_luksfs_image "$LUKS2" "$MNT/luksfs2"; }
umount_luksfs2()   { umount_luksfs_dir "$MNT/luksfs2"; }
mount_luksfs-dio() { mount_luksfs_image "$LUKS1" "$MNT/luksfs-dio" --direct-io; }
umount_luksfs-dio() { umount_luksfs_dir "$MNT/luksfs-dio"; }

mount_qsd() {
  local f=$MNT/qsd.raw
  rm -f "$RUN/qsd.pid"
  touch "$f"   # the FUSE export mounts over an existing regular file
  MOUNTED+=("$f")
  local t0; t0=$(now)
  rec qemu-storage-daemon --daemonize --pidfile "$RUN/qsd.pid" "${QEMU_SECRET[@]}" \
    --blockdev "driver=file,node-name=file0,filename=$LUKS1" \
    --blockdev "driver=luks,node-name=luks0,key-secret=sec0,file=file0" \
    --export "type=fuse,id=exp0,node-name=luks0,mountpoint=$f,writable=on" \
    >>"$RUN/qsd.log" 2>&1 || die "qemu-storage-daemon failed: $(tail -3 "$RUN/qsd.log")"
  MOUNT_SECS=$(elapsed "$t0" "$(now)")
  wait_file "$RUN/qsd.pid" 10 || die "qemu-storage-daemon wrote no pidfile"
  PIDS=("$(cat "$RUN/qsd.pid")")
  LIVE_PIDS[${PIDS[0]}]=qemu-storage-daemon
  TARGET=$f
}
umount_qsd() {
  # SIGTERM first: after an external fusermount3 -u, qsd 7.2 keeps spinning.
  # On SIGTERM it exits but may leave the FUSE mount behind, hence the -u.
  record kill QSD_PID "&&" fusermount3 -u "$MNT/qsd.raw"
  kill "${PIDS[0]}" 2>/dev/null || true
  wait_gone "${PIDS[0]}" 30 || { log "qsd did not exit on SIGTERM; SIGKILL"; kill -9 "${PIDS[0]}" || true; }
  unset "LIVE_PIDS[${PIDS[0]}]"
  if is_mounted "$MNT/qsd.raw"; then fusermount3 -u "$MNT/qsd.raw" || fusermount3 -u -z "$MNT/qsd.raw" || true; fi
}

mount_nbdfuse() {
  local d=$MNT/nbdfuse sock=$RUN/nbdkit.sock
  mkdir -p "$d"
  MOUNTED+=("$d")
  rm -f "$RUN/nbdkit.pid" "$RUN/nbdfuse.pid" "$sock"
  local t0; t0=$(now)
  # nbdkit forks into the background once listening; the luks filter unlocks
  # the keyslot for every NBD connection (nbdfuse opens several: multi-conn).
  rec nbdkit -U "$sock" -P "$RUN/nbdkit.pid" --filter=luks file "$LUKS1" "passphrase=+$PW" \
    </dev/null >>"$RUN/nbdkit.log" 2>&1 || die "nbdkit failed: $(tail -3 "$RUN/nbdkit.log")"
  wait_file "$RUN/nbdkit.pid" 30 || die "nbdkit wrote no pidfile"
  LIVE_PIDS[$(cat "$RUN/nbdkit.pid")]=nbdkit
  record nbdfuse -P "$RUN/nbdfuse.pid" "$d/disk.raw" --unix "$sock" "&"
  nbdfuse -P "$RUN/nbdfuse.pid" "$d/disk.raw" --unix "$sock" </dev/null >>"$RUN/nbdfuse.log" 2>&1 &
  local fpid=$!
  LIVE_PIDS[$fpid]=nbdfuse
  local end=$((SECONDS + 300))
  until [ -s "$RUN/nbdfuse.pid" ]; do
    alive "$fpid" || die "nbdfuse exited: $(tail -3 "$RUN/nbdfuse.log")"
    [ $SECONDS -ge $end ] && die "nbdfuse not serving after 300 s"
    sleep 0.02
  done
  MOUNT_SECS=$(elapsed "$t0" "$(now)")
  PIDS=("$(cat "$RUN/nbdkit.pid")" "$fpid")
  TARGET=$d/disk.raw
}
umount_nbdfuse() {
  record fusermount3 -u "$MNT/nbdfuse" "&&" kill NBDKIT_PID
  fusermount3 -u "$MNT/nbdfuse" || true
  wait "${PIDS[1]}" 2>/dev/null || true
  unset "LIVE_PIDS[${PIDS[1]}]"
  kill "${PIDS[0]}" 2>/dev/null || true
  wait_gone "${PIDS[0]}" 30 || kill -9 "${PIDS[0]}" || true
  unset "LIVE_PIDS[${PIDS[0]}]"
}

mount_ceiling() {
  local d=$MNT/ceiling
  mkdir -p "$d"
  MOUNTED+=("$d")
  rm -f "$RUN/passthrough.pid"
  local t0; t0=$(now)
  record passthrough "${CEILING_OPTS[@]}" --pidfile "$RUN/passthrough.pid" "$PLAIN" "$d" "&"
  "$BIN/passthrough" "${CEILING_OPTS[@]}" --pidfile "$RUN/passthrough.pid" "$PLAIN" "$d" \
    </dev/null >>"$RUN/passthrough.log" 2>&1 &
  local pid=$!
  LIVE_PIDS[$pid]=passthrough
  wait_file "$RUN/passthrough.pid" 30 || die "passthrough did not start: $(tail -3 "$RUN/passthrough.log")"
  MOUNT_SECS=$(elapsed "$t0" "$(now)")
  PIDS=("$pid")
  TARGET=$d/disk.raw
}
umount_ceiling() {
  record fusermount3 -u "$MNT/ceiling"
  fusermount3 -u "$MNT/ceiling" || true
  wait "${PIDS[0]}" 2>/dev/null || true
  unset "LIVE_PIDS[${PIDS[0]}]"
}

mount_raw()  { PIDS=(); MOUNT_SECS=; TARGET=$PLAIN; }
umount_raw() { :; }

backing_of() {  # the file a configuration's daemon reads
  case $1 in
    luksfs|luksfs-dio|qsd|nbdfuse) echo "$LUKS1" ;;
    luksfs2) echo "$LUKS2" ;;
    *) echo "$PLAIN" ;;
  esac
}

# ---------------------------------------------------------------- fio jobs
FIO_COMMON=(--ioengine=libaio --fallocate=none --randrepeat=0 --norandommap
            --group_reporting --output-format=json)
TIMED=(--time_based "--runtime=$RUNTIME" "--ramp_time=$RAMP")
job_args() {
  case $1 in
    seqread-dio)     echo "--rw=read --bs=1M --direct=1 --iodepth=1 ${TIMED[*]}" ;;
    # One pass over the whole view after dropping its page cache: a timed
    # loop would re-read the view from the page cache after the first pass.
    seqread-buf)     echo "--rw=read --bs=1M --direct=0 --iodepth=1 --invalidate=1 --runtime=$((RUNTIME * 6))" ;;
    seqwrite-dio)    echo "--rw=write --bs=1M --direct=1 --iodepth=1 ${TIMED[*]}" ;;
    seqwrite-buf)    echo "--rw=write --bs=1M --direct=0 --iodepth=1 ${TIMED[*]}" ;;
    randread-qd1)    echo "--rw=randread --bs=4k --direct=1 --iodepth=1 ${TIMED[*]}" ;;
    randread-qd32)   echo "--rw=randread --bs=4k --direct=1 --iodepth=32 ${TIMED[*]}" ;;
    randread-4jobs)  echo "--rw=randread --bs=4k --direct=1 --iodepth=1 --numjobs=4 ${TIMED[*]}" ;;
    randwrite-qd1)   echo "--rw=randwrite --bs=4k --direct=1 --iodepth=1 ${TIMED[*]}" ;;
    randwrite-qd32)  echo "--rw=randwrite --bs=4k --direct=1 --iodepth=32 ${TIMED[*]}" ;;
    randwrite-4jobs) echo "--rw=randwrite --bs=4k --direct=1 --iodepth=1 --numjobs=4 ${TIMED[*]}" ;;
    *) die "unknown job $1" ;;
  esac
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

run_job() {  # run_job CONFIG JOB OUTDIR
  local cfg=$1 job=$2 out=$3
  local -a args
  read -r -a args <<<"$(job_args "$job")"
  sync
  if [ "$job" = seqread-buf ]; then
    # Drop every cache, then re-read the daemon's backing file so that the
    # daemon, not the disk, is measured (raw: its own cache is dropped by
    # fio's invalidate, so raw measures the disk).
    drop_caches
    record "sync; echo 3 > /proc/sys/vm/drop_caches; cat BACKING_FILE > /dev/null   # before seqread-buf; not for raw"
    [ "$cfg" = raw ] || cat "$(backing_of "$cfg")" >/dev/null
  fi
  local size; size=$(stat -L -c %s "$TARGET")
  record fio "--name=$job" "--filename=\$TARGET" "--size=$size" "${FIO_COMMON[@]}" "${args[@]}"
  local limit=$((RAMP + RUNTIME * 6 + 120))
  local rc=0
  timeout -k 20 "$limit" fio "--name=$job" "--filename=$TARGET" "--size=$size" \
    "${FIO_COMMON[@]}" "${args[@]}" "--output=$out/$job.json" 2>"$out/$job.err" || rc=$?
  if [ $rc -ne 0 ]; then
    log "fio $job on $cfg FAILED (exit $rc): $(head -c 300 "$out/$job.err")"
    [ $rc -eq 124 ] && echo "timeout after ${limit}s" >>"$out/$job.err"
    echo "$rc" >"$out/$job.failed"
  fi
}

peak_rss() {  # VmHWM and VmRSS (KiB) summed over PIDS
  local hwm=0 rss=0 p v
  record "grep -E 'VmHWM|VmRSS' /proc/DAEMON_PID/status   # after the jobs, before unmounting"
  for p in "${PIDS[@]}"; do
    v=$(awk '/^VmHWM:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0); hwm=$((hwm + ${v:-0}))
    v=$(awk '/^VmRSS:/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0); rss=$((rss + ${v:-0}))
  done
  echo "$hwm $rss"
}

# ---------------------------------------------------------------- correctness, before timing
verify_view() {  # the whole view must equal REF (nothing was written yet)
  if cmp -s "$TARGET" "$REF"; then
    log "  $1: view decrypts correctly (whole ${SIZE_SPEC} == reference)"
    echo "$1: whole view equals the reference plaintext" >>"$RES/verify.txt"
  else
    cmp "$TARGET" "$REF" 2>&1 | head -1 >>"$RES/verify.txt" || true
    die "$1: the view differs from the reference plaintext: $(cmp "$TARGET" "$REF" 2>&1 | head -1)"
  fi
}
log "filling the LUKS2 image with the reference plaintext through luksfs"
mount_luksfs2
record dd "if=$REF" "of=$TARGET" bs=1M oflag=direct conv=notrunc,nocreat,fsync
dd if="$REF" of="$TARGET" bs=1M oflag=direct conv=notrunc,nocreat,fsync status=none \
  || die "writing the LUKS2 image through luksfs failed"
umount_luksfs2
log "checking the LUKS2 ciphertext with an independent decryption (python3-cryptography)"
record "LUKS_VOLUME_KEY=\$(cryptsetup luksDump --dump-volume-key ...) contrib/bench/luks_decrypt.py luks2.img $L2_OFFSET 4096 $SIZE --compare ref.raw"
LUKS_VOLUME_KEY=$(volume_key "$LUKS2") python3 "$SRC/luks_decrypt.py" "$LUKS2" "$L2_OFFSET" 4096 "$SIZE" --compare "$REF" \
  || die "LUKS2 payload written by luksfs does not decrypt to the reference"
echo "luksfs2: data written through luksfs decrypts (python3-cryptography) to the reference" >>"$RES/verify.txt"
log "checking the LUKS1 image with qemu-img (first MiB)"
record qemu-img convert "${QEMU_SECRET[@]}" --image-opts "driver=luks,key-secret=sec0,file.filename=luks1.img" -O raw check1.raw
qemu-img convert "${QEMU_SECRET[@]}" --image-opts "driver=luks,key-secret=sec0,file.filename=$LUKS1" -O raw "$IMG/check1.raw"
cmp -n 1048576 "$IMG/check1.raw" "$REF" || die "qemu-img's decryption of the LUKS1 image differs from the reference"
rm -f "$IMG/check1.raw"
for cfg in "${CONFIGS[@]}"; do
  case $cfg in raw|ceiling) continue ;; esac
  "mount_$cfg"
  verify_view "$cfg"
  "umount_$cfg"
done

# ---------------------------------------------------------------- timed rounds
LOAD_MAX=0
for round in $(seq 1 "$ROUNDS"); do
  for cfg in "${CONFIGS[@]}"; do
    out=$RES/r$round/$cfg
    mkdir -p "$out"
    log "round $round/$ROUNDS: $cfg"
    "mount_$cfg"
    echo "${MOUNT_SECS}" >"$out/mount_secs"
    for job in "${JOB_NAMES[@]}"; do
      l=$(cut -d' ' -f1 /proc/loadavg)
      LOAD_MAX=$(python3 -c "print(max($LOAD_MAX, $l))")
      run_job "$cfg" "$job" "$out"
    done
    if [ ${#PIDS[@]} -gt 0 ]; then peak_rss >"$out/rss_kib"; fi
    "umount_$cfg"
  done
done

# ---------------------------------------------------------------- final consistency
# Every writer (luksfs, qsd, nbdkit) left ciphertext in the LUKS images;
# luksfs's view must equal what independent implementations decrypt.
final_check() {
  log "final consistency check of the images after all writes"
  local want got
  mount_luksfs_image "$LUKS1" "$MNT/luksfs"
  got=$(sha256sum <"$TARGET" | cut -d' ' -f1)
  umount_luksfs_dir "$MNT/luksfs"
  qemu-img convert "${QEMU_SECRET[@]}" --image-opts "driver=luks,key-secret=sec0,file.filename=$LUKS1" -O raw "$IMG/check1.raw"
  want=$(sha256sum <"$IMG/check1.raw" | cut -d' ' -f1)
  rm -f "$IMG/check1.raw"
  if [ "$got" = "$want" ]; then
    echo "after the run: LUKS1 view through luksfs == qemu-img's decryption (sha256 ${want:0:16}...)" >>"$RES/verify.txt"
  else
    echo "**MISMATCH** after the run: LUKS1 view through luksfs (sha256 $got) != qemu-img's decryption ($want)" >>"$RES/verify.txt"
    log "LUKS1 MISMATCH after the run"
  fi
  mount_luksfs_image "$LUKS2" "$MNT/luksfs2"
  got=$(sha256sum <"$TARGET" | cut -d' ' -f1)
  umount_luksfs_dir "$MNT/luksfs2"
  want=$(LUKS_VOLUME_KEY=$(volume_key "$LUKS2") python3 "$SRC/luks_decrypt.py" "$LUKS2" "$L2_OFFSET" 4096 "$SIZE" --sha256)
  if [ "$got" = "$want" ]; then
    echo "after the run: LUKS2 view through luksfs == python3-cryptography's decryption (sha256 ${want:0:16}...)" >>"$RES/verify.txt"
  else
    echo "**MISMATCH** after the run: LUKS2 view through luksfs (sha256 $got) != python3-cryptography's decryption ($want)" >>"$RES/verify.txt"
    log "LUKS2 MISMATCH after the run"
  fi
}
final_check

echo "load_max_1min: $LOAD_MAX (1-minute load average, sampled before each job)" >>"$RES/machine.txt"
echo "load_end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$RES/machine.txt"
echo "duration: $(( (SECONDS - T0) / 60 )) min $(( (SECONDS - T0) % 60 )) s" >>"$RES/machine.txt"

# ---------------------------------------------------------------- report
python3 "$SRC/report.py" "$RES" "${CONFIGS[*]}" "${JOB_NAMES[*]}" >"$RESULTS.tmp"
mv "$RESULTS.tmp" "$RESULTS"
log "done in $(( (SECONDS - T0) / 60 )) min; results in $RESULTS (raw fio JSON under $RES)"
cat "$RESULTS"
exit 0
}
