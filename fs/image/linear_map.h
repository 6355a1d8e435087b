// LinearMap: the BlockMap of a raw (cryptsetup) LUKS image. The data
// segment is one contiguous run of ciphertext, so guest byte g lives at host
// byte layout.offset + g with IV sector layout.iv_tweak + g/512. Nothing is
// ever allocated: CommitWrite links nothing (it keeps the plan for the
// thread's next PrepareWrite, so a warm write allocates no memory either).
//
// Two modes:
//  - default: every unit is data. Map returns ONE kData extent, PrepareWrite
//    in-place extents (never fresh), Discard is kNotSupported. This is what
//    cryptsetup and qemu see: a hole of a sparse image file decrypts to
//    noise, and luksfs shows the same noise.
//  - discards (mount option allow_discards, and the storage SupportsHoles):
//    a unit that lies wholly in a hole of the backing file (SEEK_HOLE, never
//    judged by content: ciphertext that happens to be zero bytes is data)
//    is kUnallocated, reads as plaintext zeros and is not decrypted; a unit
//    with any data byte is kData. PrepareWrite marks hole units fresh, so a
//    partial write fills the rest of the unit with encrypted zeros (never a
//    decrypted zero block). Holes come in blocks of the file system
//    (granularity(): the larger of the unit and the file's hole block), so
//    a write that touches a hole block writes ALL of it (encrypted zeros
//    around the data: the file system would otherwise fill the rest of the
//    block with zero bytes, which decrypt to noise), under a unit lock
//    that covers the block (lock_granularity()). Discard punches whole
//    granules out of the file. Needs layout.offset to be a multiple of the
//    hole block; otherwise the mode is off (holes decrypt, Discard is
//    kNotSupported).
//
// Units: bytes (see block_map.h); iv_sector in 512-byte units.
// Ownership: borrows `storage` (must outlive the map).
// Thread-safety: immutable after construction; every method may be called
// concurrently (Storage is thread-safe). Volume's unit lock keeps a write
// to a hole and a Discard of it apart.
// Errors: kInvalidArgument for PrepareWrite/Discard on a read-only map;
// kNotSupported for Discard without discards; Storage errors (lseek,
// fallocate, Flush).
#pragma once

#include "crypto/luks_header.h"
#include "fs/image/block_map.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

class LinearMap : public BlockMap {
 public:
  // REQUIRES: layout lies inside storage (ComputeDataLayout checked it),
  // layout.size is a multiple of layout.sector_size.
  LinearMap(Storage* storage, const crypto::DataLayout& layout, bool writable,
            bool discards = false);

  uint64_t Size() const override { return layout_.size; }
  uint32_t unit_size() const override { return layout_.sector_size; }
  uint64_t granularity() const override { return granularity_; }
  uint64_t lock_granularity() const override { return granularity_; }
  // Whether holes of the storage read as zeros (the discards mode).
  bool holes() const { return holes_; }

  Status Map(uint64_t offset, uint64_t length,
             std::vector<Extent>* out) override;
  Result<std::unique_ptr<WritePlan>> PrepareWrite(uint64_t offset,
                                                  uint64_t length) override;
  Status CommitWrite(std::unique_ptr<WritePlan> plan) override;
  Status Discard(uint64_t offset, uint64_t length) override;
  // Size(), or in the discards mode the bytes of units that are data (not
  // a counter there: one lseek pair per data run of the file; Size() if
  // the storage fails to answer).
  uint64_t AllocatedBytes() const override;
  Status Flush() override;

 private:
  // The kData extent of [offset, offset + length) rounded out to units and
  // clipped to Size(); false if that is empty.
  bool ExtentFor(uint64_t offset, uint64_t length, Extent* e) const;
  // Appends the extents of [begin, stop) (unit-aligned) following the
  // storage's holes: kData and kUnallocated, merged.
  Status MapHoles(uint64_t begin, uint64_t stop, std::vector<Extent>* out) const;

  Storage* const storage_;
  const crypto::DataLayout layout_;
  const bool writable_;
  const bool discards_;  // asked for (allow_discards)
  // discards_, the storage has holes, and layout.offset is block-aligned.
  const bool holes_;
  const uint64_t granularity_;  // bytes: holes_ ? max(unit, block) : unit
};

}  // namespace luksfs::fs
