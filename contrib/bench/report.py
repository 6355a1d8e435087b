#!/usr/bin/env python3
"""Turns a bench results directory (contrib/bench/run.sh) into RESULTS.md.

    report.py RESULTS_DIR "CONFIGS..." "JOBS..."   > RESULTS.md

RESULTS_DIR/rN/CONFIG/JOB.json are fio JSON outputs (JOB.failed marks a
failed job; a job a configuration does not run has neither and shows as
"–"), rN/CONFIG/mount_secs and rss_kib the mount time and the daemon's
VmHWM/VmRSS, rN/luksfs-sparse/cp-sparse.json the timed sparse copy;
machine.txt, verify.txt, crypto.md, commands.txt are copied in. Values are
the median over the rounds. Ratios to "the ceiling" use the best ceiling
variant of each row (see BEST below).
"""
import json
import os
import statistics
import sys

LABELS = {
    "luksfs": "luksfs LUKS1",
    "qsd": "qsd LUKS1",
    "nbdfuse": "nbdkit+nbdfuse LUKS1",
    "ceiling": "ceiling (plain FUSE)",
    "raw": "raw file",
    "luksfs2": "luksfs LUKS2 4K",
    "luksfs-dio": "luksfs LUKS1 --direct-io",
    "luksfs-uring": "luksfs LUKS1 io_uring",
    "ceiling-clone": "ceiling clone_fd",
    "ceiling-uring": "ceiling io_uring",
    "luksfs-qcow2": "luksfs qcow2",
    "luksfs-qcow2-uring": "luksfs qcow2 io_uring",
    "luksfs-luks1new": "luksfs LUKS1 new (allocating)",
    "qsd-qcow2": "qsd qcow2",
    "luksfs-qcow2new": "luksfs qcow2 new (allocating)",
    "qsd-qcow2new": "qsd qcow2 new (allocating)",
    "luksfs-sparse": "luksfs qcow2 sparse",
    "best-fuse": "best ceiling /dev/fuse",
    "best-all": "best ceiling (any transport)",
}
JOB_LABELS = {
    "seqread-dio": "seq read 1M O_DIRECT (MB/s)",
    "seqread-buf": "seq read 1M buffered (MB/s)",
    "seqwrite-dio": "seq write 1M O_DIRECT (MB/s)",
    "seqwrite-buf": "seq write 1M buffered (MB/s)",
    "randread-qd1": "4K rand read qd1 (IOPS)",
    "randread-qd1-pin": "4K rand read qd1, fio on CPU 0 (IOPS)",
    "randread-qd1-best": "4K rand read qd1, the better of unpinned and on CPU 0 (IOPS)",
    "randread-qd32": "4K rand read qd32 (IOPS)",
    "randread-4jobs": "4K rand read 4 jobs (IOPS)",
    "randwrite-qd1": "4K rand write qd1 (IOPS)",
    "randwrite-qd32": "4K rand write qd32 (IOPS)",
    "randwrite-4jobs": "4K rand write 4 jobs (IOPS)",
    "randread-4x32": "4K rand read 4 jobs x qd32 (IOPS)",
    "seqwrite-alloc": "seq write 1M O_DIRECT, one pass (MB/s; allocating on 'new')",
    "cp-sparse": "cp --sparse=always of the sparse view (s, lower is better)",
}
# Pseudo-configurations: the best ceiling variant of each row, over the
# /dev/fuse variants, and over every transport (io_uring included).
BEST = {"best-fuse": ["ceiling", "ceiling-clone"],
        "best-all": ["ceiling", "ceiling-clone", "ceiling-uring"]}
# (numerator, denominator, column title) ratio columns, when both ran.
RATIOS = [("luksfs", "qsd", "luksfs / qsd"),
          ("luksfs", "nbdfuse", "luksfs / nbdfuse"),
          ("luksfs", "best-fuse", "luksfs / best ceiling"),
          ("luksfs2", "best-fuse", "LUKS2 / best ceiling"),
          ("luksfs-dio", "best-fuse", "dio / best ceiling"),
          ("luksfs-uring", "luksfs", "io_uring / /dev/fuse (luksfs)"),
          ("luksfs-uring", "best-all", "luksfs io_uring / best ceiling"),
          ("ceiling-uring", "best-fuse", "ceiling io_uring / best ceiling /dev/fuse"),
          ("luksfs-qcow2", "luksfs", "qcow2 / LUKS1 (luksfs)"),
          ("luksfs-qcow2", "qsd-qcow2", "luksfs qcow2 / qsd qcow2"),
          ("luksfs-qcow2-uring", "qsd-qcow2", "luksfs qcow2 io_uring / qsd qcow2"),
          ("luksfs-qcow2new", "luksfs", "qcow2 alloc / LUKS1 (luksfs)"),
          ("luksfs-qcow2new", "luksfs-luks1new", "qcow2 alloc / LUKS1 new (alloc)"),
          ("luksfs-qcow2new", "qsd-qcow2new", "luksfs / qsd (alloc)")]
# Targets (issues 9 and 14): (numerator, denominator, job, minimum ratio).
TARGETS = [("luksfs-qcow2", "luksfs", "seqread-dio", 0.9),
           ("luksfs-qcow2", "luksfs", "randread-qd1", 0.9),
           ("luksfs-qcow2", "qsd-qcow2", "seqread-dio", 5.0),
           ("luksfs-qcow2", "qsd-qcow2", "randread-qd1", 5.0),
           ("luksfs-qcow2", "qsd-qcow2", "randread-qd1-best", 5.0),
           ("luksfs-qcow2-uring", "qsd-qcow2", "seqread-dio", 5.0),
           ("luksfs-qcow2-uring", "qsd-qcow2", "randread-qd1", 5.0),
           ("luksfs-qcow2-uring", "qsd-qcow2", "randread-qd1-best", 5.0),
           ("luksfs-qcow2new", "luksfs", "seqwrite-alloc", 0.5),
           ("luksfs-qcow2new", "luksfs-luks1new", "seqwrite-alloc", 0.5),
           ("luksfs-uring", "luksfs", "randread-4x32", 2.0)]


def read_text(path, default=None):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def fio_value(path, job):
    """MB/s for sequential jobs, IOPS for random ones; None if missing/failed."""
    if os.path.exists(path[:-5] + ".failed"):
        return None
    text = read_text(path)
    if not text or "{" not in text:
        return None
    try:
        data = json.loads(text[text.index("{"):])
        j = data["jobs"][0]
        if j.get("error"):
            return None
        side = j["write"] if "write" in job else j["read"]
        if side.get("io_bytes", 0) == 0:
            return None
        return side["bw_bytes"] / 1e6 if job.startswith("seq") else side["iops"]
    except (ValueError, KeyError, IndexError):
        return None


def fmt(v, job):
    if v is None:
        return "ERR"
    if job in ("mount", "rss", "rss_end"):
        return f"{v:.1f}"
    if job.startswith("seq"):
        return f"{v:.0f}"
    return f"{v / 1000:.1f}K"


def main():
    res, configs, jobs = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
    rounds = sorted(d for d in os.listdir(res) if d.startswith("r") and d[1:].isdigit())
    rounds.sort(key=lambda d: int(d[1:]))

    samples = {}  # (job, cfg) -> [values per round, None for failures]
    for job in jobs:
        for cfg in configs:
            samples[(job, cfg)] = [fio_value(os.path.join(res, r, cfg, job + ".json"), job)
                                   for r in rounds]
    # qd1 with each configuration's better placement of fio (unpinned or on
    # CPU 0), per round: no side is judged by the placement that suits it
    # worse.
    if "randread-qd1" in jobs and "randread-qd1-pin" in jobs:
        i = jobs.index("randread-qd1-pin") + 1
        jobs = jobs[:i] + ["randread-qd1-best"] + jobs[i:]
        for cfg in configs:
            a, b = samples[("randread-qd1", cfg)], samples[("randread-qd1-pin", cfg)]
            samples[("randread-qd1-best", cfg)] = [
                None if x is None and y is None else max(v for v in (x, y) if v is not None)
                for x, y in zip(a, b)]
    # Which configurations ran jobs (for the best-ceiling pseudo columns).
    for best, members in BEST.items():
        present = [c for c in members if c in configs]
        if not present or (best == "best-all" and "ceiling-uring" not in configs):
            continue
        for job in jobs:
            per_round = []
            for i in range(len(rounds)):
                vals = [samples[(job, c)][i] for c in present
                        if samples[(job, c)][i] is not None]
                per_round.append(max(vals) if vals else None)
            samples[(job, best)] = per_round
    for cfg in configs:
        m, h, e = [], [], []
        for r in rounds:
            t = (read_text(os.path.join(res, r, cfg, "mount_secs"), "") or "").strip()
            m.append(float(t) if t else None)
            rss = (read_text(os.path.join(res, r, cfg, "rss_kib"), "") or "").split()
            h.append(int(rss[0]) / 1024 if len(rss) == 2 else None)
            e.append(int(rss[1]) / 1024 if len(rss) == 2 else None)
        samples[("mount", cfg)] = m
        samples[("rss", cfg)] = h
        samples[("rss_end", cfg)] = e

    def cell(job, cfg, v, rnd=None):
        """A value, "–" where the configuration does not run the job."""
        if v is None:
            if cfg == "raw" and job in ("mount", "rss", "rss_end"):
                return "–"
            if job not in ("mount", "rss", "rss_end"):
                rs = [rnd] if rnd else rounds
                if not any(os.path.exists(os.path.join(res, x, cfg, job + ext))
                           for x in rs for ext in (".json", ".failed")):
                    return "–"
        return fmt(v, job)

    def med(job, cfg):
        vals = [v for v in samples.get((job, cfg), []) if v is not None]
        if not vals:
            return None
        if job == "rss":
            return max(vals)  # the peak over the rounds
        return statistics.median(vals)

    def best_variant(job, best):
        vals = [(med(job, c), c) for c in BEST[best] if c in configs and med(job, c) is not None]
        return max(vals)[1] if vals else None

    fio_jobs = [j for j in jobs if j != "cp-sparse"]
    rows = [(j, JOB_LABELS.get(j, j)) for j in fio_jobs]
    rows += [("mount", "mount time (s, lower is better)"),
             ("rss", "daemon peak RSS, VmHWM (MiB)"),
             ("rss_end", "daemon RSS after the jobs (MiB)")]
    have = set(configs) | {b for b in BEST if any((j, b) in samples for j in jobs)}
    ratios = [(a, b, t) for a, b, t in RATIOS if a in have and b in have]
    bests = [b for b in BEST if b in have]
    shown = [c for c in configs if c != "luksfs-sparse"]

    out = []
    w = out.append
    machine = read_text(os.path.join(res, "machine.txt"), "")
    w("# luksfs benchmark results\n")
    w("Generated by `make bench` (contrib/bench/run.sh); see contrib/bench/README.md for what "
      "each column means and the caveats. Numbers are from a noisy 2-core VM: read them as "
      "magnitudes.\n")
    w("## Machine and run\n")
    for line in machine.strip().splitlines():
        k, _, v = line.partition(": ")
        w(f"- **{k}**: {v}")
    w("")
    w(f"## Results (median of {len(rounds)} rounds)\n")
    w("Throughput in MB/s (10^6 bytes/s), random I/O in IOPS (K = 1000). Ratios are the "
      "first configuration over the second: above 1 means luksfs is faster (for mount time, "
      "below 1 means luksfs is faster). RSS: nbdkit+nbdfuse is the sum of both processes; "
      "peak RSS includes the key derivation (Argon2 memory for LUKS2).\n")
    w("The \"best ceiling\" columns take, per row, the faster of the passthrough variants "
      "(/dev/fuse: without and with clone_fd; any transport: also over io_uring), named in "
      "brackets; luksfs on /dev/fuse is compared with the best /dev/fuse variant, luksfs over "
      "io_uring with the best of all. A \"–\" is a job that configuration does not run.\n")
    head = ["test"] + [LABELS.get(c, c) for c in shown + bests] + [t for _, _, t in ratios]
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" * len(head))
    short = {"ceiling": "plain", "ceiling-clone": "clone_fd", "ceiling-uring": "io_uring"}
    for job, label in rows:
        cells = [label]
        for cfg in shown:
            v = med(job, cfg)
            cells.append(cell(job, cfg, v))
        for b in bests:
            v = med(job, b)
            var = best_variant(job, b) if job not in ("mount", "rss", "rss_end") else None
            cells.append("–" if v is None or var is None else f"{fmt(v, job)} ({short[var]})")
        for a, b, _ in ratios:
            va, vb = med(job, a), med(job, b)
            if (job in ("rss", "rss_end") or (job == "mount" and b in ("ceiling", "raw") + tuple(BEST))
                    or va is None or vb is None or vb == 0):
                cells.append("–")
            else:
                cells.append(f"{va / vb:.2f}")
        w("| " + " | ".join(cells) + " |")
    w("")

    tgt = [(a, b, j, m) for a, b, j, m in TARGETS if a in have and b in have and j in jobs]
    if tgt or "best-fuse" in have:
        w("## Targets\n")
        w("| ratio | row | target | measured | |")
        w("|---|---|---|---|---|")
        for a, b, j, m in tgt:
            va, vb = med(j, a), med(j, b)
            r = va / vb if va is not None and vb else None
            w(f"| {LABELS.get(a, a)} / {LABELS.get(b, b)} | {JOB_LABELS.get(j, j)} | ≥ {m:g} | "
              f"{'ERR' if r is None else f'{r:.2f}'} | {'met' if r is not None and r >= m else '**missed**'} |")
        for a, b in (("luksfs", "best-fuse"), ("luksfs-uring", "best-all")):
            if a not in have or b not in have:
                continue
            for j in fio_jobs:
                if j == "seqwrite-alloc":
                    continue
                va, vb = med(j, a), med(j, b)
                r = va / vb if va is not None and vb else None
                w(f"| {LABELS.get(a, a)} / {LABELS.get(b, b)} | {JOB_LABELS.get(j, j)} | ≥ 0.9 | "
                  f"{'ERR' if r is None else f'{r:.2f}'} | {'met' if r is not None and r >= 0.9 else '**missed**'} |")
        w("")

    sparse = [read_text(os.path.join(res, r, "luksfs-sparse", "cp-sparse.json")) for r in rounds]
    if "luksfs-sparse" in configs and "cp-sparse" in jobs:
        w("## Sparse copy (qcow2+LUKS)\n")
        w("`cp --sparse=always` of the whole luksfs view of a sparse qcow2+LUKS image (16 pieces "
          "written by qemu-io), to a file on the host; each copy is then compared with qemu-img's "
          "decryption (`qemu-img compare`). \"read by luksfs\" is the daemon's rchar over the copy "
          "(its preads of the image, plus the small FUSE request headers): proportional to the "
          "allocated data, not to the view.\n")
        w("| round | view | allocated | st_blocks of the view | read by luksfs | copy allocated | time (s) | MB/s of allocated data |")
        w("|---|---|---|---|---|---|---|---|")
        gib = lambda b: f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"
        for r, t in zip(rounds, sparse):
            if os.path.exists(os.path.join(res, r, "luksfs-sparse", "cp-sparse.failed")):
                w(f"| {r} | ERR | | | | | | |")
                continue
            try:
                d = json.loads(t or "")
            except ValueError:
                continue
            w(f"| {r} | {gib(d['view_bytes'])} | {gib(d['allocated_bytes'])} | "
              f"{gib(d['view_st_blocks_bytes'])} | {gib(d['daemon_read_bytes'])} | "
              f"{gib(d['copy_allocated_bytes'])} | {d['seconds']:.2f} | "
              f"{d['allocated_bytes'] / d['seconds'] / 1e6:.0f} |")
        w("")

    w("## Per-round values\n")
    w("Each cell: round 1 / round 2 / ... (configurations interleaved in each round, in the "
      "column order).\n")
    head = ["test"] + [LABELS.get(c, c) for c in shown]
    w("| " + " | ".join(head) + " |")
    w("|" + "---|" * len(head))
    for job, label in rows:
        cells = [label]
        for cfg in shown:
            vals = samples.get((job, cfg), [])
            if cfg == "raw" and job in ("mount", "rss", "rss_end"):
                cells.append("–")
            else:
                cells.append(" / ".join(cell(job, cfg, v, r) for v, r in zip(vals, rounds)))
        w("| " + " | ".join(cells) + " |")
    w("")

    w("## Correctness checks\n")
    for line in (read_text(os.path.join(res, "verify.txt"), "") or "").strip().splitlines():
        w(f"- {line}")
    failures = []
    for r in rounds:
        for cfg in configs:
            for job in jobs:
                base = os.path.join(res, r, cfg, job)
                if os.path.exists(base + ".failed"):
                    err = (read_text(base + ".err", "") or "").strip().replace("\n", " ")
                    failures.append(f"{r} {cfg} {job}: exit {read_text(base + '.failed').strip()}: {err[:300]}")
    if failures:
        w("- **fio failures:**")
        for f in failures:
            w(f"  - {f}")
    else:
        w("- every fio job completed without error")
    w("")

    crypto = read_text(os.path.join(res, "crypto.md"))
    if crypto:
        w("## Crypto micro-benchmark (contrib/bench/crypto_bench.cc)\n")
        w("AES-256-XTS (aes-xts-plain64, 64-byte key). `CryptEngine` is luksfs's "
          "crypto::CryptEngine; `OpenSSL EVP, one call per sector` re-initialises the IV and "
          "calls EVP_CipherUpdate once per sector. MB/s = 10^6 bytes/s.\n")
        w(crypto.strip())
        w("")

    kdf = read_text(os.path.join(res, "kdf.md"))
    if kdf:
        w(kdf.strip())  # its own "## Unlock time" section (contrib/bench/kdf.sh)
        w("")

    w("## Commands\n")
    w("Exactly what ran ($BENCH_DIR is the work dir, $TARGET the file under test).\n")
    w("```")
    w((read_text(os.path.join(res, "commands.txt"), "") or "").strip())
    w("```")
    print("\n".join(out))


if __name__ == "__main__":
    main()
