#include "fs/volume.h"

#include "fs/scratch.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace luksfs::fs {

namespace {

std::span<uint8_t> Scratch(size_t n) {
  return ThreadScratch(ScratchSlot::kVolume, n);
}

}  // namespace

Volume::Volume(std::unique_ptr<Storage> storage,
               const crypto::DataLayout& layout,
               std::unique_ptr<crypto::CryptEngine> engine, bool read_only)
    : storage_(std::move(storage)),
      layout_(layout),
      engine_(std::move(engine)),
      read_only_(read_only) {}

Status Volume::ReadUnits(uint64_t first, std::span<uint8_t> out) {
  LUKSFS_RETURN_IF_ERROR(storage_->ReadAt(UnitOffset(first), out));
  return engine_->Decrypt(UnitIv(first), out, out);
}

Result<size_t> Volume::Read(uint64_t offset, std::span<uint8_t> dst) {
  // After DropKeys() the engine refuses to decrypt (kKeyRevoked), so no
  // plaintext is produced; no separate check (and lock) is needed here.
  if (offset >= Size() || dst.empty()) return size_t{0};
  const size_t len = std::min<uint64_t>(dst.size(), Size() - offset);
  const uint64_t ss = layout_.sector_size;
  const uint64_t first = offset / ss;
  const uint64_t last = (offset + len + ss - 1) / ss;  // exclusive
  const size_t span_bytes = (last - first) * ss;
  // Shared with other reads, exclusive of writes to these units: a read
  // never decrypts a unit that a write has half-written.
  RangeLock::Guard guard = unit_lock_.LockShared(first, last);
  if (offset % ss == 0 && len % ss == 0) {
    LUKSFS_RETURN_IF_ERROR(ReadUnits(first, dst.first(len)));  // in place
    return len;
  }
  std::span<uint8_t> buf = Scratch(span_bytes);
  LUKSFS_RETURN_IF_ERROR(ReadUnits(first, buf));
  std::memcpy(dst.data(), buf.data() + (offset - first * ss), len);
  return len;
}

Result<size_t> Volume::Write(uint64_t offset, std::span<const uint8_t> src) {
  if (read_only_) return Status::InvalidArgument("the view is read-only");
  // After DropKeys() Encrypt fails before anything reaches storage.
  if (src.empty()) return size_t{0};
  if (offset >= Size()) {
    return Status::ResourceExhausted("write at byte " + std::to_string(offset) +
                                     " is past the end of the view");
  }
  const size_t len = std::min<uint64_t>(src.size(), Size() - offset);
  const uint64_t ss = layout_.sector_size;
  const uint64_t first = offset / ss;
  const uint64_t last = (offset + len + ss - 1) / ss;  // exclusive
  const size_t span_bytes = (last - first) * ss;
  const size_t head = offset - first * ss;              // bytes before data
  const size_t tail = span_bytes - head - len;          // bytes after data

  // Every write holds its units exclusively: a read-modify-write must not
  // interleave with another write to the same unit, aligned or not, and no
  // read may see a unit half-written.
  RangeLock::Guard guard = unit_lock_.Lock(first, last);
  std::span<uint8_t> buf = Scratch(span_bytes);
  if (head != 0) {
    LUKSFS_RETURN_IF_ERROR(ReadUnits(first, buf.first(ss)));
  }
  if (tail != 0 && (head == 0 || last - first > 1)) {
    LUKSFS_RETURN_IF_ERROR(ReadUnits(last - 1, buf.last(ss)));
  }
  if (head == 0 && tail == 0) {
    LUKSFS_RETURN_IF_ERROR(engine_->Encrypt(UnitIv(first), src.first(len), buf));
  } else {
    std::memcpy(buf.data() + head, src.data(), len);
    LUKSFS_RETURN_IF_ERROR(engine_->Encrypt(UnitIv(first), buf, buf));
  }
  LUKSFS_RETURN_IF_ERROR(storage_->WriteAt(UnitOffset(first), buf));
  return len;
}

Status Volume::Flush() { return storage_->Flush(); }

void Volume::DropKeys() {
  engine_->DropKeys();
  WipeAllScratch();  // no plaintext outlives the key in our buffers either
}

}  // namespace luksfs::fs
