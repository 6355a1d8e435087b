#!/usr/bin/python3
"""Checks a decrypted image against the crash writers' logs.

    check_blocks.py PLAIN BASELINE LOG BLOCK_SIZE SECTOR_SIZE

PLAIN is the image's plaintext after the crashes (decrypted by the oracle, not by luksfs),
BASELINE its plaintext before any write. For every block:
  * acknowledged ("A") writes: the block holds the LAST acknowledged write of that block, or a
    write to it that started later (was in flight at a kill, or acknowledged after);
  * in-flight writes (started, never acknowledged): each SECTOR_SIZE unit holds that unit of the
    previous content or of the in-flight write: never bytes of neither, never a torn unit;
  * untouched blocks equal BASELINE.
Prints a summary; exit 1 on any violation (the first 20 are listed).
"""
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from block_writer import block_bytes  # noqa: E402


def main():
    plain_path, base_path, log_path, bs, ss = sys.argv[1:6]
    bs, ss = int(bs), int(ss)
    plain = open(plain_path, "rb").read()
    base = open(base_path, "rb").read()
    # Per block, the writes in start order: (seq, round, acked)
    writes = {}
    acked = set()
    for line in open(log_path):
        parts = line.split()
        if len(parts) != 4:
            continue
        kind, idx, rnd, seq = parts[0], int(parts[1]), int(parts[2]), int(parts[3])
        if kind == "S":
            writes.setdefault(idx, []).append((rnd, seq))
        elif kind == "A":
            acked.add((rnd, seq))
    nblocks = len(plain) // bs
    bad = []
    n_acked = n_inflight = n_untouched = torn = 0
    for idx in range(nblocks):
        got = plain[idx * bs:(idx + 1) * bs]
        ws = sorted(writes.get(idx, []))  # by round, then seq: start order
        if not ws:
            n_untouched += 1
            if got != base[idx * bs:(idx + 1) * bs]:
                bad.append("block %d: never written, but differs from the baseline" % idx)
            continue
        # The last acknowledged write, and every write that started after it may be on disk.
        last_ack = max((i for i, w in enumerate(ws) if w in acked), default=-1)
        cands = []
        if last_ack < 0:
            cands.append(base[idx * bs:(idx + 1) * bs])
        for w in ws[max(last_ack, 0):]:
            cands.append(block_bytes(idx, w[0], w[1], bs))
        n_acked += sum(1 for w in ws if w in acked)
        n_inflight += sum(1 for w in ws if w not in acked)
        if got in cands:
            continue
        # Not one whole candidate: every sector unit must still come whole from one of them.
        for off in range(0, bs, ss):
            unit = got[off:off + ss]
            if not any(unit == c[off:off + ss] for c in cands):
                torn += 1
                bad.append("block %d: sector unit at +%d is neither its last acknowledged write nor a later one "
                           "(acknowledged writes %s)" %
                           (idx, off, [w for w in ws if w in acked][-3:]))
                break
    print("blocks %d: written %d (acknowledged writes %d, in flight %d), untouched %d; "
          "violations %d (torn units %d)" %
          (nblocks, nblocks - n_untouched, n_acked, n_inflight, n_untouched, len(bad), torn))
    for b in bad[:20]:
        print("  " + b)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
