#!/bin/bash
# Trusting a KMS the way vCenter does, and named KMS clusters, against a real
# PyKMIP:
#   --kms-fingerprint with the SHA-1 thumbprint pasted as
#   `openssl x509 -fingerprint -noout` prints it; a wrong pin is refused and
#   the message shows the presented fingerprints in the same form;
#   `kms trust URI` prints subject, issuer, validity and both fingerprints;
#   a cluster in a --kms-config file: `kms clusters` reports it untrusted,
#   `kms trust kms-cluster:NAME --save` pins it, `kms clusters` then reports
#   it reachable; create-key, bind and mount through the cluster name; the
#   KMS moves to another port, the config file is edited, and the same image
#   mounts again with no header edit.
source "$(dirname "$0")/../lib.sh"
need_luksfs
[[ -x /usr/bin/pykmip-server ]] || fail "pykmip-server missing: install python3-pykmip (make deps)"

start_pykmip "$WORK/pykmip"
CLIENT=(--kms-cert "$C/client.crt" --kms-key "$C/client.key")

log "--kms-fingerprint: the SHA-1 line as openssl prints it"
SHA1_LINE="$(openssl x509 -in "$C/server.crt" -fingerprint -noout)"
SHA256_LINE="$(openssl x509 -in "$C/server.crt" -fingerprint -sha256 -noout)"
[[ "$SHA1_LINE" == "SHA1 Fingerprint="* ]] || fail "openssl printed '$SHA1_LINE'"
assert_exit 0 "$LUKSFS" kms create-key "kmip://$EP/" --kms-fingerprint "$SHA1_LINE" "${CLIENT[@]}"
URI="$(cat "$WORK/last.out")"
assert_exit 0 "$LUKSFS" kms state "$URI" --kms-fingerprint "${SHA1_LINE#SHA1 Fingerprint=}" "${CLIENT[@]}"
bare="$(echo "${SHA1_LINE#SHA1 Fingerprint=}" | tr -d : | tr A-F a-f)"
assert_exit 0 "$LUKSFS" kms state "$URI" --kms-fingerprint "$bare" "${CLIENT[@]}"
log "pin accepted as '$SHA1_LINE', bare and lower case"

WRONG="$(openssl x509 -in "$C/client.crt" -fingerprint -noout)"
assert_exit 5 "$LUKSFS" kms state "$URI" --kms-fingerprint "$WRONG" "${CLIENT[@]}"
grep -qF "server presented $SHA1_LINE, $SHA256_LINE" "$WORK/last.err" \
    || fail "mismatch does not show the presented fingerprints as openssl prints them: $(cat "$WORK/last.err")"
grep -qF "pinned $WRONG" "$WORK/last.err" || fail "mismatch does not show the pin: $(cat "$WORK/last.err")"
log "mismatch: $(cat "$WORK/last.err")"

log "kms trust URI"
assert_exit 0 "$LUKSFS" kms trust "kmip://$EP/" "${CLIENT[@]}"
cat "$WORK/last.out"
grep -q "subject: CN=127.0.0.1" "$WORK/last.out" || fail "no subject"
grep -q "issuer:  CN=luksfs test KMIP CA" "$WORK/last.out" || fail "no issuer"
grep -qE "valid:   20[0-9-]+T[0-9:]+Z to 20" "$WORK/last.out" || fail "no validity"
grep -qxF "  $SHA1_LINE" "$WORK/last.out" || fail "SHA-1 differs from openssl's"
grep -qxF "  $SHA256_LINE" "$WORK/last.out" || fail "SHA-256 differs from openssl's"

log "a named cluster: untrusted, then pinned by kms trust --save"
CONF="$WORK/kms.conf"
cat >"$CONF" <<EOF
# test clusters
[cluster prod]
driver = kmip
server = $EP
client-cert = $C/client.crt
client-key = $C/client.key

[cluster other]
driver = vault
scheme = http
server = 127.0.0.1:9
EOF
assert_exit 5 "$LUKSFS" kms clusters --kms-config "$CONF"
grep -q "$EP: UNREACHABLE: .*not trusted" "$WORK/last.out" \
    || fail "untrusted server not reported: $(cat "$WORK/last.out")"
assert_exit 0 "$LUKSFS" kms trust kms-cluster:prod --save --kms-config "$CONF"
grep -q "pinned 1 certificate(s) into $CONF \[cluster prod\]" "$WORK/last.out" \
    || fail "trust --save said: $(cat "$WORK/last.out")"
grep -qxF "fingerprint = $SHA256_LINE" "$CONF" || fail "pin not saved: $(cat "$CONF")"
grep -q "^\[cluster other\]" "$CONF" || fail "other cluster lost: $(cat "$CONF")"
set +e
"$LUKSFS" kms clusters --kms-config "$CONF" >"$WORK/clusters.out" 2>&1
rc=$?
set -e
cat "$WORK/clusters.out"
((rc == 5)) || fail "kms clusters exit $rc with cluster 'other' down (want 5)"
grep -q "  $EP: reachable, TLS trusted" "$WORK/clusters.out" || fail "pinned server not reachable"
grep -q "  127.0.0.1:9: UNREACHABLE" "$WORK/clusters.out" || fail "dead server not reported"
sed -i '/^\[cluster other\]/,$d' "$CONF"
assert_exit 0 "$LUKSFS" kms clusters --kms-config "$CONF"

log "create-key, bind and mount through the cluster name"
assert_exit 0 "$LUKSFS" kms create-key kms-cluster:prod/ --kms-config "$CONF"
CURI="$(cat "$WORK/last.out")"
[[ "$CURI" == kms-cluster:prod/* ]] || fail "create-key printed '$CURI'"
img="$WORK/c.img"
write_secret "$WORK/c.pw" "cluster image passphrase"
truncate -s 24M "$img"
cryptsetup luksFormat -q --type luks2 "${PBKDF2_ARGS[@]}" --key-file "$WORK/c.pw" "$img" \
    || fail "luksFormat failed"
dump_vk "$img" "$WORK/c.pw" "$WORK/c.vk"
pattern_file "$WORK/c.plain" $((4 * MiB)) 7
oracle_write "$img" "$WORK/c.vk" 0 "$WORK/c.plain"
assert_exit 0 "$LUKSFS" bind "$img" --kms "$CURI" --key-file "$WORK/c.pw" --kms-config "$CONF"
cryptsetup token export --token-id 0 "$img" >"$WORK/token.json"
"$PY" -c 'import json,sys; t=json.load(open(sys.argv[1])); assert t["kms"]==sys.argv[2], t["kms"]' \
    "$WORK/token.json" "$CURI" || fail "the binding does not store the cluster name"
grep -q "$EP" "$WORK/token.json" && fail "the binding stores the server address"
oracle_decrypt "$img" "$WORK/c.vk" "$WORK/c.oracle"
mnt="$(new_mountpoint c-mnt)"
mount_view "$img" "$mnt" --kms-config "$CONF"
assert_files_eq "$WORK/c.oracle" "$(view_file "$mnt")" "view vs oracle (cluster mount)"
umount_view "$mnt"
before="$(sha256 "$img")"
log "mounted through $CURI"

log "the KMS moves: new port, config edited, same image mounts again"
"$REPO_ROOT/tests/kms/pykmip-down.sh" "$KDIR"
PORT2="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
sed "s/^port=.*/port=$PORT2/" "$KDIR/server.conf" >"$KDIR/server2.conf"
setsid "$PY" /usr/bin/pykmip-server -f "$KDIR/server2.conf" -l "$KDIR/server2.log" \
    </dev/null >"$KDIR/server2.out" 2>&1 &
echo $! >"$KDIR/pykmip.pid"
disown
up=0
for _ in $(seq 1 150); do
    if timeout 3 openssl s_client -connect "127.0.0.1:$PORT2" -CAfile "$C/ca.crt" \
        -cert "$C/client.crt" -key "$C/client.key" -verify_return_error -brief \
        </dev/null >/dev/null 2>&1; then
        up=1
        break
    fi
    sleep 0.2
done
((up == 1)) || fail "moved PyKMIP did not come up on $PORT2"
assert_exit 5 "$LUKSFS" kms state "$CURI" --kms-config "$CONF"   # old address: gone
sed -i "s/^server = .*/server = 127.0.0.1:$PORT2/" "$CONF"
assert_exit 0 "$LUKSFS" kms clusters --kms-config "$CONF"
mnt2="$(new_mountpoint c-mnt2)"
mount_view "$img" "$mnt2" --kms-config "$CONF"
assert_files_eq "$WORK/c.oracle" "$(view_file "$mnt2")" "view vs oracle after the move"
umount_view "$mnt2"
assert_eq "$before" "$(sha256 "$img")" "image changed by the move (header edit?)"
log "same image, same header, new KMS address"
"$REPO_ROOT/tests/kms/pykmip-down.sh" "$KDIR" || true
pass
