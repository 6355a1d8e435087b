#!/bin/bash
# LUKS2 header redundancy. The primary header is damaged in different ways (bytes of the JSON
# area, the checksum field, the magic, the whole first 4 KiB); luksfs must still mount through
# the secondary copy, show the right plaintext, and `info --json` must report the primary as
# damaged and the secondary as ok. cryptsetup is checked to open the same damaged image (on a
# copy: cryptsetup repairs headers). The secondary alone damaged is reported too; both damaged
# is exit 3 with nothing written.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "header passphrase"

mk_luks2 base.img 20 pw
dump_vk base.img pw base.vk
size=$(oracle_field base.img data_size)
hdr_size=$(oracle_field base.img hdr_size)
pattern_file base.plain "$size" 8
oracle_write base.img base.vk 0 base.plain

# corrupt IMG OFFSET BYTES: overwrite bytes (BYTES may hold printf escapes like \001) at OFFSET.
corrupt() { printf '%b' "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }

# info_meta IMG: "primary|secondary" from luksfs info --json.
info_meta() {
    "$LUKSFS" info "$1" --json </dev/null 2>"$WORK/info.err" >"$WORK/info.json" \
        || fail "luksfs info --json $1 failed (exit $?): $(tr '\n' ' ' <"$WORK/info.err")"
    "$PY" -c 'import json,sys; m=json.load(open(sys.argv[1]))["metadata"]; print(m["primary"] + "|" + m["secondary"])' \
        "$WORK/info.json" || fail "info --json output is not the expected JSON: $(head -c 300 "$WORK/info.json")"
}

damage_case() {  # damage_case NAME DAMAGED_HEADER(primary|secondary) OFFSET BYTES
    local name="$1" which="$2" img="$1.img" meta mnt
    cp base.img "$img"
    if [[ "$4" == zero4k ]]; then
        dd if=/dev/zero of="$img" bs=4096 count=1 seek="$(($3 / 4096))" conv=notrunc status=none
    else
        corrupt "$img" "$3" "$4"
    fi
    cp "$img" "$name.cs"
    cryptsetup open --test-passphrase --key-file pw "$name.cs" || fail "$name: cryptsetup cannot open it either"
    local before
    before=$(sha256 "$img")

    meta=$(info_meta "$img")
    if [[ "$which" == primary ]]; then
        [[ "$meta" == damaged*"|ok" ]] || fail "$name: info --json metadata primary|secondary = '$meta'"
    else
        [[ "$meta" == "ok|damaged"* ]] || fail "$name: info --json metadata primary|secondary = '$meta'"
    fi
    log "$name: metadata $meta"

    mnt=$(new_mountpoint "mnt-$name")
    mount_view "$img" "$mnt" --passphrase-file pw --read-only
    cmp -s base.plain "$mnt/disk.raw" || fail "$name: view differs from the plaintext"
    umount_view "$mnt"
    assert_eq "$before" "$(sha256 "$img")" "$name: read-only mount changed the image"

    # read-write mount: must work too; afterwards the image is still a valid LUKS2 for cryptsetup
    mount_view "$img" "$mnt" --passphrase-file pw
    cmp -s base.plain "$mnt/disk.raw" || fail "$name: view (rw) differs from the plaintext"
    umount_view "$mnt"
    cryptsetup open --test-passphrase --key-file pw "$img" || fail "$name: image unusable after rw mount"
    rm -f "$img" "$name.cs"
}

damage_case json-bytes primary 4200 'XXXX'
damage_case checksum primary 448 '\001\002'
damage_case magic primary 0 'XXXX'
damage_case zero-first-4k primary 0 zero4k
damage_case secondary-json secondary "$((hdr_size + 4200))" 'XXXX'

log "both headers damaged: exit 3, nothing written"
cp base.img both.img
corrupt both.img 4200 'XXXX'
corrupt both.img "$((hdr_size + 4200))" 'XXXX'
before=$(sha256 both.img)
mnt=$(new_mountpoint mnt-both)
register_mount "$mnt"
assert_exit 3 "$LUKSFS" mount --passphrase-file pw both.img "$mnt"
assert_exit 3 "$LUKSFS" info both.img
assert_exit 3 "$LUKSFS" check both.img --passphrase-file pw
assert_eq "$before" "$(sha256 both.img)" "image with both headers damaged was written"
pass
