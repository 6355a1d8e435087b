#!/bin/bash
# Signals never lose a mount (man page, SIGNALS):
#  * SIGHUP to a passphrase mount's daemon keeps the mount serving, and reopens the audit log
#    (a log moved away by logrotate gets a new file on the next event);
#  * SIGTERM unmounts cleanly: the foreground daemon exits 0, the view is gone, writes are in the
#    image (checked against qemu-img's decryption);
#  * `luksfs mount` killed (SIGTERM, SIGINT, SIGKILL) during a slow KDF leaves no mount behind
#    and no daemon, within the KDF time plus 1 s.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "signal passphrase"
mk_qemu_luks1 s.img 16 pw
mnt=$(new_mountpoint mnt)
# A background job of a script starts with SIGINT ignored; run CMD with it at its default, as
# from a terminal.
dfl_sigint() {
    exec "$PY" -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
secs() { date +%s.%N; }

log "SIGHUP keeps a passphrase mount and reopens the audit log"
mount_view s.img "$mnt" --passphrase-file pw --audit-log "$WORK/audit.log"
pid=$(daemon_pid "$mnt")
[[ "$pid" =~ ^[0-9]+$ ]] || fail "no daemon pid"
mv audit.log audit.log.1
kill -HUP "$pid"
sleep 0.5
_is_mounted "$mnt" || fail "SIGHUP unmounted the view"
_pid_alive "$pid" || fail "SIGHUP killed the daemon"
head -c 4096 "$mnt/disk.raw" >/dev/null || fail "view unreadable after SIGHUP"
[[ -f audit.log ]] || fail "SIGHUP did not reopen the audit log (no new audit.log)"
kill -HUP "$pid"; kill -HUP "$pid"
sleep 0.3
_is_mounted "$mnt" || fail "repeated SIGHUP unmounted the view"
umount_view "$mnt"
grep -q '"reason":"unmount"' audit.log || fail "the unmount event did not go to the reopened log"

log "SIGTERM to a foreground daemon: clean unmount, exit 0, data flushed"
"$LUKSFS" mount -f --passphrase-file pw s.img "$mnt" </dev/null >fg.out 2>fg.err &
fg=$!
register_mount "$mnt"
for _ in $(seq 100); do _is_mounted "$mnt" && break; sleep 0.1; done
_is_mounted "$mnt" || fail "foreground mount did not come up: $(cat fg.err)"
pattern_file chunk 1048576 7
dd if=chunk of="$mnt/disk.raw" bs=1M seek=3 conv=notrunc status=none
kill -TERM "$fg"
set +e; wait "$fg"; rc=$?; set -e
assert_eq 0 "$rc" "exit status after SIGTERM"
_is_mounted "$mnt" && fail "view still mounted after SIGTERM"
qemu_decrypt s.img pw plain
cmp -s <(dd if=plain bs=1M skip=3 count=1 status=none) chunk || fail "write lost across SIGTERM"

log "SIGINT to a foreground daemon: exit 0 (even when started with SIGINT ignored)"
"$LUKSFS" mount -f --passphrase-file pw s.img "$mnt" </dev/null >fg.out 2>fg.err &
fg=$!
for _ in $(seq 100); do _is_mounted "$mnt" && break; sleep 0.1; done
_is_mounted "$mnt" || fail "foreground mount did not come up: $(cat fg.err)"
kill -INT "$fg"
set +e; wait "$fg"; rc=$?; set -e
assert_eq 0 "$rc" "exit status after SIGINT"
_is_mounted "$mnt" && fail "view still mounted after SIGINT"

log "mount parent killed during a slow KDF: no mount, no daemon"
truncate -s 16M slow.img
# Slow enough that the parent is still waiting when it is killed, even with luksfs's own
# PBKDF2 (SHA-NI: about 3 M iterations/s here).
cryptsetup luksFormat -q --type luks1 --pbkdf pbkdf2 --pbkdf-force-iterations 8000000 \
    --key-file pw slow.img || fail "luksFormat slow.img"
t0=$(secs)
"$LUKSFS" check --passphrase-file pw slow.img >/dev/null 2>&1 || fail "check of slow.img failed"
kdf=$(awk -v a="$t0" -v b="$(secs)" 'BEGIN { printf "%.1f", b - a }')
log "KDF takes ${kdf}s here"
for sig in TERM INT KILL; do
    dfl_sigint "$LUKSFS" mount --passphrase-file pw slow.img "$mnt" </dev/null >/dev/null 2>&1 &
    parent=$!
    sleep 0.2
    # the daemon-to-be: the parent's child
    child=$(pgrep -P "$parent" || true)
    kill -"$sig" "$parent" 2>/dev/null ||
        fail "SIG$sig: luksfs mount had already finished: the KDF is too fast for this test"
    wait "$parent" 2>/dev/null || true
    sleep "$(awk -v k="$kdf" 'BEGIN { print k + 1 }')"
    _is_mounted "$mnt" && fail "SIG$sig to luksfs mount during the KDF: mounted anyway: $(grep "$mnt" /proc/self/mounts)"
    [[ -n "$child" ]] && _pid_alive "$child" && fail "SIG$sig: start-up child $child still runs"
done
pass
