// LinearMap: the BlockMap of a raw (cryptsetup) LUKS image. The data
// segment is one contiguous run of ciphertext, so guest byte g lives at host
// byte layout.offset + g with IV sector layout.iv_tweak + g/512, and every
// call returns ONE kData extent. Nothing is ever allocated: PrepareWrite
// returns in-place extents (never fresh), CommitWrite does nothing, and
// Discard is kNotSupported (a raw image has no holes to punch).
//
// Units: bytes (see block_map.h); iv_sector in 512-byte units.
// Ownership: borrows `storage` (must outlive the map).
// Thread-safety: immutable after construction; every method may be called
// concurrently (Flush calls Storage::Flush, itself thread-safe).
// Errors: kInvalidArgument for PrepareWrite on a read-only map;
// kNotSupported for Discard; Storage errors from Flush.
#pragma once

#include "crypto/luks_header.h"
#include "fs/image/block_map.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

class LinearMap : public BlockMap {
 public:
  // REQUIRES: layout lies inside storage (ComputeDataLayout checked it),
  // layout.size is a multiple of layout.sector_size.
  LinearMap(Storage* storage, const crypto::DataLayout& layout, bool writable);

  uint64_t Size() const override { return layout_.size; }
  uint32_t unit_size() const override { return layout_.sector_size; }
  uint64_t granularity() const override { return layout_.sector_size; }

  Status Map(uint64_t offset, uint64_t length,
             std::vector<Extent>* out) override;
  Result<std::unique_ptr<WritePlan>> PrepareWrite(uint64_t offset,
                                                  uint64_t length) override;
  Status CommitWrite(std::unique_ptr<WritePlan> plan) override;
  Status Discard(uint64_t offset, uint64_t length) override;
  Status Flush() override;

 private:
  // The kData extent of [offset, offset + length) rounded out to units and
  // clipped to Size(); false if that is empty.
  bool ExtentFor(uint64_t offset, uint64_t length, Extent* e) const;

  Storage* const storage_;
  const crypto::DataLayout layout_;
  const bool writable_;
};

}  // namespace luksfs::fs
