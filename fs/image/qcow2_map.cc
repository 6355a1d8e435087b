#include "fs/image/qcow2_map.h"

#include <algorithm>
#include <bit>

namespace luksfs::fs {

using qcow2::Hex;
using qcow2::kFlagCopied;
using qcow2::kFlagZero;
using qcow2::kOffsetMask;
using qcow2::LoadBe64;
using qcow2::MetadataCache;
using qcow2::StoreBe64;

namespace {

uint64_t RoundUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }
uint64_t RoundDown(uint64_t v, uint64_t a) { return v / a * a; }

// L2 cache default: enough to cover the disk, at most 32 MiB (qemu's
// default on Linux), at least 4 tables.
uint64_t DefaultL2Cache(const qcow2::Header& h) {
  const uint64_t span = h.cluster_size() * h.l2_entries();
  const uint64_t tables = h.size / span + 1;
  return std::clamp<uint64_t>(tables * h.cluster_size(),
                              4 * h.cluster_size(), 32ULL << 20);
}

// Bits lo..hi (inclusive) set.
uint32_t BitRange(uint64_t lo, uint64_t hi) {
  const uint64_t mask = ((uint64_t{2} << hi) - 1) & ~((uint64_t{1} << lo) - 1);
  return static_cast<uint32_t>(mask);
}

}  // namespace

// A WritePlan plus what CommitWrite links. Destroying it uncommitted
// releases its claims (freshly taken clusters stay unreferenced).
class Qcow2Map::Plan : public WritePlan {
 public:
  explicit Plan(Qcow2Map* map) : map_(map) {}
  ~Plan() override {
    if (!claims.empty()) map_->ReleaseClaims(claims);
  }
  void Add(bool fresh, uint64_t guest, uint64_t len, uint64_t host) {
    if (!extents.empty()) {
      Extent& b = extents.back();
      if (b.fresh == fresh && b.guest_offset + b.length == guest &&
          b.host_offset + b.length == host) {
        b.length += len;
        return;
      }
    }
    Extent e;
    e.kind = Extent::Kind::kData;
    e.guest_offset = guest;
    e.length = len;
    e.host_offset = host;
    e.iv_sector = host / 512;
    e.fresh = fresh;
    extents.push_back(e);
  }

  Qcow2Map* const map_;
  std::vector<uint64_t> claims;   // guest clusters, ascending
  std::vector<Pending> pending;
};

Qcow2Map::Qcow2Map(Storage* storage, const qcow2::Header& h,
                   const Qcow2MapOptions& opts)
    : storage_(storage),
      h_(h),
      cs_(h.cluster_size()),
      sc_(h.subcluster_size()),
      size_(RoundDown(h.size, opts.unit_size)),
      unit_(opts.unit_size),
      writable_(opts.writable),
      ext_(h.extended_l2()),
      l2_entries_(h.l2_entries()),
      rb_entries_(h.refcount_block_entries()),
      l2_cache_(h.cluster_size(),
                opts.cache_bytes ? opts.cache_bytes : DefaultL2Cache(h)),
      rb_cache_(h.cluster_size(),
                (opts.cache_bytes ? opts.cache_bytes : DefaultL2Cache(h)) / 4) {}

// Last resort: whoever owns the map should have flushed (errors are lost
// here, and metadata never written only leaks the new clusters).
Qcow2Map::~Qcow2Map() {
  if (!writable_) return;
  std::lock_guard<std::mutex> l(mu_);
  (void)FlushLocked();
}

Result<std::unique_ptr<Qcow2Map>> Qcow2Map::Open(Storage* storage,
                                                 const qcow2::Header& header,
                                                 const Qcow2MapOptions& opts) {
  if (opts.unit_size < 512 || opts.unit_size > header.subcluster_size() ||
      (opts.unit_size & (opts.unit_size - 1)) != 0) {
    return Status::NotSupported(
        "LUKS sector size " + std::to_string(opts.unit_size) +
        " does not fit the qcow2 (sub)cluster size " +
        std::to_string(header.subcluster_size()));
  }
  std::unique_ptr<Qcow2Map> m(new Qcow2Map(storage, header, opts));
  LUKSFS_RETURN_IF_ERROR(m->Load());
  // A damaged L2 table fails only the ranges it maps; then st_blocks
  // claims the whole disk.
  Result<uint64_t> n = m->CountAllocated();
  m->allocated_ = n.ok() ? *n : m->size_;
  return m;
}

uint64_t Qcow2Map::FileEnd() const {
  return std::max(storage_->Size(), next_free_);
}

Status Qcow2Map::Load() {
  std::lock_guard<std::mutex> l(mu_);
  next_free_ = RoundUp(storage_->Size(), cs_);
  fixed_.push_back({0, cs_, "the qcow2 header"});
  const uint64_t l1_bytes = uint64_t{h_.l1_size} * 8;
  if (l1_bytes > 0) {
    fixed_.push_back({h_.l1_table_offset,
                      h_.l1_table_offset + RoundUp(l1_bytes, cs_),
                      "the L1 table"});
  }
  const uint64_t rt_bytes = uint64_t{h_.refcount_table_clusters} * cs_;
  fixed_.push_back({h_.refcount_table_offset,
                    h_.refcount_table_offset + rt_bytes, "the refcount table"});
  if (h_.has_fde) {
    fixed_.push_back({h_.fde_offset,
                      h_.fde_offset + RoundUp(h_.fde_length, cs_),
                      "the LUKS header clusters"});
  }

  // Refcount table (bounded to 8 MiB by the parser).
  std::vector<uint8_t> buf(rt_bytes);
  LUKSFS_RETURN_IF_ERROR(storage_->ReadAt(h_.refcount_table_offset, buf));
  rt_.resize(rt_bytes / 8);
  for (size_t i = 0; i < rt_.size(); ++i) {
    rt_[i] = LoadBe64(&buf[i * 8]);
    if (rt_[i] == 0) continue;
    const std::string where = "refcount table entry " + std::to_string(i);
    if (rt_[i] & ~kOffsetMask) {
      return Status::Corruption(where + ": reserved bits set in " +
                                Hex(rt_[i]));
    }
    if (rt_[i] % cs_ != 0) {
      return Status::Corruption(where + ": refcount block at " + Hex(rt_[i]) +
                                " is not cluster-aligned");
    }
    LUKSFS_RETURN_IF_ERROR(CheckHostCluster(rt_[i], where));
    if (!meta_.insert(rt_[i]).second) {
      return Status::Corruption(where + ": refcount block at " + Hex(rt_[i]) +
                                " is used twice");
    }
  }

  // L1 table (bounded to 32 MiB by the parser).
  buf.assign(l1_bytes, 0);
  if (l1_bytes > 0) {
    LUKSFS_RETURN_IF_ERROR(storage_->ReadAt(h_.l1_table_offset, buf));
  }
  l1_.resize(h_.l1_size);
  for (size_t i = 0; i < l1_.size(); ++i) {
    l1_[i] = LoadBe64(&buf[i * 8]);
    const uint64_t off = l1_[i] & kOffsetMask;
    const std::string where = "L1 table index " + std::to_string(i);
    if (l1_[i] & ~(kOffsetMask | kFlagCopied)) {
      return Status::Corruption(where + ": reserved bits set in " +
                                Hex(l1_[i]));
    }
    if (off == 0) {
      l1_[i] = 0;
      continue;
    }
    if (off % cs_ != 0) {
      return Status::Corruption(where + ": L2 table at " + Hex(off) +
                                " is not cluster-aligned");
    }
    LUKSFS_RETURN_IF_ERROR(CheckHostCluster(off, where));
    if (!meta_.insert(off).second) {
      return Status::Corruption(where + ": L2 table at " + Hex(off) +
                                " overlaps another L2 table or a refcount "
                                "block");
    }
  }

  // Never allocate over a cluster that has a refcount, even past the end
  // of the file: find the last one.
  for (size_t t = rt_.size(); t > 0; --t) {
    if (rt_[t - 1] == 0) continue;
    LUKSFS_ASSIGN_OR_RETURN(
        MetadataCache::Table * block,
        rb_cache_.Get(rt_[t - 1], [this](uint64_t o, std::span<uint8_t> d) {
          return storage_->ReadAt(o, d);
        }));
    for (uint64_t i = rb_entries_; i > 0; --i) {
      if (qcow2::GetRefcount(block->bytes, h_.refcount_order, i - 1) != 0) {
        next_free_ =
            std::max(next_free_, ((t - 1) * rb_entries_ + i) * cs_);
        break;
      }
    }
    break;
  }
  return Status();
}

Status Qcow2Map::CheckHostCluster(uint64_t host,
                                  const std::string& where) const {
  if (host < cs_) {
    return Status::Corruption(where + ": points into the qcow2 header (" +
                              Hex(host) + ")");
  }
  const uint64_t end = FileEnd();
  if (host >= end) {
    return Status::Corruption(where + ": cluster at " + Hex(host) +
                              " is past the end of the file (" +
                              std::to_string(end) + " bytes)");
  }
  for (const Range& r : fixed_) {
    if (host < r.end && r.start < host + cs_) {
      return Status::Corruption(where + ": cluster at " + Hex(host) +
                                " overlaps " + r.what);
    }
  }
  if (meta_.count(host)) {
    return Status::Corruption(where + ": cluster at " + Hex(host) +
                              " overlaps an L2 table or a refcount block");
  }
  return Status();
}

Result<MetadataCache::Table*> Qcow2Map::L2TableLocked(uint64_t l1_index,
                                                      bool create) {
  uint64_t off = l1_[l1_index] & kOffsetMask;
  if (off == 0) {
    if (!create) return static_cast<MetadataCache::Table*>(nullptr);
    off = AllocClusterLocked();
    LUKSFS_RETURN_IF_ERROR(AddRefLocked(off, +1));
    meta_.insert(off);
    l1_[l1_index] = off | kFlagCopied;
    dirty_l1_.insert(l1_index);
    return l2_cache_.Insert(off);
  }
  if (create && !(l1_[l1_index] & kFlagCopied)) {
    LUKSFS_ASSIGN_OR_RETURN(const uint64_t rc, RefcountLocked(off));
    if (rc != 1) {
      return Status::NotSupported(
          "L2 table at " + Hex(off) + " is shared (refcount " +
          std::to_string(rc) +
          "); writing to images with internal snapshots is not supported");
    }
  }
  return l2_cache_.Get(off, [this](uint64_t o, std::span<uint8_t> d) {
    return storage_->ReadAt(o, d);
  });
}

Result<Qcow2Map::Lookup> Qcow2Map::LookupLocked(uint64_t gc) {
  Lookup out;
  const uint64_t l1i = gc / l2_entries_;
  if (l1i >= l1_.size() || l1_[l1i] == 0) {
    out.l1_hole = true;
    return out;
  }
  LUKSFS_ASSIGN_OR_RETURN(MetadataCache::Table * t, L2TableLocked(l1i, false));
  const uint64_t i = gc % l2_entries_;
  const uint8_t* p = t->bytes.data() + i * (ext_ ? 16 : 8);
  const std::string where = "L2 table at " + Hex(t->offset) + " index " +
                            std::to_string(i) + " (guest offset " +
                            Hex(gc * cs_) + ")";
  LUKSFS_ASSIGN_OR_RETURN(
      out.entry,
      qcow2::DecodeL2Entry(h_, LoadBe64(p), ext_ ? LoadBe64(p + 8) : 0, where));
  if (out.entry.host_offset != 0) {
    LUKSFS_RETURN_IF_ERROR(CheckHostCluster(out.entry.host_offset, where));
  }
  return out;
}

Status Qcow2Map::Map(uint64_t offset, uint64_t length,
                     std::vector<Extent>* out) {
  if (offset >= size_ || length == 0) return Status();
  const uint64_t end = length > size_ - offset ? size_ : offset + length;
  uint64_t g = RoundDown(offset, unit_);
  const uint64_t b = RoundUp(end, unit_);
  const size_t first = out->size();
  auto add = [&](Extent::Kind kind, uint64_t guest, uint64_t len,
                 uint64_t host) {
    if (out->size() > first) {
      Extent& x = out->back();
      if (x.kind == kind && x.guest_offset + x.length == guest &&
          (kind != Extent::Kind::kData || x.host_offset + x.length == host)) {
        x.length += len;
        return;
      }
    }
    Extent e;
    e.kind = kind;
    e.guest_offset = guest;
    e.length = len;
    if (kind == Extent::Kind::kData) {
      e.host_offset = host;
      e.iv_sector = host / 512;
    }
    out->push_back(e);
  };

  std::lock_guard<std::mutex> l(mu_);
  while (g < b) {
    const uint64_t gc = g / cs_;
    l2_cache_.Trim();
    LUKSFS_ASSIGN_OR_RETURN(const Lookup lk, LookupLocked(gc));
    if (lk.l1_hole) {
      const uint64_t span = l2_entries_ * cs_;
      const uint64_t stop = std::min(b, (g / span + 1) * span);
      add(Extent::Kind::kUnallocated, g, stop - g, 0);
      g = stop;
      continue;
    }
    const uint64_t cstart = gc * cs_;
    const uint64_t cend = std::min(b, cstart + cs_);
    while (g < cend) {
      const uint64_t si = (g - cstart) / sc_;
      const uint64_t stop = std::min(cend, cstart + (si + 1) * sc_);
      const uint32_t bit = 1u << si;
      if (lk.entry.alloc & bit) {
        add(Extent::Kind::kData, g, stop - g,
            lk.entry.host_offset + (g - cstart));
      } else if (lk.entry.zero & bit) {
        add(Extent::Kind::kZero, g, stop - g, 0);
      } else {
        add(Extent::Kind::kUnallocated, g, stop - g, 0);
      }
      g = stop;
    }
  }
  return Status();
}

Result<std::unique_ptr<WritePlan>> Qcow2Map::PrepareWrite(uint64_t offset,
                                                          uint64_t length) {
  if (!writable_) return Status::InvalidArgument("qcow2 map is read-only");
  if (offset > size_ || length > size_ - offset) {
    return Status::InvalidArgument("write passes the end of the disk");
  }
  auto plan = std::make_unique<Plan>(this);
  if (length == 0) return std::unique_ptr<WritePlan>(std::move(plan));
  const uint64_t a = RoundDown(offset, unit_);
  const uint64_t b = RoundUp(offset + length, unit_);

  std::unique_lock<std::mutex> l(mu_);
  auto fail = [&](Status s) -> Result<std::unique_ptr<WritePlan>> {
    ReleaseClaimsLocked(plan->claims);
    plan->claims.clear();
    return s;
  };
  for (uint64_t gc = a / cs_; gc <= (b - 1) / cs_; ++gc) {
    const uint64_t cstart = gc * cs_;
    const uint64_t cend = std::min(cstart + cs_, size_);
    const uint64_t ra = std::max(a, cstart);
    const uint64_t rb = std::min(b, cstart + cs_);
    claim_cv_.wait(l, [&] { return claims_.count(gc) == 0; });
    l2_cache_.Trim();
    rb_cache_.Trim();
    Result<Lookup> lk = LookupLocked(gc);
    if (!lk.ok()) return fail(lk.status());
    const qcow2::L2Entry& e = lk->entry;
    const uint64_t s0 = (ra - cstart) / sc_;
    const uint64_t s1 = (rb - 1 - cstart) / sc_;
    const uint32_t need = BitRange(s0, s1) & ~e.alloc;
    if (e.host_offset != 0 && !e.copied) {
      Result<uint64_t> rc = RefcountLocked(e.host_offset);
      if (!rc.ok()) return fail(rc.status());
      if (*rc != 1) {
        return fail(Status::NotSupported(
            "cluster at " + Hex(e.host_offset) + " is shared (refcount " +
            std::to_string(*rc) +
            "); writing to internal snapshots is not supported"));
      }
    }
    if (need == 0) {  // every touched subcluster is allocated: in place
      plan->Add(false, ra, rb - ra, e.host_offset + (ra - cstart));
      continue;
    }
    claims_.insert(gc);
    plan->claims.push_back(gc);
    Pending p;
    p.guest_cluster = gc;
    if (e.host_offset == 0) {  // a new cluster, written whole
      p.host = AllocClusterLocked();
      p.new_cluster = true;
      p.alloc = ~0u;
      p.zero = 0;
      p.added = AllocBytes(~0u);
      plan->Add(true, cstart, cend - cstart, p.host);
    } else if (!ext_) {  // a preallocated zero cluster: reuse, whole
      p.host = e.host_offset;
      p.added = cs_;
      plan->Add(true, cstart, cend - cstart, p.host);
    } else {  // extended L2: fill the missing subclusters in place
      p.host = e.host_offset;
      p.alloc = e.alloc | need;
      p.zero = e.zero & ~need;
      p.added = AllocBytes(need);
      for (uint64_t s = s0; s <= s1; ++s) {
        const uint64_t ss = cstart + s * sc_;
        if (ss >= cend) break;
        if (e.alloc & (1u << s)) {
          const uint64_t x = std::max(ra, ss);
          const uint64_t y = std::min(rb, ss + sc_);
          plan->Add(false, x, y - x, p.host + (x - cstart));
        } else {
          const uint64_t y = std::min(cend, ss + sc_);
          plan->Add(true, ss, y - ss, p.host + (ss - cstart));
        }
      }
    }
    plan->pending.push_back(p);
  }
  return std::unique_ptr<WritePlan>(std::move(plan));
}

Status Qcow2Map::CommitWrite(std::unique_ptr<WritePlan> wp) {
  Plan* plan = dynamic_cast<Plan*>(wp.get());
  if (plan == nullptr || plan->map_ != this) {
    return Status::InvalidArgument("write plan of another map");
  }
  std::lock_guard<std::mutex> l(mu_);
  Status st;
  for (const Pending& p : plan->pending) {
    if (p.new_cluster) {
      st = AddRefLocked(p.host, +1);
      if (!st.ok()) break;
    }
    Result<MetadataCache::Table*> t =
        L2TableLocked(p.guest_cluster / l2_entries_, true);
    if (!t.ok()) {
      st = t.status();
      break;
    }
    uint8_t* e = (*t)->bytes.data() +
                 (p.guest_cluster % l2_entries_) * (ext_ ? 16 : 8);
    StoreBe64(e, p.host | kFlagCopied);
    if (ext_) StoreBe64(e + 8, (uint64_t{p.zero} << 32) | p.alloc);
    l2_cache_.MarkDirty(*t);
    allocated_ += p.added;
  }
  ReleaseClaimsLocked(plan->claims);
  plan->claims.clear();
  if (st.ok() && (l2_cache_.dirty_bytes() > l2_cache_.capacity() / 2 ||
                  rb_cache_.dirty_bytes() > rb_cache_.capacity() / 2)) {
    st = FlushLocked();
  }
  l2_cache_.Trim();
  rb_cache_.Trim();
  return st;
}

Status Qcow2Map::Discard(uint64_t offset, uint64_t length) {
  if (!writable_) return Status::InvalidArgument("qcow2 map is read-only");
  if (offset >= size_ || length == 0) return Status();
  const uint64_t end = length > size_ - offset ? size_ : offset + length;
  const uint64_t first = RoundUp(offset, cs_) / cs_;
  const uint64_t last = end == size_ ? RoundUp(size_, cs_) / cs_ : end / cs_;
  std::unique_lock<std::mutex> l(mu_);
  for (uint64_t gc = first; gc < last; ++gc) {
    claim_cv_.wait(l, [&] { return claims_.count(gc) == 0; });
    l2_cache_.Trim();
    rb_cache_.Trim();
    LUKSFS_ASSIGN_OR_RETURN(const Lookup lk, LookupLocked(gc));
    if (lk.l1_hole || lk.entry.host_offset == 0) continue;  // reads zeros
    LUKSFS_ASSIGN_OR_RETURN(MetadataCache::Table * t,
                            L2TableLocked(gc / l2_entries_, true));
    uint8_t* e = t->bytes.data() + (gc % l2_entries_) * (ext_ ? 16 : 8);
    if (ext_) {
      StoreBe64(e, 0);
      StoreBe64(e + 8, uint64_t{0xffffffff} << 32);  // all subclusters zero
    } else {
      StoreBe64(e, h_.version >= 3 ? kFlagZero : 0);
    }
    l2_cache_.MarkDirty(t);
    allocated_ -= std::min(allocated_.load(), AllocBytes(lk.entry.alloc));
    pending_free_.push_back(lk.entry.host_offset);
  }
  if (l2_cache_.dirty_bytes() > l2_cache_.capacity() / 2) {
    return FlushLocked();
  }
  return Status();
}

Status Qcow2Map::Flush() {
  std::lock_guard<std::mutex> l(mu_);
  return FlushLocked();
}

uint64_t Qcow2Map::AllocBytes(uint32_t alloc) const {
  return ext_ ? uint64_t(std::popcount(alloc)) * sc_ : (alloc ? cs_ : 0);
}

Result<uint64_t> Qcow2Map::CountAllocated() {
  std::lock_guard<std::mutex> l(mu_);
  uint64_t total = 0;
  for (uint64_t i = 0; i < l1_.size(); ++i) {
    if (l1_[i] == 0) continue;
    l2_cache_.Trim();
    for (uint64_t j = 0; j < l2_entries_; ++j) {
      const uint64_t gc = i * l2_entries_ + j;
      if (gc * cs_ >= size_) break;
      LUKSFS_ASSIGN_OR_RETURN(const Lookup lk, LookupLocked(gc));
      total += AllocBytes(lk.entry.alloc);
    }
  }
  return total;
}

Result<uint64_t> Qcow2Map::Refcount(uint64_t host_offset) {
  std::lock_guard<std::mutex> l(mu_);
  return RefcountLocked(host_offset);
}

Result<uint64_t> Qcow2Map::RefcountLocked(uint64_t host) {
  const uint64_t c = host / cs_;
  const uint64_t t = c / rb_entries_;
  if (t >= rt_.size() || rt_[t] == 0) return uint64_t{0};
  LUKSFS_ASSIGN_OR_RETURN(
      MetadataCache::Table * block,
      rb_cache_.Get(rt_[t], [this](uint64_t o, std::span<uint8_t> d) {
        return storage_->ReadAt(o, d);
      }));
  return qcow2::GetRefcount(block->bytes, h_.refcount_order, c % rb_entries_);
}

uint64_t Qcow2Map::AllocClusterLocked(uint64_t n) {
  const uint64_t off = next_free_;
  next_free_ += n * cs_;
  return off;
}

Status Qcow2Map::AddRefLocked(uint64_t host, int64_t delta) {
  const uint64_t c = host / cs_;
  const uint64_t t = c / rb_entries_;
  if (t >= rt_.size()) {
    if (delta < 0) {
      return Status::Corruption("refcount of cluster " + Hex(host) +
                                " is already 0");
    }
    LUKSFS_RETURN_IF_ERROR(GrowRefcountTableLocked(t));
  }
  if (rt_[t] == 0) {
    if (delta < 0) {
      return Status::Corruption("refcount of cluster " + Hex(host) +
                                " is already 0");
    }
    const uint64_t block = AllocClusterLocked();
    rt_[t] = block;
    rt_dirty_ = true;
    meta_.insert(block);
    rb_cache_.Insert(block);
    // The new block needs its own refcount (often in itself).
    LUKSFS_RETURN_IF_ERROR(AddRefLocked(block, +1));
  }
  LUKSFS_ASSIGN_OR_RETURN(
      MetadataCache::Table * b,
      rb_cache_.Get(rt_[t], [this](uint64_t o, std::span<uint8_t> d) {
        return storage_->ReadAt(o, d);
      }));
  const uint64_t idx = c % rb_entries_;
  const uint64_t v = qcow2::GetRefcount(b->bytes, h_.refcount_order, idx);
  const uint64_t max = h_.refcount_order == 6
                           ? ~uint64_t{0}
                           : (uint64_t{1} << h_.refcount_bits()) - 1;
  if (delta > 0 && v == max) {
    return Status::ResourceExhausted("refcount of cluster " + Hex(host) +
                                     " would overflow " +
                                     std::to_string(h_.refcount_bits()) +
                                     " bits");
  }
  if (delta < 0 && v == 0) {
    return Status::Corruption("refcount of cluster " + Hex(host) +
                              " is already 0");
  }
  qcow2::SetRefcount(b->bytes, h_.refcount_order, idx,
                     delta > 0 ? v + 1 : v - 1);
  rb_cache_.MarkDirty(b);
  return Status();
}

Status Qcow2Map::GrowRefcountTableLocked(uint64_t needed_index) {
  const uint64_t cur = h_.refcount_table_clusters;
  const uint64_t need = RoundUp((needed_index + 1) * 8, cs_) / cs_;
  const uint64_t n = std::max(cur * 2, need + 1);
  if (n * cs_ > qcow2::kMaxRefcountTableBytes) {
    return Status::ResourceExhausted(
        "the qcow2 refcount table would pass 8 MiB; the image cannot grow");
  }
  const uint64_t off = AllocClusterLocked(n);
  rt_old_.push_back({h_.refcount_table_offset, cur});
  rt_.resize(n * cs_ / 8, 0);
  h_.refcount_table_offset = off;
  h_.refcount_table_clusters = static_cast<uint32_t>(n);
  rt_dirty_ = true;
  rt_moved_ = true;
  fixed_.push_back({off, off + n * cs_, "the refcount table"});
  for (uint64_t i = 0; i < n; ++i) {
    LUKSFS_RETURN_IF_ERROR(AddRefLocked(off + i * cs_, +1));
  }
  return Status();
}

Status Qcow2Map::WriteRefcountsLocked(bool* wrote) {
  auto store = [this](uint64_t o, std::span<const uint8_t> d) {
    return storage_->WriteAt(o, d);
  };
  size_t n = 0;
  LUKSFS_RETURN_IF_ERROR(rb_cache_.WriteDirty(store, &n));
  *wrote = n > 0;
  if (rt_dirty_) {
    // New refcount blocks must be on disk before the table names them.
    if (n > 0) LUKSFS_RETURN_IF_ERROR(storage_->Flush());
    std::vector<uint8_t> buf(rt_.size() * 8);
    for (size_t i = 0; i < rt_.size(); ++i) StoreBe64(&buf[i * 8], rt_[i]);
    LUKSFS_RETURN_IF_ERROR(storage_->WriteAt(h_.refcount_table_offset, buf));
    rt_dirty_ = false;
    *wrote = true;
  }
  return Status();
}

Status Qcow2Map::FlushLocked() {
  if (!writable_) return storage_->Flush();
  auto store = [this](uint64_t o, std::span<const uint8_t> d) {
    return storage_->WriteAt(o, d);
  };
  // 1. Refcounts (blocks, then the table), then everything durable: the
  // data the caller wrote before committing is covered by this flush too.
  bool wrote = false;
  LUKSFS_RETURN_IF_ERROR(WriteRefcountsLocked(&wrote));
  LUKSFS_RETURN_IF_ERROR(storage_->Flush());
  // 2. A moved refcount table: point the header at it (one 12-byte write
  // of refcount_table_offset and refcount_table_clusters).
  if (rt_moved_) {
    uint8_t hdr[12];
    StoreBe64(hdr, h_.refcount_table_offset);
    qcow2::StoreBe32(hdr + 8, h_.refcount_table_clusters);
    LUKSFS_RETURN_IF_ERROR(storage_->WriteAt(48, hdr));
    LUKSFS_RETURN_IF_ERROR(storage_->Flush());
    rt_moved_ = false;
    for (const auto& [off, n] : rt_old_) {
      for (uint64_t i = 0; i < n; ++i) pending_free_.push_back(off + i * cs_);
    }
    rt_old_.clear();
  }
  // 3. L2 tables.
  size_t n = 0;
  LUKSFS_RETURN_IF_ERROR(l2_cache_.WriteDirty(store, &n));
  if (n > 0) LUKSFS_RETURN_IF_ERROR(storage_->Flush());
  // 4. L1 entries.
  if (!dirty_l1_.empty()) {
    for (const uint64_t i : dirty_l1_) {
      uint8_t e[8];
      StoreBe64(e, l1_[i]);
      LUKSFS_RETURN_IF_ERROR(
          storage_->WriteAt(h_.l1_table_offset + i * 8, e));
    }
    dirty_l1_.clear();
    LUKSFS_RETURN_IF_ERROR(storage_->Flush());
  }
  // 5. Clusters freed by Discard: their L2 entries are durable now.
  if (!pending_free_.empty()) {
    std::vector<uint64_t> frees;
    frees.swap(pending_free_);
    for (const uint64_t off : frees) {
      LUKSFS_RETURN_IF_ERROR(AddRefLocked(off, -1));
    }
    LUKSFS_RETURN_IF_ERROR(WriteRefcountsLocked(&wrote));
    LUKSFS_RETURN_IF_ERROR(storage_->Flush());
  }
  return Status();
}

void Qcow2Map::ReleaseClaims(const std::vector<uint64_t>& clusters) {
  std::lock_guard<std::mutex> l(mu_);
  ReleaseClaimsLocked(clusters);
}

void Qcow2Map::ReleaseClaimsLocked(const std::vector<uint64_t>& clusters) {
  for (const uint64_t c : clusters) claims_.erase(c);
  if (!clusters.empty()) claim_cv_.notify_all();
}

}  // namespace luksfs::fs
