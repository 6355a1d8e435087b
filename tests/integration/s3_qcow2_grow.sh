#!/bin/bash
# qcow2+LUKS in S3, allocating writes: a qcow2 image made by qemu-img is uploaded to radosgw,
# mounted read-write through luksfs, written where no cluster is allocated (the object grows),
# unmounted; the object is downloaded with curl, `qemu-img check` must be clean and qemu-img's
# own decryption (convert to raw) must give back the written bytes.
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"
s3 mb images
printf 'sec0' > pw
# qemu's iteration calibration sometimes fails on a loaded machine ("Unable to get accurate CPU
# usage"): retry it.
for _ in 1 2 3; do
    qemu-img create -q -f qcow2 --object secret,id=sec0,file=pw \
        -o encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10 img.qcow2 64M && break
done
[[ -s img.qcow2 ]] || fail "qemu-img create failed"
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
pass
