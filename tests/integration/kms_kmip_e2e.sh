#!/bin/bash
# The issue's KMS acceptance flow against a real PyKMIP server: create a
# root key over mutual TLS, bind, mount with no secret (view == oracle),
# revoke -> reads fail within the poll interval + 1 s and no key byte is
# left in the daemon's memory, destroy -> mount refused with exit 5. Then a
# wrong CA, a wrong client certificate and an unknown key id are refused
# with clear messages.
source "$(dirname "$0")/../lib.sh"
source "$REPO_ROOT/tests/kms/e2e.sh"
need_luksfs
[[ -x /usr/bin/pykmip-server ]] || fail "pykmip-server missing: install python3-pykmip (make deps)"

start_pykmip "$WORK/pykmip"
OPTS=(--kms-ca "$C/ca.crt" --kms-cert "$C/client.crt" --kms-key "$C/client.key")

assert_exit 0 "$LUKSFS" kms create-key "kmip://$EP/" "${OPTS[@]}"
URI="$(cat "$WORK/last.out")"
[[ "$URI" == kmip://"$EP"/* ]] || fail "create-key printed '$URI'"
log "root key $URI"
assert_exit 0 "$LUKSFS" kms state "$URI" "${OPTS[@]}"
grep -q active "$WORK/last.out" || fail "new key not active: $(cat "$WORK/last.out")"

kms_e2e "$URI" "${OPTS[@]}"

log "refusals: wrong CA, wrong client certificate, unknown key"
assert_exit 0 "$LUKSFS" kms create-key "kmip://$EP/" "${OPTS[@]}"
URI2="$(cat "$WORK/last.out")"
printf 'x' >"$WORK/one"
assert_exit 5 "$LUKSFS" wrap --kms "$URI2" --in "$WORK/one" \
    --kms-ca "$C/rogue-ca.crt" --kms-cert "$C/client.crt" --kms-key "$C/client.key"
grep -qiE "certificate|CA" "$WORK/last.err" || fail "wrong CA: unclear: $(cat "$WORK/last.err")"
log "wrong CA: $(cat "$WORK/last.err")"
assert_exit 5 "$LUKSFS" wrap --kms "$URI2" --in "$WORK/one" \
    --kms-ca "$C/ca.crt" --kms-cert "$C/rogue-client.crt" --kms-key "$C/rogue-client.key"
grep -qiE "certificate|handshake" "$WORK/last.err" || fail "wrong client cert: unclear: $(cat "$WORK/last.err")"
log "wrong client cert: $(cat "$WORK/last.err")"
assert_exit 5 "$LUKSFS" wrap --kms "kmip://$EP/no-such-key-424242" --in "$WORK/one" "${OPTS[@]}"
grep -qiE "not found|no such key" "$WORK/last.err" || fail "unknown key: unclear: $(cat "$WORK/last.err")"
log "unknown key: $(cat "$WORK/last.err")"
"$REPO_ROOT/tests/kms/pykmip-down.sh" "$KDIR" || true
pass
