#!/bin/bash
# qcow2 destinations of `luksfs create` and `luksfs convert`, every result checked by qemu:
#   * create --type qcow2 with 512, 4K, 64K and 2M clusters (and extended L2, 1-bit refcounts):
#     qemu-img check clean, qemu-img info says encrypted/luks and the virtual size, qemu-io
#     writes 1 MiB of 0x5a and luksfs mount reads it back; only metadata clusters are written
#   * create --type qcow2-plain: qemu-img check clean, qemu-io reads zeros
#   * convert raw -> qcow2+LUKS, plain qcow2 -> qcow2+LUKS, qcow2+LUKS -> raw,
#     LUKS2 (cryptsetup) -> qcow2+LUKS, qcow2+LUKS -> qcow2-plain: qemu-img compare equal,
#     qemu-img check clean, qemu-img map shows holes where SRC had zeros
#   * 100 GiB create --type qcow2 in under 1 s plus the KDF (the KDF is forced cheap)
#   * a sparse 100 GiB qcow2 converted both ways in time proportional to its data
#   * SIGINT mid-way through a qcow2 convert: exit 130, nothing left
#   * refusals, exit 1 and nothing written: cluster size 3000, --cipher serpent-xts-plain64,
#     --sector-size 4096, --label, --kms with a passphrase file, --extended-l2 with 4K
#     clusters, SIZE not a multiple of 512
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
mkdir -p mnt
write_secret pw "qcow2 passphrase"
CHEAP=(--pbkdf-force-iterations 1000)
SEC=(--object secret,id=s0,file=pw)
qopts() { echo "driver=qcow2,encrypt.key-secret=s0,file.filename=$1"; }
qcheck() {
    qemu-img check "${SEC[@]}" --image-opts "$(qopts "$1")" >check.out 2>&1 ||
        fail "qemu-img check $1: $(tr '\n' ' ' <check.out)"
}
# qcompare A_OPTS B_OPTS: qemu-img compare of two --image-opts specs.
qcompare() {
    qemu-img compare "${SEC[@]}" --image-opts "$1" "$2" >cmp.out 2>&1 ||
        fail "qemu-img compare $1 $2: $(tr '\n' ' ' <cmp.out)"
}
# holes IMG START LENGTH: qemu-img map says [START, START+LENGTH) is unallocated.
holes() {
    qemu-img map --output=json "${SEC[@]}" --image-opts "$(qopts "$1")" >map.json ||
        fail "qemu-img map $1"
    "$PY" - map.json "$2" "$3" <<'PYEOF' || fail "qemu-img map of $1: [$2, +$3) is not a hole: $(cat map.json)"
import json, sys
m = json.load(open(sys.argv[1])); a = int(sys.argv[2]); b = a + int(sys.argv[3])
for e in m:
    s, t = e["start"], e["start"] + e["length"]
    if s < b and t > a and e["data"]:
        sys.exit(1)
PYEOF
}

for cs in 512 4K 64K 2M; do
    log "create --type qcow2 --cluster-size $cs"
    assert_exit 0 "$LUKSFS" create --type qcow2 --cluster-size "$cs" "${CHEAP[@]}" \
        --passphrase-file pw "c$cs.qcow2" 256M
    qcheck "c$cs.qcow2"
    qemu-img info "c$cs.qcow2" >info.out
    grep -q '^encrypted: yes' info.out || fail "c$cs: qemu-img info: not encrypted"
    grep -q 'format: luks' info.out || fail "c$cs: qemu-img info: not luks"
    grep -q '^virtual size: 256 MiB (268435456 bytes)' info.out || fail "c$cs: virtual size: $(cat info.out)"
    used=$(($(stat -c %b "c$cs.qcow2") * 512))
    ((used <= 12 * MiB)) || fail "c$cs: $used bytes allocated for an empty image"
    qemu-io "${SEC[@]}" --image-opts "$(qopts "c$cs.qcow2")" -c 'write -P 0x5a 0 1M' >/dev/null ||
        fail "qemu-io write into c$cs"
    qcheck "c$cs.qcow2"
    mount_view "c$cs.qcow2" mnt --passphrase-file pw
    head -c 1M mnt/disk.raw >got.bin
    umount_view mnt
    head -c 1M /dev/zero | tr '\0' '\132' >want.bin
    assert_files_eq want.bin got.bin "c$cs: luksfs reads qemu-io's 0x5a"
done

log "create --type qcow2 --extended-l2 --refcount-bits 1"
assert_exit 0 "$LUKSFS" create --type qcow2 --extended-l2 --refcount-bits 1 "${CHEAP[@]}" \
    --passphrase-file pw ext.qcow2 64M
qcheck ext.qcow2
qemu-img info ext.qcow2 | grep -q 'extended l2: true' || fail "ext.qcow2: not extended L2"
qemu-img info ext.qcow2 | grep -q 'refcount bits: 1' || fail "ext.qcow2: refcount bits"
qemu-io "${SEC[@]}" --image-opts "$(qopts ext.qcow2)" -c 'write -P 0x5a 4k 8k' >/dev/null
qcheck ext.qcow2

log "create --type qcow2-plain"
assert_exit 0 "$LUKSFS" create --type qcow2-plain plain0.qcow2 64M
qemu-img check -q plain0.qcow2 || fail "qemu-img check plain0.qcow2"
qemu-img info plain0.qcow2 | grep -q '^encrypted' && fail "plain0.qcow2 is encrypted"
qemu-io -c 'read -P 0 0 64M' plain0.qcow2 >/dev/null || fail "plain0.qcow2 does not read zeros"

log "100 GiB create --type qcow2 (KDF forced cheap)"
t0=$(date +%s%N)
assert_exit 0 "$LUKSFS" create --type qcow2 "${CHEAP[@]}" --passphrase-file pw big.qcow2 100G
ms=$((($(date +%s%N) - t0) / 1000000))
log "100 GiB qcow2+LUKS created in $ms ms, $(stat -c %s big.qcow2) bytes"
((ms < 1500)) || fail "100 GiB create took $ms ms"
qcheck big.qcow2

# SRC: 48 MiB, data at [0, 4M), [20M, 23M) and one 4 KiB block at 40M; zeros elsewhere.
truncate -s 48M src.raw
pattern_file d1 $((4 * MiB)) 1 && dd if=d1 of=src.raw conv=notrunc status=none
pattern_file d2 $((3 * MiB)) 2 && dd if=d2 of=src.raw bs=1M seek=20 conv=notrunc status=none
pattern_file d3 4096 3 && dd if=d3 of=src.raw bs=4k seek=10240 conv=notrunc status=none

log "convert raw -> qcow2+LUKS (-p)"
assert_exit 0 "$LUKSFS" convert -p -O qcow2 "${CHEAP[@]}" --new-passphrase-file pw src.raw r.qcow2
grep -q '100.00/100%' "$WORK/last.err" || fail "no final progress line"
qcheck r.qcow2
qcompare "$(qopts r.qcow2)" "driver=raw,file.filename=src.raw"
holes r.qcow2 $((4 * MiB)) $((16 * MiB))
holes r.qcow2 $((23 * MiB)) $((17 * MiB))
"$PY" -c 'import sys; sys.exit(open(sys.argv[2], "rb").read(64) in open(sys.argv[1], "rb").read())' \
    r.qcow2 d2 || fail "plaintext of SRC found in r.qcow2"

log "convert plain qcow2 (qemu-img, qemu-io) -> qcow2+LUKS, 4K clusters"
qemu-img create -q -f qcow2 p.qcow2 32M
qemu-io -c 'write -P 0x41 0 1M' -c 'write -P 0x42 9M 64k' -c 'write -z 10M 1M' p.qcow2 >/dev/null
assert_exit 0 "$LUKSFS" convert -O qcow2 --cluster-size 4K "${CHEAP[@]}" --new-passphrase-file pw p.qcow2 pe.qcow2
qcheck pe.qcow2
qcompare "$(qopts pe.qcow2)" "driver=qcow2,file.filename=p.qcow2"
holes pe.qcow2 $((1 * MiB)) $((8 * MiB))
holes pe.qcow2 $((10 * MiB)) $((22 * MiB))

log "convert qcow2+LUKS -> raw (decrypt, sparse)"
assert_exit 0 "$LUKSFS" convert -O raw --passphrase-file pw r.qcow2 back.raw
qemu-img compare -q -f raw -F raw back.raw src.raw || fail "qcow2+LUKS -> raw differs"
used=$(($(stat -c %b back.raw) * 512))
((used <= 10 * MiB)) || fail "back.raw: zero runs written ($used bytes)"

log "convert LUKS2 (cryptsetup) -> qcow2+LUKS, 2M clusters"
mk_luks2 l2.img 64 pw
dump_vk l2.img pw l2.vk
oracle_write l2.img l2.vk 0 src.raw
assert_exit 0 "$LUKSFS" convert -O qcow2 --cluster-size 2M "${CHEAP[@]}" --passphrase-file pw l2.img l2.qcow2
qcheck l2.qcow2
qcompare "$(qopts l2.qcow2)" "driver=raw,file.filename=src.raw"
holes l2.qcow2 $((4 * MiB)) $((16 * MiB))

log "convert qcow2+LUKS -> qcow2-plain, 512-byte clusters"
assert_exit 0 "$LUKSFS" convert -O qcow2-plain --cluster-size 512 --passphrase-file pw pe.qcow2 pp.qcow2
qemu-img check -q pp.qcow2 || fail "qemu-img check pp.qcow2"
qemu-img compare -q pp.qcow2 p.qcow2 || fail "qcow2+LUKS -> qcow2-plain differs"
qemu-img info pp.qcow2 | grep -q '^encrypted' && fail "pp.qcow2 is encrypted"
assert_exit 0 "$LUKSFS" compare pp.qcow2 pe.qcow2 --b-passphrase-file pw

log "a sparse 100 GiB plain qcow2 (3 MiB of data) -> qcow2+LUKS -> qcow2-plain: holes are not read"
qemu-img create -q -f qcow2 sp.qcow2 100G
qemu-io -c 'write -P 0x61 0 1M' -c 'write -P 0x62 50G 1M' -c 'write -P 0x63 99G 1M' sp.qcow2 >/dev/null
t0=$(date +%s%N)
assert_exit 0 "$LUKSFS" convert -O qcow2 "${CHEAP[@]}" --new-passphrase-file pw sp.qcow2 spe.qcow2
assert_exit 0 "$LUKSFS" convert -O qcow2-plain --passphrase-file pw spe.qcow2 spp.qcow2
ms=$((($(date +%s%N) - t0) / 1000000))
log "two 100 GiB sparse conversions in $ms ms"
((ms < 20000)) || fail "sparse conversions took $ms ms: holes were read"
qcheck spe.qcow2
qemu-img compare -q sp.qcow2 spp.qcow2 || fail "sparse round trip differs"
qcompare "$(qopts spe.qcow2)" "driver=qcow2,file.filename=sp.qcow2"

log "SIGINT mid-way through a qcow2 convert: exit 130, no DST, no temporary"
head -c 256M /dev/urandom >big.raw
assert_convert_interrupt int.qcow2 -O qcow2 "${CHEAP[@]}" --new-passphrase-file pw --threads 1 \
    --block-size 1 --json-progress big.raw
rm -f big.raw

log "refusals: exit 1, nothing written"
refuse() {
    assert_exit 1 "$LUKSFS" "$@"
    [[ -e x.qcow2 ]] && fail "a refused '$*' left x.qcow2"
    ls ./*.tmp-* 2>/dev/null && fail "a refused '$*' left a temporary"
    [[ $(wc -l <"$WORK/last.err") == 1 ]] || fail "'$*': not a one-line error: $(cat "$WORK/last.err")"
}
refuse create --type qcow2 --cluster-size 3000 --passphrase-file pw x.qcow2 1G
grep -q -- '--cluster-size' "$WORK/last.err" || fail "cluster size 3000: $(cat "$WORK/last.err")"
refuse create --type qcow2 --cluster-size 4M --passphrase-file pw x.qcow2 1G
refuse create --type qcow2 --cipher serpent-xts-plain64 --passphrase-file pw x.qcow2 1G
refuse create --type qcow2 --sector-size 4096 --passphrase-file pw x.qcow2 1G
refuse create --type qcow2 --extended-l2 --cluster-size 4K --passphrase-file pw x.qcow2 1G
refuse create --type qcow2 --passphrase-file pw x.qcow2 1000
refuse create --type qcow2 --kms file:keystore#k --passphrase-file pw x.qcow2 1G
refuse create --type qcow2 --cluster-size 512 --passphrase-file pw x.qcow2 2T
refuse convert -O qcow2 --cluster-size 3000 --new-passphrase-file pw src.raw x.qcow2
refuse convert -O qcow2 --cipher serpent-xts-plain64 --new-passphrase-file pw src.raw x.qcow2
assert_exit 1 "$LUKSFS" convert -O qcow2 --new-passphrase-file pw src.raw r.qcow2
grep -q 'already exists' "$WORK/last.err" || fail "no 'already exists'"
pass
