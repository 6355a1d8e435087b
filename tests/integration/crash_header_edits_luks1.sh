#!/bin/bash
# Header edits of a LUKS1 image under faults. LUKS1 has no token area: the binding is keyslot N
# plus the sidecar file IMAGE.luksfs-kms (written to a temporary name, fsync'd, renamed). Every
# write of bind, unbind and shred (the sidecar's write and rename, each pwrite64 of key material
# and header, the sidecar's unlink), found by tracing a clean run, gets in turn:
#  * EIO: the command exits 4 and says what is on disk, checked against cryptsetup: "bound to" iff
#    the sidecar exists and the keyslot it names is enabled in `cryptsetup luksDump`; else "not
#    bound". The original passphrase still opens (not for shred).
#  * SIGKILL at that call: cryptsetup still reads the header, the original passphrase still opens
#    (bind, unbind), and a rerun of the command completes; after a rerun of shred nothing opens.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
command -v strace >/dev/null || fail "strace is not installed (contrib/install-deps.sh)"
cd "$WORK"
export LUKSFS_KEYSTORE_KDF=min
printf 'keystore passphrase\n' >kspw
write_secret pw "original passphrase"
KOPTS=(--keystore-passphrase-file kspw)
assert_exit 0 "$LUKSFS" kms create-key "file:$WORK/ks.db#k" "${KOPTS[@]}"
KMS="file:$WORK/ks.db#k"

truncate -s 16M fresh.img
cryptsetup luksFormat -q --type luks1 --pbkdf-force-iterations 1000 --key-file pw fresh.img
cp fresh.img bound.img
assert_exit 0 "$LUKSFS" bind bound.img --kms "$KMS" --key-file pw "${KOPTS[@]}"
[[ -f bound.img.luksfs-kms ]] || fail "bind of a LUKS1 image wrote no sidecar"

op_args() {  # op_args OP IMG: the command line of OP on IMG
    case "$1" in
        bind) echo bind "$2" --kms "$KMS" --key-file pw "${KOPTS[@]}" ;;
        unbind) echo unbind "$2" ;;
        shred) echo shred --yes --keep-key "$2" ;;
    esac
}
# start IMG: a fresh copy of the image the op starts from (with its sidecar).
start() {
    rm -f "$1" "$1".luksfs-kms "$1".luksfs-kms.tmp.*
    if [[ "$op" == bind ]]; then
        cp fresh.img "$1"
    else
        cp bound.img "$1"
        cp bound.img.luksfs-kms "$1".luksfs-kms
    fi
}
opens() { cryptsetup open --test-passphrase --key-file pw "$1" 2>/dev/null; }
# bound_on_disk IMG: the sidecar exists and the keyslot it names is enabled.
bound_on_disk() {
    [[ -f "$1.luksfs-kms" ]] || return 1
    local slot
    slot=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["keyslots"][0])' \
        "$1.luksfs-kms" 2>/dev/null) || return 1
    cryptsetup luksDump "$1" | grep -q "^Key Slot $slot: ENABLED"
}

total_faults=0
for op in bind unbind shred; do
    start count.img
    # shellcheck disable=SC2046
    strace -f -qq -e trace=pwrite64,write,rename,unlink -o "$op.trace" \
        "$LUKSFS" $(op_args $op count.img) >/dev/null || fail "$op: clean run failed"
    # The fault points: "SYSCALL N" for the Nth call of SYSCALL that edits the image or sidecar
    # (writes to stdout/stderr are not edits).
    points=$(awk '
        { sub(/^[0-9]+ +/, "") }
        /^write\([12],/ { next }
        match($0, /^(pwrite64|write|rename|unlink)\(/) {
            name = substr($0, 1, RLENGTH - 1); n[name]++; print name, n[name] }' "$op.trace")
    log "$op: fault points: $(echo $points)"
    (($(wc -l <<<"$points") >= 2)) || fail "$op: only $(wc -l <<<"$points") edit calls seen"
    while read -r sc n; do
        # --- EIO at that call: the report must match the disk.
        start t.img
        rc=0
        # shellcheck disable=SC2046
        strace -f -qq -o /dev/null -e trace=$sc -e inject=$sc:error=EIO:when=$n \
            "$LUKSFS" $(op_args $op t.img) >out 2>err || rc=$?
        msg=$(cat err)
        log "$op EIO@$sc#$n: exit $rc: $msg"
        ((rc == 4)) || fail "$op EIO@$sc#$n: exit $rc, want 4: $msg"
        (($(wc -l <err) == 1)) || fail "$op EIO@$sc#$n: more than one line"
        [[ "$msg" == *"on disk now: "* ]] || fail "$op EIO@$sc#$n: no on-disk report: $msg"
        if bound_on_disk t.img; then
            [[ "$msg" == *"on disk now: bound to $KMS"* ]] \
                || fail "$op EIO@$sc#$n: bound on disk, report says: $msg"
        elif [[ -f t.img.luksfs-kms ]]; then
            # A sidecar whose keyslot is not enabled: stale, and the report must say how to repair.
            [[ "$msg" == *"NEEDS REPAIR: the binding names keyslot"*"luksfs unbind t.img"* ]] \
                || fail "$op EIO@$sc#$n: stale sidecar on disk, report says: $msg"
            assert_exit 0 "$LUKSFS" unbind t.img
            [[ ! -e t.img.luksfs-kms ]] || fail "$op EIO@$sc#$n: unbind left the stale sidecar"
        else
            [[ "$msg" == *"not bound"* ]] || fail "$op EIO@$sc#$n: not bound on disk, report says: $msg"
        fi
        if [[ "$op" != shred ]]; then
            opens t.img || fail "$op EIO@$sc#$n: the original passphrase no longer opens"
        fi
        # --- kill -9 at that call.
        start k.img
        # shellcheck disable=SC2046
        strace -f -qq -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$n \
            "$LUKSFS" $(op_args $op k.img) >/dev/null 2>&1 && fail "$op KILL@$sc#$n: survived"
        wait 2>/dev/null
        cryptsetup luksDump k.img >/dev/null 2>&1 || fail "$op KILL@$sc#$n: cryptsetup cannot read the header"
        if [[ "$op" != shred ]]; then
            opens k.img || fail "$op KILL@$sc#$n: the original passphrase no longer opens"
        fi
        rc=0
        # shellcheck disable=SC2046
        "$LUKSFS" $(op_args $op k.img) >/dev/null 2>err || rc=$?
        if ((rc != 0)); then
            grep -qE "already bound|not bound" err || fail "$op KILL@$sc#$n: rerun exit $rc: $(cat err)"
        fi
        case "$op" in
            shred) opens k.img && fail "shred KILL@$sc#$n: rerun done, yet the passphrase opens" ;;
            bind)
                bound_on_disk k.img || fail "bind KILL@$sc#$n: after the rerun the image is not bound"
                opens k.img || fail "bind KILL@$sc#$n: after the rerun the passphrase no longer opens" ;;
            unbind)
                bound_on_disk k.img && fail "unbind KILL@$sc#$n: after the rerun the image is still bound"
                opens k.img || fail "unbind KILL@$sc#$n: after the rerun the passphrase no longer opens" ;;
        esac
        total_faults=$((total_faults + 2))
    done <<<"$points"
done
log "$total_faults faults injected"
pass
