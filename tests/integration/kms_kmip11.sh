#!/bin/bash
# KMIP 1.1 key servers, as vSphere requires them: a real PyKMIP restricted to
# KMIP 1.1 (tests/kms/pykmip_launcher.py --versions 1.1) is used for
# `kms create-key`, `bind`, `mount` and revoke-then-dark (the shared KMS flow
# of tests/kms/e2e.sh). luksfs must negotiate down with Discover Versions and
# work in local mode (Get + local wrapping), never sending Encrypt/Decrypt
# with a 1.1 header, and must follow vCenter's attribute sequence: Create,
# Get Attributes, Add Attribute x-Vendor, x-Product, x-Product_Version, and
# x-Component, x-Name, x-Identifier at bind; the server's own log and its
# attribute log show it. Then KMIP 1.0 (no Discover Versions), and
# `bind --create-key` failing after the key was created: the key is
# destroyed again, no orphan.
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/tests/kms/e2e.sh"
need_luksfs
[[ -x /usr/bin/pykmip-server ]] || fail "pykmip-server missing: install python3-pykmip (make deps)"

PYKMIP_VERSIONS=1.1 start_pykmip "$WORK/pykmip11"
OPTS=(--kms-ca "$C/ca.crt" --kms-cert "$C/client.crt" --kms-key "$C/client.key")

# Control: the server really is 1.1-only (a 1.4 request is refused).
"$PY" - "$EP" "$C" <<'EOF' || fail "the restricted PyKMIP accepts KMIP 1.4: the test would prove nothing"
import socket, ssl, struct, sys
host, port = sys.argv[1].rsplit(":", 1)
c = sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations(c + "/ca.crt")
ctx.load_cert_chain(c + "/client.crt", c + "/client.key")
def item(tag, typ, val):
    return struct.pack(">IB", tag, typ)[1:] + struct.pack(">I", len(val)) + val
def integer(tag, v):
    return item(tag, 2, struct.pack(">i", v))[:8] + struct.pack(">i", v) + b"\0" * 4
def struc(tag, *kids):
    return item(tag, 1, b"".join(kids))
enum = lambda tag, v: item(tag, 5, struct.pack(">I", v)) + b"\0" * 4
msg = struc(0x420078,
            struc(0x420077, struc(0x420069, integer(0x42006A, 1), integer(0x42006B, 4)),
                  integer(0x42000D, 1)),
            struc(0x42000F, enum(0x42005C, 0x1E), struc(0x420079)))
with socket.create_connection((host, int(port)), timeout=20) as s:
    with ctx.wrap_socket(s, server_hostname=host) as t:
        t.sendall(msg)
        head = t.recv(8)
        body = b""
        n = struct.unpack(">I", head[4:8])[0]
        while len(body) < n:
            body += t.recv(n - len(body))
# Result Status (0x42007F) must be Operation Failed (1).
i = body.find(bytes.fromhex("42007f05"))
sys.exit(0 if i >= 0 and body[i + 8:i + 12] == b"\0\0\0\1" else 1)
EOF
log "control: the server refuses a KMIP 1.4 request"

log "kms create-key against KMIP 1.1"
assert_exit 0 "$LUKSFS" kms create-key "kmip://$EP/" "${OPTS[@]}"
URI="$(cat "$WORK/last.out")"
[[ "$URI" == kmip://"$EP"/* ]] || fail "create-key printed '$URI'"
UID1="${URI##*/}"
log "root key $URI"

kms_e2e "$URI" "${OPTS[@]}"

log "what the server saw"
LOGF="$KDIR/server.log"
grep -q "Request protocol version: 1.4" "$LOGF" || fail "luksfs did not start with KMIP 1.4"
grep -q "Processing operation: DiscoverVersions" "$LOGF" || fail "no Discover Versions"
grep -q "Request protocol version: 1.1" "$LOGF" || fail "luksfs never spoke KMIP 1.1"
grep -qE "Processing operation: (Encrypt|Decrypt)" "$LOGF" \
    && fail "Encrypt/Decrypt sent to a KMIP 1.1 server (local mode expected)"
# The operations of the create-key run, in order (one line per operation).
grep -oE "Processing operation: [A-Za-z]+" "$LOGF" | awk '{print $3}' >"$WORK/ops"
ops="$(tr '\n' ' ' <"$WORK/ops")"
[[ "$ops" == *"Create GetAttributes AddAttribute AddAttribute AddAttribute Activate"* ]] \
    || fail "not vCenter's create sequence: $ops"
log "operations: ${ops:0:160}..."
grep "^$UID1 " "$KDIR/attributes.log" | cut -d' ' -f2- | cut -d= -f1 >"$WORK/attrs"
attrs="$(tr '\n' ' ' <"$WORK/attrs")"
assert_eq "x-Vendor x-Product x-Product_Version x-Component x-Name x-Identifier " "$attrs" \
    "attributes added to key $UID1"
grep -q "^$UID1 x-Product_Version=luksfs " "$KDIR/attributes.log" || fail "bad x-Product_Version"
grep -q "^$UID1 x-Identifier=$(cryptsetup luksUUID "$WORK/e2e.img")\$" "$KDIR/attributes.log" \
    || fail "x-Identifier is not the image UUID: $(grep "^$UID1 " "$KDIR/attributes.log")"
log "attributes on key $UID1: $attrs"

log "bind --create-key whose keyslot cannot be added: the new key is destroyed"
img="$WORK/full.img"
write_secret "$WORK/full.pw" "full keyslots area"
truncate -s 8M "$img"
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" --luks2-keyslots-size 256k \
    --key-file "$WORK/full.pw" "$img" 2>/dev/null || fail "luksFormat failed"
before="$(sha256 "$img")"
destroys=$(grep -c "Processing operation: Destroy" "$LOGF" || true)
assert_exit 3 "$LUKSFS" bind "$img" --kms "kmip://$EP/" --create-key --key-file "$WORK/full.pw" "${OPTS[@]}"
grep -q "destroyed again" "$WORK/last.err" || fail "no word of the created key: $(cat "$WORK/last.err")"
ORPHAN="$(sed -n 's/.*root key it created (\(kmip:[^)]*\)).*/\1/p' "$WORK/last.err")"
[[ -n "$ORPHAN" ]] || fail "created key not named: $(cat "$WORK/last.err")"
assert_exit 5 "$LUKSFS" kms state "$ORPHAN" "${OPTS[@]}"
grep -qiE "not found|no such key" "$WORK/last.err" || fail "the created key still exists: $(cat "$WORK/last.err")"
(( $(grep -c "Processing operation: Destroy" "$LOGF") > destroys )) || fail "no Destroy reached the server"
assert_eq "$before" "$(sha256 "$img")" "image changed by a failed bind"
log "created key $ORPHAN destroyed after the failed bind"
"$REPO_ROOT/tests/kms/pykmip-down.sh" "$KDIR" || true

log "KMIP 1.0 (no Discover Versions): create-key, wrap, unwrap"
KDIR0="$WORK/pykmip10"
PYKMIP_VERSIONS=1.0 "$REPO_ROOT/tests/kms/pykmip-up.sh" "$KDIR0" >"$WORK/pykmip-up0.log" 2>&1 \
    || fail "PyKMIP 1.0 did not start: $(tail -5 "$WORK/pykmip-up0.log")"
register_cleanup "\"$REPO_ROOT/tests/kms/pykmip-down.sh\" \"$KDIR0\""
EP0="$(cat "$KDIR0/endpoint")"
C0="$KDIR0/certs"
OPTS0=(--kms-ca "$C0/ca.crt" --kms-cert "$C0/client.crt" --kms-key "$C0/client.key")
assert_exit 0 "$LUKSFS" kms create-key "kmip://$EP0/" "${OPTS0[@]}"
URI0="$(cat "$WORK/last.out")"
write_secret "$WORK/secret0" "a passphrase wrapped under KMIP 1.0"
assert_exit 0 "$LUKSFS" wrap --kms "$URI0" --in "$WORK/secret0" --out "$WORK/wdek0" "${OPTS0[@]}"
assert_exit 0 "$LUKSFS" unwrap --kms "$URI0" --in "$WORK/wdek0" --out "$WORK/back0" "${OPTS0[@]}"
assert_files_eq "$WORK/secret0" "$WORK/back0" "KMIP 1.0 wrap/unwrap round trip"
grep -q "Request protocol version: 1.0" "$KDIR0/server.log" || fail "luksfs never spoke KMIP 1.0"
"$REPO_ROOT/tests/kms/pykmip-down.sh" "$KDIR0" || true
pass
