#include "fs/image/qcow2_create.h"

#include <algorithm>
#include <bit>
#include <string>

#include "fs/image/qcow2_binding.h"

namespace luksfs::fs::qcow2 {

namespace {

uint64_t DivUp(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

bool PowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

uint64_t RoundUp8(uint64_t v) { return (v + 7) / 8 * 8; }

// Header bytes in cluster 0 without the binding record: the version 3
// fixed part with qemu's 8 extra bytes (112), the FDE extension when
// encrypted, and the end marker.
uint64_t HeaderBytesWithoutRecord(const CreateSpec& s) {
  return 112 + (s.luks_bytes ? 8 + 16 : 0) + 8;
}

}  // namespace

Status ValidateCreateSpec(const CreateSpec& s) {
  if (!PowerOfTwo(s.cluster_size) || s.cluster_size < kMinClusterSize ||
      s.cluster_size > kMaxClusterSize) {
    return Status::InvalidArgument(
        "--cluster-size must be a power of two from 512 to 2M, not " +
        std::to_string(s.cluster_size));
  }
  if (!PowerOfTwo(s.refcount_bits) || s.refcount_bits > 64) {
    return Status::InvalidArgument(
        "--refcount-bits must be 1, 2, 4, 8, 16, 32 or 64, not " +
        std::to_string(s.refcount_bits));
  }
  if (s.extended_l2 && s.cluster_size < 16384) {
    return Status::InvalidArgument(
        "--extended-l2 needs a cluster size of at least 16K");
  }
  if (s.virtual_size == 0 || s.virtual_size % 512 != 0) {
    return Status::InvalidArgument("SIZE " + std::to_string(s.virtual_size) +
                                   " must be a positive multiple of 512 for qcow2");
  }
  if (s.virtual_size > (kOffsetMask | 0x1ff)) {
    return Status::InvalidArgument("SIZE is too large for qcow2");
  }
  const uint64_t l2_entries = s.cluster_size / (s.extended_l2 ? 16 : 8);
  const uint64_t l1_size = DivUp(DivUp(s.virtual_size, s.cluster_size), l2_entries);
  if (l1_size * 8 > kMaxL1Bytes) {
    return Status::InvalidArgument(
        "SIZE " + std::to_string(s.virtual_size) + " with " +
        std::to_string(s.cluster_size) +
        "-byte clusters needs an L1 table over 32 MiB (use a larger --cluster-size)");
  }
  if (!s.binding_record.empty()) {
    if (s.binding_record.find('\0') != std::string::npos) {
      return Status::InvalidArgument("a KMS binding record is text without NUL bytes");
    }
    const uint64_t used = HeaderBytesWithoutRecord(s);
    const uint64_t need = 8 + RoundUp8(s.binding_record.size());
    if (used + need > s.cluster_size) {
      return Status::ResourceExhausted(
          "the KMS binding record needs " + std::to_string(need) +
          " bytes but only " + std::to_string(s.cluster_size - used) +
          " are free in the " + std::to_string(s.cluster_size) +
          "-byte qcow2 header cluster (use --cluster-size 4K or larger)");
    }
  }
  return Status();
}

ImageBuilder::ImageBuilder(const CreateSpec& spec) : spec_(spec) {
  cs_ = spec.cluster_size;
  cluster_bits_ = static_cast<uint32_t>(std::countr_zero(cs_));
  refcount_order_ = static_cast<uint32_t>(std::countr_zero(uint64_t{spec.refcount_bits}));
  l2_entries_ = cs_ / (spec.extended_l2 ? 16 : 8);
  guest_clusters_ = DivUp(spec.virtual_size, cs_);
  l1_size_ = DivUp(guest_clusters_, l2_entries_);
  next_host_ = cs_ + DivUp(spec.luks_bytes, cs_) * cs_;
}

Result<std::unique_ptr<ImageBuilder>> ImageBuilder::Create(const CreateSpec& spec) {
  LUKSFS_RETURN_IF_ERROR(ValidateCreateSpec(spec));
  return std::unique_ptr<ImageBuilder>(new ImageBuilder(spec));
}

Result<uint64_t> ImageBuilder::AppendData(uint64_t guest_cluster, uint64_t count) {
  if (count == 0) return next_host_;
  if (guest_cluster < next_guest_ || guest_cluster > guest_clusters_ ||
      count > guest_clusters_ - guest_cluster) {
    return Status::InvalidArgument("qcow2 builder: guest cluster " +
                                   std::to_string(guest_cluster) +
                                   " out of order or past the virtual size");
  }
  const uint64_t host = next_host_;
  if (count > (kOffsetMask - host) / cs_) {
    return Status::ResourceExhausted("qcow2 builder: host offsets exhausted");
  }
  if (!runs_.empty() && runs_.back().guest + runs_.back().count == guest_cluster &&
      runs_.back().host + runs_.back().count * cs_ == host) {
    runs_.back().count += count;
  } else {
    runs_.push_back({guest_cluster, host, count});
  }
  next_host_ += count * cs_;
  next_guest_ = guest_cluster + count;
  return host;
}

Result<FinishedImage> ImageBuilder::Finish() const {
  FinishedImage out;
  const uint64_t entry_bytes = spec_.extended_l2 ? 16 : 8;

  // L2 tables: one per L1 index that holds a run, in L1 order.
  std::vector<uint64_t> l2_index;  // L1 index of each L2 table
  for (const Run& r : runs_) {
    out.data_clusters += r.count;
    const uint64_t first = r.guest / l2_entries_;
    const uint64_t last = (r.guest + r.count - 1) / l2_entries_;
    for (uint64_t i = first; i <= last; ++i) {
      if (l2_index.empty() || l2_index.back() != i) l2_index.push_back(i);
    }
  }
  const uint64_t l2_start = next_host_;
  const uint64_t l1_start = l2_start + l2_index.size() * cs_;
  const uint64_t l1_clusters = DivUp(l1_size_ * 8, cs_);
  const uint64_t rb_start = l1_start + l1_clusters * cs_;

  // Refcount blocks and table cover every cluster, themselves included.
  const uint64_t per_block = cs_ * 8 / spec_.refcount_bits;
  const uint64_t base = rb_start / cs_;  // clusters before the blocks
  uint64_t blocks = 0, table_clusters = 0;
  for (;;) {
    const uint64_t total = base + blocks + table_clusters;
    const uint64_t nb = DivUp(total, per_block);
    const uint64_t nt = DivUp(nb * 8, cs_);
    if (nb == blocks && nt == table_clusters) break;
    blocks = nb;
    table_clusters = nt;
  }
  if (table_clusters * cs_ > kMaxRefcountTableBytes) {
    return Status::ResourceExhausted("qcow2: the refcount table would pass 8 MiB");
  }
  const uint64_t total_clusters = base + blocks + table_clusters;
  const uint64_t rt_start = rb_start + blocks * cs_;
  out.file_size = total_clusters * cs_;

  // Refcount blocks: 1 for every cluster below total_clusters.
  for (uint64_t b = 0; b < blocks; ++b) {
    MetaWrite w;
    w.offset = rb_start + b * cs_;
    w.bytes.assign(cs_, 0);
    const uint64_t first = b * per_block;
    const uint64_t n = std::min(per_block, total_clusters - first);
    for (uint64_t i = 0; i < n; ++i) SetRefcount(w.bytes, refcount_order_, i, 1);
    out.writes.push_back(std::move(w));
  }
  {
    MetaWrite w;
    w.offset = rt_start;
    w.bytes.assign(table_clusters * cs_, 0);
    for (uint64_t b = 0; b < blocks; ++b) {
      StoreBe64(w.bytes.data() + b * 8, rb_start + b * cs_);
    }
    out.writes.push_back(std::move(w));
  }

  // L2 tables, filled from the runs (both are in guest order).
  std::vector<MetaWrite> l2(l2_index.size());
  for (size_t t = 0; t < l2.size(); ++t) {
    l2[t].offset = l2_start + t * cs_;
    l2[t].bytes.assign(cs_, 0);
  }
  size_t t = 0;
  for (const Run& r : runs_) {
    for (uint64_t k = 0; k < r.count; ++k) {
      const uint64_t g = r.guest + k;
      while (l2_index[t] != g / l2_entries_) ++t;
      uint8_t* e = l2[t].bytes.data() + (g % l2_entries_) * entry_bytes;
      StoreBe64(e, (r.host + k * cs_) | kFlagCopied);
      if (spec_.extended_l2) StoreBe64(e + 8, 0xffffffffULL);  // all allocated
    }
  }
  for (MetaWrite& w : l2) out.writes.push_back(std::move(w));

  {
    MetaWrite w;
    w.offset = l1_start;
    w.bytes.assign(l1_clusters * cs_, 0);
    for (size_t i = 0; i < l2_index.size(); ++i) {
      StoreBe64(w.bytes.data() + l2_index[i] * 8, (l2_start + i * cs_) | kFlagCopied);
    }
    out.writes.push_back(std::move(w));
  }

  Header h;
  h.version = 3;
  h.cluster_bits = cluster_bits_;
  h.size = spec_.virtual_size;
  h.crypt_method = spec_.luks_bytes ? kCryptLuks : kCryptNone;
  h.l1_size = static_cast<uint32_t>(l1_size_);
  h.l1_table_offset = l1_start;
  h.refcount_table_offset = rt_start;
  h.refcount_table_clusters = static_cast<uint32_t>(table_clusters);
  h.incompatible_features = spec_.extended_l2 ? kIncompatExtendedL2 : 0;
  h.refcount_order = refcount_order_;
  h.extra_fields.assign(8, 0);  // compression type zlib, padding (as qemu)
  h.header_length = 112;
  if (spec_.luks_bytes) {
    Extension fde;
    fde.type = kExtFde;
    fde.data.assign(16, 0);
    StoreBe64(fde.data.data(), luks_offset());
    StoreBe64(fde.data.data() + 8, spec_.luks_bytes);
    h.extensions.push_back(std::move(fde));
    h.has_fde = true;
    h.fde_offset = luks_offset();
    h.fde_length = spec_.luks_bytes;
  }
  if (!spec_.binding_record.empty()) {
    // Last, as `luksfs bind` puts it (qcow2_binding.h relies on that to
    // grow the record in place later).
    Extension rec;
    rec.type = kExtLuksfsKms;
    rec.data.assign(RoundUp8(spec_.binding_record.size()), 0);
    std::copy(spec_.binding_record.begin(), spec_.binding_record.end(),
              rec.data.begin());
    h.extensions.push_back(std::move(rec));
  }
  LUKSFS_ASSIGN_OR_RETURN(std::vector<uint8_t> head, SerializeHeader(h));
  out.writes.push_back({0, std::move(head)});
  return out;
}

}  // namespace luksfs::fs::qcow2
