#!/bin/bash
# One-step KMS binding of NEW LUKS1 images (the IBM Cloud VPC flow), local keystore:
#   * create --type qcow2 --kms: qemu-img info says qcow2+LUKS, the binding record is in the
#     header extension 0x4c4b4d53 (no sidecar); the generated passphrase (unwrapped from the
#     record with `luksfs unwrap`) opens it in qemu-img (check clean); a mount with NO secret
#     takes writes that `qemu-img convert` (with that passphrase) reads back as written;
#   * convert -O qcow2 --kms of a raw file: `qemu-img compare` with the unwrapped passphrase
#     equals SRC, the no-secret view equals SRC; revoke -> the mounted view goes dark, a new
#     mount exits 5; shred -> the passphrase opens nothing;
#   * the same through Key Protect (tests/kms/rest_kms_server.py, the stand-in that follows the
#     published API) with an IAM API key, the README's one-step IBM Cloud VPC flow;
#   * 512-byte clusters and a long key name: no room in the header, so a sidecar, saying so;
#   * --type luks1 / -O luks1 --kms: a sidecar binding (cryptsetup opens the image with the
#     unwrapped passphrase; qemu-img compare equals SRC);
#   * failures leave nothing: KMS unreachable -> exit 5, no DST, no temporary, no sidecar;
#     SIGINT mid-convert -> exit 130, nothing; s3:// with no room in the header (or LUKS1) ->
#     exit 1 before the KMS or S3 is asked (both unreachable here: asking either would exit 5
#     or 4); qcow2-plain --kms and --kms with a passphrase file -> exit 1.
# Why the oracle is independent: the passphrase comes out of the record through the keystore
# (`luksfs unwrap`, not the mount path), and qemu-img opens the image with it and decrypts
# with its own LUKS and qcow2 code.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
export LUKSFS_KEYSTORE_KDF=min     # cheap keystore KDF for tests only
KS="$WORK/keys.db"
printf 'keystore passphrase\n' >kspw
KO=(--keystore-passphrase-file "$WORK/kspw")
# qopts IMG SECRET-ID: qemu --image-opts for a qcow2+LUKS IMG.
qopts() { printf 'driver=qcow2,file.filename=%s,encrypt.key-secret=%s' "$1" "$2"; }
# genpw IMG KEY OUT: the generated passphrase of IMG, unwrapped by the keystore key KEY.
genpw() { unwrap_binding "$1" "file:$KS#$2" "$3" "${KO[@]}"; }
# nothing_left DST: no DST, no DST.tmp-*, no sidecar.
nothing_left() {
    [[ -e $1 ]] && fail "$1 was left behind"
    compgen -G "$1.tmp-*" >/dev/null && fail "a temporary of $1 was left behind"
    [[ -e $1.luksfs-kms ]] && fail "a sidecar of $1 was left behind"
    return 0
}

for k in k1 k2 k3 k4; do assert_exit 0 "$LUKSFS" kms create-key "file:$KS#$k" "${KO[@]}"; done

log "create --type qcow2 --kms: bound in the header, qemu opens it with the generated passphrase"
assert_exit 0 "$LUKSFS" create --type qcow2 --kms "file:$KS#k1" "${KO[@]}" vm.qcow2 64M
grep -q "bound to file:$KS#k1 (keyslot 0, qcow2 header extension 0x4c4b4d53)" "$WORK/last.out" \
    || fail "create said: $(cat "$WORK/last.out")"
[[ -e vm.qcow2.luksfs-kms ]] && fail "create wrote a sidecar"
qemu-img info vm.qcow2 >info.out || fail "qemu-img info"
grep -q '^file format: qcow2' info.out && grep -q '^encrypted: yes' info.out \
    && grep -q 'format: luks' info.out || fail "qemu-img info: $(cat info.out)"
genpw vm.qcow2 k1 gen1.pw
S1=(--object "secret,id=g1,file=gen1.pw")
qemu-img check "${S1[@]}" --image-opts "$(qopts vm.qcow2 g1)" >check.out 2>&1 \
    || fail "qemu-img check with the generated passphrase: $(cat check.out)"
grep -q 'No errors' check.out || fail "qemu-img check: $(cat check.out)"

log "mount with no secret; writes read back by qemu-img convert with the generated passphrase"
truncate -s 64M exp.raw
pattern_file pat.bin $((3 * MiB)) 11
mnt=$(new_mountpoint mnt)
mount_view vm.qcow2 "$mnt" "${KO[@]}"
dd if=pat.bin of="$mnt/disk.raw" bs=1M seek=5 oflag=direct conv=notrunc status=none || fail "write 1"
dd if=pat.bin of="$mnt/disk.raw" bs=4096 seek=$((60 * 256 + 1)) count=7 conv=notrunc,fsync status=none \
    || fail "write 2"
umount_view "$mnt"
dd if=pat.bin of=exp.raw bs=1M seek=5 conv=notrunc status=none
dd if=pat.bin of=exp.raw bs=4096 seek=$((60 * 256 + 1)) count=7 conv=notrunc status=none
qemu-img convert "${S1[@]}" --image-opts "$(qopts vm.qcow2 g1)" -O raw got.raw || fail "qemu-img convert"
assert_files_eq exp.raw got.raw "qemu-img's plaintext after writes through the view"
qemu-img check "${S1[@]}" --image-opts "$(qopts vm.qcow2 g1)" >check.out 2>&1 \
    || fail "qemu-img check after writes: $(cat check.out)"

log "convert -O qcow2 --kms of a raw file: qemu-img compare equals SRC"
truncate -s 40M src.raw
for off in 0 7 33; do pattern_file p.bin $((2 * MiB)) $off; dd if=p.bin of=src.raw bs=1M seek=$off conv=notrunc status=none; done
assert_exit 0 "$LUKSFS" convert -O qcow2 --kms "file:$KS#k2" "${KO[@]}" src.raw cv.qcow2
[[ -s $WORK/last.err ]] && fail "convert was not quiet: $(cat "$WORK/last.err")"
[[ -e cv.qcow2.luksfs-kms ]] && fail "convert wrote a sidecar"
genpw cv.qcow2 k2 gen2.pw
S2=(--object "secret,id=g2,file=gen2.pw")
qemu-img compare "${S2[@]}" --image-opts "$(qopts cv.qcow2 g2)" "driver=raw,file.filename=src.raw" \
    >cmp.out 2>&1 || fail "qemu-img compare: $(cat cmp.out)"
qemu-img check "${S2[@]}" --image-opts "$(qopts cv.qcow2 g2)" >/dev/null 2>&1 || fail "qemu-img check cv.qcow2"
mount_view cv.qcow2 "$mnt" --kms-poll 1 "${KO[@]}"
assert_files_eq src.raw "$mnt/disk.raw" "no-secret view of the converted image"

log "revoke: the mounted view goes dark, a new mount exits 5"
assert_exit 0 "$LUKSFS" kms revoke "file:$KS#k2" "${KO[@]}"
assert_goes_dark "$mnt" 4 "the revocation"
umount_view "$mnt"
assert_exit 5 "$LUKSFS" mount cv.qcow2 "$mnt" "${KO[@]}"

log "shred: the generated passphrase opens nothing afterwards"
assert_exit 0 "$LUKSFS" shred vm.qcow2 --yes "${KO[@]}"
qemu-img check "${S1[@]}" --image-opts "$(qopts vm.qcow2 g1)" >/dev/null 2>&1 \
    && fail "the generated passphrase still opens a shredded image"
assert_exit 2 "$LUKSFS" mount vm.qcow2 "$mnt" "${KO[@]}"
grep -q "no keyslot left" "$WORK/last.err" || fail "mount after shred: $(cat "$WORK/last.err")"

log "the README's IBM flow: convert -O qcow2 --kms kp+... (Key Protect stand-in, IAM API key)"
API_KEY="test-api-key-$$"
"$PY" "$REPO_ROOT/tests/kms/rest_kms_server.py" --port-file "$WORK/kp.port" --kp-token "" \
    --iam-api-key "$API_KEY" --seed kp:root1 >"$WORK/kp.out" 2>&1 &
KP_PID=$!
register_cleanup "kill $KP_PID 2>/dev/null || true"
for _ in $(seq 1 100); do [[ -s "$WORK/kp.port" ]] && break; sleep 0.1; done
[[ -s "$WORK/kp.port" ]] || fail "Key Protect stand-in did not start: $(cat "$WORK/kp.out")"
KPB="127.0.0.1:$(cat "$WORK/kp.port")"
printf '%s\n' "$API_KEY" >apikey
KP=(--kms-instance kp-test-instance --kms-api-key-file "$WORK/apikey" --iam-endpoint "http://$KPB")
assert_exit 0 "$LUKSFS" convert -O qcow2 --kms "kp+http://$KPB/root1" "${KP[@]}" src.raw kp.qcow2
unwrap_binding kp.qcow2 "kp+http://$KPB/root1" genkp.pw "${KP[@]}"
qemu-img compare --object secret,id=gk,file=genkp.pw --image-opts "$(qopts kp.qcow2 gk)" \
    "driver=raw,file.filename=src.raw" >cmp.out 2>&1 || fail "qemu-img compare kp.qcow2: $(cat cmp.out)"
mount_view kp.qcow2 "$mnt" "${KP[@]}"
assert_files_eq src.raw "$mnt/disk.raw" "no-secret view of the Key Protect bound image"
umount_view "$mnt"

log "512-byte clusters and a long key name: no room in the header, a sidecar (said so)"
long="k5-$(printf 'x%.0s' $(seq 120))"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#$long" "${KO[@]}"
assert_exit 0 "$LUKSFS" create --type qcow2 --cluster-size 512 --kms "file:$KS#$long" "${KO[@]}" small.qcow2 8M
grep -q "sidecar small.qcow2.luksfs-kms (the KMS binding record needs" "$WORK/last.out" \
    || fail "create said: $(cat "$WORK/last.out")"
[[ -s small.qcow2.luksfs-kms ]] || fail "no sidecar"
genpw small.qcow2 "$long" gen5.pw
qemu-img check --object secret,id=g5,file=gen5.pw --image-opts "$(qopts small.qcow2 g5)" >/dev/null 2>&1 \
    || fail "qemu-img check of the 512-byte-cluster image"
assert_exit 0 "$LUKSFS" check small.qcow2 "${KO[@]}"
grep -q "unwrapped by file:$KS#$long" "$WORK/last.out" || fail "check: $(cat "$WORK/last.out")"

log "LUKS1 targets: --type luks1 / -O luks1 --kms bind through a sidecar"
assert_exit 0 "$LUKSFS" create --type luks1 --kms "file:$KS#k3" "${KO[@]}" l1.img 16M
grep -q "sidecar l1.img.luksfs-kms" "$WORK/last.out" || fail "create said: $(cat "$WORK/last.out")"
cryptsetup luksDump l1.img | grep -q '^Version:[[:space:]]*1' || fail "l1.img is not LUKS1"
genpw l1.img k3 gen3.pw
cryptsetup open --test-passphrase --key-file gen3.pw l1.img || fail "cryptsetup refuses the generated passphrase"
assert_exit 0 "$LUKSFS" convert -O luks1 --kms "file:$KS#k4" "${KO[@]}" src.raw l1cv.img
grep -q "sidecar l1cv.img.luksfs-kms" "$WORK/last.err" || fail "convert said: $(cat "$WORK/last.err")"
genpw l1cv.img k4 gen4.pw
qemu-img compare --object secret,id=g4,file=gen4.pw --image-opts \
    "driver=luks,key-secret=g4,file.filename=l1cv.img" "driver=raw,file.filename=src.raw" >cmp.out 2>&1 \
    || fail "qemu-img compare of the LUKS1 convert: $(cat cmp.out)"
mount_view l1cv.img "$mnt" "${KO[@]}"
assert_files_eq src.raw "$mnt/disk.raw" "no-secret view of the LUKS1 convert"
umount_view "$mnt"

log "KMS unreachable (no keystore file): exit 5, nothing left"
NO="file:$WORK/none/keys.db#k1"
assert_exit 5 "$LUKSFS" create --type qcow2 --kms "$NO" "${KO[@]}" u.qcow2 8M
nothing_left u.qcow2
assert_exit 5 "$LUKSFS" convert -O qcow2 --kms "$NO" "${KO[@]}" src.raw u.qcow2
nothing_left u.qcow2
assert_exit 5 "$LUKSFS" create --type luks1 --kms "$NO" "${KO[@]}" u.img 8M
nothing_left u.img

log "SIGINT mid-convert: exit 130, no DST, no sidecar"
head -c 256M /dev/urandom >big.raw
assert_convert_interrupt int.qcow2 -O qcow2 --kms "file:$KS#k3" "${KO[@]}" --threads 1 \
    --block-size 1 --json-progress big.raw
nothing_left int.qcow2
assert_convert_interrupt int.img -O luks1 --kms "file:$KS#k3" "${KO[@]}" --threads 1 \
    --block-size 1 --json-progress big.raw
nothing_left int.img
rm -f big.raw

log "refusals before the KMS or S3 is asked: exit 1, one line"
S3=(--s3-endpoint http://127.0.0.1:9)   # nothing listens: asking S3 would exit 4
refuse() {
    assert_exit 1 "$LUKSFS" "$@"
    [[ $(wc -l <"$WORK/last.err") == 1 ]] || fail "'$*': not a one-line error: $(cat "$WORK/last.err")"
}
refuse create --type qcow2 --cluster-size 512 --kms "file:$WORK/none/keys.db#$long" "${KO[@]}" "${S3[@]}" \
    s3://images/small.qcow2 8M
grep -q "512-byte qcow2 header cluster (use --cluster-size 4K or larger); an s3:// image has no sidecar" \
    "$WORK/last.err" || fail "s3 too-small cluster: $(cat "$WORK/last.err")"
refuse convert -O qcow2 --cluster-size 512 --kms "file:$WORK/none/keys.db#$long" "${KO[@]}" "${S3[@]}" \
    src.raw s3://images/small.qcow2
grep -q "an s3:// image has no sidecar" "$WORK/last.err" || fail "s3 convert: $(cat "$WORK/last.err")"
refuse create --type luks1 --kms "$NO" "${KO[@]}" "${S3[@]}" s3://images/l1.img 8M
grep -q "use --type luks2 or qcow2" "$WORK/last.err" || fail "s3 LUKS1: $(cat "$WORK/last.err")"
refuse create --type qcow2-plain --kms "file:$KS#k3" "${KO[@]}" x.qcow2 8M
nothing_left x.qcow2
write_secret pw "a passphrase"
refuse create --type qcow2 --kms "file:$KS#k3" --passphrase-file pw "${KO[@]}" x.qcow2 8M
nothing_left x.qcow2
refuse convert -O qcow2 --kms "file:$KS#k3" --new-passphrase-file pw "${KO[@]}" src.raw x.qcow2
nothing_left x.qcow2
pass
