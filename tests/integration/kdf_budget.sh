#!/bin/bash
# A bounded unlock. Hostile LUKS2 headers crafted with the oracle (edit-json, checksums redone) are
# refused quickly, before the KDF work they ask for, with exit 3 and a message naming what asked:
#  * a digest asking for 2^28 PBKDF2 iterations (about a minute of work here);
#  * a keyslot asking for 2^28-1 PBKDF2 iterations (within the per-slot cap) against --max-kdf-time 5;
#  * an Argon2id keyslot asking for 4 GiB (the --max-kdf-memory cap names the slot and the amount).
# Each refusal must come in under 5 s. The untouched image still opens (cryptsetup agrees), with
# the default budget and with a small one; the hostile ones are left byte for byte unchanged.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "budget passphrase"
truncate -s 8M base.img
cryptsetup luksFormat -q --type luks2 --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --key-file pw \
    --luks2-metadata-size 16k --luks2-keyslots-size 1m base.img
cryptsetup open --test-passphrase --key-file pw base.img || fail "cryptsetup does not open base.img"

# refused_quickly NAME EXPECTED-TEXT [luksfs check args]: check must exit 3 within 5 s.
refused_quickly() {
    local img="$1" want="$2" start end rc
    shift 2
    cp "$img" "$img.before"
    start=$(date +%s%N)
    rc=0
    "$LUKSFS" check "$img" --passphrase-file pw "$@" </dev/null >out 2>err || rc=$?
    end=$(date +%s%N)
    local ms=$(((end - start) / 1000000))
    log "$img $*: exit $rc in ${ms} ms: $(cat err)"
    ((rc == 3)) || fail "$img: expected exit 3, got $rc: $(cat err)"
    grep -qF -- "$want" err || fail "$img: message lacks '$want': $(cat err)"
    (($(wc -l <err) == 1)) || fail "$img: more than one line of error"
    ((ms < 5000)) || fail "$img: refusal took ${ms} ms (>= 5 s)"
    cmp -s "$img" "$img.before" || fail "$img was modified"
}

cp base.img digest.img
/usr/bin/python3 "$ORACLE" edit-json digest.img 'j["digests"]["0"]["iterations"]=268435456'
refused_quickly digest.img "digest 0 asks for 268435456 iterations, more than luksfs accepts (16777216)"

cp base.img slot.img
/usr/bin/python3 "$ORACLE" edit-json slot.img 'j["keyslots"]["0"]["kdf"]["iterations"]=268435455'
refused_quickly slot.img "keyslot 0: pbkdf2-sha256 with 268435455 iterations" --max-kdf-time 5
refused_quickly slot.img "(--max-kdf-time 5.0)" --max-kdf-time 5

cp base.img argon.img
/usr/bin/python3 "$ORACLE" edit-json argon.img \
    'j["keyslots"]["0"]["kdf"]={"type":"argon2id","time":4,"memory":4194304,"cpus":4,"salt":j["keyslots"]["0"]["kdf"]["salt"]}'
refused_quickly argon.img "keyslot 0: argon2id memory 4194304 KiB exceeds the limit of 1048576 KiB"

# The real image opens, with the default budget and a tight one.
out=$("$LUKSFS" check base.img --passphrase-file pw </dev/null 2>err) || fail "base.img: $(cat err)"
assert_eq "base.img: keyslot 0 opened" "$out" "check of the untouched image"
"$LUKSFS" check base.img --passphrase-file pw --max-kdf-time 1 </dev/null >/dev/null 2>err \
    || fail "base.img with --max-kdf-time 1: $(cat err)"
assert_exit 1 "$LUKSFS" check base.img --passphrase-file pw --max-kdf-time 0
pass
