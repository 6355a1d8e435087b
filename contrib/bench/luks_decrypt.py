#!/usr/bin/env python3
"""Independent AES-XTS-plain64 decryption of a LUKS payload, for the bench's
correctness checks (python3-cryptography, not luksfs's code).

    luks_decrypt.py IMAGE OFFSET SECTOR_SIZE SIZE (--compare FILE | --sha256)

The volume key comes from the environment variable LUKS_VOLUME_KEY (hex, as
printed by `cryptsetup luksDump --dump-volume-key`), never from argv.
IV sector numbers are in 512-byte units (dm-crypt plain64, no
iv_large_sectors). --compare exits 1 at the first differing MiB and names
it; --sha256 prints the digest of the SIZE plaintext bytes.
"""
import hashlib
import os
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

CHUNK = 1 << 20


def main():
    args = sys.argv[1:]
    if len(args) < 5:
        print(__doc__, file=sys.stderr)
        return 2
    image, offset, sector, size = args[0], int(args[1]), int(args[2]), int(args[3])
    key = bytes.fromhex(os.environ["LUKS_VOLUME_KEY"].replace(" ", "").replace(":", ""))
    mode = args[4]
    ref = open(args[5], "rb") if mode == "--compare" else None
    digest = hashlib.sha256()
    aes = algorithms.AES(key)
    with open(image, "rb") as f:
        f.seek(offset)
        pos = 0
        while pos < size:
            n = min(CHUNK, size - pos)
            ct = f.read(n)
            if len(ct) != n:
                print(f"luks_decrypt: short read at {pos}", file=sys.stderr)
                return 1
            out = bytearray(n)
            for s in range(0, n, sector):
                iv = ((pos + s) // 512).to_bytes(16, "little")
                d = Cipher(aes, modes.XTS(iv)).decryptor()
                out[s:s + sector] = d.update(ct[s:s + sector]) + d.finalize()
            if ref is not None:
                want = ref.read(n)
                if bytes(out) != want:
                    print(f"luks_decrypt: plaintext differs in the MiB at offset {pos}",
                          file=sys.stderr)
                    return 1
            else:
                digest.update(out)
            pos += n
    if ref is None:
        print(digest.hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
