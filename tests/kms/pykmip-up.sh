#!/bin/bash
# Starts a throw-away PyKMIP server (python3-pykmip) on 127.0.0.1 with fresh test certificates.
#
#   tests/kms/pykmip-up.sh DIR [PORT]        PORT defaults to a free port
#   tests/kms/pykmip-down.sh DIR             stops it (pid file)
#
# DIR afterwards holds:
#   certs/ca.crt                 test CA
#   certs/server.{crt,key}       server cert, SAN IP:127.0.0.1, DNS:localhost
#   certs/client.{crt,key}       client cert CN=luksfs-test-client, EKU clientAuth (owner of keys)
#   certs/client2.{crt,key}      same CA, CN=luksfs-other-client (not the owner: policy denials)
#   certs/rogue-ca.crt, certs/rogue-client.{crt,key}   a second CA and a client cert it signed
#   server.conf, policies/, pykmip.db, server.log, pykmip.pid
#   endpoint                     "127.0.0.1:PORT"
#   attributes.log               (launcher only) "UID NAME=VALUE" per Add Attribute
# Environment: PYKMIP_VERSIONS=1.1,1.0 restricts the server to those KMIP versions (a KMIP 1.1
# key server); PYKMIP_VERSIONS or PYKMIP_ADD_ATTRIBUTE=1 starts it through tests/kms/pykmip_launcher.py,
# which also implements Add Attribute for x- custom attributes and logs each request's version.
# TLS 1.2 cipher suites PyKMIP 0.10 accepts; the client certificates carry the clientAuth EKU it enforces.
# Notes on this server set-up: doc/kmip.md, section "The PyKMIP test server"
# (TLS1.2 suite, client EKU enforced).
set -euo pipefail

DIR="${1:?usage: pykmip-up.sh DIR [PORT]}"
PORT="${2:-}"
PY=/usr/bin/python3   # Debian's python: it has PyKMIP
mkdir -p "$DIR/certs" "$DIR/policies"
DIR="$(cd "$DIR" && pwd)"
C="$DIR/certs"

if [[ -z "$PORT" ]]; then
    PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
fi

# make_cert NAME CA_NAME SUBJECT EXTENSIONS
make_cert() {
    openssl req -newkey rsa:2048 -nodes -keyout "$C/$1.key" -out "$C/$1.csr" -subj "$3" 2>/dev/null
    printf '%b' "$4" >"$C/$1.ext"
    openssl x509 -req -in "$C/$1.csr" -CA "$C/$2.crt" -CAkey "$C/$2.key" -CAcreateserial \
        -out "$C/$1.crt" -days 30 -extfile "$C/$1.ext" 2>/dev/null
    rm -f "$C/$1.csr" "$C/$1.ext"
}
make_ca() {
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/$1.key" -out "$C/$1.crt" -days 30 \
        -subj "$2" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

CLIENT_EXT='basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n'
make_ca ca "/CN=luksfs test KMIP CA"
make_cert server ca "/CN=127.0.0.1" \
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n'
make_cert client ca "/CN=luksfs-test-client" "$CLIENT_EXT"
make_cert client2 ca "/CN=luksfs-other-client" "$CLIENT_EXT"
make_ca rogue-ca "/CN=luksfs rogue CA"
make_cert rogue-client rogue-ca "/CN=luksfs-test-client" "$CLIENT_EXT"

cat >"$DIR/server.conf" <<EOF
[server]
hostname=127.0.0.1
port=$PORT
certificate_path=$C/server.crt
key_path=$C/server.key
ca_path=$C/ca.crt
auth_suite=TLS1.2
policy_path=$DIR/policies
enable_tls_client_auth=True
tls_cipher_suites=
    TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384
    TLS_RSA_WITH_AES_256_CBC_SHA256
logging_level=INFO
database_path=$DIR/pykmip.db
EOF

rm -f "$DIR/pykmip.db" "$DIR/endpoint"
SERVER=(/usr/bin/pykmip-server)
if [[ -n "${PYKMIP_VERSIONS:-}" || "${PYKMIP_ADD_ATTRIBUTE:-}" == 1 ]]; then
    SERVER=("$(cd "$(dirname "$0")" && pwd)/pykmip_launcher.py" --attr-log "$DIR/attributes.log")
    [[ -n "${PYKMIP_VERSIONS:-}" ]] && SERVER+=(--versions "$PYKMIP_VERSIONS")
    rm -f "$DIR/attributes.log"
fi
setsid "$PY" "${SERVER[@]}" -f "$DIR/server.conf" -l "$DIR/server.log" \
    </dev/null >"$DIR/server.out" 2>&1 &
echo $! >"$DIR/pykmip.pid"
pid=$(cat "$DIR/pykmip.pid")

# Wait (bounded: 60 s) until the server completes a mutual-TLS handshake.
for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "pykmip-up: server exited; log:" >&2
        tail -n 20 "$DIR/server.out" "$DIR/server.log" >&2 2>/dev/null || true
        exit 1
    fi
    if timeout 3 openssl s_client -connect "127.0.0.1:$PORT" -CAfile "$C/ca.crt" \
        -cert "$C/client.crt" -key "$C/client.key" -verify_return_error -brief \
        </dev/null >/dev/null 2>&1; then
        echo "127.0.0.1:$PORT" >"$DIR/endpoint"
        echo "pykmip-up: PyKMIP serving on 127.0.0.1:$PORT (pid $pid)"
        exit 0
    fi
    sleep 0.2
done
echo "pykmip-up: server did not accept TLS on port $PORT within 60 s" >&2
kill -KILL "$pid" 2>/dev/null || true
exit 1
