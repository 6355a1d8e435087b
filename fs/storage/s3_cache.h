// Building blocks of S3Storage that hold no network state:
//   BlockCache - a bounded LRU of immutable ciphertext blocks;
//   RangeSet   - a set of disjoint byte ranges (dirty / locally present).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace luksfs::fs {

using Block = std::shared_ptr<const std::vector<uint8_t>>;

// LRU cache of blocks keyed by block index. Holds at most capacity_bytes of
// block data (a block larger than the capacity is not kept).
// Scan blocks (Insert with scan = true: the blocks of a sequential stream,
// mostly read once) are kept apart, oldest inserted first out, in at most
// scan_capacity_bytes: a long sequential read recycles that much memory
// instead of growing to the whole capacity and evicting the blocks random
// reads use. Get does not promote a scan block; inserting a block again as
// a normal one moves it to the normal LRU.
// Thread-safety: every method may be called concurrently.
class BlockCache {
 public:
  explicit BlockCache(uint64_t capacity_bytes)
      : BlockCache(capacity_bytes, capacity_bytes) {}
  BlockCache(uint64_t capacity_bytes, uint64_t scan_capacity_bytes)
      : capacity_(capacity_bytes),
        scan_capacity_(scan_capacity_bytes < capacity_bytes ? scan_capacity_bytes
                                                            : capacity_bytes) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The block, or null. Marks it most recently used.
  Block Get(uint64_t index);

  // Current epoch; pass it to Insert. Invalidate() advances it, so a block
  // fetched before an invalidation cannot be inserted after it.
  uint64_t epoch() const;

  // Inserts (or replaces) a block unless `epoch` is stale. Evicts least
  // recently used blocks to stay under the capacity.
  void Insert(uint64_t epoch, uint64_t index, Block block, bool scan = false);

  // Drops blocks [first, last] and advances the epoch.
  void Invalidate(uint64_t first, uint64_t last);

  uint64_t bytes() const;
  uint64_t scan_bytes() const;  // of those, in scan blocks
  size_t count() const;

 private:
  struct Entry {
    Block block;
    std::list<uint64_t>::iterator lru;  // in lru_, or in scan_ when scan
    bool scan;
  };
  void EraseLocked(std::unordered_map<uint64_t, Entry>::iterator it);
  void EvictLocked();

  const uint64_t capacity_;
  const uint64_t scan_capacity_;
  // mu_ guards everything below. Leaf lock: nothing is called while held.
  mutable std::mutex mu_;
  uint64_t epoch_ = 0;
  uint64_t bytes_ = 0;
  uint64_t scan_bytes_ = 0;
  std::list<uint64_t> lru_;   // front = most recent
  std::list<uint64_t> scan_;  // scan blocks; front = newest inserted
  std::unordered_map<uint64_t, Entry> map_;
};

// Disjoint, coalesced half-open ranges [begin, end).
// Thread-safety: none (callers hold their own lock).
class RangeSet {
 public:
  struct Range {
    uint64_t begin, end;
    bool operator==(const Range&) const = default;
  };

  void Add(uint64_t begin, uint64_t end);       // merges neighbours
  void Subtract(uint64_t begin, uint64_t end);
  void AddAll(const RangeSet& other);
  bool Overlaps(uint64_t begin, uint64_t end) const;
  // The parts of the set inside [begin, end), clipped, in order.
  std::vector<Range> Intersect(uint64_t begin, uint64_t end) const;
  std::vector<Range> All() const;
  uint64_t TotalBytes() const;
  bool empty() const { return map_.empty(); }
  void clear() { map_.clear(); }

 private:
  std::map<uint64_t, uint64_t> map_;  // begin -> end
};

}  // namespace luksfs::fs
