#!/bin/bash
# The KMS flow on qcow2+LUKS images made by qemu-img (the IBM Cloud flow), with the local keystore:
#  - --key-slot N on a qcow2 with two keyslots (the second added by qemu-img amend);
#  - bind: the binding lives INSIDE the qcow2 file, in luksfs's header extension 0x4c4b4d53
#    (no sidecar); `info` shows it; it survives qemu-img check -r all, amend (lazy_refcounts,
#    refcount_bits), resize and qemu-io writes: `luksfs check` with no secret works after each;
#  - mount with no secret: the view equals `qemu-img convert`; O_DIRECT writes and reads through
#    the view, then qemu-img compare / check agree; a read-only mount changes nothing;
#  - rewrap to another key (the record grows in place), revoke: the view goes dark;
#  - unbind removes keyslot and record; an old sidecar binding still works and `bind` moves it
#    into the file; a 512-byte-cluster image with no room falls back to the sidecar, saying so;
#  - shred: afterwards qemu-img opens the image with neither old secret.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
export LUKSFS_KEYSTORE_KDF=min     # cheap keystore KDF for tests only
KS="$WORK/keys.db"
printf 'keystore passphrase\n' >kspw
KO=(--keystore-passphrase-file "$WORK/kspw")
write_secret pw "qcow2 passphrase 0"
write_secret pw1 "qcow2 passphrase 1"
SECRET=(--object "secret,id=sec0,file=pw" --object "secret,id=sec1,file=pw1")
opts() { printf 'driver=qcow2,file.filename=%s,encrypt.key-secret=%s' "$1" "${2:-sec0}"; }
mk_qcow2() {  # mk_qcow2 IMG SIZE [extra -o options]
    rm -f "$1"
    qemu_luks_create qemu-img create -q -f qcow2 "${SECRET[@]}" \
        -o "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10${3:+,$3}" "$1" "$2"
}
qimg() {  # qimg SUBCOMMAND IMG [args...]: qemu-img SUBCOMMAND with the secret, must succeed
    local sub="$1" img="$2"
    shift 2
    qemu-img "$sub" "${SECRET[@]}" --image-opts "$(opts "$img")" "$@" >"$WORK/qimg.out" 2>&1 \
        || fail "qemu-img $sub $img $*: $(tr '\n' ' ' <"$WORK/qimg.out")"
}
qio() {
    local img="$1" a=()
    shift
    for c in "$@"; do a+=(-c "$c"); done
    qemu-io "${SECRET[@]}" --image-opts "$(opts "$img")" "${a[@]}" >"$WORK/qio.out" 2>&1 \
        || fail "qemu-io $* on $img: $(tail -2 "$WORK/qio.out" | tr '\n' ' ')"
}
qdec() { qemu-img convert "${SECRET[@]}" --image-opts "$(opts "$1")" -O raw "$2" || fail "convert $1"; }
# lkms IMG: the luksfs record of IMG's qcow2 header (JSON), or "none".
lkms() {
    "$PY" - "$1" <<'EOF'
import struct, sys
d = open(sys.argv[1], 'rb').read(65536)
off = struct.unpack('>I', d[100:104])[0]
while True:
    t, l = struct.unpack('>II', d[off:off + 8])
    if t == 0:
        print('none'); break
    if t == 0x4c4b4d53:
        print(d[off + 8:off + 8 + l].rstrip(b'\0').decode() or 'none'); break
    off += 8 + ((l + 7) & ~7)
EOF
}
# to_sidecar IMG: what an older luksfs left: the record moved out into IMG.luksfs-kms.
to_sidecar() {
    "$PY" - "$1" <<'EOF'
import struct, sys
p = sys.argv[1]
f = open(p, 'r+b'); d = bytearray(f.read(65536))
off = struct.unpack('>I', d[100:104])[0]
while True:
    t, l = struct.unpack('>II', d[off:off + 8])
    assert t != 0, 'no luksfs record'
    if t == 0x4c4b4d53:
        open(p + '.luksfs-kms', 'wb').write(bytes(d[off + 8:off + 8 + l]).rstrip(b'\0'))
        end = off + 8 + ((l + 7) & ~7)
        assert struct.unpack('>I', d[end:end + 4])[0] == 0, 'record is not the last extension'
        d[off:end + 8] = bytes(end + 8 - off)
        break
    off += 8 + ((l + 7) & ~7)
f.seek(0); f.write(d); f.close()
EOF
}
check_nosecret() {  # check_nosecret IMG KEY WHAT: luksfs check opens IMG through KEY's binding
    assert_exit 0 "$LUKSFS" check "$1" "${KO[@]}" </dev/null
    grep -q "unwrapped by file:$KS#$2" "$WORK/last.out" || fail "$3: check did not use $2: $(cat "$WORK/last.out")"
}

for k in k1 k3; do assert_exit 0 "$LUKSFS" kms create-key "file:$KS#$k" "${KO[@]}"; done

log "a qcow2+LUKS image with two keyslots; --key-slot picks one"
img=img.qcow2
mk_qcow2 $img 64M
qio $img 'write -P 0x41 0 1M' 'write -P 0x42 5000k 100k' 'write -z 8M 1M' 'write -P 0x43 40M 64k'
qemu_luks_create qemu-img amend "${SECRET[@]}" --image-opts "$(opts "$img")" \
    -o encrypt.state=active,encrypt.keyslot=1,encrypt.new-secret=sec1,encrypt.iter-time=10
assert_exit 0 "$LUKSFS" check $img --key-slot 1 --key-file pw1
assert_exit 2 "$LUKSFS" check $img --key-slot 0 --key-file pw1
assert_exit 0 "$LUKSFS" check $img --key-slot 0 --key-file pw

log "bind: the binding goes into the qcow2 header, not a sidecar"
assert_exit 0 "$LUKSFS" bind $img --kms "file:$KS#k1" --key-file pw "${KO[@]}"
grep -q "header extension 0x4c4b4d53" "$WORK/last.out" || fail "bind said: $(cat "$WORK/last.out")"
[[ -e $img.luksfs-kms ]] && fail "bind wrote a sidecar"
"$PY" -c 'import json,sys; b=json.loads(sys.argv[1]); assert b["type"]=="luksfs-kms" and b["keyslots"]==["2"], b' \
    "$(lkms $img)" || fail "record: $(lkms $img)"
qimg check $img
assert_exit 0 "$LUKSFS" info $img
grep -q "kms_binding: file:$KS#k1 (keyslot 2, header extension 0x4c4b4d53)" "$WORK/last.out" \
    || fail "info: $(grep kms_binding "$WORK/last.out")"
assert_exit 0 "$LUKSFS" info --json $img
"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert "k1" in j["container"]["kms_binding"], j["container"]' \
    "$WORK/last.out" || fail "info --json has no kms_binding"
check_nosecret $img k1 "after bind"
"$PY" -c 'import json,sys; print(json.loads(sys.argv[1])["wrapped"])' "$(lkms $img)" >wdek
assert_exit 0 "$LUKSFS" unwrap --kms "file:$KS#k1" --in wdek --out gen.pw "${KO[@]}"
qemu-img check --object secret,id=g,file=gen.pw --image-opts "$(opts $img g)" >/dev/null 2>&1 \
    || fail "qemu-img refuses the generated passphrase of the KMS keyslot"

log "the record survives qemu-img check -r all, amend, resize and qemu-io writes"
qimg check $img -r all
check_nosecret $img k1 "after check -r all"
qimg amend $img -o lazy_refcounts=on
check_nosecret $img k1 "after amend lazy_refcounts=on"
qimg amend $img -o lazy_refcounts=off
qimg amend $img -o refcount_bits=8
check_nosecret $img k1 "after amend refcount_bits=8"
qimg resize $img 96M
check_nosecret $img k1 "after resize"
qio $img 'write -P 0x44 70M 300k' 'write -P 0x45 100k 4k'
check_nosecret $img k1 "after qemu-io writes"
qimg check $img
[[ "$(lkms $img)" == *k1* ]] || fail "record lost: $(lkms $img)"

log "mount with no secret: the view equals qemu-img convert; O_DIRECT through the view"
qdec $img exp.raw
mnt=$(new_mountpoint mnt)
mount_view $img "$mnt" "${KO[@]}"
assert_files_eq exp.raw "$mnt/disk.raw" "view vs qemu-img convert"
pattern_file od.bin $((3 * MiB)) 7
dd if=od.bin of="$mnt/disk.raw" bs=1M seek=20 oflag=direct conv=notrunc status=none || fail "O_DIRECT write"
dd if=od.bin of=exp.raw bs=1M seek=20 conv=notrunc status=none
dd if=od.bin of="$mnt/disk.raw" bs=4096 seek=$((90 * 256 + 3)) count=5 oflag=direct conv=notrunc status=none \
    || fail "O_DIRECT allocating write"
dd if=od.bin of=exp.raw bs=4096 seek=$((90 * 256 + 3)) count=5 conv=notrunc status=none
dd if="$mnt/disk.raw" of=back.bin bs=1M skip=20 count=3 iflag=direct status=none || fail "O_DIRECT read"
cmp -s back.bin od.bin || fail "O_DIRECT read-back differs"
if command -v fio >/dev/null; then
    fio --name=od --filename="$mnt/disk.raw" --direct=1 --rw=randwrite --bs=4k --size=8M \
        --offset=48M --verify=crc32c --do_verify=1 --ioengine=psync --randrepeat=1 \
        --output="$WORK/fio.out" >/dev/null 2>&1 || fail "fio O_DIRECT verify: $(tail -5 "$WORK/fio.out")"
    dd if="$mnt/disk.raw" of=exp.raw bs=1M skip=48 seek=48 count=8 iflag=direct conv=notrunc status=none
    log "fio O_DIRECT randwrite with verify passed"
fi
umount_view "$mnt"
qimg check $img
qemu-img compare "${SECRET[@]}" --image-opts "$(opts $img)" "driver=raw,file.filename=exp.raw" >/dev/null \
    || fail "qemu-img compare after O_DIRECT writes"

log "read-only mount: same view, writes refused, image unchanged"
before="$(sha256 $img)"
mount_view $img "$mnt" -r "${KO[@]}"
assert_files_eq exp.raw "$mnt/disk.raw" "read-only view"
dd if=od.bin of="$mnt/disk.raw" bs=4096 count=1 conv=notrunc status=none 2>/dev/null && fail "write to a read-only view"
umount_view "$mnt"
assert_eq "$before" "$(sha256 $img)" "image changed by a read-only mount"

log "rewrap to another key; revoking the old one changes nothing"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#k2-with-a-much-longer-name" "${KO[@]}"
assert_exit 0 "$LUKSFS" rewrap $img --kms "file:$KS#k2-with-a-much-longer-name" "${KO[@]}"
assert_exit 0 "$LUKSFS" kms revoke "file:$KS#k1" "${KO[@]}"
check_nosecret $img k2-with-a-much-longer-name "after rewrap"
qimg check $img

log "revoke the bound key: the mounted view goes dark"
mount_view $img "$mnt" --kms-poll 1 "${KO[@]}"
dd if="$mnt/disk.raw" of=/dev/null bs=64k count=4 iflag=direct status=none || fail "read before revoke"
assert_exit 0 "$LUKSFS" kms revoke "file:$KS#k2-with-a-much-longer-name" "${KO[@]}"
assert_goes_dark "$mnt" 4 "the revocation"
cat "$mnt/disk.raw" >/dev/null 2>&1 && fail "buffered read after revocation succeeded"
umount_view "$mnt"
log "view dark after the revocation"

log "unbind removes the keyslot and the record; qemu still opens the old secrets"
assert_exit 0 "$LUKSFS" unbind $img
assert_eq none "$(lkms $img)" "record after unbind"
qimg check $img
qemu-img check "${SECRET[@]}" --image-opts "$(opts $img sec1)" >/dev/null 2>&1 || fail "unbind broke keyslot 1"
qemu-img check --object secret,id=g,file=gen.pw --image-opts "$(opts $img g)" >/dev/null 2>&1 \
    && fail "the KMS keyslot still opens after unbind"

log "an old sidecar binding still works; bind moves it into the file"
assert_exit 0 "$LUKSFS" bind $img --kms "file:$KS#k3" --key-file pw "${KO[@]}"
to_sidecar $img
assert_eq none "$(lkms $img)" "record after moving it out"
[[ -s $img.luksfs-kms ]] || fail "no sidecar made"
check_nosecret $img k3 "through the sidecar"
assert_exit 0 "$LUKSFS" bind $img --kms "file:$KS#k3" "${KO[@]}" </dev/null
grep -q "moved into the qcow2 header extension" "$WORK/last.out" || fail "bind said: $(cat "$WORK/last.out")"
[[ -e $img.luksfs-kms ]] && fail "sidecar left after the move"
[[ "$(lkms $img)" == *k3* ]] || fail "record after the move: $(lkms $img)"
check_nosecret $img k3 "after the move"

log "shred: qemu-img opens it with neither old secret, the key is destroyed"
assert_exit 0 "$LUKSFS" shred $img --yes "${KO[@]}"
assert_eq none "$(lkms $img)" "record after shred"
qemu-img check "${SECRET[@]}" --image-opts "$(opts $img)" >/dev/null 2>&1 && fail "secret 0 opens a shredded image"
qemu-img check "${SECRET[@]}" --image-opts "$(opts $img sec1)" >/dev/null 2>&1 && fail "secret 1 opens a shredded image"
assert_exit 2 "$LUKSFS" check $img --key-file pw
assert_exit 0 "$LUKSFS" kms state "file:$KS#k3" "${KO[@]}"
grep -q destroyed "$WORK/last.out" || fail "shred did not destroy the key: $(cat "$WORK/last.out")"

log "512-byte clusters: a record with no room falls back to the sidecar, saying so"
small=small.qcow2
mk_qcow2 $small 8M cluster_size=512
long="k4-$(printf 'x%.0s' $(seq 120))"
assert_exit 0 "$LUKSFS" kms create-key "file:$KS#$long" "${KO[@]}"
assert_exit 0 "$LUKSFS" bind $small --kms "file:$KS#$long" --key-file pw "${KO[@]}"
grep -q "sidecar $WORK/$small.luksfs-kms (the KMS binding record needs" "$WORK/last.out" \
    || grep -q "sidecar $small.luksfs-kms (the KMS binding record needs" "$WORK/last.out" \
    || fail "bind said: $(cat "$WORK/last.out")"
grep -q "512-byte qcow2 header cluster" "$WORK/last.out" || fail "no reason given: $(cat "$WORK/last.out")"
assert_eq none "$(lkms $small)" "record in a full header cluster"
check_nosecret $small "$long" "512-byte clusters, sidecar"
qimg check $small
assert_exit 0 "$LUKSFS" unbind $small
[[ -e $small.luksfs-kms ]] && fail "sidecar left after unbind"
pass
