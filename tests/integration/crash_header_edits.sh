#!/bin/bash
# Header edits under faults, at EVERY write of bind, unbind and shred (LUKS2, keystore KMS), found by
# counting the pwrite64 calls of a clean run. strace injects the fault into write N:
#  * EIO: the command exits 4, and its message says what is really on disk, checked against
#    cryptsetup: "bound to" iff `cryptsetup token export` finds the luksfs-kms token; "NEEDS
#    REPAIR" iff the two LUKS2 header copies have different seqids (and after `cryptsetup repair`
#    they agree). The original passphrase still opens with cryptsetup.
#  * SIGKILL (kill -9 at that write): the original passphrase still opens (bind, unbind), the
#    header still parses, and a rerun of the command completes; for shred, the rerun completes
#    and then nothing opens.
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
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file pw \
    --luks2-metadata-size 16k --luks2-keyslots-size 1m fresh.img
cp fresh.img bound.img
assert_exit 0 "$LUKSFS" bind bound.img --kms "$KMS" --key-file pw "${KOPTS[@]}"

op_args() {  # op_args OP IMG: the command line of OP on IMG
    case "$1" in
        bind) echo bind "$2" --kms "$KMS" --key-file pw "${KOPTS[@]}" ;;
        unbind) echo unbind "$2" ;;
        shred) echo shred --yes --keep-key "$2" ;;
    esac
}
start_img() { [[ "$1" == bind ]] && echo fresh.img || echo bound.img; }

seqids() {  # seqids IMG: "PRIMARY SECONDARY" (16 KiB metadata: secondary at 16384)
    /usr/bin/python3 -c '
import sys
d = open(sys.argv[1], "rb").read(32768)
print(int.from_bytes(d[16:24], "big"), int.from_bytes(d[16384 + 16:16384 + 24], "big"))' "$1"
}
opens() { cryptsetup open --test-passphrase --key-file pw "$1" 2>/dev/null; }
has_token() { cryptsetup token export --token-id 0 "$1" >/dev/null 2>&1; }

total_faults=0
for op in bind unbind shred; do
    cp "$(start_img $op)" count.img
    # shellcheck disable=SC2046
    strace -f -qq -e trace=pwrite64 -o "$op.trace" "$LUKSFS" $(op_args $op count.img) >/dev/null \
        || fail "$op: clean run failed"
    writes=$(grep -c 'pwrite64(' "$op.trace")
    log "$op: $writes writes"
    ((writes >= 2)) || fail "$op: only $writes writes seen"
    for ((n = 1; n <= writes; n++)); do
        # --- EIO at write n: the report must match the disk.
        cp "$(start_img $op)" t.img
        rc=0
        # shellcheck disable=SC2046
        strace -f -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:error=EIO:when=$n \
            "$LUKSFS" $(op_args $op t.img) >out 2>err || rc=$?
        msg=$(cat err)
        log "$op EIO@$n: exit $rc: $msg"
        ((rc == 4)) || fail "$op EIO@$n: exit $rc, want 4: $msg"
        [[ "$msg" == *"on disk now: "* ]] || fail "$op EIO@$n: no on-disk report: $msg"
        (($(wc -l <err) == 1)) || fail "$op EIO@$n: more than one line"
        repair_needed=0
        # Seqids first: cryptsetup itself repairs a stale copy whenever it loads the header.
        read -r p s < <(seqids t.img)
        if [[ "$p" != "$s" ]]; then
            [[ "$msg" == *"NEEDS REPAIR: header copies differ"*"cryptsetup repair t.img"* ]] \
                || fail "$op EIO@$n: seqids $p/$s differ, report says: $msg"
            repair_needed=1
        else
            [[ "$msg" != *"NEEDS REPAIR"* ]] || fail "$op EIO@$n: copies agree, report says: $msg"
        fi
        if has_token t.img; then
            [[ "$msg" == *"on disk now: bound to $KMS"* ]] || fail "$op EIO@$n: token on disk, report says: $msg"
        else
            [[ "$msg" == *"not bound to a KMS"* ]] || fail "$op EIO@$n: no token on disk, report says: $msg"
        fi
        if ((repair_needed)); then
            read -r p s < <(seqids t.img)
            [[ "$p" == "$s" ]] || cryptsetup repair -q t.img || fail "$op EIO@$n: cryptsetup repair failed"
            read -r p s < <(seqids t.img)
            [[ "$p" == "$s" ]] || fail "$op EIO@$n: seqids $p/$s still differ after repair"
        fi
        if [[ "$op" != shred ]]; then
            opens t.img || fail "$op EIO@$n: the original passphrase no longer opens"
        fi
        # --- kill -9 at write n.
        cp "$(start_img $op)" k.img
        # shellcheck disable=SC2046
        strace -f -qq -o /dev/null -e trace=pwrite64 -e inject=pwrite64:signal=KILL:when=$n \
            "$LUKSFS" $(op_args $op k.img) >/dev/null 2>&1 && fail "$op KILL@$n: survived"
        wait 2>/dev/null
        cryptsetup luksDump k.img >/dev/null 2>&1 || fail "$op KILL@$n: cryptsetup cannot read the header"
        if [[ "$op" != shred ]]; then
            opens k.img || fail "$op KILL@$n: the original passphrase no longer opens"
        fi
        # The rerun completes (an unbind after a killed unbind may find nothing left to do).
        rc=0
        # shellcheck disable=SC2046
        "$LUKSFS" $(op_args $op k.img) >/dev/null 2>err || rc=$?
        if ((rc != 0)); then
            grep -qE "already bound|not bound" err || fail "$op KILL@$n: rerun exit $rc: $(cat err)"
        fi
        if [[ "$op" == shred ]]; then
            opens k.img && fail "shred KILL@$n: rerun done, yet the passphrase opens"
        else
            opens k.img || fail "$op KILL@$n: after the rerun the passphrase no longer opens"
        fi
        total_faults=$((total_faults + 2))
    done
done
log "$total_faults faults injected"
pass
