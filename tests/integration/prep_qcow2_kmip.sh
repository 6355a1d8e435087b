#!/bin/bash
# The one-step IBM Cloud VPC flow against a real PyKMIP server (mutual TLS): `create --type
# qcow2 --kms kmip://...` and `convert -O qcow2 --kms kmip://...` bind the new image at once,
# in its qcow2 header extension 0x4c4b4d53. The passphrase unwrapped from the record by the
# KMIP server opens the image in qemu-img (check clean; qemu-img convert reads back what was
# written through a no-secret mount; qemu-img compare equals the raw SRC). --create-key makes
# the root key on the server, and destroys it again when a later step fails. Revoke -> the mounted view goes dark; KMS unreachable -> exit 5
# and nothing written. The keystore flavour with the failure cases is prep_qcow2_kms.sh.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
[[ -x /usr/bin/pykmip-server ]] || fail "pykmip-server missing: install python3-pykmip (make deps)"
cd "$WORK"

start_pykmip "$WORK/pykmip"
OPTS=(--kms-ca "$C/ca.crt" --kms-cert "$C/client.crt" --kms-key "$C/client.key")
qopts() { printf 'driver=qcow2,file.filename=%s,encrypt.key-secret=%s' "$1" "$2"; }
# genpw IMG URI OUT: IMG's generated passphrase, unwrapped by the KMIP server.
genpw() { unwrap_binding "$1" "$2" "$3" "${OPTS[@]}"; }

log "create --type qcow2 --kms kmip://$EP/ --create-key: one step, bound in the header"
assert_exit 0 "$LUKSFS" create --type qcow2 --kms "kmip://$EP/" --create-key "${OPTS[@]}" vm.qcow2 32M
URI="$(sed -n 's/.*, bound to \(kmip:[^ ]*\) (keyslot 0, qcow2 header extension 0x4c4b4d53)$/\1/p' "$WORK/last.out")"
[[ -n $URI && $URI != "kmip://$EP/" ]] || fail "create said: $(cat "$WORK/last.out")"
[[ -e vm.qcow2.luksfs-kms ]] && fail "create wrote a sidecar"
qemu-img info vm.qcow2 | grep -q '^encrypted: yes' || fail "qemu-img info: not encrypted"
genpw vm.qcow2 "$URI" gen.pw
S=(--object "secret,id=g,file=gen.pw")
qemu-img check "${S[@]}" --image-opts "$(qopts vm.qcow2 g)" >check.out 2>&1 \
    || fail "qemu-img check with the unwrapped passphrase: $(cat check.out)"

log "mount with no secret, write; qemu-img convert reads it back"
truncate -s 32M exp.raw
pattern_file pat.bin $((2 * MiB)) 5
mnt=$(new_mountpoint mnt)
mount_view vm.qcow2 "$mnt" --kms-poll 1 "${OPTS[@]}"
dd if=pat.bin of="$mnt/disk.raw" bs=1M seek=3 oflag=direct conv=notrunc status=none || fail "write"
dd if=pat.bin of=exp.raw bs=1M seek=3 conv=notrunc status=none
cmp -s pat.bin <(dd if="$mnt/disk.raw" bs=1M skip=3 count=2 iflag=direct status=none) \
    || fail "read-back through the view"

log "revoke: the view goes dark"
assert_exit 0 "$LUKSFS" kms revoke "$URI" "${OPTS[@]}"
assert_goes_dark "$mnt" 5 "the revocation"
umount_view "$mnt"
assert_exit 5 "$LUKSFS" check vm.qcow2 "${OPTS[@]}"
# The data was written before the revocation: qemu-img, with the passphrase, still reads it.
qemu-img convert "${S[@]}" --image-opts "$(qopts vm.qcow2 g)" -O raw got.raw || fail "qemu-img convert"
assert_files_eq exp.raw got.raw "qemu-img's plaintext after writes through the view"

log "convert -O qcow2 --kms of a raw file: qemu-img compare equals SRC"
assert_exit 0 "$LUKSFS" kms create-key "kmip://$EP/" "${OPTS[@]}"
URI2="$(cat "$WORK/last.out")"
truncate -s 24M src.raw
pattern_file p.bin $((3 * MiB)) 9
dd if=p.bin of=src.raw bs=1M seek=10 conv=notrunc status=none
assert_exit 0 "$LUKSFS" convert -O qcow2 --kms "$URI2" "${OPTS[@]}" src.raw cv.qcow2
genpw cv.qcow2 "$URI2" gen2.pw
qemu-img compare --object secret,id=g2,file=gen2.pw --image-opts "$(qopts cv.qcow2 g2)" \
    "driver=raw,file.filename=src.raw" >cmp.out 2>&1 || fail "qemu-img compare: $(cat cmp.out)"
mount_view cv.qcow2 "$mnt" "${OPTS[@]}"
assert_files_eq src.raw "$mnt/disk.raw" "no-secret view of the converted image"
umount_view "$mnt"

log "create --create-key failing after the key was made: the key is destroyed again"
assert_exit 4 "$LUKSFS" create --type qcow2 --kms "kmip://$EP/" --create-key "${OPTS[@]}" no/such/dir/x.qcow2 8M
grep -q "create failed; the root key it created (kmip:" "$WORK/last.err" \
    || fail "no word of the created key: $(cat "$WORK/last.err")"
ORPHAN="$(sed -n 's/.*root key it created (\(kmip:[^)]*\)).*/\1/p' "$WORK/last.err")"
assert_exit 5 "$LUKSFS" kms state "$ORPHAN" "${OPTS[@]}"
grep -qiE "not found|no such key" "$WORK/last.err" || fail "the created key still exists: $(cat "$WORK/last.err")"

log "KMIP server unreachable: exit 5, nothing written"
assert_exit 5 "$LUKSFS" create --type qcow2 --kms "kmip://127.0.0.1:9/" "${OPTS[@]}" u.qcow2 8M
[[ -e u.qcow2 ]] && fail "an unreachable KMS left u.qcow2"
assert_exit 5 "$LUKSFS" convert -O qcow2 --kms "kmip://127.0.0.1:9/" "${OPTS[@]}" src.raw u.qcow2
[[ -e u.qcow2 ]] && fail "an unreachable KMS left u.qcow2"
compgen -G "u.qcow2*" >/dev/null && fail "an unreachable KMS left $(compgen -G 'u.qcow2*')"
pass
