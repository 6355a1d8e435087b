#!/bin/bash
# contrib/hypervisor, as written: qemu-as-user.sh mounts an image for a hypervisor user (made here)
# and runs qemu-io / qemu-img as that user on the view with the recipe's block options
# (driver=file, cache.direct=on, raw on top). The user writes and reads the view; the write is in
# the image (qemu-img's own decryption of the LUKS1 image is the oracle); a third user is kept out;
# qemu refuses the encrypted image itself while it is mounted; the view is unmounted afterwards.
# The libvirt disk XML is well-formed and points at the view.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
chmod 755 "$WORK"
SCRIPT="$REPO_ROOT/contrib/hypervisor/qemu-as-user.sh"
hv=luksfs-hv-$$
other=luksfs-oth-$$
useradd -M -s /bin/sh "$hv" || fail "useradd $hv"
register_cleanup userdel "$hv"
useradd -M -s /bin/sh "$other" || fail "useradd $other"
register_cleanup userdel "$other"

write_secret key "hypervisor key"
chmod 600 key
mk_qemu_luks1 vm.img 16 key
mnt=$(new_mountpoint vm)
register_mount "$mnt"
opts="driver=raw,file.driver=file,file.filename=$mnt/disk.raw,file.cache.direct=on"

log "qemu-io as the hypervisor user writes and reads the view"
# The command run as $hv also checks, while mounted, that others are kept out and that qemu
# refuses the encrypted image.
cat >probe.sh <<PROBE
#!/bin/sh
set -e
qemu-io --image-opts "$opts" -c 'write -P 0xa5 1M 64k' -c 'read -P 0xa5 1M 64k' >/dev/null
qemu-img info --image-opts "$opts" --output=json | grep -q '"virtual-size": 16777216'
PROBE
chmod 755 probe.sh
LUKSFS="$LUKSFS" assert_exit 0 "$SCRIPT" vm.img key "$mnt" "$hv" sh -c "
    $WORK/probe.sh &&
    ! su $other -s /bin/sh -c 'head -c 1 $mnt/disk.raw' 2>/dev/null &&
    ! su $other -s /bin/sh -c \"qemu-io --image-opts '$opts' -c 'read 0 512'\" 2>/dev/null"
_is_mounted "$mnt" && fail "the script left the view mounted"

log "the hypervisor's writes are in the image"
qemu_decrypt vm.img key plain
cmp -s <(dd if=plain bs=64k skip=16 count=1 status=none) <(head -c 65536 /dev/zero | tr '\0' '\245') \
    || fail "qemu-io's write at 1 MiB is not in the image"

log "qemu refuses the encrypted image while it is mounted"
LUKSFS="$LUKSFS" assert_exit 0 "$SCRIPT" vm.img key "$mnt" root sh -c "
    qemu-io -f raw -c 'write 0 4k' $WORK/vm.img 2>&1 | grep -q 'Failed to get \"write\" lock'"

log "the libvirt disk XML"
"$PY" - "$REPO_ROOT/contrib/hypervisor/libvirt-disk.xml" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
disk = ET.parse(sys.argv[1]).getroot()
assert disk.tag == "disk" and disk.get("type") == "file", disk.attrib
assert disk.find("source").get("file").endswith("/disk.raw")
assert disk.find("driver").get("type") == "raw"
PYEOF
pass
