#!/bin/bash
# qcow2+LUKS in S3, allocating writes: a qcow2 image made by qemu-img is uploaded to radosgw,
# mounted read-write through luksfs, written where no cluster is allocated (the object grows),
# unmounted; the object is downloaded with curl, `qemu-img check` must be clean and qemu-img's
# own decryption (convert to raw) must give back the written bytes.
# Then the KMS binding of the object: `bind` writes it into the qcow2 header extension INSIDE the
# object (downloaded: qemu-img check clean), and a read-only mount with no secret unwraps it.
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"
s3 mb images
printf 'sec0' > pw
qemu_luks_create qemu-img create -q -f qcow2 --object secret,id=sec0,file=pw \
    -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 img.qcow2 64M
s3 put images q.qcow2 img.qcow2
before=$(stat -c %s img.qcow2)
m=$(new_mountpoint q)
mount_view s3://images/q.qcow2 "$m" --passphrase-file pw "${EP[@]}" --cache-dir "$WORK" --commit-interval 0
head -c $((5*MiB)) /dev/urandom > data
dd if=data of="$m/disk.raw" bs=1M seek=20 conv=notrunc,fsync status=none || fail write
umount_view "$m"
curl_get images q.qcow2 got.qcow2 || fail get
log "object $before -> $(stat -c %s got.qcow2) bytes"
qemu-img check -q --object secret,id=sec0,file=pw --image-opts driver=qcow2,file.filename=got.qcow2,encrypt.key-secret=sec0 || fail "qemu-img check"
qemu-img convert --object secret,id=sec0,file=pw --image-opts driver=qcow2,file.filename=got.qcow2,encrypt.key-secret=sec0 -O raw got.raw || fail convert
cmp <(dd if=got.raw bs=1M skip=20 count=5 status=none) data || fail "data differs"

log "KMS binding of the object: it goes into the qcow2 header extension, inside the object"
export LUKSFS_KEYSTORE_KDF=min
printf 'keystore passphrase\n' >kspw
KO=(--keystore-passphrase-file "$WORK/kspw")
assert_exit 0 "$LUKSFS" kms create-key "file:$WORK/ks.db#q" "${KO[@]}"
assert_exit 0 "$LUKSFS" bind s3://images/q.qcow2 --kms "file:$WORK/ks.db#q" --key-file pw "${KO[@]}" "${EP[@]}"
grep -q "header extension 0x4c4b4d53" "$WORK/last.out" || fail "bind said: $(cat "$WORK/last.out")"
curl_get images q.qcow2 bound.qcow2 || fail get
grep -q '"type":"luksfs-kms"' bound.qcow2 || fail "no binding record inside the object"
qemu-img check -q --object secret,id=sec0,file=pw --image-opts driver=qcow2,file.filename=bound.qcow2,encrypt.key-secret=sec0 || fail "qemu-img check of the bound object"
mount_view s3://images/q.qcow2 "$m" "${KO[@]}" "${EP[@]}" --cache-dir "$WORK" --read-only
cmp <(dd if="$m/disk.raw" bs=1M skip=20 count=5 status=none) data || fail "view through the KMS binding differs"
umount_view "$m"
log "bound in the object; mounted with no secret"
pass
