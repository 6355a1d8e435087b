#!/bin/bash
# KMS header edits of a qemu-img made qcow2+LUKS image under faults, at EVERY write of bind,
# rewrap (a record that grows: two header writes), unbind and shred, found by counting the
# pwrite64 calls of a clean run; strace injects the fault into write N:
#  * EIO: exit 4, one line, and "on disk now: ..." matches the disk: bound iff luksfs's qcow2
#    header extension 0x4c4b4d53 holds a record; qemu-img check still opens the image with the
#    original secret (except after shred);
#  * SIGKILL at that write: qemu-img check still opens it (the header cluster is never left
#    unreadable), `luksfs info` parses it, and a rerun of the command completes.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
command -v strace >/dev/null || fail "strace is not installed (contrib/install-deps.sh)"
cd "$WORK"
export LUKSFS_KEYSTORE_KDF=min
printf 'keystore passphrase\n' >kspw
write_secret pw "original passphrase"
KO=(--keystore-passphrase-file kspw)
KMS="file:$WORK/ks.db#k"
KMS2="file:$WORK/ks.db#k2-$(printf 'y%.0s' $(seq 100))"
assert_exit 0 "$LUKSFS" kms create-key "$KMS" "${KO[@]}"
assert_exit 0 "$LUKSFS" kms create-key "$KMS2" "${KO[@]}"
qemu_luks_create qemu-img create -q -f qcow2 --object secret,id=sec0,file=pw \
    -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 fresh.qcow2 16M
cp fresh.qcow2 bound.qcow2
assert_exit 0 "$LUKSFS" bind bound.qcow2 --kms "$KMS" --key-file pw "${KO[@]}"

op_args() {  # op_args OP IMG
    case "$1" in
        bind) echo bind "$2" --kms "$KMS" --key-file pw "${KO[@]}" ;;
        rewrap) echo rewrap "$2" --kms "$KMS2" "${KO[@]}" ;;
        unbind) echo unbind "$2" ;;
        shred) echo shred --yes --keep-key "$2" ;;
    esac
}
start_img() { [[ "$1" == bind ]] && echo fresh.qcow2 || echo bound.qcow2; }
opens() {
    qemu-img check --object secret,id=sec0,file=pw \
        --image-opts "driver=qcow2,file.filename=$1,encrypt.key-secret=sec0" >/dev/null 2>&1
}
has_record() {  # the luksfs record of IMG's header, non-blank
    "$PY" - "$1" <<'PYEOF'
import struct, sys
d = open(sys.argv[1], 'rb').read(65536)
off = struct.unpack('>I', d[100:104])[0]
while True:
    t, l = struct.unpack('>II', d[off:off + 8])
    if t == 0: sys.exit(1)
    if t == 0x4c4b4d53: sys.exit(0 if d[off + 8:off + 8 + l].rstrip(b'\0') else 1)
    off += 8 + ((l + 7) & ~7)
PYEOF
}

total=0
for op in bind rewrap unbind shred; do
    cp "$(start_img $op)" count.qcow2
    # shellcheck disable=SC2046
    strace -f -qq -e trace=pwrite64 -o "$op.trace" "$LUKSFS" $(op_args $op count.qcow2) >/dev/null \
        || fail "$op: clean run failed"
    writes=$(grep -c 'pwrite64(' "$op.trace")
    log "$op: $writes writes"
    ((writes >= 2)) || fail "$op: only $writes writes seen"
    for ((n = 1; n <= writes; n++)); do
        cp "$(start_img $op)" t.qcow2
        rc=0
        # shellcheck disable=SC2046
        strace -f -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:error=EIO:when=$n \
            "$LUKSFS" $(op_args $op t.qcow2) >out 2>err || rc=$?
        msg=$(cat err)
        log "$op EIO@$n: exit $rc: $msg"
        ((rc == 4)) || fail "$op EIO@$n: exit $rc, want 4: $msg"
        [[ "$msg" == *"on disk now: "* ]] || fail "$op EIO@$n: no on-disk report: $msg"
        (($(wc -l <err) == 1)) || fail "$op EIO@$n: more than one line"
        if has_record t.qcow2; then
            [[ "$msg" == *"on disk now: bound to "* || "$msg" == *"NEEDS REPAIR: the binding names keyslot"* ]] \
                || fail "$op EIO@$n: a record on disk, report says: $msg"
        else
            [[ "$msg" == *"not bound to a KMS"* ]] || fail "$op EIO@$n: no record on disk, report says: $msg"
        fi
        [[ "$op" == shred ]] || opens t.qcow2 || fail "$op EIO@$n: qemu-img no longer opens it"

        cp "$(start_img $op)" k.qcow2
        # shellcheck disable=SC2046
        strace -f -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:signal=KILL:when=$n \
            "$LUKSFS" $(op_args $op k.qcow2) >/dev/null 2>&1 && fail "$op KILL@$n: survived"
        wait 2>/dev/null
        "$LUKSFS" info k.qcow2 >/dev/null 2>err || fail "$op KILL@$n: info: $(cat err)"
        [[ "$op" == shred ]] || opens k.qcow2 || fail "$op KILL@$n: qemu-img no longer opens it"
        rc=0
        # shellcheck disable=SC2046
        "$LUKSFS" $(op_args $op k.qcow2) >/dev/null 2>err || rc=$?
        if ((rc != 0)); then
            grep -qE "already bound|not bound" err || fail "$op KILL@$n: rerun exit $rc: $(cat err)"
        fi
        if [[ "$op" == shred ]]; then
            opens k.qcow2 && fail "shred KILL@$n: rerun done, yet the secret opens"
        else
            opens k.qcow2 || fail "$op KILL@$n: after the rerun qemu-img no longer opens it"
        fi
        total=$((total + 2))
    done
done
log "$total faults injected"
pass
