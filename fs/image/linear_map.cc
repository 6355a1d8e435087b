#include "fs/image/linear_map.h"

#include <algorithm>

namespace luksfs::fs {

LinearMap::LinearMap(Storage* storage, const crypto::DataLayout& layout,
                     bool writable)
    : storage_(storage), layout_(layout), writable_(writable) {}

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

Status LinearMap::Map(uint64_t offset, uint64_t length,
                      std::vector<Extent>* out) {
  Extent e;
  if (ExtentFor(offset, length, &e)) out->push_back(e);
  return Status();
}

Result<std::unique_ptr<WritePlan>> LinearMap::PrepareWrite(uint64_t offset,
                                                           uint64_t length) {
  if (!writable_) return Status::InvalidArgument("the image is read-only");
  auto plan = std::make_unique<WritePlan>();
  Extent e;
  if (ExtentFor(offset, length, &e)) plan->extents.push_back(e);
  return plan;
}

Status LinearMap::CommitWrite(std::unique_ptr<WritePlan>) { return Status(); }

Status LinearMap::Discard(uint64_t, uint64_t) {
  return Status::NotSupported("a raw LUKS image cannot discard");
}

Status LinearMap::Flush() { return storage_->Flush(); }

}  // namespace luksfs::fs
