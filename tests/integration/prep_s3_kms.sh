#!/bin/bash
# create/convert --kms straight into S3 (Ceph radosgw, tests/s3/ceph-up.sh), local keystore KMS:
#   * convert -O qcow2 --kms src.raw s3://...: the object, downloaded with curl, carries the
#     binding in its qcow2 header extension 0x4c4b4d53; the passphrase unwrapped from it opens the
#     object in qemu-img (check clean, compare equal to SRC); `luksfs check s3://...` with no
#     secret opens it through the binding;
#   * create --type qcow2 --kms s3://...: the same, qemu-img check with the unwrapped passphrase;
#   * 512-byte clusters with a record that only turns out too long once the KMS has wrapped
#     (the early estimate passes): exit 1 "an s3:// image has no sidecar", no object under the
#     key and no multipart upload left (create and convert).
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"   # radosgw on free ports, stopped at exit; s3, EP, curl_get
export LUKSFS_KEYSTORE_KDF=min     # cheap keystore KDF for tests only
KS="$WORK/keys.db"
printf 'keystore passphrase\n' >kspw
KO=(--keystore-passphrase-file "$WORK/kspw")
qopts() { printf 'driver=qcow2,file.filename=%s,encrypt.key-secret=%s' "$1" "$2"; }
# genpw FILE KEY OUT: the generated passphrase of the downloaded qcow2 FILE, unwrapped by KEY.
genpw() { unwrap_binding "$1" "file:$KS#$2" "$3" "${KO[@]}"; }
# no_object KEY: nothing under images/KEY and no multipart upload left in the bucket.
no_object() {
    s3 head images "$1" >/dev/null 2>&1 && fail "an object exists under images/$1"
    s3 uploads images >uploads.xml
    grep -q '<UploadId>' uploads.xml && fail "multipart upload left behind: $(cat uploads.xml)"
    return 0
}

s3 mb images
for k in k1 k2; do assert_exit 0 "$LUKSFS" kms create-key "file:$KS#$k" "${KO[@]}"; done
truncate -s 40M src.raw
pattern_file p.bin $((6 * MiB)) 3
dd if=p.bin of=src.raw bs=1M seek=1 conv=notrunc status=none
dd if=p.bin of=src.raw bs=1M seek=30 conv=notrunc status=none

log "convert -O qcow2 --kms into s3://: the binding travels in the object"
assert_exit 0 "$LUKSFS" convert "${EP[@]}" -O qcow2 --kms "file:$KS#k1" "${KO[@]}" src.raw s3://images/vm.qcow2
curl_get images vm.qcow2 vm.qcow2 || fail "download vm.qcow2"
genpw vm.qcow2 k1 gen1.pw
S1=(--object "secret,id=g1,file=gen1.pw")
qemu-img check "${S1[@]}" --image-opts "$(qopts vm.qcow2 g1)" >check.out 2>&1 \
    || fail "qemu-img check of the object: $(cat check.out)"
qemu-img compare "${S1[@]}" --image-opts "$(qopts vm.qcow2 g1)" "driver=raw,file.filename=src.raw" \
    >cmp.out 2>&1 || fail "qemu-img compare of the object: $(cat cmp.out)"
assert_exit 0 "$LUKSFS" check "${EP[@]}" s3://images/vm.qcow2 "${KO[@]}"
grep -q "unwrapped by file:$KS#k1" "$WORK/last.out" || fail "check s3://: $(cat "$WORK/last.out")"

log "create --type qcow2 --kms s3://"
assert_exit 0 "$LUKSFS" create "${EP[@]}" --type qcow2 --kms "file:$KS#k2" "${KO[@]}" s3://images/new.qcow2 16M
grep -q "qcow2 header extension 0x4c4b4d53" "$WORK/last.out" || fail "create said: $(cat "$WORK/last.out")"
curl_get images new.qcow2 new.qcow2 || fail "download new.qcow2"
genpw new.qcow2 k2 gen2.pw
qemu-img check --object secret,id=g2,file=gen2.pw --image-opts "$(qopts new.qcow2 g2)" >check.out 2>&1 \
    || fail "qemu-img check of the created object: $(cat check.out)"

log "no room in a 512-byte header cluster, found after the KMS wrapped: exit 1, no object"
k3="k3-$(printf 'z%.0s' $(seq 40))"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#$k3" "${KO[@]}"
assert_exit 1 "$LUKSFS" create "${EP[@]}" --type qcow2 --cluster-size 512 --kms "file:$KS#$k3" "${KO[@]}" \
    s3://images/small.qcow2 8M
grep -q "512-byte qcow2 header cluster (use --cluster-size 4K or larger); an s3:// image has no sidecar" \
    "$WORK/last.err" || fail "create said: $(cat "$WORK/last.err")"
no_object small.qcow2
assert_exit 1 "$LUKSFS" convert "${EP[@]}" -O qcow2 --cluster-size 512 --kms "file:$KS#$k3" "${KO[@]}" \
    src.raw s3://images/small.qcow2
grep -q "an s3:// image has no sidecar" "$WORK/last.err" || fail "convert said: $(cat "$WORK/last.err")"
no_object small.qcow2
finish
