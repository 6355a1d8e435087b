#!/usr/bin/python3
"""Independent LUKS1/LUKS2 reader and writer used as the test oracle for luksfs.

This file shares no code with luksfs. It follows the published on-disk formats
(the LUKS1 On-Disk Format Specification 1.2.3 and the LUKS2 On-Disk Format Specification
of the cryptsetup project; doc/formats.md) and uses python3-cryptography for the ciphers and libargon2
(through ctypes) for Argon2. Run it with /usr/bin/python3 (Debian's python, which has
python3-cryptography).

Commands (IMAGE is the LUKS image; --header HDR names a detached header, then IMAGE holds only data):

  info    IMAGE [--header HDR]                 print one JSON object: version, cipher, key size,
                                               data offset, data size, sector size, iv_tweak, keyslots,
                                               and for LUKS2 the state of both binary headers
  unlock  IMAGE SECRETFILE [--header HDR] [--key-slot N] [--vk-out FILE]
                                               derive the volume key from the WHOLE content of
                                               SECRETFILE (like cryptsetup --key-file); prints the
                                               slot number that opened; exit 2 if none opened
  decrypt IMAGE VKFILE OUT [--header HDR]      write the full plaintext of the data segment to OUT
  write   IMAGE VKFILE OFFSET INFILE [--header HDR]
  encrypt IMAGE VKFILE OFFSET INFILE [--header HDR]
                                               encrypt INFILE into the image at plaintext OFFSET
                                               (any offset/length: partial units are read-modify-written)

  edit-json IMAGE PYTHON                       test helper: run the Python statement PYTHON with `j`
                                               bound to the LUKS2 JSON metadata, then write it back to
                                               both headers with valid checksums (crafts headers
                                               cryptsetup refuses to create)

VKFILE is the raw volume key, e.g. from `cryptsetup luksDump --dump-volume-key --volume-key-file VKFILE`.
"""
import argparse
import base64
import ctypes
import ctypes.util
import hashlib
import json
import os
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

LUKS_MAGIC = b"LUKS\xba\xbe"
LUKS2_SECONDARY_MAGIC = b"SKUL\xba\xbe"
LUKS2_HDR2_OFFSETS = [0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000]
LUKS1_ACTIVE = 0x00AC71F3
SECTOR = 512


class OracleError(Exception):
    pass


# ----------------------------------------------------------------------------------------------
# Primitives: KDFs, AF merge, sector cipher

def pbkdf2(hashname, secret, salt, iterations, length):
    return hashlib.pbkdf2_hmac(hashname, secret, salt, iterations, length)


def argon2(kind, secret, salt, t_cost, m_kib, lanes, length):
    """Argon2 version 0x13 with lanes == threads == LUKS2 'cpus' (libargon2 convenience API)."""
    lib = ctypes.CDLL(ctypes.util.find_library("argon2") or "libargon2.so.1")
    fn = {"argon2i": lib.argon2i_hash_raw, "argon2id": lib.argon2id_hash_raw}[kind]
    out = ctypes.create_string_buffer(length)
    rc = fn(ctypes.c_uint32(t_cost), ctypes.c_uint32(m_kib), ctypes.c_uint32(lanes),
            secret, ctypes.c_size_t(len(secret)), salt, ctypes.c_size_t(len(salt)),
            out, ctypes.c_size_t(length))
    if rc != 0:
        raise OracleError("argon2 failed, rc=%d" % rc)
    return out.raw


def xor_bytes(a, b):
    n = len(a)
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(n, "little")


def af_merge(material, key_len, stripes, hashname):
    digest_size = hashlib.new(hashname).digest_size

    def diffuse(buf):
        out = bytearray()
        for i in range((len(buf) + digest_size - 1) // digest_size):
            chunk = buf[i * digest_size:(i + 1) * digest_size]
            out += hashlib.new(hashname, struct.pack(">I", i) + chunk).digest()[:len(chunk)]
        return bytes(out)

    d = bytes(key_len)
    for i in range(stripes - 1):
        d = diffuse(xor_bytes(material[i * key_len:(i + 1) * key_len], d))
    return xor_bytes(material[(stripes - 1) * key_len:stripes * key_len], d)


class SectorCipher:
    """dm-crypt style sector cipher: 'aes' + 'xts-plain64' | 'xts-plain' | 'cbc-plain64' |
    'cbc-essiv:sha256' | 'cbc-plain' | 'ecb'. IVs are computed from 512-byte sector numbers."""

    def __init__(self, cipher, mode, key, sector_size=SECTOR):
        if cipher != "aes":
            raise OracleError("unsupported cipher %r" % cipher)
        parts = mode.split("-", 1)
        self.chain = parts[0]
        self.ivgen = parts[1] if len(parts) > 1 else None
        if self.chain not in ("xts", "cbc", "ecb"):
            raise OracleError("unsupported chain mode %r" % self.chain)
        if self.chain != "ecb" and not self.ivgen:
            raise OracleError("mode %r needs an IV generator" % mode)
        self.key = key
        self.sector_size = sector_size
        self.essiv = None
        if self.ivgen and self.ivgen.startswith("essiv:"):
            self.essiv = Cipher(algorithms.AES(hashlib.new(self.ivgen[6:], key).digest()), modes.ECB())

    def iv(self, sector):
        g = self.ivgen
        if g == "plain64":
            return struct.pack("<Q", sector & 0xFFFFFFFFFFFFFFFF) + bytes(8)
        if g == "plain":
            return struct.pack("<I", sector & 0xFFFFFFFF) + bytes(12)
        if g == "plain64be":
            return bytes(8) + struct.pack(">Q", sector)
        if g == "null":
            return bytes(16)
        if g is not None and g.startswith("essiv:"):
            e = self.essiv.encryptor()
            return e.update(struct.pack("<Q", sector) + bytes(8)) + e.finalize()
        raise OracleError("unsupported IV generator %r" % g)

    def _cipher(self, sector):
        if self.chain == "ecb":
            return Cipher(algorithms.AES(self.key), modes.ECB())
        iv = self.iv(sector)
        if self.chain == "xts":
            return Cipher(algorithms.AES(self.key), modes.XTS(iv))
        return Cipher(algorithms.AES(self.key), modes.CBC(iv))

    def _run(self, buf, first_sector_512, encrypt):
        """Process whole units of sector_size; unit k gets IV sector first + k*(ss/512)."""
        ss = self.sector_size
        if len(buf) % ss:
            raise OracleError("buffer length %d is not a multiple of %d" % (len(buf), ss))
        out = bytearray(len(buf))
        step = ss // SECTOR
        for k, off in enumerate(range(0, len(buf), ss)):
            c = self._cipher(first_sector_512 + k * step)
            op = c.encryptor() if encrypt else c.decryptor()
            out[off:off + ss] = op.update(buf[off:off + ss]) + op.finalize()
        return bytes(out)

    def decrypt(self, buf, first_sector_512):
        return self._run(buf, first_sector_512, False)

    def encrypt(self, buf, first_sector_512):
        return self._run(buf, first_sector_512, True)


def split_cipher_spec(spec):
    """'aes-xts-plain64' -> ('aes', 'xts-plain64')."""
    parts = spec.split("-", 1)
    return parts[0], (parts[1] if len(parts) > 1 else "")


def cstr(b):
    return b.split(b"\0", 1)[0].decode("ascii", "replace")


# ----------------------------------------------------------------------------------------------
# Header parsing

def read_at(f, offset, length):
    f.seek(offset)
    return f.read(length)


def parse_luks1(f, data_file_size):
    hdr = read_at(f, 0, 592)
    if len(hdr) < 592:
        raise OracleError("truncated LUKS1 header")
    fields = struct.unpack_from(">6sH32s32s32sII20s32sI40s", hdr, 0)
    h = {
        "version": 1,
        "cipher_name": cstr(fields[2]),
        "cipher_mode": cstr(fields[3]),
        "hash": cstr(fields[4]),
        "payload_offset_sectors": fields[5],
        "key_bytes": fields[6],
        "mk_digest": fields[7],
        "mk_salt": fields[8],
        "mk_iterations": fields[9],
        "uuid": cstr(fields[10]),
        "keyslots": [],
    }
    for i in range(8):
        active, iters, salt, km_off, stripes = struct.unpack_from(">II32sII", hdr, 208 + 48 * i)
        h["keyslots"].append({"slot": i, "active": active == LUKS1_ACTIVE, "iterations": iters,
                              "salt": salt, "offset": km_off * SECTOR, "stripes": stripes})
    h["cipher"] = h["cipher_name"] + "-" + h["cipher_mode"]
    h["data_offset"] = h["payload_offset_sectors"] * SECTOR
    h["sector_size"] = SECTOR
    h["iv_tweak"] = 0
    avail = max(0, data_file_size - h["data_offset"])
    h["data_size"] = avail // SECTOR * SECTOR
    return h


def read_luks2_binary_header(f, offset, file_size):
    """Return (header dict, error string or None)."""
    b = read_at(f, offset, 4096)
    if len(b) < 4096:
        return None, "truncated binary header"
    fields = struct.unpack_from(">6sHQQ48s32s64s40s48sQ184s64s", b, 0)
    h = {"magic": fields[0], "version": fields[1], "hdr_size": fields[2], "seqid": fields[3],
         "label": cstr(fields[4]), "checksum_alg": cstr(fields[5]), "uuid": cstr(fields[7]),
         "subsystem": cstr(fields[8]), "hdr_offset": fields[9], "csum": fields[11], "offset": offset}
    want_magic = LUKS_MAGIC if offset == 0 else LUKS2_SECONDARY_MAGIC
    if h["magic"] != want_magic or h["version"] != 2:
        return h, "bad magic/version"
    if h["hdr_offset"] != offset:
        return h, "hdr_offset mismatch"
    if h["hdr_size"] not in LUKS2_HDR2_OFFSETS:
        return h, "bad hdr_size"
    js = read_at(f, offset + 4096, h["hdr_size"] - 4096)
    if len(js) != h["hdr_size"] - 4096:
        return h, "truncated JSON area"
    try:
        calc = hashlib.new(h["checksum_alg"], b[:448] + bytes(64) + b[512:4096] + js).digest()
    except ValueError:
        return h, "unknown checksum algorithm"
    if calc != h["csum"][:len(calc)]:
        return h, "checksum mismatch"
    text = js.split(b"\0", 1)[0]
    try:
        h["json"] = json.loads(text)
    except ValueError as e:
        return h, "bad JSON: %s" % e
    return h, None


def parse_luks2(f, file_size, data_file_size):
    primary, perr = read_luks2_binary_header(f, 0, file_size)
    secondary, serr = None, "not found"
    candidates = []
    if primary is not None and perr is None:
        candidates = [primary["hdr_size"]]
    candidates += [o for o in LUKS2_HDR2_OFFSETS if o not in candidates]
    for off in candidates:
        s, e = read_luks2_binary_header(f, off, file_size)
        if s is not None and s["magic"] == LUKS2_SECONDARY_MAGIC:
            secondary, serr = s, e
            if e is None:
                break
    good = [h for h, e in ((primary, perr), (secondary, serr)) if h is not None and e is None]
    if not good:
        raise OracleError("no valid LUKS2 header (primary: %s, secondary: %s)" % (perr, serr))
    use = max(good, key=lambda h: (h["seqid"], h["offset"] == 0))
    j = use["json"]
    seg = j["segments"]["0"]
    if seg["type"] != "crypt":
        raise OracleError("segment 0 is not crypt")
    data_offset = int(seg["offset"])
    ss = int(seg["sector_size"])
    if seg["size"] == "dynamic":
        data_size = max(0, data_file_size - data_offset) // ss * ss
    else:
        data_size = int(seg["size"])
    keyslots = []
    for sid, ks in sorted(j["keyslots"].items(), key=lambda kv: int(kv[0])):
        keyslots.append({"slot": int(sid), "type": ks["type"], "key_size": ks["key_size"],
                         "priority": ks.get("priority", 1), "kdf": ks.get("kdf"), "af": ks.get("af"),
                         "area": ks.get("area")})
    return {
        "version": 2,
        "uuid": use["uuid"],
        "label": use["label"],
        "subsystem": use["subsystem"],
        "cipher": seg["encryption"],
        "key_bytes": next((ks["key_size"] for ks in keyslots if ks["type"] == "luks2"), None),
        "data_offset": data_offset,
        "data_size": data_size,
        "segment_size": seg["size"],
        "sector_size": ss,
        "iv_tweak": int(seg["iv_tweak"]),
        "hdr_size": use["hdr_size"],
        "seqid": use["seqid"],
        "checksum_alg": use["checksum_alg"],
        "primary": "ok" if perr is None else "damaged: " + perr,
        "secondary": "ok" if serr is None else "damaged: " + serr,
        "requirements": j.get("config", {}).get("requirements", {}).get("mandatory", []),
        "keyslots": keyslots,
        "json": j,
    }


class Image:
    def __init__(self, path, header=None):
        self.path = path
        self.header_path = header or path
        self.data_file_size = os.path.getsize(path)
        with open(self.header_path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            magic = read_at(f, 0, 8)
            if len(magic) >= 8 and magic[:6] == LUKS_MAGIC and struct.unpack(">H", magic[6:8])[0] == 1:
                self.h = parse_luks1(f, self.data_file_size)
            else:
                self.h = parse_luks2(f, size, self.data_file_size)
        c, m = split_cipher_spec(self.h["cipher"])
        self.cipher_name, self.cipher_mode = c, m

    def summary(self):
        out = {k: v for k, v in self.h.items() if k not in ("json", "mk_digest", "mk_salt")}
        if self.h["version"] == 1:
            out["keyslots"] = [{"slot": s["slot"], "active": s["active"], "iterations": s["iterations"],
                                "offset": s["offset"], "stripes": s["stripes"]} for s in self.h["keyslots"]]
        return out

    # --- unlock (independent of cryptsetup; used to check which slot a secret opens) ---

    def unlock(self, secret, only_slot=None):
        with open(self.header_path, "rb") as f:
            if self.h["version"] == 1:
                return self._unlock1(f, secret, only_slot)
            return self._unlock2(f, secret, only_slot)

    def _unlock1(self, f, secret, only_slot):
        h = self.h
        kb = h["key_bytes"]
        for s in h["keyslots"]:
            if not s["active"] or (only_slot is not None and s["slot"] != only_slot):
                continue
            dk = pbkdf2(h["hash"], secret, s["salt"], s["iterations"], kb)
            raw = read_at(f, s["offset"], (kb * s["stripes"] + SECTOR - 1) // SECTOR * SECTOR)
            mat = SectorCipher(h["cipher_name"], h["cipher_mode"], dk).decrypt(raw, 0)
            vk = af_merge(mat, kb, s["stripes"], h["hash"])
            if pbkdf2(h["hash"], vk, h["mk_salt"], h["mk_iterations"], 20) == h["mk_digest"]:
                return s["slot"], vk
        return None, None

    def _unlock2(self, f, secret, only_slot):
        j = self.h["json"]
        slots = sorted(j["keyslots"].items(), key=lambda kv: (-kv[1].get("priority", 1), int(kv[0])))
        for sid, ks in slots:
            if ks["type"] != "luks2":
                continue
            if only_slot is not None:
                if int(sid) != only_slot:
                    continue
            elif ks.get("priority", 1) == 0:
                continue
            kdf, area, af = ks["kdf"], ks["area"], ks["af"]
            salt = base64.b64decode(kdf["salt"])
            if kdf["type"] == "pbkdf2":
                dk = pbkdf2(kdf["hash"], secret, salt, kdf["iterations"], area["key_size"])
            else:
                dk = argon2(kdf["type"], secret, salt, kdf["time"], kdf["memory"], kdf["cpus"], area["key_size"])
            kb = ks["key_size"]
            raw = read_at(f, int(area["offset"]), (kb * af["stripes"] + SECTOR - 1) // SECTOR * SECTOR)
            c, m = split_cipher_spec(area["encryption"])
            vk = af_merge(SectorCipher(c, m, dk).decrypt(raw, 0), kb, af["stripes"], af["hash"])
            for d in j["digests"].values():
                if sid not in d["keyslots"]:
                    continue
                want = base64.b64decode(d["digest"])
                if pbkdf2(d["hash"], vk, base64.b64decode(d["salt"]), d["iterations"], len(want)) == want:
                    return int(sid), vk
        return None, None

    # --- data segment ---

    def data_cipher(self, vk):
        return SectorCipher(self.cipher_name, self.cipher_mode, vk, self.h["sector_size"])

    def unit_iv_sector(self, unit):
        return self.h["iv_tweak"] + unit * (self.h["sector_size"] // SECTOR)

    def decrypt_to(self, vk, out_path, chunk_units=256):
        sc = self.data_cipher(vk)
        ss, off, size = self.h["sector_size"], self.h["data_offset"], self.h["data_size"]
        with open(self.path, "rb") as f, open(out_path, "wb") as out:
            pos = 0
            while pos < size:
                n = min(chunk_units * ss, size - pos)
                raw = read_at(f, off + pos, n)
                if len(raw) != n:
                    raise OracleError("short read of ciphertext at %d" % (off + pos))
                out.write(sc.decrypt(raw, self.unit_iv_sector(pos // ss)))
                pos += n

    def write_plaintext(self, vk, offset, data):
        sc = self.data_cipher(vk)
        ss, off, size = self.h["sector_size"], self.h["data_offset"], self.h["data_size"]
        if offset < 0 or offset + len(data) > size:
            raise OracleError("write [%d, %d) outside the data segment (size %d)" % (offset, offset + len(data), size))
        if not data:
            return
        first = offset // ss * ss
        end = (offset + len(data) + ss - 1) // ss * ss
        with open(self.path, "r+b") as f:
            raw = read_at(f, off + first, end - first)
            plain = bytearray(sc.decrypt(raw, self.unit_iv_sector(first // ss)))
            plain[offset - first:offset - first + len(data)] = data
            f.seek(off + first)
            f.write(sc.encrypt(bytes(plain), self.unit_iv_sector(first // ss)))


def edit_luks2_json(path, statement):
    with open(path, "r+b") as f:
        f.seek(0, 2)
        size = f.tell()
        primary, perr = read_luks2_binary_header(f, 0, size)
        if primary is None or perr is not None:
            raise OracleError("primary header unusable: %s" % perr)
        j = primary["json"]
        exec(statement, {"j": j})
        text = json.dumps(j, separators=(",", ":")).encode()
        area = primary["hdr_size"] - 4096
        if len(text) >= area:
            raise OracleError("JSON too large")
        for off in (0, primary["hdr_size"]):
            b = bytearray(read_at(f, off, 4096))
            js = text + bytes(area - len(text))
            b[448:512] = bytes(64)
            digest = hashlib.new(cstr(bytes(b[72:104])), bytes(b) + js).digest()
            b[448:448 + len(digest)] = digest
            f.seek(off)
            f.write(bytes(b) + js)


def main(argv):
    p = argparse.ArgumentParser(prog="luks_oracle.py", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("info")
    a.add_argument("image")
    a.add_argument("--header")
    a = sub.add_parser("unlock")
    a.add_argument("image")
    a.add_argument("secret_file")
    a.add_argument("--header")
    a.add_argument("--key-slot", type=int)
    a.add_argument("--vk-out")
    a = sub.add_parser("decrypt")
    a.add_argument("image")
    a.add_argument("vkfile")
    a.add_argument("out")
    a.add_argument("--header")
    for name in ("write", "encrypt"):
        a = sub.add_parser(name)
        a.add_argument("image")
        a.add_argument("vkfile")
        a.add_argument("offset", type=int)
        a.add_argument("infile")
        a.add_argument("--header")
    a = sub.add_parser("edit-json")
    a.add_argument("image")
    a.add_argument("statement")
    args = p.parse_args(argv)

    if args.cmd == "edit-json":
        try:
            edit_luks2_json(args.image, args.statement)
        except OracleError as e:
            print("luks_oracle: %s: %s" % (args.image, e), file=sys.stderr)
            return 3
        return 0

    try:
        img = Image(args.image, args.header)
        if args.cmd == "info":
            print(json.dumps(img.summary(), sort_keys=True))
        elif args.cmd == "unlock":
            with open(args.secret_file, "rb") as f:
                secret = f.read()
            slot, vk = img.unlock(secret, args.key_slot)
            if slot is None:
                print("no keyslot opened", file=sys.stderr)
                return 2
            if args.vk_out:
                with open(args.vk_out, "wb") as f:
                    f.write(vk)
            print(slot)
        else:
            with open(args.vkfile, "rb") as f:
                vk = f.read()
            if args.cmd == "decrypt":
                img.decrypt_to(vk, args.out)
            else:
                with open(args.infile, "rb") as f:
                    data = f.read()
                img.write_plaintext(vk, args.offset, data)
    except OracleError as e:
        print("luks_oracle: %s: %s" % (args.image, e), file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
