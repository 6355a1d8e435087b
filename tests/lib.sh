# Shared helpers for tests/integration/*.sh. Source it; do not run it.
#
#   source "$(dirname "$0")/../lib.sh"
#
# It sets `set -euo pipefail`, makes a private work directory ($WORK) and installs an EXIT trap
# that unmounts every view the test mounted (fusermount3 -u with retries, lazy unmount as a last
# resort), kills any daemon the test started, and removes $WORK (kept when KEEP_WORK=1).
#
# Images are made at test time by cryptsetup and qemu-img with cheap KDFs. Plaintext is checked
# against an independent oracle: tests/oracle/luks_oracle.py (plus the volume key that
# `cryptsetup luksDump --dump-volume-key` prints) or `qemu-img convert` for LUKS1.

set -euo pipefail

TESTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$TESTS_DIR/.." && pwd)"
LUKSFS="${LUKSFS:-$REPO_ROOT/build/luksfs}"
[[ "$LUKSFS" == /* ]] || LUKSFS="$PWD/$LUKSFS"      # scripts cd into their work directory
PY=/usr/bin/python3                  # Debian's python: it has python3-cryptography
ORACLE="$TESTS_DIR/oracle/luks_oracle.py"
TEST_NAME="$(basename "$0" .sh)"
# shellcheck disable=SC2034  # used by the scripts that source this file
MiB=$((1024 * 1024))

# Cheap KDF settings: the suite must stay fast.
PBKDF2_ARGS=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)
# shellcheck disable=SC2034
ARGON2_COST_ARGS=(--pbkdf-force-iterations 4 --pbkdf-memory 32768 --pbkdf-parallel 2)

WORK="$(mktemp -d "${TMPDIR:-/tmp}/luksfs-${TEST_NAME}.XXXXXX")"
_MOUNTS=()      # mountpoints to clean up
_PIDS=()        # daemon pids to clean up
_T0=$SECONDS

log() { printf '[%s] %s\n' "$TEST_NAME" "$*"; }

# fail MESSAGE: print one line and exit 1 (the EXIT trap still cleans up).
fail() {
    printf 'FAIL [%s]: %s\n' "$TEST_NAME" "$*" >&2
    exit 1
}

# soft_fail MESSAGE: report a failure but keep going (for scripts made of many independent cases);
# finish then exits 1. Each call prints one line.
SOFT_FAILS=0
soft_fail() {
    printf 'FAIL [%s]: %s\n' "$TEST_NAME" "$*" >&2
    SOFT_FAILS=$((SOFT_FAILS + 1))
}

# finish: pass, unless soft_fail was called.
finish() {
    ((SOFT_FAILS == 0)) || fail "$SOFT_FAILS case(s) failed (see above)"
    pass
}

pass() {
    printf 'PASS [%s] (%ss)\n' "$TEST_NAME" "$((SECONDS - _T0))"
    exit 0
}

_is_mounted() {
    local mnt
    mnt="$(realpath -m "$1")"
    awk -v m="$mnt" '$2 == m { found = 1 } END { exit !found }' /proc/self/mounts
}

# pid of the daemon serving MNT (`luksfs pid`), empty if unknown.
daemon_pid() {
    "$LUKSFS" pid "$1" 2>/dev/null </dev/null || true
}

# A zombie (exited, not yet reaped by its parent) counts as gone.
_pid_alive() {
    [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

_cleanup() {
    local rc=$? mnt pid
    set +e
    for mnt in "${_MOUNTS[@]+"${_MOUNTS[@]}"}"; do
        if _is_mounted "$mnt"; then
            pid="$(daemon_pid "$mnt")"
            [[ -n "$pid" ]] && _PIDS+=("$pid")
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                fusermount3 -u "$mnt" 2>/dev/null && break
                sleep 0.3
            done
            _is_mounted "$mnt" && fusermount3 -uz "$mnt" 2>/dev/null
        fi
    done
    for cmd in "${_CLEANUPS[@]+"${_CLEANUPS[@]}"}"; do
        eval "$cmd" >/dev/null 2>&1
    done
    for pid in "${_PIDS[@]+"${_PIDS[@]}"}"; do
        if _pid_alive "$pid"; then
            for _ in 1 2 3 4 5 6 7 8 9 10; do
                _pid_alive "$pid" || break
                sleep 0.2
            done
            _pid_alive "$pid" && kill -TERM "$pid" 2>/dev/null && sleep 0.5
            _pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
        fi
    done
    if [[ "${KEEP_WORK:-0}" == 1 || $rc -ne 0 && "${KEEP_WORK_ON_FAIL:-0}" == 1 ]]; then
        log "work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------------------------------------
# Assertions

# assert_eq EXPECTED ACTUAL [WHAT]
assert_eq() {
    [[ "$1" == "$2" ]] || fail "${3:-values differ}: expected '$1', got '$2'"
}

# assert_exit CODE CMD...: run CMD, require exit status CODE. Stdout/stderr of the command are kept
# in $WORK/last.out and $WORK/last.err; LAST_RC holds the status.
assert_exit() {
    local want="$1"
    shift
    set +e
    "$@" >"$WORK/last.out" 2>"$WORK/last.err" </dev/null
    LAST_RC=$?
    set -e
    if [[ "$LAST_RC" != "$want" ]]; then
        fail "exit $LAST_RC (want $want) from: $* -- stderr: $(head -c 300 "$WORK/last.err" | tr '\n' ' ')"
    fi
}

# assert_files_eq A B [WHAT]: byte equality; reports the first differing offset.
assert_files_eq() {
    local a="$1" b="$2" what="${3:-files differ}" sa sb
    sa=$(stat -c %s "$a")
    sb=$(stat -c %s "$b")
    [[ "$sa" == "$sb" ]] || fail "$what: size $sa ($a) != $sb ($b)"
    if ! cmp -s "$a" "$b"; then
        fail "$what: $(cmp "$a" "$b" 2>&1 | head -1); $(cmp -l "$a" "$b" 2>/dev/null | wc -l) bytes differ"
    fi
}

sha256() { sha256sum "$1" | cut -d' ' -f1; }

need_luksfs() {
    [[ -x "$LUKSFS" && -s "$LUKSFS" ]] || fail "luksfs binary not found at $LUKSFS (build with make, or set LUKSFS)"
    "$LUKSFS" --version </dev/null >/dev/null 2>&1 || fail "$LUKSFS --version fails: not a working luksfs binary"
}

# ---------------------------------------------------------------------------------------------
# Secrets, patterns

# write_secret FILE STRING: FILE holds STRING exactly (no trailing newline).
write_secret() { printf '%s' "$2" >"$1"; }

# pattern_file FILE BYTES [SEED]: deterministic pseudo-random content.
pattern_file() {
    "$PY" - "$1" "$2" "${3:-1}" <<'EOF'
import random, sys
path, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(seed)
with open(path, "wb") as f:
    left = size
    while left:
        n = min(left, 1 << 22)
        f.write(r.randbytes(n))
        left -= n
EOF
}

# tagged_file FILE BYTES: every 512-byte sector starts with "SECTORnnnnnnnnnn" (its number), rest is
# pseudo-random; makes misplaced sectors obvious in a diff.
tagged_file() {
    "$PY" - "$1" "$2" <<'EOF'
import random, sys
path, size = sys.argv[1], int(sys.argv[2])
r = random.Random(size)
with open(path, "wb") as f:
    for i in range(size // 512):
        f.write(b"SECTOR%010d" % i + r.randbytes(496))
EOF
}

# ---------------------------------------------------------------------------------------------
# Images

# mk_luks2 IMG SIZE_MIB PWFILE [cryptsetup luksFormat args...]: LUKS2 image, pbkdf2 1000 unless the
# extra args choose another KDF (then pass ARGON2_COST_ARGS too).
mk_luks2() {
    local img="$1" size="$2" pw="$3"
    shift 3
    local kdf=("${PBKDF2_ARGS[@]}")
    [[ " $* " == *" --pbkdf "* ]] && kdf=()
    rm -f "$img"
    truncate -s "${size}M" "$img"
    cryptsetup luksFormat -q --type luks2 "${kdf[@]}" --key-file "$pw" "$@" "$img" \
        || fail "cryptsetup luksFormat (luks2 $*) failed"
}

# mk_luks1 IMG SIZE_MIB PWFILE [cryptsetup luksFormat args...]
mk_luks1() {
    local img="$1" size="$2" pw="$3"
    shift 3
    rm -f "$img"
    truncate -s "${size}M" "$img"
    cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file "$pw" "$@" "$img" \
        || fail "cryptsetup luksFormat (luks1 $*) failed"
}

# qemu_luks_create CMD...: run a qemu-img command that creates a LUKS image. qemu benchmarks PBKDF2
# with getrusage(RUSAGE_THREAD), whose tick granularity sometimes measures 0 ms on a fast CPU and
# makes qemu fail with "Unable to get accurate CPU usage": retry that case a few times.
qemu_luks_create() {
    local _attempt
    for _attempt in $(seq 1 20); do
        if "$@" >"$WORK/qemu-create.out" 2>"$WORK/qemu-create.err"; then
            return 0
        fi
        grep -q 'Unable to get accurate CPU usage' "$WORK/qemu-create.err" || break
        sleep 0.$((RANDOM % 5))
    done
    fail "$* failed: $(tr '\n' ' ' <"$WORK/qemu-create.err")"
}

# mk_qemu_luks1 IMG SIZE_MIB PWFILE [RAWFILE [extra -o options]]: qemu-img made LUKS1; with RAWFILE
# the data is converted from it (qemu encrypts it).
mk_qemu_luks1() {
    local img="$1" size="$2" pw="$3" raw="${4:-}" extra="${5:+,$5}"
    rm -f "$img"
    if [[ -n "$raw" ]]; then
        qemu_luks_create qemu-img convert -f raw -O luks --object "secret,id=sec0,file=$pw" \
            -o "key-secret=sec0,iter-time=10$extra" "$raw" "$img"
    else
        qemu_luks_create qemu-img create -q -f luks --object "secret,id=sec0,file=$pw" \
            -o "key-secret=sec0,iter-time=10$extra" "$img" "${size}M"
    fi
}

# qemu_decrypt IMG PWFILE OUT: plaintext of a LUKS1 image according to qemu.
qemu_decrypt() {
    qemu-img convert --object "secret,id=sec0,file=$2" \
        --image-opts "driver=luks,key-secret=sec0,file.filename=$1" -O raw "$3" \
        || fail "qemu-img convert of $1 failed"
}

# dump_vk IMG PWFILE VKFILE [cryptsetup args, e.g. --header HDR]: volume key via cryptsetup.
dump_vk() {
    local img="$1" pw="$2" vk="$3"
    shift 3
    rm -f "$vk"
    cryptsetup luksDump -q --dump-volume-key --volume-key-file "$vk" --key-file "$pw" "$@" "$img" >/dev/null \
        || fail "cryptsetup luksDump --dump-volume-key $img failed"
}

# oracle_decrypt IMG VKFILE OUT [--header HDR]
oracle_decrypt() {
    "$PY" "$ORACLE" decrypt "$@" || fail "oracle decrypt of $1 failed"
}

# oracle_write IMG VKFILE OFFSET INFILE [--header HDR]
oracle_write() {
    "$PY" "$ORACLE" write "$@" || fail "oracle write into $1 failed"
}

# oracle_info IMG KEY: one field of the oracle's header summary.
oracle_field() {
    "$PY" "$ORACLE" info "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

# binding_wdek IMG: the WDEK (base64) of IMG's KMS binding, read without luksfs: the qcow2
# header extension "LKMS" (0x4c4b4d53, doc/formats.md), else the sidecar IMG.luksfs-kms.
# Fails (exit 1) when IMG has neither.
binding_wdek() {
    "$PY" - "$1" <<'EOF'
import json, os, struct, sys
p = sys.argv[1]
d = open(p, 'rb').read(65536)
rec = None
if d[:4] == b'QFI\xfb':
    off = struct.unpack('>I', d[100:104])[0]
    while off + 8 <= len(d):
        t, l = struct.unpack('>II', d[off:off + 8])
        if t == 0:
            break
        if t == 0x4c4b4d53:
            rec = d[off + 8:off + 8 + l].rstrip(b'\0').decode()
            break
        off += 8 + ((l + 7) & ~7)
if rec is None and os.path.exists(p + '.luksfs-kms'):
    rec = open(p + '.luksfs-kms').read()
if rec is None:
    sys.exit('no binding record in ' + p)
b = json.loads(rec)
assert b['type'] == 'luksfs-kms' and b['keyslots'] == ['0'], b
print(b['wrapped'])
EOF
}

# unwrap_binding IMG URI OUT [KMS options...]: IMG's generated passphrase into OUT, from the
# binding record (binding_wdek) unwrapped by `luksfs unwrap` at URI: not the mount path.
unwrap_binding() {
    local img="$1" uri="$2" out="$3"
    shift 3
    binding_wdek "$img" >"$WORK/wdek" || fail "$img: no binding record"
    assert_exit 0 "$LUKSFS" unwrap --kms "$uri" --in "$WORK/wdek" --out "$out" "$@"
}

# slow_copy SRC DST SECONDS: copies SRC to DST in 256 KiB unbuffered reads, sleeping SECONDS
# after each (a reader that keeps a view busy while a test breaks something under it).
slow_copy() {
    "$PY" - "$1" "$2" "$3" <<'EOF'
import sys, time
with open(sys.argv[1], "rb", buffering=0) as f, open(sys.argv[2], "wb") as o:
    while chunk := f.read(256 * 1024):
        o.write(chunk)
        time.sleep(float(sys.argv[3]))
EOF
}

# ---------------------------------------------------------------------------------------------
# Mounting

# new_mountpoint NAME: an empty directory under $WORK.
new_mountpoint() {
    local d="$WORK/$1"
    mkdir -p "$d"
    printf '%s\n' "$d"
}

# mount_view IMG MNT [luksfs mount options...]: mount (daemonized; luksfs returns when serving).
# Fails the test if the mount fails. The mountpoint is unmounted by the EXIT trap if still mounted.
mount_view() {
    local img="$1" mnt="$2"
    shift 2
    need_luksfs
    _MOUNTS+=("$mnt")
    if ! "$LUKSFS" mount "$@" "$img" "$mnt" </dev/null >"$WORK/mount.out" 2>"$WORK/mount.err"; then
        fail "luksfs mount $* $img $mnt failed: $(tr '\n' ' ' <"$WORK/mount.err")"
    fi
    _is_mounted "$mnt" || fail "luksfs mount returned 0 but $mnt is not mounted"
}

# assert_goes_dark MNT [SECONDS] [WHAT]: after a revocation, O_DIRECT reads of MNT's view must
# start failing within SECONDS (default 5), polled every 0.1 s; WHAT names the event.
assert_goes_dark() {
    local mnt="$1" secs="${2:-5}" what="${3:-the revocation}" i
    for ((i = 0; i < secs * 10; i++)); do
        dd if="$(view_file "$mnt")" of=/dev/null bs=64k count=4 iflag=direct status=none 2>/dev/null \
            || return 0
        sleep 0.1
    done
    fail "reads still served $secs s after $what"
}

# register_mount MNT / register_pid PID: let the EXIT trap clean up mounts made by hand.
register_mount() { _MOUNTS+=("$1"); }
register_pid() { _PIDS+=("$1"); }
# register_cleanup CMD...: run CMD from the EXIT trap (e.g. stopping a server).
_CLEANUPS=()
register_cleanup() { _CLEANUPS+=("$*"); }

# umount_view MNT: `luksfs umount`, must exit 0; waits until the daemon is gone.
umount_view() {
    local mnt="$1" pid
    pid="$(daemon_pid "$mnt")"
    "$LUKSFS" umount "$mnt" </dev/null >"$WORK/umount.out" 2>"$WORK/umount.err" \
        || fail "luksfs umount $mnt failed: $(tr '\n' ' ' <"$WORK/umount.err")"
    _is_mounted "$mnt" && fail "$mnt still mounted after luksfs umount"
    # the contract: `luksfs umount` returns only after the daemon has exited
    if [[ -n "$pid" ]] && _pid_alive "$pid"; then
        wait_gone "$pid" 10 || fail "daemon $pid still running 10 s after luksfs umount"
        fail "luksfs umount returned before daemon $pid exited"
    fi
    return 0
}

# wait_gone PID SECONDS: wait for a process that is not our child to exit.
wait_gone() {
    local pid="$1" n=$(($2 * 10))
    while ((n-- > 0)); do
        _pid_alive "$pid" || return 0
        sleep 0.1
    done
    return 1
}

# view_sha MNT [NAME]
view_file() { printf '%s/%s\n' "$1" "${2:-disk.raw}"; }

# assert_convert_interrupt DST CONVERT_ARGS...: starts `luksfs convert CONVERT_ARGS... DST` (which
# should include --json-progress and a small --block-size so it runs long enough), sends SIGINT
# after its first progress line, and checks exit 130 with neither DST nor DST.tmp-* left behind.
# A convert that finished before the signal is logged (the machine was too fast to interrupt it).
assert_convert_interrupt() {
    local dst="$1" cpid rc
    shift
    "$LUKSFS" convert "$@" "$dst" 2>"$WORK/int.err" &
    cpid=$!
    for _ in $(seq 1 200); do
        grep -q '"done"' "$WORK/int.err" 2>/dev/null && break
        sleep 0.05
    done
    kill -INT "$cpid"
    set +e; wait "$cpid"; rc=$?; set -e
    if [[ $rc == 0 ]]; then
        log "convert to $dst finished before the signal; interrupt not exercised"
        return 0
    fi
    [[ $rc == 130 ]] || fail "interrupted convert to $dst: exit $rc (want 130): $(tail -2 "$WORK/int.err")"
    [[ -e "$dst" ]] && fail "interrupted convert left $dst"
    compgen -G "$dst.tmp-*" >/dev/null && fail "interrupted convert left a temporary for $dst"
    log "interrupted convert to $dst exited 130 and left nothing"
}

# start_pykmip DIR: starts a PyKMIP server in DIR (tests/kms/pykmip-up.sh; PYKMIP_VERSIONS in the
# environment restricts its protocol versions), stops it at exit, and sets KDIR (DIR), EP (its
# host:port) and C (its certificate directory: ca.crt, client.crt, client.key, ...).
start_pykmip() {
    KDIR="$1"
    "$REPO_ROOT/tests/kms/pykmip-up.sh" "$KDIR" >"$WORK/pykmip-up.log" 2>&1 \
        || fail "PyKMIP did not start: $(tail -5 "$WORK/pykmip-up.log")"
    register_cleanup "\"$REPO_ROOT/tests/kms/pykmip-down.sh\" \"$KDIR\""
    EP="$(cat "$KDIR/endpoint")"
    C="$KDIR/certs"
}
