// Volume: the plaintext view of a LUKS data segment, for any offset and
// length. Aligns requests to encryption units, issues ONE storage call per
// request (plus one per partial head/tail unit on writes), and does
// read-modify-write of partial units. A reader/writer range lock over units
// makes every unit atomic, as a disk's sectors are.
//
// Units: plaintext byte offsets from 0 to Size(). Internally unit n lives at
// ciphertext byte layout.offset + n*sector_size with IV sector
// layout.iv_tweak + n*(sector_size/512).
// Thread-safety: Read/Write/Flush/DropKeys may be called concurrently.
// Errors: kKeyRevoked after DropKeys(); kInvalidArgument for writes to a
// read-only volume; kResourceExhausted ("no space") for a non-empty write
// starting at or past the end (an empty write returns 0); storage and crypto errors as they come.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "common/result.h"
#include "crypto/crypt_engine.h"
#include "crypto/luks_header.h"
#include "fs/range_lock.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

class Volume {
 public:
  // REQUIRES: layout lies inside storage (ComputeDataLayout checked it).
  Volume(std::unique_ptr<Storage> storage, const crypto::DataLayout& layout,
         std::unique_ptr<crypto::CryptEngine> engine, bool read_only);

  uint64_t Size() const { return layout_.size; }
  bool read_only() const { return read_only_; }
  const Storage& storage() const { return *storage_; }

  // Reads up to dst.size() bytes at `offset`; returns the count, short only
  // at the end (0 at or past it).
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> dst);

  // Writes src at `offset`; returns the count, short only at the end.
  Result<size_t> Write(uint64_t offset, std::span<const uint8_t> src);

  // Makes completed writes durable in storage.
  Status Flush();

  // Frees every cipher context and wipes the key. Irreversible.
  void DropKeys();

 private:
  uint64_t UnitOffset(uint64_t unit) const {
    return layout_.offset + unit * layout_.sector_size;
  }
  uint64_t UnitIv(uint64_t unit) const {
    return layout_.iv_tweak + unit * (layout_.sector_size / 512);
  }
  // Reads and decrypts whole units [first, first + n) into out.
  Status ReadUnits(uint64_t first, std::span<uint8_t> out);

  std::unique_ptr<Storage> storage_;
  const crypto::DataLayout layout_;
  std::unique_ptr<crypto::CryptEngine> engine_;
  const bool read_only_;
  RangeLock unit_lock_;  // units under a read (shared) or write (exclusive)
};

}  // namespace luksfs::fs
