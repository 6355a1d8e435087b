#!/usr/bin/python3
"""Local stand-in for the IBM Key Protect and HashiCorp Vault transit REST
APIs, for luksfs's REST KMS driver tests (kms-client/rest_kms_test.cc).

It follows the published request/response shapes and status codes; the
cryptography inside is real AES-256-GCM (python3-cryptography).

Sources of the shapes and codes:
  Key Protect: IBM/keyprotect-go-client keys.go (Key, KeysActionRequest,
    paths keys/{id}/actions/{wrap,unwrap,disable,enable}, DELETE keys/{id}
    with "Prefer: return=minimal"), kp.go (headers authorization,
    bluemix-instance, correlation-id, accept; error body
    {"metadata": {"collectionType": "application/vnd.ibm.kms.error+json"},
    "resources": [{"errorMsg", "reasons": [{"code", "message", "status",
    "moreInfo"}]}]}); cloud.ibm.com/docs/key-protect "error-messages"
    (401 UNAUTHORIZED_ERR, 409 KEY_ACTION_INVALID_STATE_ERR for an action on
    a key that is not active, 410 KEY_DELETED_ERR, 422
    UNPROCESSABLE_CIPHERTEXT_ERR), "key-states" (0 pre-active, 1 active,
    2 suspended, 3 deactivated, 5 destroyed).
    Not found in those sources, so assumed here: the 400 answer to a missing
    bluemix-instance header (reason code BAD_REQUEST_ERR) and 404
    KEY_NOT_FOUND_ERR's exact text; a GET of a deleted key answers 200 with
    state 5 (Key Protect keeps deleted keys' metadata for 90 days).
  Vault transit: hashicorp/vault website/content/api-docs/secret/transit.mdx
    and builtin/logical/transit/path_{keys,keys_config,encrypt,decrypt,
    rotate}.go: X-Vault-Token (403 {"errors": ["permission denied"]} when
    bad), read key -> {"data": {latest_version, min_decryption_version,
    deletion_allowed, keys, ...}} or 404 {"errors": []}, encrypt upserts a
    missing key, ciphertext "vault:vN:" + base64(nonce || ct || tag),
    decrypt errors are 400 (missing key, version below
    min_decryption_version, authentication failure), config refuses
    min_decryption_version above latest_version (400), delete needs
    deletion_allowed (400).

  IBM Cloud IAM token API (cloud.ibm.com/apidocs/iam-identity-token-api,
    "Create an IAM access token for a user or service ID using an API
    key"): POST /identity/token, form body
    grant_type=urn:ibm:params:oauth:grant-type:apikey&apikey=KEY ->
    {"access_token", "refresh_token", "token_type": "Bearer",
    "expires_in", "expiration", "scope"}; an unknown key -> 400
    {"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not
    be found."}; a wrong grant type -> 400 BXNIM0003E (assumed). Tokens live
    --iam-token-lifetime seconds; Key Protect answers an expired one with
    401. Each exchange appends a line to --iam-log. While the file
    --iam-refuse-file exists, the API key is refused (400 BXNIM0415E) and
    IAM tokens are refused by Key Protect (401), as when a service ID's key
    is deleted.
  Key Protect "rotate" (a new key version) and "rewrap" (ciphertext of any
    version -> ciphertext under the newest) actions.

Usage:
  rest_kms_server.py --port-file FILE [--tls-port-file FILE --tls-dir DIR]
      [--kp-token T] [--kp-instance I] [--vault-token T]
      [--vault-limited-token T]
      [--seed kp:KEY-ID]... [--seed vault:MOUNT/NAME]...
      [--iam-api-key K] [--iam-token-lifetime S] [--iam-log FILE]
Listens on 127.0.0.1, ephemeral ports; the port (decimal) is written
atomically to FILE once listening. With --tls-dir, a self-signed
certificate for 127.0.0.1 is made there (cert.pem, key.pem, and
fingerprint: hex SHA-256 of the DER) and a second, HTTPS listener serves the
same keys. Runs until killed, or until its parent process exits.
"""

import argparse
import base64
import binascii
import datetime
import json
import os
import re
import ssl
import struct
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LOCK = threading.Lock()
ARGS = None
KP_KEYS = {}     # id -> {"versions": [bytes], "state": int, "name": str, ...}
VAULT_KEYS = {}  # (mount, name) -> {"versions": [bytes], "min_dec": int, ...}
VAULT_MOUNTS = {"transit"}
IAM_TOKENS = {}  # access token -> expiry (time.time())


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def new_kp_key(key_id, name=None):
    KP_KEYS[key_id] = {"versions": [AESGCM.generate_key(256)], "state": 1,
                       "name": name or key_id, "created": now_iso(),
                       "version_ids": [str(uuid.uuid4())]}


def new_vault_key(mount, name):
    VAULT_KEYS[(mount, name)] = {"versions": [AESGCM.generate_key(256)],
                                 "times": [int(datetime.datetime.now().timestamp())],
                                 "min_dec": 1, "deletion_allowed": False}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "rest-kms-standin/1"
    disable_nagle_algorithm = True  # one round trip per request, not 40 ms

    def log_message(self, fmt, *args):  # quiet
        pass

    # --- plumbing -----------------------------------------------------------
    def send_json(self, status, obj=None, extra_headers=()):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        for k, v in extra_headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        raw = self.raw_body
        if not raw:
            return {}
        try:
            obj = json.loads(raw)
        except ValueError:
            return None
        return obj if isinstance(obj, dict) else None

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_DELETE(self):
        self.route("DELETE")

    def route(self, method):
        # Always consume the body, so error answers keep the connection
        # usable for the next (keep-alive) request.
        n = int(self.headers.get("Content-Length") or 0)
        self.raw_body = self.rfile.read(n) if n else b""
        path = self.path.split("?", 1)[0]
        with LOCK:
            if path == "/identity/token" and method == "POST":
                self.iam_token()
            elif path.startswith("/api/v2/"):
                self.key_protect(method, path[len("/api/v2/"):])
            elif path.startswith("/v1/"):
                self.vault(method, path[len("/v1/"):])
            else:
                self.send_json(404, {"errors": ["unknown path"]})

    # --- Key Protect --------------------------------------------------------
    def kp_error(self, status, code, msg, error_msg):
        self.send_json(status, {
            "metadata": {"collectionType": "application/vnd.ibm.kms.error+json",
                         "collectionTotal": 1},
            "resources": [{"errorMsg": error_msg, "reasons": [{
                "code": code, "message": msg, "status": status,
                "moreInfo": "https://cloud.ibm.com/apidocs/key-protect"}]}]})

    def kp_key_resource(self, key_id, k):
        r = {"id": key_id, "name": k["name"],
             "type": "application/vnd.ibm.kms.key+json", "state": k["state"],
             "extractable": False, "algorithmType": "AES",
             "creationDate": k["created"],
             "keyVersion": {"id": k["version_ids"][-1],
                            "creationDate": k["created"]},
             "deleted": k["state"] == 5}
        if k["state"] == 5:
            r["deletionDate"] = k.get("deleted_at", now_iso())
        return r

    # --- IBM Cloud IAM ------------------------------------------------------
    def iam_token(self):
        form = urllib.parse.parse_qs(self.raw_body.decode("utf-8", "replace"))
        if form.get("grant_type") != ["urn:ibm:params:oauth:grant-type:apikey"]:
            return self.send_json(400, {
                "errorCode": "BXNIM0003E",
                "errorMessage": "Operation not supported.",
                "context": {"requestId": str(uuid.uuid4())}})
        refused = ARGS.iam_refuse_file and os.path.exists(ARGS.iam_refuse_file)
        if refused or not ARGS.iam_api_key or form.get("apikey") != [ARGS.iam_api_key]:
            return self.send_json(400, {
                "errorCode": "BXNIM0415E",
                "errorMessage": "Provided API key could not be found.",
                "context": {"requestId": str(uuid.uuid4())}})
        token = "iam-" + uuid.uuid4().hex
        life = ARGS.iam_token_lifetime
        IAM_TOKENS[token] = time.time() + life
        if ARGS.iam_log:
            with open(ARGS.iam_log, "a") as f:
                f.write("%.3f token issued, expires in %d s\n" % (time.time(), life))
        return self.send_json(200, {
            "access_token": token, "refresh_token": "not_supported",
            "ims_user_id": 1, "token_type": "Bearer", "expires_in": life,
            "expiration": int(time.time()) + life, "scope": "ibm openid"})

    def kp_token_ok(self, auth):
        if ARGS.kp_token and auth == "Bearer " + ARGS.kp_token:
            return True
        token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
        expiry = IAM_TOKENS.get(token)
        if expiry is None:
            return False
        if ARGS.iam_refuse_file and os.path.exists(ARGS.iam_refuse_file):
            return False
        if time.time() >= expiry:
            if ARGS.iam_log:
                with open(ARGS.iam_log, "a") as f:
                    f.write("%.3f expired token refused\n" % time.time())
            return False
        return True

    def key_protect(self, method, rest):
        auth = self.headers.get("authorization", "")
        if not self.kp_token_ok(auth):
            return self.kp_error(401, "UNAUTHORIZED_ERR",
                                 "The user does not have access to the specified resource",
                                 "Unauthorized: The user does not have access to the specified resource")
        instance = self.headers.get("bluemix-instance")
        if not instance:
            return self.kp_error(400, "BAD_REQUEST_ERR",
                                 "bluemix-instance header is required",
                                 "Bad Request: bluemix-instance header is required")
        if instance != ARGS.kp_instance:
            return self.kp_error(401, "UNAUTHORIZED_ERR",
                                 "The user does not have access to the specified resource",
                                 "Unauthorized: The user does not have access to the specified resource")
        parts = rest.split("/")
        if parts == ["keys"] and method == "POST":
            return self.kp_create()
        if len(parts) < 2 or parts[0] != "keys":
            return self.kp_error(404, "NOT_FOUND_ERR", "Not found", "Not Found")
        key_id = parts[1]
        k = KP_KEYS.get(key_id)
        if k is None:
            return self.kp_error(404, "KEY_NOT_FOUND_ERR",
                                 "Key does not exist",
                                 "Not Found: Key could not be found")
        if len(parts) == 2 and method == "GET":
            return self.send_json(200, {
                "metadata": {"collectionType": "application/vnd.ibm.kms.key+json",
                             "collectionTotal": 1},
                "resources": [self.kp_key_resource(key_id, k)]})
        if len(parts) == 2 and method == "DELETE":
            if k["state"] == 5:
                return self.kp_error(410, "KEY_DELETED_ERR",
                                     "Key has already been deleted. Please delete references to this key.",
                                     "Gone: Key could not be deleted. Please see `reasons` for more details.")
            k["state"] = 5
            k["deleted_at"] = now_iso()
            k["versions"] = []  # shredded
            if self.headers.get("prefer", "") == "return=minimal":
                return self.send_json(204)
            return self.send_json(200, {
                "metadata": {"collectionType": "application/vnd.ibm.kms.key+json",
                             "collectionTotal": 1},
                "resources": [self.kp_key_resource(key_id, k)]})
        if len(parts) == 4 and parts[2] == "actions" and method == "POST":
            return self.kp_action(key_id, k, parts[3])
        return self.kp_error(404, "NOT_FOUND_ERR", "Not found", "Not Found")

    def kp_create(self):
        body = self.read_body()
        res = (body or {}).get("resources")
        if not isinstance(res, list) or len(res) != 1:
            return self.kp_error(400, "BAD_BODY_ERR",
                                 "Invalid body data was passed",
                                 "Bad Request: Key could not be created")
        key_id = str(uuid.uuid4())
        new_kp_key(key_id, res[0].get("name"))
        return self.send_json(201, {
            "metadata": {"collectionType": "application/vnd.ibm.kms.key+json",
                         "collectionTotal": 1},
            "resources": [self.kp_key_resource(key_id, KP_KEYS[key_id])]})

    def kp_action(self, key_id, k, action):
        if k["state"] == 5:
            return self.kp_error(410, "KEY_DELETED_ERR",
                                 "Key has already been deleted. Please delete references to this key.",
                                 "Gone: The key has been deleted and is no longer available.")
        body = self.read_body()
        if body is None:
            return self.kp_error(400, "BAD_BODY_ERR",
                                 "Invalid body data was passed",
                                 "Bad Request: Invalid body data")
        if action == "enable":
            if k["state"] != 2:
                return self.invalid_state(action)
            k["state"] = 1
            return self.send_json(204)
        if k["state"] != 1:
            return self.invalid_state(action)
        if action == "disable":
            k["state"] = 2
            return self.send_json(204)
        if action == "rotate":
            k["versions"].append(os.urandom(32))
            k["version_ids"].append(str(uuid.uuid4()))
            return self.send_json(204)
        aad = "".join(body.get("aad") or []).encode()
        if action == "wrap":
            try:
                pt = base64.b64decode(body.get("plaintext", ""), validate=True)
            except (binascii.Error, TypeError):
                return self.kp_error(400, "BAD_BODY_ERR",
                                     "Invalid body data was passed",
                                     "Bad Request: Wrap with key could not be performed")
            if not pt:
                pt = os.urandom(32)  # Key Protect generates a DEK
            ver = len(k["versions"]) - 1
            nonce = os.urandom(12)
            ct = AESGCM(k["versions"][ver]).encrypt(nonce, pt, aad)
            blob = base64.b64encode(struct.pack(">I", ver) + nonce + ct).decode()
            out = {"ciphertext": blob,
                   "keyVersion": {"id": k["version_ids"][ver],
                                  "creationDate": k["created"]}}
            if not body.get("plaintext"):
                out["plaintext"] = base64.b64encode(pt).decode()
            return self.send_json(200, out)
        if action == "rewrap":
            try:
                raw = base64.b64decode(body.get("ciphertext", ""), validate=True)
                ver = struct.unpack(">I", raw[:4])[0]
                pt = AESGCM(k["versions"][ver]).decrypt(raw[4:16], raw[16:], aad)
            except Exception:  # noqa: BLE001 - any failure is "bad ciphertext"
                return self.kp_error(422, "UNPROCESSABLE_CIPHERTEXT_ERR",
                                     "The provided ciphertext is invalid or corrupted",
                                     "Unprocessable Entity: Rewrap with key could not be performed")
            new = len(k["versions"]) - 1
            nonce = os.urandom(12)
            ct = AESGCM(k["versions"][new]).encrypt(nonce, pt, aad)
            if ARGS.iam_log:
                with open(ARGS.iam_log, "a") as f:
                    f.write("%.3f rewrap v%d -> v%d\n" % (time.time(), ver, new))
            return self.send_json(200, {
                "ciphertext": base64.b64encode(struct.pack(">I", new) + nonce + ct).decode(),
                "keyVersion": {"id": k["version_ids"][new],
                               "creationDate": k["created"]}})
        if action == "unwrap":
            try:
                raw = base64.b64decode(body.get("ciphertext", ""), validate=True)
                ver = struct.unpack(">I", raw[:4])[0]
                pt = AESGCM(k["versions"][ver]).decrypt(raw[4:16], raw[16:], aad)
            except Exception:  # noqa: BLE001 - any failure is "bad ciphertext"
                return self.kp_error(422, "UNPROCESSABLE_CIPHERTEXT_ERR",
                                     "The provided ciphertext is invalid or corrupted",
                                     "Unprocessable Entity: Unwrap with key could not be performed")
            return self.send_json(200, {
                "plaintext": base64.b64encode(pt).decode(),
                "keyVersion": {"id": k["version_ids"][ver],
                               "creationDate": k["created"]}})
        return self.kp_error(400, "BAD_BODY_ERR", "Unknown action",
                             "Bad Request: unknown action")

    def invalid_state(self, action):
        verb = action.capitalize()
        return self.kp_error(409, "KEY_ACTION_INVALID_STATE_ERR",
                             "Key is not in a valid state",
                             "Conflict: %s with key could not be performed: "
                             "Please see `reasons` for more details "
                             "(KEY_ACTION_INVALID_STATE_ERR)" % verb)

    # --- Vault transit ------------------------------------------------------
    def vault_err(self, status, *msgs):
        self.send_json(status, {"errors": list(msgs)})

    def vault_data(self, data):
        self.send_json(200, {"request_id": str(uuid.uuid4()), "lease_id": "",
                             "renewable": False, "lease_duration": 0,
                             "data": data, "wrap_info": None,
                             "warnings": None, "auth": None})

    def vault_key_info(self, name, k):
        return {"name": name, "type": "aes256-gcm96", "derived": False,
                "deletion_allowed": k["deletion_allowed"],
                "min_available_version": 0,
                "min_decryption_version": k["min_dec"],
                "min_encryption_version": 0,
                "latest_version": len(k["versions"]),
                "exportable": False, "allow_plaintext_backup": False,
                "supports_encryption": True, "supports_decryption": True,
                "supports_signing": False, "supports_derivation": True,
                "auto_rotate_period": 0, "imported_key": False,
                "keys": {str(i + 1): t for i, t in enumerate(k["times"])}}

    def vault(self, method, rest):
        token = self.headers.get("X-Vault-Token", "")
        limited = ARGS.vault_limited_token and token == ARGS.vault_limited_token
        if token != ARGS.vault_token and not limited:
            return self.vault_err(403, "permission denied")
        m = re.fullmatch(r"(.+)/(keys|encrypt|decrypt)/([^/]+)(/(config|rotate))?",
                         rest)
        # A policy granting only "update" on encrypt/NAME and decrypt/NAME:
        # no reads of keys/, no upsert ("create") of a missing key.
        if limited and (not m or m.group(2) == "keys" or
                        (m.group(2) == "encrypt" and
                         (m.group(1), m.group(3)) not in VAULT_KEYS)):
            return self.vault_err(403, "permission denied")
        if not m or m.group(1) not in VAULT_MOUNTS:
            return self.vault_err(404, "no handler for route \"%s\"" % rest)
        mount, op, name, sub = m.group(1), m.group(2), m.group(3), m.group(5)
        k = VAULT_KEYS.get((mount, name))
        body = self.read_body() if method == "POST" else {}
        if body is None:
            return self.vault_err(400, "failed to parse JSON input")
        if op == "keys" and sub is None:
            if method == "GET":
                if k is None:
                    return self.vault_err(404)
                return self.vault_data(self.vault_key_info(name, k))
            if method == "POST":
                if k is None:
                    new_vault_key(mount, name)
                return self.vault_data(self.vault_key_info(
                    name, VAULT_KEYS[(mount, name)]))
            if method == "DELETE":
                if k is None:
                    return self.vault_err(400, "could not delete key; not found")
                if not k["deletion_allowed"]:
                    return self.vault_err(400, "deletion is not allowed for this key")
                del VAULT_KEYS[(mount, name)]
                return self.send_json(204)
        if op == "keys" and method == "POST" and sub == "rotate":
            if k is None:
                return self.vault_err(400, "key not found")
            k["versions"].append(AESGCM.generate_key(256))
            k["times"].append(int(datetime.datetime.now().timestamp()))
            return self.vault_data(self.vault_key_info(name, k))
        if op == "keys" and method == "POST" and sub == "config":
            if k is None:
                return self.vault_err(400, "no existing key named %s could be found" % name)
            if "min_decryption_version" in body:
                v = int(body["min_decryption_version"])
                if v > len(k["versions"]):
                    return self.vault_err(400, "cannot set min decryption version of %d, "
                                          "latest key version is %d" % (v, len(k["versions"])))
                k["min_dec"] = max(v, 1)
            if "deletion_allowed" in body:
                k["deletion_allowed"] = bool(body["deletion_allowed"])
            return self.vault_data(self.vault_key_info(name, k))
        if op == "encrypt" and method == "POST" and sub is None:
            try:
                pt = base64.b64decode(body.get("plaintext", ""), validate=True)
            except (binascii.Error, TypeError):
                return self.vault_err(400, "failed to base64-decode plaintext")
            if k is None:  # transit upserts a missing key on encrypt
                new_vault_key(mount, name)
                k = VAULT_KEYS[(mount, name)]
            ver = len(k["versions"])
            nonce = os.urandom(12)
            ct = AESGCM(k["versions"][ver - 1]).encrypt(nonce, pt, None)
            return self.vault_data({
                "ciphertext": "vault:v%d:%s" % (ver, base64.b64encode(nonce + ct).decode()),
                "key_version": ver})
        if op == "decrypt" and method == "POST" and sub is None:
            if k is None:
                return self.vault_err(400, "encryption key not found")
            cm = re.fullmatch(r"vault:v(\d+):(.*)", body.get("ciphertext", ""))
            if not cm:
                return self.vault_err(400, "invalid ciphertext: no prefix")
            ver = int(cm.group(1))
            if ver < k["min_dec"]:
                return self.vault_err(400, "ciphertext or signature version is "
                                      "disallowed by policy (too old)")
            if ver > len(k["versions"]):
                return self.vault_err(400, "invalid key version")
            try:
                raw = base64.b64decode(cm.group(2), validate=True)
                pt = AESGCM(k["versions"][ver - 1]).decrypt(raw[:12], raw[12:], None)
            except Exception:  # noqa: BLE001
                return self.vault_err(400, "cipher: message authentication failed")
            return self.vault_data({"plaintext": base64.b64encode(pt).decode()})
        return self.vault_err(405, "unsupported operation")


def make_cert(tls_dir):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    os.makedirs(tls_dir, exist_ok=True)
    with open(os.path.join(tls_dir, "cert.pem"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(tls_dir, "key.pem"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    with open(os.path.join(tls_dir, "fingerprint"), "w") as f:
        f.write(cert.fingerprint(hashes.SHA256()).hex())


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, path)


def exit_with_parent():
    """Exits when the process that started us goes away (a crashed test must
    not leave a server behind)."""
    parent = os.getppid()

    def watch():
        while os.getppid() == parent:
            threading.Event().wait(0.5)
        os._exit(0)
    threading.Thread(target=watch, daemon=True).start()


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--tls-port-file")
    p.add_argument("--tls-dir")
    p.add_argument("--kp-token", default="kp-test-token")
    p.add_argument("--kp-instance", default="kp-test-instance")
    p.add_argument("--vault-token", default="vault-test-token")
    p.add_argument("--vault-limited-token", default="",
                   help="a token allowed only transit encrypt/decrypt")
    p.add_argument("--vault-mount", action="append", default=[])
    p.add_argument("--seed", action="append", default=[])
    p.add_argument("--iam-api-key", default="")
    p.add_argument("--iam-token-lifetime", type=int, default=3600)
    p.add_argument("--iam-log", default="")
    p.add_argument("--iam-refuse-file", default="")
    ARGS = p.parse_args()
    exit_with_parent()
    VAULT_MOUNTS.update(ARGS.vault_mount)
    for s in ARGS.seed:
        kind, _, what = s.partition(":")
        if kind == "kp":
            new_kp_key(what)
        elif kind == "vault":
            mount, _, name = what.rpartition("/")
            VAULT_MOUNTS.add(mount)
            new_vault_key(mount, name)
        else:
            p.error("--seed kp:ID or vault:MOUNT/NAME")
    ThreadingHTTPServer.daemon_threads = True
    if ARGS.tls_dir and ARGS.tls_port_file:
        make_cert(ARGS.tls_dir)
        tls = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(ARGS.tls_dir, "cert.pem"),
                            os.path.join(ARGS.tls_dir, "key.pem"))
        tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
        threading.Thread(target=tls.serve_forever, daemon=True).start()
        write_port(ARGS.tls_port_file, tls.server_address[1])
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    write_port(ARGS.port_file, httpd.server_address[1])
    httpd.serve_forever()


if __name__ == "__main__":
    main()
