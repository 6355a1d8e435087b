#!/bin/bash
# `luksfs convert` to and from S3 against a real server (Ceph radosgw, tests/s3/ceph-up.sh):
#   * raw -> s3://.../enc.luks (LUKS2) is one streamed multipart upload (ETag "...-N"); the object,
#     downloaded with curl, opens with cryptsetup and decrypts (oracle) to SRC
#   * s3:// LUKS2 SRC -> local raw (decrypt): equal to SRC; compare reads s3:// too
#   * create s3://KEY: the downloaded object opens with cryptsetup
#   * raw -> s3:// qcow2+LUKS and create s3:// --type qcow2: downloaded with curl, qemu-img check,
#     compare and map agree (the zero run stays a hole)
#   * an existing object is refused without --force
#   * SIGINT during an upload (convert, and create's zero fill): exit 130, no object under the
#     key, no multipart upload left
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
source "$TESTS_DIR/s3/rgw_lib.sh"   # radosgw on free ports, stopped at exit; s3, EP
# Downloads with curl: the object must be readable by a plain HTTP client (SigV4 by curl).
scurl() {
    curl -sS --fail --aws-sigv4 "aws:amz:$AWS_REGION:s3" --user "$AK:$SK" \
        -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" "$@"
}
CHEAP=(--pbkdf pbkdf2 --pbkdf-force-iterations 1000)
s3 mb images
write_secret pw "s3 convert passphrase"
pattern_file src.raw $((40 * MiB)) 5
dd if=/dev/zero of=src.raw bs=1M seek=4 count=12 conv=notrunc status=none

log "raw -> s3:// LUKS2: streamed multipart upload, checked with curl + cryptsetup + oracle"
assert_exit 0 "$LUKSFS" convert "${EP[@]}" "${CHEAP[@]}" --new-passphrase-file pw src.raw s3://images/enc.luks
etag=$(s3 head images enc.luks | cut -d' ' -f2)
[[ "$etag" == *-* ]] || fail "not a multipart upload: ETag $etag"
scurl -o enc.luks "$S3_ENDPOINT/images/enc.luks"
cryptsetup open --test-passphrase --key-file pw enc.luks || fail "cryptsetup refuses the uploaded image"
dump_vk enc.luks pw enc.vk
oracle_decrypt enc.luks enc.vk enc.plain
assert_files_eq src.raw enc.plain "oracle plaintext of the uploaded image"

log "s3:// LUKS2 -> raw (decrypt) and -> s3:// raw; compare on s3://"
assert_exit 0 "$LUKSFS" convert "${EP[@]}" -O raw --passphrase-file pw s3://images/enc.luks dec.raw
assert_files_eq src.raw dec.raw "decrypted from s3://"
assert_exit 0 "$LUKSFS" convert "${EP[@]}" -O raw --passphrase-file pw s3://images/enc.luks s3://images/dec.raw
scurl -o dec2.raw "$S3_ENDPOINT/images/dec.raw"
assert_files_eq src.raw dec2.raw "decrypted into s3:// (zero runs filled)"
assert_exit 0 "$LUKSFS" compare "${EP[@]}" src.raw s3://images/enc.luks --b-passphrase-file pw

log "create s3://: the object opens with cryptsetup"
assert_exit 0 "$LUKSFS" create "${EP[@]}" "${CHEAP[@]}" --passphrase-file pw s3://images/new.luks 8M
scurl -o new.luks "$S3_ENDPOINT/images/new.luks"
assert_eq $((16 * MiB + 8 * MiB)) "$(stat -c %s new.luks)" "created object size"
cryptsetup open --test-passphrase --key-file pw new.luks || fail "cryptsetup refuses the created object"
assert_exit 1 "$LUKSFS" create "${EP[@]}" "${CHEAP[@]}" --passphrase-file pw s3://images/new.luks 8M

log "raw -> s3:// qcow2+LUKS: streamed, header in part 1 uploaded last; curl + qemu-img check/compare/map"
assert_exit 0 "$LUKSFS" convert "${EP[@]}" -O qcow2 --pbkdf-force-iterations 1000 \
    --new-passphrase-file pw src.raw s3://images/enc.qcow2
etag=$(s3 head images enc.qcow2 | cut -d' ' -f2)
[[ "$etag" == *-* ]] || fail "qcow2: not a multipart upload: ETag $etag"
scurl -o enc.qcow2 "$S3_ENDPOINT/images/enc.qcow2"
QSEC=(--object secret,id=s0,file=pw)
QOPT="driver=qcow2,encrypt.key-secret=s0,file.filename=enc.qcow2"
qemu-img check "${QSEC[@]}" --image-opts "$QOPT" >qc.out 2>&1 || fail "qemu-img check enc.qcow2: $(cat qc.out)"
qemu-img compare "${QSEC[@]}" --image-opts "$QOPT" driver=raw,file.filename=src.raw >qc.out 2>&1 ||
    fail "qemu-img compare enc.qcow2: $(cat qc.out)"
qemu-img map --output=json "${QSEC[@]}" --image-opts "$QOPT" | grep -q '"start": 4194304, "length": 12582912, [^}]*"data": false' ||
    fail "enc.qcow2: the zero run of SRC is not a hole"
assert_exit 0 "$LUKSFS" compare "${EP[@]}" src.raw s3://images/enc.qcow2 --b-passphrase-file pw

log "create s3:// --type qcow2 (100 GiB, one part)"
assert_exit 0 "$LUKSFS" create "${EP[@]}" --type qcow2 --pbkdf-force-iterations 1000 --passphrase-file pw \
    s3://images/new.qcow2 100G
scurl -o new.qcow2 "$S3_ENDPOINT/images/new.qcow2"
qemu-img check "${QSEC[@]}" --image-opts "driver=qcow2,encrypt.key-secret=s0,file.filename=new.qcow2" >qc.out 2>&1 ||
    fail "qemu-img check new.qcow2: $(cat qc.out)"
qemu-img info new.qcow2 | grep -q '^virtual size: 100 GiB' || fail "new.qcow2: virtual size"

log "refusal: existing object"
assert_exit 1 "$LUKSFS" convert "${EP[@]}" "${CHEAP[@]}" --new-passphrase-file pw src.raw s3://images/enc.luks
grep -q 'already exists' "$WORK/last.err" || fail "no 'already exists': $(cat "$WORK/last.err")"

log "SIGINT during an upload: no object, no multipart upload left"
truncate -s 300M big.raw
for off in 0 100 200; do head -c 4M /dev/urandom | dd of=big.raw bs=1M seek=$off conv=notrunc status=none; done
"$LUKSFS" convert "${EP[@]}" "${CHEAP[@]}" --new-passphrase-file pw --threads 1 --block-size 1 \
    --json-progress big.raw s3://images/int.luks 2>int.err &
cpid=$!
for _ in $(seq 1 400); do
    grep -q '"done":[1-9][0-9]\{7\}' int.err 2>/dev/null && break   # >= 10 MB uploaded
    sleep 0.05
done
kill -INT "$cpid"
set +e; wait "$cpid"; rc=$?; set -e
if [[ $rc == 0 ]]; then
    log "the upload finished before the signal; interrupt not exercised"
else
    [[ $rc == 130 ]] || fail "interrupted upload exit $rc (want 130): $(tail -2 int.err)"
    s3 head images int.luks >/dev/null 2>&1 && fail "an object exists after the interrupted upload"
    s3 uploads images >uploads.xml
    grep -q '<UploadId>' uploads.xml && fail "multipart upload left behind: $(cat uploads.xml)"
    log "interrupted upload exited 130; no object, no upload left"
fi

log "SIGINT during create s3:// (the zero fill): no object, no upload left"
"$LUKSFS" create "${EP[@]}" "${CHEAP[@]}" --passphrase-file pw s3://images/intc.luks 1G 2>intc.err &
cpid=$!
sleep 2
kill -INT "$cpid"
set +e; wait "$cpid"; rc=$?; set -e
if [[ $rc == 0 ]]; then
    log "create finished before the signal; interrupt not exercised"
else
    [[ $rc == 130 ]] || fail "interrupted create exit $rc (want 130): $(cat intc.err)"
    s3 head images intc.luks >/dev/null 2>&1 && fail "an object exists after the interrupted create"
    s3 uploads images >uploads.xml
    grep -q '<UploadId>' uploads.xml && fail "multipart upload left behind: $(cat uploads.xml)"
    log "interrupted create exited 130; no object, no upload left"
fi
finish
