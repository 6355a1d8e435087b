#!/bin/bash
# Cold sequential read of an S3-backed view against a single-stream curl GET of the same object
# from the same radosgw (started here by tests/s3/ceph-up.sh, memstore, on loopback).
# Each round, interleaved: curl -o /dev/null of the object; then a fresh read-only mount
# (empty block cache, empty page cache) and dd of the whole view. Prints one line per round and
# the ratios luksfs/curl.
#   usage: contrib/bench/s3_read.sh [SIZE_MIB (default 512)] [ROUNDS (default 3)] [-- luksfs opts]
# (e.g. `-- --s3-stream-window 0` for the parallel ranged read-ahead instead of the stream).
# LUKSFS=path selects the binary (default build/luksfs); LUKSFS_BASE=path adds, in each round,
# the same read through a second binary (e.g. the previous release) for a before/after column.
set -uo pipefail
SIZE_MIB=${1:-512}
ROUNDS=${2:-3}
shift $(( $# > 2 ? 2 : $# ))
[[ "${1:-}" == "--" ]] && shift
EXTRA=("$@")
source "$(dirname "$0")/../../tests/lib.sh"
TEST_NAME=s3_read
need_luksfs
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"
s3 mb bench
write_secret pw "bench passphrase"
mk_luks1 img.luks "$SIZE_MIB" pw
# Random ciphertext in the data area (the header stays cryptsetup's).
off=$(cryptsetup luksDump img.luks | awk '/Payload offset/ {print $3 * 512}')
head -c $((SIZE_MIB * MiB - off)) /dev/urandom | dd of=img.luks bs=1M seek="$off" oflag=seek_bytes conv=notrunc status=none
s3 put bench img.luks img.luks
bytes=$(stat -c %s img.luks)
mnt=$(new_mountpoint bench)
now() { date +%s.%N; }
rate() { "$PY" -c "print(f'{$1/($3-$2)/1e6:.0f}')"; }
log "object $bytes bytes; luksfs ${EXTRA[*]:-(default options)}; $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-6s %12s %12s %8s %12s %8s\n' round "curl MB/s" "luksfs MB/s" ratio "base MB/s" "base/curl"
ratios=()
view_read() {  # BINARY -> MB/s of a cold dd of the whole view
    LUKSFS="$1" mount_view s3://bench/img.luks "$mnt" -r --passphrase-file pw "${EP[@]}" "${EXTRA[@]}"
    local vb t0 t1
    vb=$(stat -c %s "$mnt/disk.raw")
    t0=$(now)
    dd if="$mnt/disk.raw" of=/dev/null bs=1M status=none || fail "dd of the view failed"
    t1=$(now)
    LUKSFS="$1" umount_view "$mnt"
    rate "$vb" "$t0" "$t1"
}
for r in $(seq 1 "$ROUNDS"); do
    t0=$(now)
    curl_get bench img.luks /dev/null || fail "curl GET failed"
    t1=$(now)
    c=$(rate "$bytes" "$t0" "$t1")
    l=$(view_read "$LUKSFS")
    ratio=$("$PY" -c "print(f'{$l/$c:.2f}')")
    ratios+=("$ratio")
    b=- bratio=-
    if [[ -n "${LUKSFS_BASE:-}" ]]; then
        b=$(view_read "$LUKSFS_BASE")
        bratio=$("$PY" -c "print(f'{$b/$c:.2f}')")
    fi
    printf '%-6s %12s %12s %8s %12s %8s\n' "$r" "$c" "$l" "$ratio" "$b" "$bratio"
done
log "ratios luksfs/curl: ${ratios[*]}; load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
log "luksfs/curl min / median / max: $("$PY" -c "import statistics, sys; r = sorted(map(float, sys.argv[1:])); print(f'{r[0]:.2f} / {statistics.median(r):.2f} / {r[-1]:.2f}')" "${ratios[@]}")"
pass
