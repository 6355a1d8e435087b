#!/bin/bash
# Several keyslots. cryptsetup itself (`open --test-passphrase -v`, "Key slot N unlocked.") is the
# oracle for which slot a passphrase opens:
#  * LUKS2: slot 0 (argon2id) passphrase A, slot 1 (pbkdf2) passphrase B, slot 5 passphrase A again.
#    Each passphrase mounts and shows the same plaintext; `luksfs check` names the same slot as
#    cryptsetup; --key-slot N selects (wrong slot for the passphrase -> exit 2).
#  * `cryptsetup config --priority prefer --key-slot 5` makes slot 5 the one that opens with A;
#    `--priority ignore` on slot 1 makes B fail unless --key-slot 1 is given.
#  * LUKS1 with a second passphrase in slot 3.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pwA "alpha passphrase"
write_secret pwB "bravo passphrase"
write_secret pwX "not a passphrase of this image"

# cs_slot IMG PWFILE [args]: the slot cryptsetup opens with PWFILE.
cs_slot() {
    local img="$1" pw="$2"
    shift 2
    cryptsetup open --test-passphrase -v --key-file "$pw" "$@" "$img" 2>&1 \
        | sed -n 's/^Key slot \([0-9]*\) unlocked\./\1/p'
}

# lf_check IMG PWFILE [args]: run luksfs check, require exit 0 and the expected line; print slot.
lf_check() {
    local img="$1" pw="$2" out
    shift 2
    out=$("$LUKSFS" check "$img" --passphrase-file "$pw" "$@" </dev/null 2>"$WORK/check.err") \
        || fail "luksfs check $img $* failed (exit $?): $(tr '\n' ' ' <"$WORK/check.err")"
    [[ "$out" =~ ^"$img: keyslot "([0-9]+)" opened"$ ]] || fail "unexpected luksfs check output: '$out'"
    printf '%s\n' "${BASH_REMATCH[1]}"
}

expect_slot() {   # expect_slot WHAT IMG PWFILE [args]
    local what="$1" img="$2" pw="$3"
    shift 3
    local want got
    want=$(cs_slot "$img" "$pw" "$@")
    [[ -n "$want" ]] || fail "$what: cryptsetup opened no slot"
    got=$(lf_check "$img" "$pw" "$@")
    assert_eq "$want" "$got" "$what: slot opened (cryptsetup vs luksfs check)"
    log "$what: slot $got"
}

mount_and_compare() {  # mount_and_compare IMG PLAIN MNTNAME [mount args]
    local img="$1" plain="$2" mnt
    mnt=$(new_mountpoint "$3")
    shift 3
    mount_view "$img" "$mnt" "$@"
    cmp -s "$plain" "$mnt/disk.raw" || fail "view differs from plaintext with $*"
    umount_view "$mnt"
}

log "LUKS2 with slots 0 (argon2id, A), 1 (pbkdf2, B), 5 (pbkdf2, A)"
mk_luks2 l2.img 20 pwA --pbkdf argon2id "${ARGON2_COST_ARGS[@]}"
cryptsetup luksAddKey -q "${PBKDF2_ARGS[@]}" --key-file pwA --new-key-slot 1 l2.img pwB || fail "luksAddKey B"
cryptsetup luksAddKey -q "${PBKDF2_ARGS[@]}" --key-file pwA --new-key-slot 5 l2.img pwA || fail "luksAddKey A"
dump_vk l2.img pwA l2.vk --key-slot 0
size=$(oracle_field l2.img data_size)
pattern_file l2.plain "$size" 3
oracle_write l2.img l2.vk 0 l2.plain

mount_and_compare l2.img l2.plain m1 --passphrase-file pwA
mount_and_compare l2.img l2.plain m2 --passphrase-file pwB
mount_and_compare l2.img l2.plain m3 --passphrase-file pwA --key-slot 5
mount_and_compare l2.img l2.plain m4 --passphrase-file pwB -o key_slot=1

expect_slot "A, all slots" l2.img pwA
expect_slot "B, all slots" l2.img pwB
expect_slot "A, --key-slot 5" l2.img pwA --key-slot 5
expect_slot "B, --key-slot 1" l2.img pwB --key-slot 1
assert_exit 2 "$LUKSFS" check l2.img --passphrase-file pwA --key-slot 1
assert_exit 2 "$LUKSFS" check l2.img --passphrase-file pwB --key-slot 0
assert_exit 2 "$LUKSFS" check l2.img --passphrase-file pwX
mnt=$(new_mountpoint m-wrongslot)
register_mount "$mnt"
assert_exit 2 "$LUKSFS" mount --passphrase-file pwB --key-slot 5 l2.img "$mnt"

log "--max-kdf-memory below the argon2 slot's 32768 KiB refuses it"
set +e
"$LUKSFS" check l2.img --passphrase-file pwA --key-slot 0 --max-kdf-memory 16384 </dev/null >/dev/null 2>kdf.err
rc=$?
set -e
[[ "$rc" == 2 || "$rc" == 3 ]] || fail "--max-kdf-memory 16384 on a 32768 KiB argon2 slot: exit $rc, want 2 or 3"
assert_eq 1 "$(wc -l <kdf.err)" "stderr lines for the refused argon2 slot"
assert_exit 0 "$LUKSFS" check l2.img --passphrase-file pwA --key-slot 0 --max-kdf-memory 32768

log "priority prefer on slot 5"
cryptsetup config --priority prefer --key-slot 5 l2.img || fail "cryptsetup config --priority prefer"
assert_eq 5 "$(cs_slot l2.img pwA)" "cryptsetup's choice with slot 5 preferred"
expect_slot "A, slot 5 preferred" l2.img pwA
expect_slot "A, slot 5 preferred, --key-slot 0" l2.img pwA --key-slot 0

log "priority ignore on slot 1"
cryptsetup config --priority ignore --key-slot 1 l2.img || fail "cryptsetup config --priority ignore"
assert_exit 2 "$LUKSFS" check l2.img --passphrase-file pwB
expect_slot "B, slot 1 ignored but selected" l2.img pwB --key-slot 1
mount_and_compare l2.img l2.plain m5 --passphrase-file pwB --key-slot 1

log "LUKS1 with slots 0 (A) and 3 (B)"
mk_luks1 l1.img 8 pwA
cryptsetup luksAddKey -q --pbkdf-force-iterations 1000 --key-file pwA --new-key-slot 3 l1.img pwB || fail "luksAddKey LUKS1"
dump_vk l1.img pwA l1.vk
size=$(oracle_field l1.img data_size)
pattern_file l1.plain "$size" 4
oracle_write l1.img l1.vk 0 l1.plain
expect_slot "LUKS1 A" l1.img pwA
expect_slot "LUKS1 B" l1.img pwB
assert_exit 2 "$LUKSFS" check l1.img --passphrase-file pwB --key-slot 0
mount_and_compare l1.img l1.plain m6 --passphrase-file pwB
pass
