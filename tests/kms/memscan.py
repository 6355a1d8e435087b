#!/usr/bin/python3
"""Scan a process's memory for secrets.

usage: memscan.py PID FILE...   each FILE holds one secret (raw bytes)

Reads every readable mapping of /proc/PID/mem (root only) and reports, for
each secret, how many times it occurs. Exit status: 0 if none occurs, 1 if
any does, 2 on usage or access errors. Used to check that a daemon keeps no
copy of a key or passphrase after it dropped its keys.
"""
import re
import sys

# x86_64 ASan memory layout (compiler-rt asan_mapping.h, default shadow offset 0x7fff8000).
ASAN_SHADOW_LO = 0x00007FFF8000
ASAN_GAP_LO = 0x00008FFF7000
ASAN_SHADOW_HI = 0x10007FFF8000


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    pid = sys.argv[1]
    needles = []
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < 8:
            print(f"{path}: secret too short to scan for", file=sys.stderr)
            return 2
        needles.append((path, data))
    hits = {path: 0 for path, _ in needles}
    scanned = 0
    with open(f"/proc/{pid}/maps") as f:
        lines = f.readlines()
    regions = []
    for line in lines:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        regions.append((int(m.group(1), 16), int(m.group(2), 16), m.group(3), line))
    # An ASan build (x86_64) keeps its shadow memory in [ASAN_SHADOW_LO, ASAN_SHADOW_HI): the
    # program's own memory is never there. ASan splits readable pieces off that range when it
    # clears the shadow of a large mmap (the image mapping reserves 1 TiB of room), and a piece
    # can be tens of GiB of zeros, so skip the range in such a process. The shadow gap, which
    # starts at ASAN_GAP_LO and is mapped without access, tells an ASan process.
    asan = any(start == ASAN_GAP_LO and perms.startswith("---") for start, _, perms, _ in regions)
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for start, end, perms, line in regions:
            if perms[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
                continue
            if asan and start >= ASAN_SHADOW_LO and end <= ASAN_SHADOW_HI:
                continue
            # Sanitizer builds (ASan, LSan) reserve shadow regions of terabytes: no mapping of
            # the daemon's own is that large, so skip them; read the rest in 64 MiB pieces,
            # each overlapping the last by one needle less a byte.
            if end - start > (64 << 30):
                continue
            overlap = max(len(d) for _, d in needles) - 1
            tail = b""
            pos = start
            while pos < end:
                try:
                    mem.seek(pos)
                    piece = mem.read(min(64 << 20, end - pos))
                except (OSError, ValueError, OverflowError):
                    break
                if not piece:
                    break
                chunk = tail + piece
                scanned += len(piece)
                for path, data in needles:
                    hits[path] += chunk.count(data)
                tail = chunk[-overlap:] if overlap else b""
                pos += len(piece)
    found = False
    for path, n in hits.items():
        print(f"{path}: {n} occurrence(s) in {scanned} bytes of process {pid}")
        found = found or n > 0
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
