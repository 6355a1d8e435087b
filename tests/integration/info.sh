#!/bin/bash
# `luksfs info IMAGE`, `luksfs info --json IMAGE` and `luksfs check`, compared with cryptsetup:
#  * LUKS2 (label, subsystem, argon2id slot 0 with 2 lanes, pbkdf2/sha512 slot 1 preferred, a token):
#    every field of the JSON against `cryptsetup luksDump --dump-json-metadata`, luksUUID and the
#    Epoch of `luksDump`; a reencrypt --init-only image reports its requirement and mountable=false.
#  * LUKS1 (aes-cbc-essiv:sha256, sha1, slots 0 and 2): fields against `cryptsetup luksDump` text.
#  * text info: exit 0, names uuid/cipher/label/kdf, never prints the passphrase.
#  * check: "IMAGE: keyslot N opened" with the slot cryptsetup opens.
# shellcheck source=../lib.sh
source "$(dirname "$0")/../lib.sh"
need_luksfs
cd "$WORK"
write_secret pw "info passphrase"
write_secret pw2 "second info passphrase"

mk_luks2 l2.img 20 pw --pbkdf argon2id "${ARGON2_COST_ARGS[@]}" --label mylabel --subsystem mysub
cryptsetup luksAddKey -q --pbkdf pbkdf2 --pbkdf-force-iterations 1000 --hash sha512 \
    --key-file pw --new-key-slot 1 l2.img pw2 || fail "luksAddKey"
cryptsetup config --priority prefer --key-slot 1 l2.img || fail "config --priority"
printf '{"type":"luksfs-test","keyslots":["1"],"note":"hello"}' >tok.json
cryptsetup token import --json-file tok.json --token-id 3 l2.img || fail "token import"

# compare_luks2 IMG: luksfs info --json vs cryptsetup
compare_luks2() {
    local img="$1"
    "$LUKSFS" info --json "$img" </dev/null >"$img.info.json" 2>"$img.info.err" \
        || fail "luksfs info --json $img failed: $(tr '\n' ' ' <"$img.info.err")"
    cryptsetup luksDump --dump-json-metadata "$img" >"$img.cs.json" || fail "luksDump --dump-json-metadata"
    local uuid epoch
    uuid=$(cryptsetup luksUUID "$img")
    epoch=$(cryptsetup luksDump "$img" | sed -n 's/^Epoch:[[:space:]]*//p')
    "$PY" - "$img.info.json" "$img.cs.json" "$uuid" "$epoch" "${2:-}" <<'PYEOF' || fail "info --json of $img disagrees with cryptsetup"
import base64, json, sys
text = open(sys.argv[1]).read()
try:
    got = json.loads(text)
except ValueError as e:
    sys.exit("not one JSON object: %s" % e)
cs, uuid, epoch, expect_req = json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4]), sys.argv[5]
errs = []
def eq(path, want, have):
    if want != have:
        errs.append("%s: want %r, got %r" % (path, want, have))
seg = cs["segments"]["0"]
eq("version", 2, got.get("version"))
eq("uuid", uuid, got.get("uuid"))
eq("label", "mylabel", got.get("label"))
eq("subsystem", "mysub", got.get("subsystem"))
eq("cipher", seg["encryption"], got.get("cipher"))
vk_bytes = next(k["key_size"] for k in cs["keyslots"].values() if k["type"] == "luks2")
eq("key_size", vk_bytes * 8, got.get("key_size"))
eq("data_offset", int(seg["offset"]), got.get("data_offset"))
eq("data_size", seg["size"] if seg["size"] == "dynamic" else int(seg["size"]), got.get("data_size"))
eq("sector_size", seg["sector_size"], got.get("sector_size"))
eq("iv_tweak", int(seg["iv_tweak"]), got.get("iv_tweak"))
slots = {s.get("slot"): s for s in got.get("keyslots", [])}
want_slots = {int(k): v for k, v in cs["keyslots"].items() if v["type"] == "luks2"}
eq("keyslot numbers", sorted(want_slots), sorted(k for k, s in slots.items() if s.get("type") == "luks2"))
for n, ks in want_slots.items():
    s = slots.get(n, {})
    p = "keyslots[%d]." % n
    eq(p + "type", "luks2", s.get("type"))
    eq(p + "priority", ks.get("priority", 1), s.get("priority"))
    eq(p + "key_size", ks["key_size"] * 8, s.get("key_size"))
    kdf = dict(ks["kdf"]); kdf.pop("salt")
    gk = dict(s.get("kdf", {})); gk.pop("salt", None)
    eq(p + "kdf", kdf, gk)
    eq(p + "af.stripes", ks["af"]["stripes"], s.get("af", {}).get("stripes"))
    eq(p + "af.hash", ks["af"]["hash"], s.get("af", {}).get("hash"))
    a, ga = ks["area"], s.get("area", {})
    eq(p + "area.offset", int(a["offset"]), ga.get("offset"))
    eq(p + "area.size", int(a["size"]), ga.get("size"))
    eq(p + "area.encryption", a["encryption"], ga.get("encryption"))
    eq(p + "area.key_size", a["key_size"] * 8, ga.get("key_size"))  # bits, as every key_size
toks = {t.get("token"): t for t in got.get("tokens", [])}
for n, t in cs["tokens"].items():
    g = toks.get(int(n), {})
    eq("tokens[%s].type" % n, t["type"], g.get("type"))
    eq("tokens[%s].keyslots" % n, [int(k) for k in t["keyslots"]], g.get("keyslots"))
eq("token ids", sorted(int(n) for n in cs["tokens"]), sorted(toks))
m = got.get("metadata", {})
eq("metadata.hdr_size", int(cs["config"]["json_size"]) + 4096, m.get("hdr_size"))
eq("metadata.seqid", epoch, m.get("seqid"))
eq("metadata.checksum_alg", "sha256", m.get("checksum_alg"))
eq("metadata.primary", "ok", m.get("primary"))
eq("metadata.secondary", "ok", m.get("secondary"))
req = cs["config"].get("requirements", {}).get("mandatory", [])
eq("requirements", req, got.get("requirements"))
eq("mountable", not req, got.get("mountable"))
if req and not got.get("unmountable_reason"):
    errs.append("unmountable_reason is empty for an image with requirements")
if errs:
    sys.exit("\n".join(errs))
PYEOF
}

log "LUKS2 info --json vs cryptsetup"
compare_luks2 l2.img
# the argon2 keyslot must carry cpus 2 (the lanes), taken from the header
grep -q '"cpus": *2' l2.img.info.json || fail "argon2 cpus 2 not in info --json"

log "LUKS2 text info"
"$LUKSFS" info l2.img </dev/null >l2.txt 2>l2.err || fail "luksfs info failed: $(tr '\n' ' ' <l2.err)"
for want in "$(cryptsetup luksUUID l2.img)" aes-xts-plain64 mylabel argon2id pbkdf2; do
    grep -qF -- "$want" l2.txt || fail "text info lacks '$want'"
done
grep -qF "info passphrase" l2.txt && fail "text info prints the passphrase"

log "LUKS2 with a mandatory requirement"
cp l2.img reenc.img
cryptsetup reencrypt -q --init-only --key-file pw --key-slot 0 "${PBKDF2_ARGS[@]}" reenc.img >/dev/null 2>&1 \
    || fail "reencrypt --init-only"
set +e
"$LUKSFS" info --json reenc.img </dev/null >reenc.json 2>reenc.err
rc=$?
set -e
if ((rc == 0)); then
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert "online-reencrypt-v2" in d["requirements"], d["requirements"]; assert d["mountable"] is False; assert d["unmountable_reason"]' reenc.json \
        || fail "info --json of an image in reencryption: requirements/mountable wrong: $(head -c 400 reenc.json)"
else
    fail "luksfs info --json on an image with a requirement exited $rc (info should describe it): $(head -1 reenc.err)"
fi

log "LUKS1 info --json vs cryptsetup luksDump"
mk_luks1 l1.img 8 pw --cipher aes-cbc-essiv:sha256 --key-size 256 --hash sha1
cryptsetup luksAddKey -q --pbkdf-force-iterations 1234 --key-file pw --new-key-slot 2 l1.img pw2 || fail "luksAddKey LUKS1"
cryptsetup luksDump l1.img >l1.dump
"$LUKSFS" info --json l1.img </dev/null >l1.json 2>l1.err || fail "luksfs info --json LUKS1: $(tr '\n' ' ' <l1.err)"
"$PY" - l1.json l1.dump "$(cryptsetup luksUUID l1.img)" <<'PYEOF' || fail "LUKS1 info --json disagrees with cryptsetup"
import json, re, sys
got, dump, uuid = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), sys.argv[3]
def field(name):
    return re.search(r"^%s:\s*(.*)$" % re.escape(name), dump, re.M).group(1).strip()
errs = []
def eq(path, want, have):
    if want != have:
        errs.append("%s: want %r, got %r" % (path, want, have))
eq("version", 1, got.get("version"))
eq("uuid", uuid, got.get("uuid"))
eq("cipher", field("Cipher name") + "-" + field("Cipher mode"), got.get("cipher"))
eq("key_size", int(field("MK bits")), got.get("key_size"))
eq("data_offset", int(field("Payload offset")) * 512, got.get("data_offset"))
eq("sector_size", 512, got.get("sector_size"))
eq("iv_tweak", 0, got.get("iv_tweak"))
if "metadata" in got:
    errs.append("LUKS1 info has a metadata member")
enabled = {}
for m in re.finditer(r"^Key Slot (\d+): ENABLED\n\s*Iterations:\s*(\d+)", dump, re.M):
    enabled[int(m.group(1))] = int(m.group(2))
slots = {s.get("slot"): s for s in got.get("keyslots", [])}
eq("active keyslots", sorted(enabled), sorted(slots))
for n, it in enabled.items():
    eq("keyslots[%d].kdf" % n, {"type": "pbkdf2", "hash": field("Hash spec"), "iterations": it},
       {k: v for k, v in slots.get(n, {}).get("kdf", {}).items() if k != "salt"})
if errs:
    sys.exit("\n".join(errs))
PYEOF

log "check prints the slot that opened"
for args in "l2.img pw" "l2.img pw2" "l1.img pw" "l1.img pw2"; do
    read -r img secret <<<"$args"
    want=$(cryptsetup open --test-passphrase -v --key-file "$secret" "$img" 2>&1 | sed -n 's/^Key slot \([0-9]*\) unlocked\./\1/p')
    out=$("$LUKSFS" check "$img" --passphrase-file "$secret" </dev/null 2>check.err) || fail "check $args: $(head -1 check.err)"
    assert_eq "$img: keyslot $want opened" "$out" "luksfs check $args"
done
pass
