#!/bin/bash
# mount(8) and /etc/fstab: the real mount(8) runs mount.luksfs (type luksfs) and mount.fuse3
# (type fuse.luksfs) from a temporary fstab (mount -T FILE), in a private mount namespace where
# an overlay adds mount.luksfs to /usr/sbin (the machine's own /sbin is not touched).
# Checks: the helper flags -v -n -s -f (fake) -N and -o; mount(8)/systemd words ignored;
# `mount MNT` from an fstab line of each type; the view decrypts like cryptsetup's volume key.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
command -v unshare >/dev/null || fail "unshare (util-linux) missing"
cd "$WORK"
write_secret pw "fstab passphrase"
truncate -s 24M img
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" img pw
cryptsetup open --test-passphrase --key-file pw img || fail "cryptsetup cannot open the image"
mkdir -p bin m1 m2 m3 m4
ln -s "$LUKSFS" bin/mount.luksfs
ln -s "$LUKSFS" bin/luksfs
# The expected plaintext: written through one mount, read back through the others.
head -c $((4 * MiB)) /dev/urandom >pattern

cat >fstab <<EOT
# type luksfs: mount(8) runs /sbin/mount.luksfs
$WORK/img $WORK/m1 luksfs passphrase_file=$WORK/pw,x-systemd.automount,x-systemd.idle-timeout=60,_netdev,nofail,noauto 0 0
# type fuse.luksfs: mount(8) runs mount.fuse3, which runs luksfs from PATH
$WORK/img $WORK/m2 fuse.luksfs ro,passphrase_file=$WORK/pw,x-systemd.device-timeout=5,_netdev,nofail,noauto,users,comment=x 0 0
# unknown word: refused unless sloppy (-s)
$WORK/img $WORK/m3 luksfs passphrase_file=$WORK/pw,ro,bogus_word,noauto 0 0
EOT

cat >inner.sh <<EOT
set -euo pipefail
W=$WORK
fail() { echo "FAIL: \$*" >&2; exit 1; }
mount -t overlay overlay -o lowerdir=\$W/bin:/usr/sbin /usr/sbin || fail "overlay on /usr/sbin"
export PATH=\$W/bin:\$PATH

# -f: fake, nothing mounted, exit 0
mount -f -v -T \$W/fstab \$W/m1 || fail "mount -f failed"
grep -q " \$W/m1 " /proc/self/mounts && fail "mount -f mounted something"

# mount MNT from the fstab, type luksfs (-v -n as mount(8) passes them)
mount -v -n -T \$W/fstab \$W/m1 || fail "mount m1 (type luksfs) failed"
grep -q "^\$W/img \$W/m1 fuse.luksfs rw" /proc/self/mounts || fail "m1 not mounted rw"
dd if=\$W/pattern of=\$W/m1/disk.raw bs=1M conv=notrunc,fsync status=none
$LUKSFS umount \$W/m1

# type fuse.luksfs, read-only
mount -T \$W/fstab \$W/m2 || fail "mount m2 (type fuse.luksfs) failed"
grep -q "^\$W/img \$W/m2 fuse.luksfs ro" /proc/self/mounts || fail "m2 not mounted ro"
cmp -n $((4 * MiB)) \$W/pattern \$W/m2/disk.raw || fail "m2 view differs from what m1 wrote"
$LUKSFS umount \$W/m2

# an unknown word fails, and is ignored with -s
if mount -T \$W/fstab \$W/m3 2>\$W/m3.err; then fail "bogus_word accepted without -s"; fi
grep -q "unknown mount option 'bogus_word'" \$W/m3.err || fail "m3 error: \$(cat \$W/m3.err)"
mount -s -T \$W/fstab \$W/m3 || fail "mount -s m3 failed"
$LUKSFS umount \$W/m3

# the helper directly, with -N: the mount is made in another namespace (a child's)
unshare -m --propagation private sleep 30 &
child=\$!
sleep 0.3
\$W/bin/mount.luksfs \$W/img \$W/m4 -N \$child -o ro,passphrase_file=\$W/pw || fail "mount.luksfs -N failed"
grep -q " \$W/m4 " /proc/self/mounts && fail "-N: mounted in our namespace, not the child's"
grep -q " \$W/m4 fuse.luksfs" /proc/\$child/mounts || fail "-N: not mounted in the child's namespace"
nsenter -t \$child -m $LUKSFS umount \$W/m4 || fail "umount in the child's namespace"
kill \$child
echo INNER-OK
EOT
unshare -m --propagation private bash inner.sh >inner.out 2>&1 || fail "$(tail -5 inner.out | tr '\n' ' ')"
grep -q INNER-OK inner.out || fail "inner script did not finish: $(tail -5 inner.out | tr '\n' ' ')"
# The independent check: the ciphertext decrypts (cryptsetup's volume key, python oracle) to the pattern.
log "oracle: the image holds the pattern"
dump_vk img pw vk
oracle_decrypt img vk plain.out
cmp -n $((4 * MiB)) pattern plain.out || fail "oracle: the ciphertext does not decrypt to the pattern"
pass
