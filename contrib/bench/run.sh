#!/usr/bin/env bash
# luksfs benchmark harness: `make bench` (or run directly, as root).
#
# Measures, interleaved in one run: luksfs (LUKS1 and LUKS2 images, LUKS1
# over FUSE-io_uring, qcow2+LUKS), qemu-storage-daemon's FUSE export (LUKS1
# and qcow2+LUKS), nbdkit --filter=luks under nbdfuse (LUKS1), a plain FUSE
# passthrough of the same bytes (the ceiling: without and with clone_fd, and
# over io_uring) and the raw backing file, with fio; allocating writes on a
# fresh qcow2+LUKS image; `cp --sparse=always` of a large sparse qcow2+LUKS
# view; plus a crypto micro-benchmark. Writes contrib/bench/RESULTS.md. See
# contrib/bench/README.md.
#
# Environment (all optional):
#   BENCH_QUICK=1        256 MiB images, 5 s jobs, 1 s ramp, 1 round: ~20 min
#   BENCH_DIR            work dir (default /var/tmp/luksfs-bench); images,
#                        mounts, raw fio JSON and logs live there
#   BENCH_SIZE           plaintext size of each image (default 1G; quick 256M)
#   BENCH_RUNTIME        seconds per timed fio job (default 10; quick 5)
#   BENCH_RAMP           fio ramp seconds (default 2; quick 1)
#   BENCH_ROUNDS         rounds over all configurations (default 2; quick 1)
#   BENCH_CONFIGS        subset/order of: luksfs luksfs-uring qsd nbdfuse
#                        ceiling ceiling-clone ceiling-uring raw luksfs2
#                        luksfs-qcow2 luksfs-qcow2-uring qsd-qcow2
#                        luksfs-qcow2new qsd-qcow2new luksfs-luks1new
#                        luksfs-sparse
#                        (also available: luksfs-dio = luksfs --direct-io)
#   BENCH_SPARSE_SIZE    virtual size of the sparse qcow2 view (default 100G;
#                        quick 20G)
#   BENCH_SPARSE_ALLOC   bytes allocated in it (default 1G; quick 128M)
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
  SPARSE_SIZE_SPEC=${BENCH_SPARSE_SIZE:-20G}
  SPARSE_ALLOC_SPEC=${BENCH_SPARSE_ALLOC:-128M}
else
  SIZE_SPEC=${BENCH_SIZE:-1G}
  RUNTIME=${BENCH_RUNTIME:-10}
  RAMP=${BENCH_RAMP:-2}
  CRYPTO_SECONDS=0.5
  DEFAULT_ROUNDS=2
  SPARSE_SIZE_SPEC=${BENCH_SPARSE_SIZE:-100G}
  SPARSE_ALLOC_SPEC=${BENCH_SPARSE_ALLOC:-1G}
fi
WORK=${BENCH_DIR:-/var/tmp/luksfs-bench}
ROUNDS=${BENCH_ROUNDS:-$DEFAULT_ROUNDS}
CONFIGS=(${BENCH_CONFIGS:-luksfs luksfs-uring qsd nbdfuse ceiling ceiling-clone ceiling-uring raw luksfs2 luksfs-qcow2 luksfs-qcow2-uring qsd-qcow2 luksfs-qcow2new qsd-qcow2new luksfs-luks1new luksfs-sparse})
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
           randread-qd1 randread-qd1-pin randread-qd32 randread-4jobs randread-4x32
           randwrite-qd1 randwrite-qd32 randwrite-4jobs seqwrite-alloc cp-sparse)
[ -n "${BENCH_JOBS:-}" ] && JOB_NAMES=(${BENCH_JOBS})
# The jobs a configuration runs: a fresh (empty) qcow2 or LUKS1 image is
# only interesting for the allocating write, the sparse view for the copy.
config_jobs() {
  local j
  for j in "${JOB_NAMES[@]}"; do
    case $1:$j in
      *new:seqwrite-alloc|luksfs-sparse:cp-sparse) echo "$j" ;;
      *new:*|luksfs-sparse:*|*:cp-sparse) ;;
      *) echo "$j" ;;
    esac
  done
}

T0=$SECONDS
log() { printf '[bench %s +%ds] %s\n' "$(date +%H:%M:%S)" $((SECONDS - T0)) "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (FUSE mounts of other daemons, drop_caches, apt)"
SIZE=$(numfmt --from=iec "$SIZE_SPEC") || die "bad BENCH_SIZE $SIZE_SPEC"
[ $((SIZE % 1048576)) -eq 0 ] || die "BENCH_SIZE must be a multiple of 1 MiB"
SPARSE_SIZE=$(numfmt --from=iec "$SPARSE_SIZE_SPEC") || die "bad BENCH_SPARSE_SIZE $SPARSE_SIZE_SPEC"
SPARSE_ALLOC=$(numfmt --from=iec "$SPARSE_ALLOC_SPEC") || die "bad BENCH_SPARSE_ALLOC $SPARSE_ALLOC_SPEC"
[ $((SPARSE_ALLOC % (16 * 1048576))) -eq 0 ] && [ "$SPARSE_ALLOC" -le $((SPARSE_SIZE / 2)) ] \
  || die "BENCH_SPARSE_ALLOC must be a multiple of 16 MiB and at most half of BENCH_SPARSE_SIZE"
has_config() { local c; for c in "${CONFIGS[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }

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
QCOW2=$IMG/qcow2.img    # qemu-img convert -O qcow2 -o encrypt.format=luks of REF
QCOW2NEW=$IMG/qcow2new.img          # empty qcow2+LUKS, made afresh for each mount (luksfs)
QCOW2NEW_QSD=$IMG/qcow2new-qsd.img  # the same for qemu-storage-daemon
LUKS1NEW=$IMG/luks1new.img          # empty raw LUKS1 (sparse file), made afresh for each mount
SPARSE=$IMG/sparse.qcow2            # SPARSE_SIZE view, SPARSE_ALLOC allocated
SPARSE_REF=$IMG/sparse-ref.raw      # qemu-img convert of SPARSE (a sparse file)
SPARSE_COPY=$IMG/sparse-copy.raw    # cp --sparse=always of the luksfs view
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
  if [ -n "$URING_SAVED" ]; then
    log "cleanup: restoring fuse.enable_uring=$URING_SAVED"
    echo "$URING_SAVED" >"$URING_PARAM" 2>/dev/null || log "WARNING: could not restore $URING_PARAM"
  fi
  rm -f "$SPARSE_COPY"
  if [ "${BENCH_KEEP:-0}" != 1 ] && [ $rc -eq 0 ]; then
    rm -f "$REF" "$PLAIN" "$LUKS1" "$LUKS2" "$IMG"/check*.raw
    rm -f "$QCOW2" "$QCOW2NEW" "$QCOW2NEW_QSD" "$LUKS1NEW" "$SPARSE" "$SPARSE_REF"
  fi
  exit $rc
}
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_SAVED=   # the parameter's value before this run, once we changed it
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# FUSE over io_uring: the kernel parameter is switched on for the whole run
# (a ring daemon needs it at every COMMIT_AND_FETCH, not only at mount) and
# put back by cleanup. While it is on, every other luksfs configuration
# mounts with --io-uring=off, so that they stay on /dev/fuse.
if has_config luksfs-uring || has_config ceiling-uring || has_config luksfs-qcow2-uring; then
  if [ -w "$URING_PARAM" ]; then
    cur=$(cat "$URING_PARAM")
    if [ "$cur" != Y ]; then
      URING_SAVED=$cur
      echo Y >"$URING_PARAM" || die "cannot set $URING_PARAM"
      log "set fuse.enable_uring=Y for the run (was $cur; restored at exit)"
    fi
  else
    log "this kernel has no fuse.enable_uring: dropping the *-uring configurations"
    kept=()
    for c in "${CONFIGS[@]}"; do case $c in *-uring) ;; *) kept+=("$c") ;; esac; done
    CONFIGS=("${kept[@]}")
  fi
fi

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
# The same passthrough speaking FUSE-over-io_uring through luksfs's ring
# transport (fs/fuse/uring_transport.cc, from build/libfs.a).
# shellcheck disable=SC2046
(cd "$REPO" && g++ "${CXXF[@]}" -DFUSE_USE_VERSION=314 -DPASSTHROUGH_URING -I. $(pkg-config --cflags fuse3) \
   "$SRC/passthrough.cc" build/libfs.a build/libcommon.a -o "$BIN/passthrough-uring" $(pkg-config --libs fuse3 liburing))
record "g++ ${CXXF[*]} -DFUSE_USE_VERSION=314 -DPASSTHROUGH_URING -I. \$(pkg-config --cflags fuse3) contrib/bench/passthrough.cc build/libfs.a build/libcommon.a -o passthrough-uring \$(pkg-config --libs fuse3 liburing)"
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
  echo "fuse.enable_uring: $(cat "$URING_PARAM" 2>/dev/null || echo absent) (before the run: ${URING_SAVED:-unchanged})"
  echo "settings: sparse_size=$SPARSE_SIZE_SPEC sparse_alloc=$SPARSE_ALLOC_SPEC size=$SIZE_SPEC runtime=${RUNTIME}s ramp=${RAMP}s rounds=$ROUNDS quick=$QUICK configs=${CONFIGS[*]} luksfs_opts='${LUKSFS_OPTS[*]}' ceiling_opts='${CEILING_OPTS[*]}'"
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
# get accurate CPU usage"); retry up to 20 times (4 were not enough once).
for try in $(seq 1 20); do
  rec qemu-img convert "${QEMU_SECRET[@]}" -O luks \
    -o key-secret=sec0,cipher-alg=aes-256,cipher-mode=xts,ivgen-alg=plain64,hash-alg=sha256 \
    "$REF" "$LUKS1" && break
  rm -f "$LUKS1"
  [ "$try" -lt 20 ] || die "qemu-img convert failed"
  log "qemu-img convert failed; retrying"
  sleep 2
done
truncate -s $((SIZE + 16 * 1048576)) "$LUKS2"
rec cryptsetup luksFormat --batch-mode --type luks2 --sector-size 4096 \
  --cipher aes-xts-plain64 --key-size 512 --pbkdf argon2id --pbkdf-force-iterations 4 \
  --pbkdf-memory 1048576 --pbkdf-parallel 2 --key-file "$PW" "$LUKS2"

# qcow2+LUKS, as qemu-img makes it (same cipher as the LUKS1 image). The
# encrypted qcow2 is made from the same ref.raw, so every cluster is
# allocated; the fresh images (allocating writes) are made at each mount.
QCOW2_ENC=encrypt.format=luks,encrypt.key-secret=sec0,encrypt.cipher-alg=aes-256,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha256
qcow2_opts() { printf 'driver=qcow2,encrypt.key-secret=sec0,file.filename=%s' "$1"; }
retry_qemu() {  # retry_qemu OUTPUT CMD...: qemu's PBKDF2 calibration can fail when busy
  local out=$1 try; shift
  for try in $(seq 1 20); do
    rec "$@" && return 0
    rm -f "$out"
    [ "$try" -lt 20 ] || die "$1 failed 20 times: $*"
    log "$1 failed; retrying"
    sleep 2
  done
}
make_qcow2_new() {  # make_qcow2_new IMAGE: an empty qcow2+LUKS of the view size
  rm -f "$1"
  retry_qemu "$1" qemu-img create -q -f qcow2 "${QEMU_SECRET[@]}" -o "$QCOW2_ENC" "$1" "$SIZE"
}
if has_config luksfs-qcow2 || has_config luksfs-qcow2-uring || has_config qsd-qcow2; then
  rm -f "$QCOW2"
  retry_qemu "$QCOW2" qemu-img convert "${QEMU_SECRET[@]}" -O qcow2 -o "$QCOW2_ENC" "$REF" "$QCOW2"
  log "checking the qcow2+LUKS image with qemu-img (whole view)"
  record qemu-img convert "${QEMU_SECRET[@]}" --image-opts "$(qcow2_opts qcow2.img)" -O raw check2.raw "&&" cmp check2.raw ref.raw
  qemu-img convert "${QEMU_SECRET[@]}" --image-opts "$(qcow2_opts "$QCOW2")" -O raw "$IMG/check2.raw"
  cmp "$IMG/check2.raw" "$REF" || die "qemu-img's decryption of the qcow2+LUKS image differs from the reference"
  rm -f "$IMG/check2.raw"
  echo "qcow2: qemu-img convert of qcow2.img (made by qemu-img convert -O qcow2 -o encrypt.format=luks of ref.raw) equals the reference" >>"$RES/verify.txt"
  echo "qcow2_image: qemu-img convert -O qcow2 -o $QCOW2_ENC (64 KiB clusters, every cluster allocated)" >>"$RES/machine.txt"
fi
# The raw-LUKS side of the allocating write: what cryptsetup makes for a new
# image (luksFormat of a sparse file), same cipher as the LUKS1 image. Its
# data area is a hole of the file, so the first write of every block
# allocates in the host file system, as a write into a fresh qcow2 does.
make_luks1_new() {
  rm -f "$LUKS1NEW"
  truncate -s $((SIZE + 2 * 1048576)) "$LUKS1NEW"
  rec cryptsetup luksFormat --batch-mode --type luks1 --cipher aes-xts-plain64 --key-size 512 \
    --hash sha256 --pbkdf-force-iterations 1000 --key-file "$PW" "$LUKS1NEW" \
    || die "cryptsetup luksFormat of $LUKS1NEW failed"
}
if has_config luksfs-sparse; then
  # SPARSE_ALLOC bytes in 16 pieces spread over the view, each a different
  # byte pattern, written by qemu-io.
  rm -f "$SPARSE" "$SPARSE_REF"
  retry_qemu "$SPARSE" qemu-img create -q -f qcow2 "${QEMU_SECRET[@]}" -o "$QCOW2_ENC" "$SPARSE" "$SPARSE_SIZE"
  piece=$((SPARSE_ALLOC / 16)) qio_cmds=()
  for i in $(seq 0 15); do
    qio_cmds+=(-c "write -q -P $((i + 1)) $((i * (SPARSE_SIZE / 16) / 65536 * 65536)) $piece")
  done
  rec qemu-io "${QEMU_SECRET[@]}" --image-opts "$(qcow2_opts "$SPARSE")" "${qio_cmds[@]}" >/dev/null \
    || die "qemu-io could not write the sparse image"
  # qemu's own decryption, as a sparse raw file: the oracle of the copies.
  rec qemu-img convert "${QEMU_SECRET[@]}" --image-opts "$(qcow2_opts "$SPARSE")" -O raw "$SPARSE_REF"
  echo "sparse_image: qemu-img create -f qcow2 -o $QCOW2_ENC, $SPARSE_SIZE_SPEC virtual, 16 x $((piece / 1048576)) MiB written by qemu-io (write -P), $SPARSE_ALLOC_SPEC allocated" >>"$RES/machine.txt"
fi

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

# While fuse.enable_uring is on for the run, luksfs would pick io_uring by
# itself (--io-uring=auto): every configuration but luksfs-uring says off.
mount_luksfs_image() {  # mount_luksfs_image IMAGE DIR [extra options]
  local image=$1 dir=$2; shift 2
  case " $* " in *" --io-uring="*) ;; *) set -- --io-uring=off "$@" ;; esac
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
mount_luksfs-uring()  { mount_luksfs_image "$LUKS1" "$MNT/luksfs-uring" --io-uring=on; }
umount_luksfs-uring() { umount_luksfs_dir "$MNT/luksfs-uring"; }
mount_luksfs-qcow2()  { mount_luksfs_image "$QCOW2" "$MNT/luksfs-qcow2"; }
umount_luksfs-qcow2() { umount_luksfs_dir "$MNT/luksfs-qcow2"; }
mount_luksfs-qcow2-uring()  { mount_luksfs_image "$QCOW2" "$MNT/luksfs-qcow2-uring" --io-uring=on; }
umount_luksfs-qcow2-uring() { umount_luksfs_dir "$MNT/luksfs-qcow2-uring"; }
mount_luksfs-luks1new()  { make_luks1_new; mount_luksfs_image "$LUKS1NEW" "$MNT/luksfs-luks1new"; }
umount_luksfs-luks1new() { umount_luksfs_dir "$MNT/luksfs-luks1new"; }
mount_luksfs-qcow2new()  { make_qcow2_new "$QCOW2NEW"; mount_luksfs_image "$QCOW2NEW" "$MNT/luksfs-qcow2new"; }
umount_luksfs-qcow2new() { umount_luksfs_dir "$MNT/luksfs-qcow2new"; }
mount_luksfs-sparse()  { mount_luksfs_image "$SPARSE" "$MNT/luksfs-sparse"; }
umount_luksfs-sparse() { umount_luksfs_dir "$MNT/luksfs-sparse"; }

mount_qsd() { qsd_export qsd.raw "driver=luks,node-name=luks0,key-secret=sec0,file=file0" "$LUKS1"; }
mount_qsd-qcow2() { qsd_export qsd-qcow2.raw "driver=qcow2,node-name=luks0,encrypt.format=luks,encrypt.key-secret=sec0,file=file0" "$QCOW2"; }
mount_qsd-qcow2new() {
  make_qcow2_new "$QCOW2NEW_QSD"
  qsd_export qsd-qcow2new.raw "driver=qcow2,node-name=luks0,encrypt.format=luks,encrypt.key-secret=sec0,file=file0" "$QCOW2NEW_QSD"
}
umount_qsd()         { qsd_stop qsd.raw; }
umount_qsd-qcow2()   { qsd_stop qsd-qcow2.raw; }
umount_qsd-qcow2new() { qsd_stop qsd-qcow2new.raw; }
qsd_export() {  # qsd_export FILE_NAME FORMAT_BLOCKDEV IMAGE
  local f=$MNT/$1
  rm -f "$RUN/qsd.pid"
  touch "$f"   # the FUSE export mounts over an existing regular file
  MOUNTED+=("$f")
  local t0; t0=$(now)
  rec qemu-storage-daemon --daemonize --pidfile "$RUN/qsd.pid" "${QEMU_SECRET[@]}" \
    --blockdev "driver=file,node-name=file0,filename=$3" \
    --blockdev "$2" \
    --export "type=fuse,id=exp0,node-name=luks0,mountpoint=$f,writable=on" \
    >>"$RUN/qsd.log" 2>&1 || die "qemu-storage-daemon failed: $(tail -3 "$RUN/qsd.log")"
  MOUNT_SECS=$(elapsed "$t0" "$(now)")
  wait_file "$RUN/qsd.pid" 10 || die "qemu-storage-daemon wrote no pidfile"
  PIDS=("$(cat "$RUN/qsd.pid")")
  LIVE_PIDS[${PIDS[0]}]=qemu-storage-daemon
  TARGET=$f
}
qsd_stop() {  # qsd_stop FILE_NAME
  # SIGTERM first: after an external fusermount3 -u, qsd 7.2 keeps spinning.
  # On SIGTERM it exits but may leave the FUSE mount behind, hence the -u.
  local f=$MNT/$1
  record kill QSD_PID "&&" fusermount3 -u "$f"
  kill "${PIDS[0]}" 2>/dev/null || true
  wait_gone "${PIDS[0]}" 30 || { log "qsd did not exit on SIGTERM; SIGKILL"; kill -9 "${PIDS[0]}" || true; }
  unset "LIVE_PIDS[${PIDS[0]}]"
  if is_mounted "$f"; then fusermount3 -u "$f" || fusermount3 -u -z "$f" || true; fi
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

# The ceiling variants: libfuse's /dev/fuse loop without clone_fd (ceiling),
# with it (ceiling-clone, as luksfs mounts), and over io_uring through
# luksfs's ring transport (ceiling-uring, clone_fd on as in luksfs).
mount_ceiling()       { ceiling_start ceiling passthrough; }
mount_ceiling-clone() { ceiling_start ceiling-clone passthrough --clone-fd; }
mount_ceiling-uring() { ceiling_start ceiling-uring passthrough-uring --clone-fd --io-uring; }
umount_ceiling()       { ceiling_stop ceiling; }
umount_ceiling-clone() { ceiling_stop ceiling-clone; }
umount_ceiling-uring() {
  ceiling_stop ceiling-uring
  # The passthrough logs, at exit, how many requests the rings carried.
  local t; t=$(grep 'transport' "$RUN/passthrough.log" | tail -1)
  [ -n "$t" ] && echo "ceiling-uring: $t" >>"$RES/transport.txt"
}
ceiling_start() {  # ceiling_start CONFIG BINARY [options]
  local d=$MNT/$1 bin=$2; shift 2
  mkdir -p "$d"
  MOUNTED+=("$d")
  rm -f "$RUN/passthrough.pid"
  local t0; t0=$(now)
  record "$bin" "${CEILING_OPTS[@]}" "$@" --pidfile "$RUN/passthrough.pid" "$PLAIN" "$d" "&"
  "$BIN/$bin" "${CEILING_OPTS[@]}" "$@" --pidfile "$RUN/passthrough.pid" "$PLAIN" "$d" \
    </dev/null >>"$RUN/passthrough.log" 2>&1 &
  local pid=$!
  LIVE_PIDS[$pid]=passthrough
  wait_file "$RUN/passthrough.pid" 30 || die "passthrough did not start: $(tail -3 "$RUN/passthrough.log")"
  MOUNT_SECS=$(elapsed "$t0" "$(now)")
  PIDS=("$pid")
  TARGET=$d/disk.raw
}
ceiling_stop() {
  record fusermount3 -u "$MNT/$1"
  fusermount3 -u "$MNT/$1" || true
  wait "${PIDS[0]}" 2>/dev/null || true
  unset "LIVE_PIDS[${PIDS[0]}]"
}

mount_raw()  { PIDS=(); MOUNT_SECS=; TARGET=$PLAIN; }
umount_raw() { :; }

backing_of() {  # the file a configuration's daemon reads
  case $1 in
    luksfs|luksfs-dio|luksfs-uring|qsd|nbdfuse) echo "$LUKS1" ;;
    luksfs2) echo "$LUKS2" ;;
    luksfs-qcow2|luksfs-qcow2-uring|qsd-qcow2) echo "$QCOW2" ;;
    luksfs-luks1new) echo "$LUKS1NEW" ;;
    luksfs-qcow2new) echo "$QCOW2NEW" ;;
    qsd-qcow2new) echo "$QCOW2NEW_QSD" ;;
    luksfs-sparse) echo "$SPARSE" ;;
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
    # The same with fio held on CPU 0. Over FUSE-io_uring a request goes to
    # the ring of the CPU that issued it; an unpinned qd1 reader is woken on
    # the other (idle) CPU after every reply and migrates each request.
    randread-qd1-pin) echo "--rw=randread --bs=4k --direct=1 --iodepth=1 --cpus_allowed=0 ${TIMED[*]}" ;;
    randread-qd32)   echo "--rw=randread --bs=4k --direct=1 --iodepth=32 ${TIMED[*]}" ;;
    randread-4jobs)  echo "--rw=randread --bs=4k --direct=1 --iodepth=1 --numjobs=4 ${TIMED[*]}" ;;
    # Parallel small reads: what FUSE over io_uring is for.
    randread-4x32)   echo "--rw=randread --bs=4k --direct=1 --iodepth=32 --numjobs=4 ${TIMED[*]}" ;;
    randwrite-qd1)   echo "--rw=randwrite --bs=4k --direct=1 --iodepth=1 ${TIMED[*]}" ;;
    randwrite-qd32)  echo "--rw=randwrite --bs=4k --direct=1 --iodepth=32 ${TIMED[*]}" ;;
    randwrite-4jobs) echo "--rw=randwrite --bs=4k --direct=1 --iodepth=1 --numjobs=4 ${TIMED[*]}" ;;
    # One pass over the view: on a fresh qcow2 image every request allocates
    # (a timed loop would wrap and overwrite what it allocated).
    seqwrite-alloc)  echo "--rw=write --bs=1M --direct=1 --iodepth=1 --runtime=$((RUNTIME * 6))" ;;
    *) die "unknown job $1" ;;
  esac
}

drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

rchar_of() {  # bytes PIDS read through read(2)/pread(2) so far (/proc/PID/io)
  local p v sum=0
  for p in "${PIDS[@]}"; do
    v=$(awk '/^rchar:/{print $2}' "/proc/$p/io" 2>/dev/null || echo 0); sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}
# cp --sparse=always of the whole sparse view, timed; the copy must equal
# qemu's decryption (qemu-img compare: it reads only what is allocated).
# Writes OUT/cp-sparse.json: seconds, sizes, and the bytes the daemon read
# from the image meanwhile (rchar: its preads, plus the FUSE request headers).
run_cp_sparse() {  # run_cp_sparse OUTDIR
  local out=$1 t0 t1 r0 r1 rc=0
  rm -f "$SPARSE_COPY"
  sync
  record "cat sparse.qcow2 > /dev/null; time cp --sparse=always \$TARGET sparse-copy.raw   # rchar of the daemon before/after"
  cat "$SPARSE" >/dev/null
  r0=$(rchar_of); t0=$(now)
  timeout -k 20 $((RUNTIME * 6 + 120)) cp --sparse=always "$TARGET" "$SPARSE_COPY" 2>"$out/cp-sparse.err" || rc=$?
  t1=$(now); r1=$(rchar_of)
  if [ $rc -ne 0 ]; then
    log "cp --sparse=always on the sparse view FAILED (exit $rc): $(head -c 300 "$out/cp-sparse.err")"
    echo "$rc" >"$out/cp-sparse.failed"
    return 0
  fi
  record qemu-img compare -f raw -F raw sparse-copy.raw sparse-ref.raw
  if ! qemu-img compare -q -f raw -F raw "$SPARSE_COPY" "$SPARSE_REF" 2>>"$out/cp-sparse.err"; then
    log "the copy of the sparse view differs from qemu's decryption"
    echo "copy differs from qemu-img's decryption" >>"$out/cp-sparse.err"
    echo 1 >"$out/cp-sparse.failed"
    return 0
  fi
  python3 - "$out/cp-sparse.json" "$t0" "$t1" "$((r1 - r0))" "$SPARSE_SIZE" "$SPARSE_ALLOC" \
    "$(($(stat -c '%b*%B' "$SPARSE_COPY")))" "$(($(stat -L -c '%b*%B' "$TARGET")))" <<'PY'
import json, sys
out, t0, t1, read, view, alloc, copy_alloc, view_blocks = sys.argv[1:]
json.dump({"seconds": float(t1) - float(t0), "daemon_read_bytes": int(read),
           "view_bytes": int(view), "allocated_bytes": int(alloc),
           "copy_allocated_bytes": int(copy_alloc), "view_st_blocks_bytes": int(view_blocks)},
          open(out, "w"))
PY
  rm -f "$SPARSE_COPY"
}

run_job() {  # run_job CONFIG JOB OUTDIR
  local cfg=$1 job=$2 out=$3
  if [ "$job" = cp-sparse ]; then run_cp_sparse "$out"; return 0; fi
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
  if [ "$job" = seqwrite-alloc ]; then
    # Every configuration starts the allocating write from the same memory
    # state: the page cache of earlier runs dropped (else new page-cache
    # pages would first have to be reclaimed), the image itself cached.
    drop_caches
    record "sync; echo 3 > /proc/sys/vm/drop_caches; cat BACKING_FILE > /dev/null   # before seqwrite-alloc"
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
  case $cfg in raw|ceiling*) continue ;; esac
  "mount_$cfg"
  case $cfg in
    *-luks1new)
      # A fresh raw LUKS image reads as noise until written: nothing to
      # compare; its size must be the view size.
      [ "$(stat -L -c %s "$TARGET")" -eq "$SIZE" ] || die "$cfg: the view is not $SIZE bytes" ;;
    *-qcow2new)
      # A fresh image: the whole view reads as zeros.
      if cmp -s -n "$SIZE" "$TARGET" /dev/zero; then
        log "  $cfg: the fresh image's view reads as zeros"
        echo "$cfg: whole view of the fresh image reads as zeros" >>"$RES/verify.txt"
      else
        die "$cfg: the fresh image's view is not all zeros: $(cmp -n "$SIZE" "$TARGET" /dev/zero 2>&1 | head -1)"
      fi ;;
    luksfs-sparse)
      mkdir -p "$RES/verify-sparse"
      run_cp_sparse "$RES/verify-sparse"
      [ -e "$RES/verify-sparse/cp-sparse.failed" ] && die "$cfg: $(cat "$RES/verify-sparse/cp-sparse.err")"
      log "  $cfg: cp --sparse=always of the view equals qemu-img's decryption"
      echo "$cfg: cp --sparse=always of the $SPARSE_SIZE_SPEC view equals qemu-img's decryption (qemu-img compare); so does every timed copy" >>"$RES/verify.txt" ;;
    *) verify_view "$cfg" ;;
  esac
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
    for job in $(config_jobs "$cfg"); do
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
# qcow2+LUKS images after the writes of luksfs and qsd: luksfs's view must
# equal qemu-img's decryption, and qemu-img check must find no corruption.
final_check_qcow2() {  # final_check_qcow2 NAME IMAGE
  local got want
  [ -e "$2" ] || return 0
  mount_luksfs_image "$2" "$MNT/luksfs-check"
  got=$(sha256sum <"$TARGET" | cut -d' ' -f1)
  umount_luksfs_dir "$MNT/luksfs-check"
  qemu-img convert "${QEMU_SECRET[@]}" --image-opts "$(qcow2_opts "$2")" -O raw "$IMG/check2.raw"
  want=$(sha256sum <"$IMG/check2.raw" | cut -d' ' -f1)
  rm -f "$IMG/check2.raw"
  if [ "$got" = "$want" ]; then
    echo "after the run: $1 view through luksfs == qemu-img's decryption (sha256 ${want:0:16}...)" >>"$RES/verify.txt"
  else
    echo "**MISMATCH** after the run: $1 view through luksfs (sha256 $got) != qemu-img's decryption ($want)" >>"$RES/verify.txt"
    log "$1 MISMATCH after the run"
  fi
  if qemu-img check -q "${QEMU_SECRET[@]}" --image-opts "$(qcow2_opts "$2")" >"$RUN/qcheck.log" 2>&1; then
    echo "after the run: qemu-img check of $1: no errors" >>"$RES/verify.txt"
  else
    echo "**qemu-img check of $1 failed:** $(tr '\n' ' ' <"$RUN/qcheck.log" | head -c 300)" >>"$RES/verify.txt"
    log "qemu-img check of $1 failed"
  fi
}
final_check
final_check_qcow2 "qcow2.img (written by luksfs and qsd)" "$QCOW2"
final_check_qcow2 "qcow2new.img (last fresh image, allocated by luksfs)" "$QCOW2NEW"
final_check_qcow2 "qcow2new-qsd.img (last fresh image, allocated by qsd)" "$QCOW2NEW_QSD"
[ -e "$RES/transport.txt" ] && cat "$RES/transport.txt" >>"$RES/verify.txt"

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
