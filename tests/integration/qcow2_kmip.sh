#!/bin/bash
# The KMS flow on a qemu-img made qcow2+LUKS image against a real PyKMIP server (mutual TLS):
# bind (the binding goes into luksfs's qcow2 header extension 0x4c4b4d53), survives
# `qemu-img check -r all`, mount with no secret (view == `qemu-img convert`), revoke -> the view
# goes dark, unbind. The keystore flavour with every qcow2 edit is qcow2_kms.sh.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
[[ -x /usr/bin/pykmip-server ]] || fail "pykmip-server missing: install python3-pykmip (make deps)"
cd "$WORK"

start_pykmip "$WORK/pykmip"
OPTS=(--kms-ca "$C/ca.crt" --kms-cert "$C/client.crt" --kms-key "$C/client.key")
assert_exit 0 "$LUKSFS" kms create-key "kmip://$EP/" "${OPTS[@]}"
URI="$(cat "$WORK/last.out")"

write_secret pw "qcow2 kmip passphrase"
SECRET=(--object "secret,id=sec0,file=pw")
IOPTS="driver=qcow2,file.filename=img.qcow2,encrypt.key-secret=sec0"
qemu_luks_create qemu-img create -q -f qcow2 "${SECRET[@]}" \
    -o "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10" img.qcow2 32M
qemu-io "${SECRET[@]}" --image-opts "$IOPTS" -c 'write -P 0x5a 1M 2M' -c 'write -P 0x33 30M 4k' \
    >/dev/null || fail "qemu-io"

log "bind to $URI"
assert_exit 0 "$LUKSFS" bind img.qcow2 --kms "$URI" --key-file pw "${OPTS[@]}"
grep -q "header extension 0x4c4b4d53" "$WORK/last.out" || fail "bind said: $(cat "$WORK/last.out")"
[[ -e img.qcow2.luksfs-kms ]] && fail "bind wrote a sidecar"
qemu-img check -r all "${SECRET[@]}" --image-opts "$IOPTS" >/dev/null || fail "qemu-img check -r all"
assert_exit 0 "$LUKSFS" info img.qcow2
grep -q "kms_binding: $URI (keyslot 1" "$WORK/last.out" || fail "info: $(grep kms_binding "$WORK/last.out")"

log "mount with no secret: view == qemu-img convert"
qemu-img convert "${SECRET[@]}" --image-opts "$IOPTS" -O raw exp.raw || fail "convert"
mnt=$(new_mountpoint mnt)
mount_view img.qcow2 "$mnt" --kms-poll 1 "${OPTS[@]}"
assert_files_eq exp.raw "$mnt/disk.raw" "view vs qemu-img convert"

log "revoke: the view goes dark"
assert_exit 0 "$LUKSFS" kms revoke "$URI" "${OPTS[@]}"
assert_goes_dark "$mnt" 5 "the revocation"
umount_view "$mnt"
assert_exit 5 "$LUKSFS" check img.qcow2 "${OPTS[@]}"

log "unbind: the record goes, the old secret still opens the image"
assert_exit 0 "$LUKSFS" unbind img.qcow2
assert_exit 0 "$LUKSFS" info img.qcow2
grep -q "kms_binding: none" "$WORK/last.out" || fail "info after unbind: $(grep kms_binding "$WORK/last.out")"
qemu-img check "${SECRET[@]}" --image-opts "$IOPTS" >/dev/null || fail "qemu-img check after unbind"
pass
