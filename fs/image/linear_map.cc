#include "fs/image/linear_map.h"

#include <algorithm>
#include <string>

namespace luksfs::fs {

namespace {

// The hole block of the storage as seen by the map, or 0 when holes cannot
// be used (no holes, or a data segment not aligned to the blocks).
uint64_t HoleBlock(const Storage& storage, const crypto::DataLayout& layout,
                   bool discards) {
  if (!discards || !storage.SupportsHoles()) return 0;
  const uint64_t g = std::max<uint64_t>(layout.sector_size, storage.hole_block());
  return layout.offset % g == 0 ? g : 0;
}

}  // namespace

LinearMap::LinearMap(Storage* storage, const crypto::DataLayout& layout,
                     bool writable, bool discards)
    : storage_(storage),
      layout_(layout),
      writable_(writable),
      discards_(discards),
      holes_(HoleBlock(*storage, layout, discards) != 0),
      granularity_(holes_ ? HoleBlock(*storage, layout, discards)
                          : layout.sector_size) {}

bool LinearMap::ExtentFor(uint64_t offset, uint64_t length, Extent* e) const {
  if (length == 0 || offset >= layout_.size) return false;
  const uint64_t ss = layout_.sector_size;
  const uint64_t end = offset + std::min(length, layout_.size - offset);
  const uint64_t begin = offset / ss * ss;
  const uint64_t stop = std::min(layout_.size, (end + ss - 1) / ss * ss);
  e->kind = Extent::Kind::kData;
  e->guest_offset = begin;
  e->length = stop - begin;
  e->host_offset = layout_.offset + begin;
  e->iv_sector = layout_.iv_tweak + begin / 512;
  e->fresh = false;
  return true;
}

Status LinearMap::MapHoles(uint64_t begin, uint64_t stop,
                           std::vector<Extent>* out) const {
  const uint64_t ss = layout_.sector_size;
  const uint64_t base = layout_.offset;
  const size_t first = out->size();
  // Appends [lo, hi) of `kind`, merged with the previous extent of this call.
  auto add = [&](Extent::Kind kind, uint64_t lo, uint64_t hi) {
    if (hi <= lo) return;
    if (out->size() > first) {
      Extent& prev = out->back();
      if (prev.kind == kind && prev.guest_offset + prev.length == lo) {
        prev.length = hi - prev.guest_offset;
        return;
      }
    }
    Extent e;
    e.kind = kind;
    e.guest_offset = lo;
    e.length = hi - lo;
    if (kind == Extent::Kind::kData) {
      e.host_offset = base + lo;
      e.iv_sector = layout_.iv_tweak + lo / 512;
    }
    out->push_back(e);
  };
  uint64_t done = begin;  // guest bytes classified so far (unit-aligned)
  while (done < stop) {
    // The next run of data of the file, from `done`.
    LUKSFS_ASSIGN_OR_RETURN(uint64_t d, storage_->NextData(base + done));
    const uint64_t data_at = std::min(stop, d - base) / ss * ss;  // round in
    add(Extent::Kind::kUnallocated, done, std::max(done, data_at));
    done = std::max(done, data_at);
    if (done >= stop) break;
    // A unit with any data byte is data: round the data run out.
    const uint64_t from = std::max(d, base + done);
    LUKSFS_ASSIGN_OR_RETURN(uint64_t h, storage_->NextHole(from));
    const uint64_t hole_at =
        std::min(stop, (std::max(h, from + 1) - base + ss - 1) / ss * ss);
    add(Extent::Kind::kData, done, hole_at);
    done = hole_at;
  }
  return Status();
}

Status LinearMap::Map(uint64_t offset, uint64_t length,
                      std::vector<Extent>* out) {
  Extent e;
  if (!ExtentFor(offset, length, &e)) return Status();
  if (!holes_) {
    out->push_back(e);
    return Status();
  }
  return MapHoles(e.guest_offset, e.guest_offset + e.length, out);
}

namespace {
// The calling thread's last committed plan, reused by its next write so
// that a write allocates nothing once warm (plans hold offsets only).
thread_local std::unique_ptr<WritePlan> t_spare_plan;
}  // namespace

Result<std::unique_ptr<WritePlan>> LinearMap::PrepareWrite(uint64_t offset,
                                                           uint64_t length) {
  if (!writable_) return Status::InvalidArgument("the image is read-only");
  std::unique_ptr<WritePlan> plan = std::move(t_spare_plan);
  if (plan == nullptr) {
    plan = std::make_unique<WritePlan>();
  } else {
    plan->extents.clear();  // keeps its capacity
  }
  Extent e;
  if (!ExtentFor(offset, length, &e)) return plan;
  if (!holes_) {
    plan->extents.push_back(e);
    return plan;
  }
  // Whole hole blocks around the request: a hole extent becomes a fresh
  // extent of whole blocks (data extents stay in place; Volume writes only
  // the request's units of those).
  const uint64_t g = granularity_;
  const uint64_t lo = e.guest_offset / g * g;
  const uint64_t hi =
      std::min(layout_.size, (e.guest_offset + e.length + g - 1) / g * g);
  LUKSFS_RETURN_IF_ERROR(MapHoles(lo, hi, &plan->extents));
  for (Extent& x : plan->extents) {
    if (x.kind == Extent::Kind::kData) continue;
    // A hole reads as zeros: write all of it, zeros around the data.
    x.kind = Extent::Kind::kData;
    x.host_offset = layout_.offset + x.guest_offset;
    x.iv_sector = layout_.iv_tweak + x.guest_offset / 512;
    x.fresh = true;
  }
  return plan;
}

Status LinearMap::CommitWrite(std::unique_ptr<WritePlan> plan) {
  t_spare_plan = std::move(plan);  // nothing to link: keep it for reuse
  return Status();
}

Status LinearMap::Discard(uint64_t offset, uint64_t length) {
  if (!discards_) {
    return Status::NotSupported(
        "a raw LUKS image discards only when mounted with allow_discards");
  }
  if (!holes_) {
    return Status::NotSupported(
        storage_->SupportsHoles()
            ? "the data segment at byte " + std::to_string(layout_.offset) +
                  " is not aligned to the image file's " +
                  std::to_string(storage_->hole_block()) + "-byte blocks"
            : storage_->name() + " cannot hold holes");
  }
  if (!writable_) return Status::InvalidArgument("the image is read-only");
  if (length == 0 || offset >= layout_.size) return Status();
  length = std::min(length, layout_.size - offset);
  return storage_->PunchHole(layout_.offset + offset, length);
}

uint64_t LinearMap::AllocatedBytes() const {
  if (!holes_) return Size();
  constexpr uint64_t kChunk = uint64_t{1} << 30;  // bounded extent lists
  std::vector<Extent> ext;
  uint64_t total = 0;
  for (uint64_t pos = 0; pos < layout_.size; pos += kChunk) {
    ext.clear();
    if (!MapHoles(pos, std::min(layout_.size, pos + kChunk), &ext).ok()) {
      return Size();
    }
    for (const Extent& e : ext) {
      if (e.kind == Extent::Kind::kData) total += e.length;
    }
  }
  return total;
}

Status LinearMap::Flush() { return storage_->Flush(); }

}  // namespace luksfs::fs
