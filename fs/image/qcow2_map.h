// Qcow2Map: the BlockMap of a qcow2 image (qcow2 specification,
// docs/interop/qcow2.txt): guest clusters through the L1/L2 tables to host
// clusters, with refcounts and allocation on write.
//
// Reads: allocated (sub)clusters are kData with iv_sector = host offset /
// 512 (qemu's crypt_physical_offset for LUKS); zero flags are kZero; holes
// are kUnallocated. Every host offset is checked before use: inside the
// file, cluster-aligned, not in the header cluster nor on the L1 table,
// refcount table, LUKS header clusters, an L2 table or a refcount block
// (kCorruption naming the table and index).
//
// Writes (writable maps only):
//   - in place into allocated clusters whose refcount is 1. A shared
//     cluster (refcount > 1: internal snapshots) is refused with
//     kNotSupported; images with internal snapshots cannot be opened
//     writable at all, so this only guards hostile images.
//   - new clusters are taken at the end of the file (the file grows;
//     clusters freed by Discard are not reused in this session, which
//     keeps every freed cluster out of reach until its L2 update is
//     durable). A fresh extent covers the whole cluster; with extended L2
//     all 32 allocation bits are set. A partly allocated extended cluster
//     gets its missing subclusters as fresh extents, in place.
//   - PrepareWrite claims each cluster that needs allocation; a second
//     writer into a claimed cluster waits until the claim is released and
//     then sees the committed (in-place) state.
//   - CommitWrite links the cluster into the cached metadata: refcount
//     +1 (new refcount blocks and a larger refcount table as needed), the
//     L2 entry (a new L2 table as needed), the L1 entry.
//   - Flush writes the cached metadata in qemu's order with a Storage
//     flush between dependent steps: refcount blocks (and table), flush,
//     [header if the refcount table moved, flush], L2 tables, flush, L1
//     entries, flush, and last the refcount decrements of clusters freed by
//     Discard, flush. A crash at any moment therefore only leaks clusters
//     (what `qemu-img check` reports as leaks), never corrupts.
//   - Discard of whole clusters: v3 sets the zero flag (extended L2: all
//     subclusters zero), v2 unallocates, as qemu's discard does; the host
//     cluster's refcount drops after the L2 update is durable.
// The metadata cache (L2 tables and refcount blocks) is bounded; when its
// dirty part passes half of it, CommitWrite flushes.
//
// Ownership: borrows the Storage; every WritePlan must be destroyed before
// the map. The destructor of a writable map flushes (best effort).
// Thread-safety: all methods may be called concurrently; one mutex (mu_)
// guards all metadata. Discard and PrepareWrite wait for claims; in-place
// writes take no claim (the caller's range lock orders them against a
// Discard of the same range).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <unordered_set>
#include <utility>
#include <vector>

#include "fs/image/block_map.h"
#include "fs/image/qcow2_cache.h"
#include "fs/image/qcow2_format.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

struct Qcow2MapOptions {
  uint32_t unit_size = 512;        // the LUKS sector size, bytes
  bool writable = false;
  // Bytes of L2 tables cached; 0: qemu's default (enough to cover the
  // whole disk, at most 32 MiB). Refcount blocks get a quarter of it.
  uint64_t cache_bytes = 0;
};

class Qcow2Map : public BlockMap {
 public:
  // Loads and checks the L1 and refcount tables. Errors: kCorruption,
  // kNotSupported (unit larger than a subcluster), kIOError.
  static Result<std::unique_ptr<Qcow2Map>> Open(Storage* storage,
                                                const qcow2::Header& header,
                                                const Qcow2MapOptions& opts);
  ~Qcow2Map() override;

  uint64_t Size() const override { return size_; }
  uint32_t unit_size() const override { return unit_; }
  uint64_t granularity() const override { return cs_; }

  Status Map(uint64_t offset, uint64_t length,
             std::vector<Extent>* out) override;
  Result<std::unique_ptr<WritePlan>> PrepareWrite(uint64_t offset,
                                                  uint64_t length) override;
  Status CommitWrite(std::unique_ptr<WritePlan> plan) override;
  Status Discard(uint64_t offset, uint64_t length) override;
  bool zero_by_discard() const override { return true; }
  Status Flush() override;

  // Guest bytes in allocated (sub)clusters: counted by walking every L2
  // table at Open, then kept up to date by CommitWrite and Discard.
  uint64_t AllocatedBytes() const override {
    return allocated_.load(std::memory_order_relaxed);
  }
  // The same, counted now by walking every L2 table.
  Result<uint64_t> CountAllocated();
  // The refcount of the host cluster holding `host_offset` (tests, check).
  Result<uint64_t> Refcount(uint64_t host_offset);

 private:
  class Plan;
  struct Pending {            // one cluster of a plan that needs linking
    uint64_t guest_cluster = 0;
    uint64_t host = 0;
    bool new_cluster = false;  // refcount +1 at commit
    uint32_t alloc = 0;        // extended L2 bitmap after the commit
    uint32_t zero = 0;
    uint64_t added = 0;        // guest bytes that become allocated
  };
  struct Lookup {
    bool l1_hole = false;      // no L2 table: the whole L2 span is a hole
    qcow2::L2Entry entry;
  };

  Qcow2Map(Storage* storage, const qcow2::Header& h,
           const Qcow2MapOptions& opts);
  Status Load();

  // All *Locked functions REQUIRE mu_.
  Result<Lookup> LookupLocked(uint64_t guest_cluster);
  Result<qcow2::MetadataCache::Table*> L2TableLocked(uint64_t l1_index,
                                                     bool create);
  Status CheckHostCluster(uint64_t host, const std::string& where) const;
  Result<uint64_t> RefcountLocked(uint64_t host);
  Status AddRefLocked(uint64_t host, int64_t delta);
  Status GrowRefcountTableLocked(uint64_t needed_index);
  uint64_t AllocClusterLocked(uint64_t n = 1);
  Status FlushLocked();
  Status WriteRefcountsLocked(bool* wrote);
  void ReleaseClaims(const std::vector<uint64_t>& clusters);
  void ReleaseClaimsLocked(const std::vector<uint64_t>& clusters);
  uint64_t FileEnd() const;
  // Guest bytes that an entry's allocation bitmap stands for.
  uint64_t AllocBytes(uint32_t alloc) const;

  Storage* const storage_;
  qcow2::Header h_;              // refcount table fields change on growth
  const uint64_t cs_;            // cluster size
  const uint64_t sc_;            // subcluster size
  const uint64_t size_;          // guest size, a multiple of unit_
  const uint32_t unit_;
  const bool writable_;
  const bool ext_;               // extended L2
  const uint64_t l2_entries_;
  const uint64_t rb_entries_;    // refcount block entries

  std::atomic<uint64_t> allocated_{0};  // see AllocatedBytes()
  std::mutex mu_;
  // Everything below is GUARDED_BY(mu_).
  std::condition_variable claim_cv_;     // signalled when claims_ shrinks
  std::set<uint64_t> claims_;            // guest clusters being allocated
  std::vector<uint64_t> l1_;             // raw L1 entries
  std::set<uint64_t> dirty_l1_;          // indices to write
  std::vector<uint64_t> rt_;             // raw refcount table entries
  bool rt_dirty_ = false;
  bool rt_moved_ = false;                // header must point to rt_ anew
  std::vector<std::pair<uint64_t, uint64_t>> rt_old_;  // (offset, clusters)
  qcow2::MetadataCache l2_cache_;
  qcow2::MetadataCache rb_cache_;
  // Fixed metadata ranges [start, end) that data clusters must not touch.
  struct Range {
    uint64_t start, end;
    const char* what;
  };
  std::vector<Range> fixed_;
  std::unordered_set<uint64_t> meta_;    // L2 tables and refcount blocks
  std::vector<uint64_t> pending_free_;   // host clusters to drop after L2
  uint64_t next_free_ = 0;               // host offset of the next cluster
};

}  // namespace luksfs::fs
