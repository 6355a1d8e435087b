#!/bin/bash
# CLI conventions: usage without arguments, COMMAND --help, the reworded errors (each with its
# exit code and one line), the bash completion, and what `make install` puts where.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "system cli passphrase"

# one_line CODE NEEDLE CMD...: exit CODE, exactly one stderr line, containing NEEDLE.
one_line() {
    local code="$1" needle="$2"
    shift 2
    assert_exit "$code" "$@"
    [[ "$(wc -l <"$WORK/last.err")" == 1 ]] || fail "want one stderr line from: $* -- got: $(cat "$WORK/last.err")"
    grep -qF -- "$needle" "$WORK/last.err" || fail "stderr of '$*' lacks '$needle': $(cat "$WORK/last.err")"
}

log "no arguments: usage on stderr, exit 1, nothing on stdout"
assert_exit 1 "$LUKSFS"
grep -q '^usage: luksfs mount' "$WORK/last.err" || fail "no usage on stderr: $(cat "$WORK/last.err")"
[[ ! -s "$WORK/last.out" ]] || fail "luksfs without arguments wrote to stdout"
assert_exit 0 "$LUKSFS" --help
grep -q '^usage: luksfs mount' "$WORK/last.out" || fail "--help: no usage on stdout"

log "COMMAND --help: that command's options only; kms --help lists the verbs"
for c in mount umount pid info check bind unbind shred wrap unwrap rewrap kms; do
    assert_exit 0 "$LUKSFS" "$c" --help
    grep -q "^usage: luksfs $c" "$WORK/last.out" || fail "$c --help: no '$c' usage line"
    other=$(grep '^ *luksfs ' "$WORK/last.out" | grep -v "luksfs $c\|luksfs IMAGE" || true)
    [[ -z "$other" ]] || fail "$c --help shows other commands: $other"
done
assert_exit 0 "$LUKSFS" umount --help
grep -q -- '--passphrase-file' "$WORK/last.out" && fail "umount --help lists secret options"
assert_exit 0 "$LUKSFS" info --help
grep -q -- '--kms' "$WORK/last.out" && fail "info --help lists KMS options"
assert_exit 0 "$LUKSFS" kms --help
for v in "create-key URI" "revoke URI" "destroy URI" "state URI" "trust URI" "clusters "; do
    grep -q "^  $v" "$WORK/last.out" || fail "kms --help does not list ${v% *}"
done

log "usage errors point at the command's own help, in one line"
one_line 1 "mount: too many arguments (usage: luksfs mount [options] IMAGE MOUNTPOINT) (see 'luksfs mount --help')" \
    "$LUKSFS" mount a b c
one_line 1 "kms: a verb is needed: create-key, revoke, destroy, state, trust or clusters (see 'luksfs kms --help')" "$LUKSFS" kms
one_line 1 "unknown command 'bogus' (see 'luksfs --help')" "$LUKSFS" bogus

log "an erased image is 'no key', exit 2 (was: no digest covers data segment 0, exit 3)"
truncate -s 32M erased.img
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" erased.img pw
cryptsetup luksErase -q erased.img
one_line 2 "erased.img: no key: the image has no keyslot left (shredded or erased)" \
    "$LUKSFS" check erased.img --passphrase-file pw
mnt=$(new_mountpoint mnt)
register_mount "$mnt"
one_line 2 "no keyslot left" "$LUKSFS" mount erased.img "$mnt" --passphrase-file pw
truncate -s 32M erased1.img
cryptsetup luksFormat -q --type luks1 --iter-time 1 erased1.img pw
cryptsetup luksErase -q erased1.img
one_line 2 "no keyslot left" "$LUKSFS" check erased1.img --passphrase-file pw
log "info --json: no view_size for an unmountable image; every key_size in bits"
assert_exit 0 "$LUKSFS" info --json erased.img
$PY - "$WORK/last.out" <<'PYEOF' || fail "info --json of the erased image"
import json, sys
j = json.load(open(sys.argv[1]))
assert "view_size" not in j, j
assert j["mountable"] is False and "no keyslot left" in j["unmountable_reason"], j
PYEOF

truncate -s 32M img
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" img pw
assert_exit 0 "$LUKSFS" info --json img
$PY - "$WORK/last.out" <<'PYEOF' || fail "info --json key sizes"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["key_size"] == 512, j["key_size"]
ks = j["keyslots"][0]
assert ks["key_size"] == 512 and ks["area"]["key_size"] == 512, ks
assert j["view_size"] == 32 * 1024 * 1024 - 16 * 1024 * 1024, j["view_size"]
PYEOF

log "KMS URI errors name the URI once"
for u in 'kmip://h' 'kp+https://x' 'vault+https://h/' 'file:/nonexist/ks'; do
    one_line 5 "KMS $u: " "$LUKSFS" bind img --kms "$u" --passphrase-file pw
    [[ "$(grep -o -F -- "$u" "$WORK/last.err" | wc -l)" == 1 ]] || fail "URI repeated: $(cat "$WORK/last.err")"
done
log "keystore without a passphrase file names --keystore-passphrase-file"
one_line 5 "--keystore-passphrase-file" "$LUKSFS" bind img --kms "file:$WORK/ks#k" --create-key --passphrase-file pw

log "an image the user may read but not write: the error suggests --read-only"
chmod 0755 "$WORK"
chmod 0644 img pw
umnt=$(new_mountpoint umnt)
chown nobody "$umnt"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
one_line 4 "mount it with --read-only" as_nobody "$LUKSFS" mount "$WORK/img" "$umnt" --passphrase-file "$WORK/pw"

log "--kernel-readahead as a non-root user: a warning says it is not applied"
set +e
as_nobody "$LUKSFS" mount -r "$WORK/img" "$umnt" --passphrase-file "$WORK/pw" --kernel-readahead 512 \
    </dev/null >/dev/null 2>"$WORK/ra.err"
set -e
register_mount "$umnt"
grep -q '^luksfs: warning: --kernel-readahead needs root' "$WORK/ra.err" || fail "no readahead warning: $(cat "$WORK/ra.err")"
as_nobody "$LUKSFS" umount "$umnt" >/dev/null 2>&1 || true

if ! as_nobody test -w /dev/fuse; then
    log "FUSE unusable for this user: one line, with libfuse's reason"
    one_line 6 "(failed to open /dev/fuse: Permission denied)" \
        as_nobody "$LUKSFS" mount -r "$WORK/img" "$umnt" --passphrase-file "$WORK/pw"
fi

log "umount by a user who may not unmount: one line, with fusermount3's reason"
rmnt=$(new_mountpoint rmnt)
mount_view "$WORK/img" "$rmnt" --passphrase-file "$WORK/pw"
one_line 6 "fusermount3 -u failed: " as_nobody "$LUKSFS" umount "$rmnt"
umount_view "$rmnt"

log "a dead mount point (daemon killed): says the daemon died, and how to clean up"
dmnt=$(new_mountpoint dmnt)
mount_view "$WORK/img" "$dmnt" --passphrase-file "$WORK/pw" --read-only
kill -9 "$("$LUKSFS" pid "$dmnt")"
sleep 0.3
set +e
"$LUKSFS" mount "$WORK/img" "$dmnt" --passphrase-file "$WORK/pw" --read-only </dev/null 2>"$WORK/dead.err"
rc=$?
set -e
assert_eq 6 "$rc" "mount on a dead mount point"
grep -q "^luksfs: $dmnt: the FUSE daemon serving this mountpoint died (Transport endpoint is not connected); clean it up with \`luksfs umount $dmnt\`" "$WORK/dead.err" \
    || fail "dead mount point: $(cat "$WORK/dead.err")"
[[ "$(wc -l <"$WORK/dead.err")" -eq 1 ]] || fail "dead mount point: more than one line: $(cat "$WORK/dead.err")"
umount -l "$dmnt" 2>/dev/null || fusermount3 -uz "$dmnt" 2>/dev/null || true

log "bash completion: commands, per-command options, kms verbs"
complete() { :; }  # the file registers itself; not needed here
# shellcheck source=../../contrib/completion/luksfs.bash
source "$REPO_ROOT/contrib/completion/luksfs.bash"
comp() {  # comp WORD...: completions of the last word
    COMP_WORDS=("$LUKSFS" "$@")
    COMP_CWORD=$#
    compopt() { :; }
    _luksfs
    printf '%s\n' "${COMPREPLY[@]}"
}
comp "ch" | grep -qx check || fail "completion: 'ch' does not give check"
comp mount --s3-p | grep -qx -- --s3-path-style || fail "completion: mount --s3-p"
comp umount --pa | grep -q -- --passphrase-file && fail "completion: umount offers --passphrase-file"
comp kms "" | grep -qx revoke || fail "completion: kms verbs"

log "make install: stripped binary, mount.luksfs, man page and link, completion"
make -s -C "$REPO_ROOT" install DESTDIR="$WORK/root" PREFIX=/usr BUILD="$(dirname "$LUKSFS")" >/dev/null
R="$WORK/root/usr"
file "$R/bin/luksfs" | grep -q ', stripped' || fail "installed binary is not stripped: $(file "$R/bin/luksfs")"
"$R/bin/luksfs" --version >/dev/null || fail "installed binary does not run"
[[ "$(readlink "$R/sbin/mount.luksfs")" == ../bin/luksfs ]] || fail "no sbin/mount.luksfs link"
[[ -f "$R/share/man/man8/luksfs.8" && "$(readlink "$R/share/man/man8/mount.luksfs.8")" == luksfs.8 ]] \
    || fail "man page or mount.luksfs.8 link missing"
[[ -f "$R/share/bash-completion/completions/luksfs" ]] || fail "completion not installed"
grep -q '^ExecStart=/usr/bin/luksfs mount --foreground' "$R/lib/systemd/system/luksfs@.service" \
    || fail "luksfs@.service not installed"
[[ -f "$R/share/doc/luksfs/examples/fstab.example" ]] || fail "examples not installed"
pass
