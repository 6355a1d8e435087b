#!/bin/sh
# Mount a LUKS image with luksfs for a hypervisor that runs as another user, run the hypervisor
# as that user, unmount when it exits. Run as root.
#
#   qemu-as-user.sh IMAGE KEYFILE MOUNTPOINT USER COMMAND [ARGS...]
#
# The view is MOUNTPOINT/disk.raw, owned by USER, mode 0600, reachable by USER only (allow_other,
# and the mode keeps everyone else out). For example:
#
#   qemu-as-user.sh /srv/vm1.luks /etc/luksfs/vm1.key /run/luksfs/vm1 libvirt-qemu \
#       qemu-system-x86_64 -m 2G -nographic \
#       -blockdev driver=file,node-name=f0,filename=/run/luksfs/vm1/disk.raw,cache.direct=on \
#       -blockdev driver=raw,node-name=d0,file=f0 -device virtio-blk-pci,drive=d0
set -eu
[ $# -ge 5 ] || {
    echo "usage: $0 IMAGE KEYFILE MOUNTPOINT USER COMMAND [ARGS...]" >&2
    exit 1
}
image=$1 key=$2 mnt=$3 user=$4
shift 4
luksfs=${LUKSFS:-luksfs}
uid=$(id -u "$user")
gid=$(id -g "$user")

"$luksfs" mount -o "allow_other,uid=$uid,gid=$gid,mode=0600" --direct-io \
    --key-file "$key" "$image" "$mnt"
status=0
runuser -u "$user" -- "$@" || status=$?
"$luksfs" umount "$mnt"
exit "$status"
