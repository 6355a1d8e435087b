#include "fs/storage/window_storage.h"

#include "fs/partition_table.h"

namespace luksfs::fs {

WindowStorage::WindowStorage(std::unique_ptr<Storage> base, uint64_t offset,
                             uint64_t size)
    : base_(std::move(base)), offset_(offset), size_(size) {}

Status WindowStorage::ReadAt(uint64_t offset, std::span<uint8_t> dst) const {
  if (!Inside(offset, dst.size())) {
    return Status::Corruption("read past the end of the partition (truncated)");
  }
  return base_->ReadAt(offset_ + offset, dst);
}

Status WindowStorage::WriteAt(uint64_t offset, std::span<const uint8_t> src) {
  if (!Inside(offset, src.size())) {
    return Status::InvalidArgument("write past the end of the partition");
  }
  return base_->WriteAt(offset_ + offset, src);
}

Result<std::unique_ptr<Storage>> ApplyWindow(std::unique_ptr<Storage> base,
                                             uint64_t offset, int partition) {
  if (offset == 0 && partition == 0) return base;
  uint64_t start = 0, size = base->Size();
  if (partition != 0) {
    Storage* b = base.get();
    auto table = ReadPartitionTable(
        [b](uint64_t off, std::span<uint8_t> dst) { return b->ReadAt(off, dst); },
        b->Size());
    if (!table.ok()) return table.status();
    auto p = FindPartition(*table, partition);
    if (!p.ok()) return p.status();
    start = p->offset;
    size = p->size;
  }
  if (offset % 512 != 0) {
    return Status::InvalidArgument("--offset must be a multiple of 512 bytes");
  }
  if (offset >= size) {
    return Status::InvalidArgument("--offset " + std::to_string(offset) +
                                   " is beyond the end (" + std::to_string(size) +
                                   " bytes)");
  }
  start += offset;
  size -= offset;
  return std::unique_ptr<Storage>(new WindowStorage(std::move(base), start, size));
}

}  // namespace luksfs::fs
