#!/bin/bash
# systemd: run the ExecStart line of contrib/systemd/luksfs@.service as written (specifiers and
# environment expanded as systemd does, the binary path pointed at the build), in the foreground,
# with NOTIFY_SOCKET on a datagram socket this test listens on; READY=1 must arrive once the view
# serves (and decrypts as cryptsetup's volume key says), then the ExecStop line must unmount it,
# STOPPING=1 must arrive and the daemon exit 0. Also: --log-file, and the units parse.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
UNIT="$REPO_ROOT/contrib/systemd/luksfs@.service"
write_secret pw "systemd passphrase"
truncate -s 24M img
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" img pw
head -c $((2 * MiB)) /dev/urandom >pattern
dump_vk img pw vk
oracle_write img vk 0 pattern
mnt=$(new_mountpoint mnt)
register_mount "$mnt"
# The instance configuration and the credential directory systemd would make (%d).
mkdir -p creds
cp pw creds/passphrase
cat >vm1.conf <<EOT
IMAGE=$WORK/img
MOUNTPOINT=$mnt
LUKSFS_OPTIONS=--read-only --log-file $WORK/daemon.log
EOT

# expand KEY: the unit's KEY= line as systemd would run it, one word per line.
expand() {
    "$PY" - "$UNIT" "$1" vm1 "$WORK/creds" "$WORK/vm1.conf" "$LUKSFS" <<'PYEOF'
import re, shlex, sys
unit, key, inst, creds, conf, binary = sys.argv[1:]
env = {}
for line in open(conf):
    line = line.strip()
    if line and not line.startswith("#"):
        k, v = line.split("=", 1)
        env[k] = v
line = next(l for l in open(unit) if l.startswith(key + "="))[len(key) + 1:].strip()
words = []
for w in shlex.split(line):
    w = w.replace("%d", creds).replace("%i", inst).replace("%I", inst).replace("%%", "%")
    m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", w)
    if m:  # $VAR: split on whitespace
        words += env.get(m.group(1), "").split()
        continue
    w = re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), w)
    words.append(w)
assert words[0] == "/usr/bin/luksfs", words
words[0] = binary
print("\n".join(words))
PYEOF
}
mapfile -t START < <(expand ExecStart)
mapfile -t STOP < <(expand ExecStop)
log "ExecStart: ${START[*]}"
[[ " ${START[*]} " == *" --foreground "* ]] || fail "ExecStart does not run in the foreground"
grep -q '^Type=notify$' "$UNIT" || fail "the unit is not Type=notify"
grep -q '^LoadCredential=passphrase:' "$UNIT" || fail "the secret does not come from LoadCredential="

# The listener: prints every datagram, one per line ("|" for newlines), to notify.log.
"$PY" - "$WORK/notify.sock" "$WORK/notify.log" <<'PYEOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[2], "a", buffering=1) as out:
    while True:
        try:
            data = s.recv(4096).decode()
        except socket.timeout:
            break
        out.write(data.replace("\n", "|") + "\n")
        if "STOPPING=1" in data:
            break
PYEOF
listener=$!
register_pid "$listener"
for _ in $(seq 50); do [[ -S notify.sock ]] && break; sleep 0.1; done
[[ -S notify.sock ]] || fail "listener socket not created"

NOTIFY_SOCKET="$WORK/notify.sock" "${START[@]}" </dev/null >daemon.out 2>daemon.err &
daemon=$!
register_pid "$daemon"
for _ in $(seq 100); do grep -q 'READY=1' notify.log 2>/dev/null && break; sleep 0.1; done
grep -q 'READY=1' notify.log || fail "no READY=1 (daemon stderr: $(tr '\n' ' ' <daemon.err))"
grep -q "^$WORK/img $mnt fuse.luksfs ro" /proc/self/mounts || fail "READY=1 but the view is not mounted read-only"
cmp -n $((2 * MiB)) pattern "$mnt/disk.raw" || fail "the view differs from what the oracle wrote"
grep -q 'STOPPING=1' notify.log && fail "STOPPING=1 before the stop"

log "ExecStop: ${STOP[*]}"
"${STOP[@]}" || fail "ExecStop failed"
set +e
wait "$daemon"
rc=$?
set -e
assert_eq 0 "$rc" "daemon exit status"
wait "$listener" || true
grep -q 'STOPPING=1' notify.log || fail "no STOPPING=1: $(cat notify.log)"
[[ "$(grep -n READY=1 notify.log | cut -d: -f1)" -lt "$(grep -n STOPPING=1 notify.log | cut -d: -f1)" ]] \
    || fail "READY=1 did not come before STOPPING=1: $(cat notify.log)"
log "notify: $(tr '\n' ' ' <notify.log)"

log "--log-file: the daemon's lines went to the file, with a time stamp"
grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z luksfs\[[0-9]+\]: info: serving ' daemon.log \
    || fail "log file: $(cat daemon.log)"
grep -q 'unmounted .*keys wiped' daemon.log || fail "log file lacks the unmount line: $(cat daemon.log)"
[[ ! -s daemon.err ]] || fail "with --log-file, stderr got: $(cat daemon.err)"

if command -v systemd-analyze >/dev/null; then
    log "systemd-analyze verify (syntax of the units)"
    mkdir -p units
    sed "s|/usr/bin/luksfs|$LUKSFS|" "$UNIT" >"units/luksfs@.service"
    cp "$REPO_ROOT/contrib/systemd/mnt-vm1.mount" units/
    out=$(cd units && SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no ./luksfs@vm1.service ./mnt-vm1.mount 2>&1 || true)
    if grep -Eiq 'unknown (key|lvalue|section)|failed to parse|invalid' <<<"$out"; then
        fail "systemd-analyze verify: $out"
    fi
fi
pass
