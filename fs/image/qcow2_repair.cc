#include "fs/image/qcow2_repair.h"

#include <vector>

namespace luksfs::fs::qcow2 {
namespace {

constexpr uint64_t kMaxClusters = 1ULL << 26;

Status Refuse(const std::string& why) {
  return Status::NotSupported("qcow2 image is dirty and luksfs cannot repair "
                              "it (" + why + "): run qemu-img check -r all");
}

class Counter {
 public:
  Counter(const Header& h, uint64_t file_size)
      : cs_(h.cluster_size()),
        want_((file_size + cs_ - 1) / cs_, 0) {}

  // +1 for every cluster of [off, off+len). Errors: kCorruption.
  Status Add(uint64_t off, uint64_t len, const std::string& what) {
    if (len == 0) return Status();
    if (off % cs_ != 0 || off / cs_ >= want_.size() ||
        (len - 1) / cs_ >= want_.size() - off / cs_) {
      return Status::Corruption("qcow2 " + what + " at " + Hex(off) +
                                " is not a cluster inside the file");
    }
    for (uint64_t c = off / cs_; c <= (off + len - 1) / cs_; ++c) ++want_[c];
    return Status();
  }
  const std::vector<uint32_t>& want() const { return want_; }

 private:
  const uint64_t cs_;
  std::vector<uint32_t> want_;
};

}  // namespace

Result<RepairReport> RepairRefcounts(Storage* storage, Header* h) {
  if (h->nb_snapshots > 0) return Refuse("it has internal snapshots");
  for (const Extension& e : h->extensions) {
    if (e.type == kExtBitmaps) return Refuse("it has persistent bitmaps");
  }
  const uint64_t cs = h->cluster_size();
  const uint64_t file_size = storage->Size();
  if ((file_size + cs - 1) / cs > kMaxClusters) {
    return Refuse("more than 2^26 host clusters");
  }
  Counter count(*h, file_size);
  LUKSFS_RETURN_IF_ERROR(count.Add(0, cs, "header"));
  const uint64_t l1_bytes = uint64_t{h->l1_size} * 8;
  LUKSFS_RETURN_IF_ERROR(count.Add(h->l1_table_offset, l1_bytes, "L1 table"));
  const uint64_t rt_bytes = uint64_t{h->refcount_table_clusters} * cs;
  LUKSFS_RETURN_IF_ERROR(
      count.Add(h->refcount_table_offset, rt_bytes, "refcount table"));
  if (h->has_fde) {
    LUKSFS_RETURN_IF_ERROR(
        count.Add(h->fde_offset, h->fde_length, "LUKS header clusters"));
  }

  // L1 -> L2 tables -> host clusters.
  std::vector<uint8_t> l1(l1_bytes);
  LUKSFS_RETURN_IF_ERROR(storage->ReadAt(h->l1_table_offset, l1));
  const uint64_t entry_bytes = h->extended_l2() ? 16 : 8;
  std::vector<uint8_t> l2(cs);
  for (uint64_t i = 0; i < h->l1_size; ++i) {
    const uint64_t l2_off = LoadBe64(&l1[i * 8]) & kOffsetMask;
    if (l2_off == 0) continue;
    const std::string where = "L2 table of L1 index " + std::to_string(i);
    LUKSFS_RETURN_IF_ERROR(count.Add(l2_off, cs, where));
    // Each L2 table is walked once: one met twice (or on other metadata)
    // is corrupt, which also bounds the walk by the file's size.
    if (count.want()[l2_off / cs] > 1) {
      return Status::Corruption("qcow2 " + where + " at " + Hex(l2_off) +
                                " is referenced twice or overlaps metadata");
    }
    LUKSFS_RETURN_IF_ERROR(storage->ReadAt(l2_off, l2));
    for (uint64_t j = 0; j < h->l2_entries(); ++j) {
      const uint8_t* p = &l2[j * entry_bytes];
      LUKSFS_ASSIGN_OR_RETURN(
          L2Entry e, DecodeL2Entry(*h, LoadBe64(p),
                                   entry_bytes == 16 ? LoadBe64(p + 8) : 0,
                                   where + " entry " + std::to_string(j)));
      if (e.host_offset != 0) {
        LUKSFS_RETURN_IF_ERROR(count.Add(e.host_offset, cs, "data cluster"));
      }
    }
  }

  // The refcount table and its blocks.
  std::vector<uint8_t> rt(rt_bytes);
  LUKSFS_RETURN_IF_ERROR(storage->ReadAt(h->refcount_table_offset, rt));
  const uint64_t per_block = h->refcount_block_entries();
  const uint64_t rt_entries = h->refcount_table_entries();
  std::vector<uint64_t> blocks(rt_entries);
  for (uint64_t i = 0; i < rt_entries; ++i) {
    blocks[i] = LoadBe64(&rt[i * 8]) & kOffsetMask;
    if (blocks[i] != 0) {
      LUKSFS_RETURN_IF_ERROR(count.Add(blocks[i], cs, "refcount block"));
    }
  }
  const std::vector<uint32_t>& want = count.want();
  const uint64_t max_ref =
      h->refcount_order == 6 ? ~0ULL : (1ULL << h->refcount_bits()) - 1;
  for (uint64_t c = 0; c < want.size(); ++c) {
    if (want[c] > max_ref) {
      return Refuse("cluster " + Hex(c * cs) + " is referenced " +
                    std::to_string(want[c]) + " times");
    }
    if (want[c] != 0 && (c / per_block >= rt_entries || blocks[c / per_block] == 0)) {
      return Refuse("cluster " + Hex(c * cs) + " has no refcount block");
    }
  }

  // Rewrite the blocks that differ, then make them durable.
  RepairReport report;
  std::vector<uint8_t> block(cs);
  for (uint64_t b = 0; b < rt_entries; ++b) {
    if (blocks[b] == 0) continue;
    LUKSFS_RETURN_IF_ERROR(storage->ReadAt(blocks[b], block));
    bool dirty = false;
    for (uint64_t k = 0; k < per_block; ++k) {
      const uint64_t c = b * per_block + k;
      const uint64_t w = c < want.size() ? want[c] : 0;
      const uint64_t have = GetRefcount(block, h->refcount_order, k);
      if (have == w) continue;
      if (w == 0) ++report.leaked;
      ++report.fixed;
      SetRefcount(block, h->refcount_order, k, w);
      dirty = true;
    }
    if (dirty) LUKSFS_RETURN_IF_ERROR(storage->WriteAt(blocks[b], block));
  }
  LUKSFS_RETURN_IF_ERROR(storage->Flush());

  // Only now clear the dirty bit.
  const uint64_t incompat = h->incompatible_features & ~kIncompatDirty;
  uint8_t be[8];
  StoreBe64(be, incompat);
  LUKSFS_RETURN_IF_ERROR(storage->WriteAt(72, be));
  LUKSFS_RETURN_IF_ERROR(storage->Flush());
  h->incompatible_features = incompat;
  return report;
}

}  // namespace luksfs::fs::qcow2
