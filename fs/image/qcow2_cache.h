// MetadataCache: a bounded cache of one-cluster qcow2 metadata tables (L2
// tables or refcount blocks), keyed by host offset, with dirty tracking.
//
// The cache never evicts by itself inside Get/Insert, so a Table* stays
// valid until the owner calls Trim() (at points where it holds no
// pointer). Trim() drops least-recently-used CLEAN tables until the clean
// and dirty bytes fit the capacity; dirty tables are only written back by
// the owner (Qcow2Map::Flush orders refcounts, L2 and L1 writes), so the
// owner flushes when dirty_bytes() grows past its threshold.
//
// Units: offsets and sizes in bytes. Tables hold the on-disk (big-endian)
// bytes. Not key material.
// Thread-safety: none; the owner's mutex guards every call.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace luksfs::fs::qcow2 {

class MetadataCache {
 public:
  struct Table {
    uint64_t offset = 0;
    std::vector<uint8_t> bytes;  // one cluster
    bool dirty = false;
    uint64_t last_use = 0;
  };
  using LoadFn = std::function<Status(uint64_t offset, std::span<uint8_t>)>;
  using StoreFn =
      std::function<Status(uint64_t offset, std::span<const uint8_t>)>;

  // capacity_bytes is rounded up to at least 2 tables.
  MetadataCache(uint64_t table_bytes, uint64_t capacity_bytes);

  // The table at `offset`, loaded through `load` on a miss.
  Result<Table*> Get(uint64_t offset, const LoadFn& load);
  // A new zero-filled table at `offset`, dirty (a freshly allocated
  // cluster: nothing to read).
  Table* Insert(uint64_t offset);
  void MarkDirty(Table* t);

  // Writes every dirty table through `store` (ascending offset), marking
  // it clean. Stops at the first error (the table stays dirty). Returns
  // how many were written via `written` when given.
  Status WriteDirty(const StoreFn& store, size_t* written = nullptr);

  void Trim();
  uint64_t dirty_bytes() const { return dirty_count_ * table_bytes_; }
  uint64_t capacity() const { return capacity_; }

 private:
  const uint64_t table_bytes_;
  const uint64_t capacity_;
  uint64_t clock_ = 0;
  uint64_t dirty_count_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Table>> tables_;
};

}  // namespace luksfs::fs::qcow2
