#!/usr/bin/python3
"""Writes tagged blocks into a luksfs view until an I/O fails, logging each one.

    block_writer.py VIEW LOG BLOCK_SIZE NBLOCKS ROUND SEED [THREADS]

Each write is one BLOCK_SIZE block at a random index, opened O_DIRECT (no page cache: a
completed pwrite is a completed FUSE WRITE). The block's bytes are a function of (index, round,
sequence number), so the checker can tell which write a block on disk came from. Before a write
the log gets "S idx round seq", after it completes "A idx round seq"; the log is line-buffered
and this process is not the one killed, so the log is complete. Exits 0 once a write or open fails
(the daemon was killed), 1 if it never wrote.
"""
import hashlib
import mmap
import os
import random
import sys
import threading


def block_bytes(idx, rnd, seq, size):
    """The content of a write: a header naming it, then SHA-256 counter-mode filler."""
    head = b"LUKSFS-CRASH %d %d %d\n" % (idx, rnd, seq)
    out = bytearray(head)
    c = 0
    while len(out) < size:
        out += hashlib.sha256(head + c.to_bytes(4, "big")).digest()
        c += 1
    return bytes(out[:size])


def main():
    view, log_path, bs, nblocks, rnd, seed = sys.argv[1:7]
    threads = int(sys.argv[7]) if len(sys.argv) > 7 else 2
    bs, nblocks, rnd, seed = int(bs), int(nblocks), int(rnd), int(seed)
    log = open(log_path, "a", buffering=1)
    lock = threading.Lock()
    seq = [0]
    wrote = [0]

    def worker(tid):
        rng = random.Random(seed * 100 + tid)
        buf = mmap.mmap(-1, bs)  # page aligned, as O_DIRECT wants
        try:
            fd = os.open(view, os.O_WRONLY | os.O_DIRECT)
        except OSError:
            return
        try:
            while True:
                # Each thread owns the blocks idx % threads == tid: the writes to one block
                # are sequential, so "last acknowledged" is well defined.
                idx = rng.randrange(tid, nblocks, threads)
                with lock:
                    seq[0] += 1
                    s = seq[0]
                    log.write("S %d %d %d\n" % (idx, rnd, s))
                buf.seek(0)
                buf.write(block_bytes(idx, rnd, s, bs))
                try:
                    n = os.pwritev(fd, [buf], idx * bs)
                except OSError:
                    return
                if n != bs:
                    return
                with lock:
                    log.write("A %d %d %d\n" % (idx, rnd, s))
                    wrote[0] += 1
        finally:
            try:
                os.close(fd)
            except OSError:
                pass  # the daemon is gone: ENOTCONN

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    sys.exit(0 if wrote[0] > 0 else 1)


if __name__ == "__main__":
    main()
