// Repairing the refcounts of a dirty qcow2 image (lazy refcounts: qemu set
// the dirty bit and crashed before writing its refcounts back), as
// `qemu-img check -r all` does: every host cluster's refcount is rebuilt
// from the metadata that references it (header cluster, L1 table, L2
// tables and the clusters they map, refcount table and blocks, the LUKS
// header clusters), the refcount blocks that differ are rewritten, and
// only once they are durable is the dirty bit cleared (qcow2
// specification, docs/interop/qcow2.txt: "dirty bit ... refcounts may be
// inconsistent ... must be repaired before the image is written").
//
// What it refuses (kNotSupported, saying to run `qemu-img check -r all`):
// internal snapshots, persistent bitmaps, a cluster whose rebuilt refcount
// has no refcount block (the image would need a new one), a refcount above
// what refcount_bits holds, and images of more than 2^26 host clusters.
// Metadata pointing outside the file, or an L2 table met twice, is
// kCorruption (so the walk is bounded by the file size).
//
// Units: bytes. Ownership: borrows `storage`. Thread-safety: call before
// any map of the image is open, with the image locked read-write.
#pragma once

#include <cstdint>

#include "common/result.h"
#include "fs/image/qcow2_format.h"
#include "fs/storage/storage.h"

namespace luksfs::fs::qcow2 {

struct RepairReport {
  uint64_t fixed = 0;   // refcount entries rewritten
  uint64_t leaked = 0;  // of which clusters nothing references (set to 0)
};

// Repairs `*h` (parsed from `storage`, dirty) in place and clears the dirty
// bit in *h and on disk. Errors: kCorruption, kNotSupported, kIOError.
Result<RepairReport> RepairRefcounts(Storage* storage, Header* h);

}  // namespace luksfs::fs::qcow2
