// WindowStorage: a byte range [offset, offset + size) of another Storage,
// seen as a whole image (a LUKS header inside a partition of a disk image:
// --offset, --partition).
//
// Ownership: owns the base Storage. Thread-safety: as the base.
// Errors: those of the base; a read or write past the window's end is
// refused as the base refuses one past its end.
#pragma once

#include <memory>
#include <string>

#include "fs/storage/storage.h"

namespace luksfs::fs {

class WindowStorage : public Storage {
 public:
  // REQUIRES: offset + size <= base->Size().
  WindowStorage(std::unique_ptr<Storage> base, uint64_t offset, uint64_t size);

  uint64_t Size() const override { return size_; }
  Status ReadAt(uint64_t offset, std::span<uint8_t> dst) const override;
  Status WriteAt(uint64_t offset, std::span<const uint8_t> src) override;
  std::optional<Status> ReadInPlace(uint64_t offset, size_t len, size_t unit,
                                    InPlaceFn fn) const override {
    if (!Inside(offset, len)) return std::nullopt;
    return base_->ReadInPlace(offset_ + offset, len, unit, fn);
  }
  Status Flush() override { return base_->Flush(); }
  const std::string& name() const override { return base_->name(); }

 private:
  bool Inside(uint64_t offset, size_t n) const {
    return offset <= size_ && n <= size_ - offset;
  }
  std::unique_ptr<Storage> base_;
  const uint64_t offset_;
  const uint64_t size_;
};

// Wraps `base` for --offset BYTES (0: none) and --partition N (0: none;
// the partition table is read from base). Errors: kInvalidArgument for an
// offset beyond the image or one not a multiple of 512; those of
// ReadPartitionTable / FindPartition.
Result<std::unique_ptr<Storage>> ApplyWindow(std::unique_ptr<Storage> base,
                                             uint64_t offset, int partition);

}  // namespace luksfs::fs
