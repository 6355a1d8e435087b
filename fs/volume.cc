#include "fs/volume.h"

#include "fs/scratch.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

namespace luksfs::fs {

namespace {

std::span<uint8_t> Scratch(size_t n) {
  return ThreadScratch(ScratchSlot::kVolume, n);
}

uint64_t End(const Extent& e) { return e.guest_offset + e.length; }

Status Gap(uint64_t at) {
  return Status::Internal("block map left guest byte " + std::to_string(at) +
                          " unmapped");
}

// SEEK_DATA/SEEK_HOLE look at the map this many bytes at a time, so a huge
// sparse view needs bounded memory (a multiple of every unit size).
constexpr uint64_t kSeekChunk = uint64_t{1} << 30;

}  // namespace

Volume::Volume(Storage* storage, std::unique_ptr<BlockMap> map,
               std::unique_ptr<crypto::CryptEngine> engine, bool read_only)
    : storage_(storage),
      map_(std::move(map)),
      engine_(std::move(engine)),
      size_(map_->Size()),
      ss_(map_->unit_size()),
      lock_bytes_(std::max<uint64_t>(ss_, map_->lock_granularity())),
      read_only_(read_only) {}

uint64_t Volume::LockFirst(uint64_t offset) const {
  return offset / lock_bytes_ * lock_bytes_ / ss_;
}

uint64_t Volume::LockLast(uint64_t end) const {
  const uint64_t up = (end + lock_bytes_ - 1) / lock_bytes_ * lock_bytes_;
  return (std::min(up, (size_ + ss_ - 1) / ss_ * ss_) + ss_ - 1) / ss_;
}

Status Volume::ReadData(uint64_t host, uint64_t iv, std::span<uint8_t> out) {
  // From the page cache straight into `out` when the storage has the bytes
  // mapped (one pass over them), else a copy into `out` decrypted in place.
  std::optional<Status> s = storage_->ReadInPlace(
      host, out.size(), ss_, [&](size_t at, std::span<const uint8_t> src) {
        return engine_->Decrypt(iv + at / 512, src, out.subspan(at, src.size()));
      });
  if (s.has_value()) return *s;
  LUKSFS_RETURN_IF_ERROR(storage_->ReadAt(host, out));
  return engine_->Decrypt(iv, out, out);
}

Status Volume::ReadRange(uint64_t base, std::span<uint8_t> out) {
  thread_local std::vector<Extent> extents;  // reused: no allocation per read
  extents.clear();
  LUKSFS_RETURN_IF_ERROR(map_->Map(base, out.size(), &extents));
  const uint64_t end = base + out.size();
  uint64_t pos = base;
  for (const Extent& e : extents) {
    if (pos == end) break;
    if (End(e) <= pos) continue;
    if (e.guest_offset > pos) return Gap(pos);
    const uint64_t hi = std::min(End(e), end);
    std::span<uint8_t> sub = out.subspan(pos - base, hi - pos);
    if (e.kind == Extent::Kind::kData) {
      const uint64_t delta = pos - e.guest_offset;
      LUKSFS_RETURN_IF_ERROR(
          ReadData(e.host_offset + delta, e.iv_sector + delta / 512, sub));
    } else {
      std::memset(sub.data(), 0, sub.size());  // a hole: never decrypted
    }
    pos = hi;
  }
  return pos == end ? Status() : Gap(pos);
}

Result<size_t> Volume::Read(uint64_t offset, std::span<uint8_t> dst) {
  // After DropKeys() the engine refuses to decrypt (kKeyRevoked), so no
  // plaintext is produced. Holes are never decrypted, so check here too:
  // a revoked view goes dark everywhere, not only where there is data.
  if (offset >= Size() || dst.empty()) return size_t{0};
  if (dropped_.load(std::memory_order_acquire)) {
    return Status::KeyRevoked("the volume key has been dropped");
  }
  const size_t len = std::min<uint64_t>(dst.size(), Size() - offset);
  const uint64_t first = offset / ss_;
  const uint64_t last = (offset + len + ss_ - 1) / ss_;  // exclusive
  const size_t span_bytes = (last - first) * ss_;
  // Shared with other reads, exclusive of writes to these units: a read
  // never decrypts a unit that a write has half-written.
  RangeLock::Guard guard = unit_lock_.LockShared(LockFirst(offset),
                                                 LockLast(offset + len));
  if (offset % ss_ == 0 && len % ss_ == 0) {
    LUKSFS_RETURN_IF_ERROR(ReadRange(offset, dst.first(len)));  // in place
    return len;
  }
  std::span<uint8_t> buf = Scratch(span_bytes);
  LUKSFS_RETURN_IF_ERROR(ReadRange(first * ss_, buf));
  std::memcpy(dst.data(), buf.data() + (offset - first * ss_), len);
  return len;
}

Status Volume::WriteExtent(const Extent& e, uint64_t offset,
                           std::span<const uint8_t> src,
                           std::span<uint8_t> consumable) {
  const uint64_t req_end = offset + src.size();
  if (e.fresh) {
    // New host space: no old ciphertext to keep, zeros around the data.
    std::span<uint8_t> buf = Scratch(e.length);
    const uint64_t lo = std::clamp(offset, e.guest_offset, End(e));
    const uint64_t hi = std::clamp(req_end, lo, End(e));
    std::memset(buf.data(), 0, lo - e.guest_offset);
    std::memcpy(buf.data() + (lo - e.guest_offset), src.data() + (lo - offset),
                hi - lo);
    std::memset(buf.data() + (hi - e.guest_offset), 0, End(e) - hi);
    LUKSFS_RETURN_IF_ERROR(engine_->Encrypt(e.iv_sector, buf, buf));
    return storage_->WriteAt(e.host_offset, buf);
  }
  // In place: the units of the request inside e, with read-modify-write of
  // a partial head and tail unit.
  const uint64_t lo = std::max(e.guest_offset, offset / ss_ * ss_);
  const uint64_t hi = std::min(End(e), (req_end + ss_ - 1) / ss_ * ss_);
  if (hi <= lo) return Status();
  const size_t n = hi - lo;
  const uint64_t host = e.host_offset + (lo - e.guest_offset);
  const uint64_t iv = e.iv_sector + (lo - e.guest_offset) / 512;
  const size_t head = offset > lo ? offset - lo : 0;      // bytes before data
  const size_t tail = hi > req_end ? hi - req_end : 0;    // bytes after data
  if (head == 0 && tail == 0 && !consumable.empty()) {
    // The caller's buffer is the scratch: one buffer in cache, not two.
    const std::span<uint8_t> own = consumable.subspan(lo - offset, n);
    LUKSFS_RETURN_IF_ERROR(engine_->Encrypt(iv, own, own));
    return storage_->WriteAt(host, own);
  }
  std::span<uint8_t> buf = Scratch(n);
  if (head != 0) {
    LUKSFS_RETURN_IF_ERROR(ReadData(host, iv, buf.first(ss_)));
  }
  if (tail != 0 && (head == 0 || n > ss_)) {
    LUKSFS_RETURN_IF_ERROR(
        ReadData(host + n - ss_, iv + (n - ss_) / 512, buf.last(ss_)));
  }
  const std::span<const uint8_t> data = src.subspan(lo + head - offset,
                                                    n - head - tail);
  if (head == 0 && tail == 0) {
    LUKSFS_RETURN_IF_ERROR(engine_->Encrypt(iv, data, buf));
  } else {
    std::memcpy(buf.data() + head, data.data(), data.size());
    LUKSFS_RETURN_IF_ERROR(engine_->Encrypt(iv, buf, buf));
  }
  return storage_->WriteAt(host, buf);
}

Result<size_t> Volume::Write(uint64_t offset, std::span<const uint8_t> src) {
  return WriteImpl(offset, src, {});
}

Result<size_t> Volume::WriteConsuming(uint64_t offset,
                                      std::span<uint8_t> src) {
  return WriteImpl(offset, src, src);
}

Result<size_t> Volume::WriteImpl(uint64_t offset, std::span<const uint8_t> src,
                                 std::span<uint8_t> consumable) {
  if (read_only_) return Status::InvalidArgument("the view is read-only");
  // After DropKeys() Encrypt fails before anything reaches storage; the
  // check here also keeps a revoked view from allocating.
  if (src.empty()) return size_t{0};
  if (dropped_.load(std::memory_order_acquire)) {
    return Status::KeyRevoked("the volume key has been dropped");
  }
  if (offset >= Size()) {
    return Status::ResourceExhausted("write at byte " + std::to_string(offset) +
                                     " is past the end of the view");
  }
  const size_t len = std::min<uint64_t>(src.size(), Size() - offset);
  const uint64_t first = offset / ss_;
  const uint64_t last = (offset + len + ss_ - 1) / ss_;  // exclusive

  // Every write holds its units exclusively: a read-modify-write must not
  // interleave with another write to the same unit, aligned or not, and no
  // read may see a unit half-written. The map serializes allocation of the
  // granules around them (BlockMap::PrepareWrite).
  RangeLock::Guard guard =
      unit_lock_.Lock(LockFirst(offset), LockLast(offset + len));
  LUKSFS_ASSIGN_OR_RETURN(std::unique_ptr<WritePlan> plan,
                          map_->PrepareWrite(offset, len));
  uint64_t covered = first * ss_;
  for (const Extent& e : plan->extents) {
    if (e.kind != Extent::Kind::kData || e.guest_offset > covered) {
      return Gap(covered);
    }
    covered = std::max(covered, End(e));
    LUKSFS_RETURN_IF_ERROR(WriteExtent(
        e, offset, src.first(len),
        consumable.empty() ? consumable : consumable.first(len)));
  }
  if (covered < last * ss_) return Gap(covered);
  LUKSFS_RETURN_IF_ERROR(map_->CommitWrite(std::move(plan)));
  return len;
}

Status Volume::Discard(uint64_t offset, uint64_t length) {
  if (read_only_) return Status::InvalidArgument("the view is read-only");
  if (dropped_.load(std::memory_order_acquire)) {
    return Status::KeyRevoked("the volume key has been dropped");
  }
  if (offset >= Size()) offset = Size();
  const uint64_t end = offset + std::min(length, Size() - offset);
  const uint64_t g = map_->granularity();
  const uint64_t gs = (offset + g - 1) / g * g;
  const uint64_t ge = end / g * g;
  if (gs < ge) {
    RangeLock::Guard guard = unit_lock_.Lock(gs / ss_, ge / ss_);
    LUKSFS_RETURN_IF_ERROR(map_->Discard(gs, ge - gs));
  } else {
    LUKSFS_RETURN_IF_ERROR(map_->Discard(gs, 0));  // may it discard at all?
  }
  // Partial granules: write zeros where there is data.
  static const uint8_t kZeros[65536] = {};
  const uint64_t edges[2][2] = {{offset, gs < ge ? gs : end},
                                {gs < ge ? ge : end, end}};
  for (const auto& edge : edges) {
    if (edge[0] >= edge[1]) continue;
    std::vector<Extent> extents;
    LUKSFS_RETURN_IF_ERROR(map_->Map(edge[0], edge[1] - edge[0], &extents));
    if (std::none_of(extents.begin(), extents.end(), [](const Extent& e) {
          return e.kind == Extent::Kind::kData;
        })) {
      continue;  // already reads as zeros
    }
    for (uint64_t pos = edge[0]; pos < edge[1];) {
      const size_t n = std::min<uint64_t>(edge[1] - pos, sizeof(kZeros));
      LUKSFS_ASSIGN_OR_RETURN(size_t done,
                              Write(pos, std::span<const uint8_t>(kZeros, n)));
      pos += done;
    }
  }
  return Status();
}

Status Volume::ZeroRange(uint64_t offset, uint64_t length) {
  if (read_only_) return Status::InvalidArgument("the view is read-only");
  if (dropped_.load(std::memory_order_acquire)) {
    return Status::KeyRevoked("the volume key has been dropped");
  }
  if (map_->zero_by_discard()) return Discard(offset, length);
  static const std::vector<uint8_t> kZeros(kZeroChunk, 0);
  if (offset >= Size()) return Status();
  const uint64_t end = offset + std::min(length, Size() - offset);
  for (uint64_t pos = offset; pos < end;) {
    // Chunks end on chunk boundaries, so the middle ones are whole units.
    const uint64_t n = std::min(end, (pos / kZeroChunk + 1) * kZeroChunk) - pos;
    LUKSFS_ASSIGN_OR_RETURN(
        size_t done, Write(pos, std::span<const uint8_t>(kZeros.data(), n)));
    if (done == 0) break;
    pos += done;
  }
  return Status();
}

Result<uint64_t> Volume::Seek(uint64_t offset, bool want_data) {
  if (offset >= Size()) {
    return Status::NotFound("offset " + std::to_string(offset) +
                            " is at or past the end of the view");
  }
  std::vector<Extent> extents;
  for (uint64_t pos = offset / ss_ * ss_; pos < Size();) {
    const uint64_t n = std::min(kSeekChunk, Size() - pos);
    extents.clear();
    LUKSFS_RETURN_IF_ERROR(map_->Map(pos, n, &extents));
    for (const Extent& e : extents) {
      if (End(e) <= offset) continue;
      if ((e.kind == Extent::Kind::kData) == want_data) {
        return std::max(e.guest_offset, offset);
      }
    }
    pos += n;
  }
  if (want_data) return Status::NotFound("no data after the offset");
  return Size();
}

Result<uint64_t> Volume::NextData(uint64_t offset) { return Seek(offset, true); }
Result<uint64_t> Volume::NextHole(uint64_t offset) { return Seek(offset, false); }

Status Volume::Flush() { return map_->Flush(); }

void Volume::DropKeys() {
  dropped_.store(true, std::memory_order_release);
  engine_->DropKeys();
  WipeAllScratch();  // no plaintext outlives the key in our buffers either
}

}  // namespace luksfs::fs
