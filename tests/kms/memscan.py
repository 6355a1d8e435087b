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
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            start, end, perms = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
            if perms[0] != "r" or "[vvar]" in line or "[vsyscall]" in line:
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
