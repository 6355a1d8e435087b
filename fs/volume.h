// Volume: the plaintext view of an image, for any offset and length. It
// asks its BlockMap (fs/image/block_map.h) where each unit lives, aligns
// requests to encryption units, decrypts and encrypts, and does the
// read-modify-write of partial units. A reader/writer range lock over units
// makes every unit atomic, as a disk's sectors are.
//
// Storage calls: ONE ReadAt/WriteAt per contiguous kData extent of a
// request (plus one read per partial head/tail unit of an in-place write).
// kZero and kUnallocated extents read as zeros and are never decrypted.
// Writes into `fresh` extents (just allocated by the map) write the whole
// extent: the request's bytes and encrypted zeros around them, with no read.
//
// Units: plaintext byte offsets from 0 to Size(). IVs come from the map's
// extents (raw LUKS: iv_tweak + guest/512; qcow2+LUKS: host/512).
// Ownership: borrows `storage` (must outlive the Volume); owns the map and
// the engine.
// Thread-safety: Read/Write/Discard/NextData/NextHole/Flush/DropKeys may be
// called concurrently.
// Errors: kKeyRevoked after DropKeys(); kInvalidArgument for writes to a
// read-only volume; kResourceExhausted ("no space") for a non-empty write
// starting at or past the end (an empty write returns 0); kNotSupported for
// Discard on a map that cannot discard (raw LUKS without allow_discards,
// or a storage without holes); kNotFound from
// NextData/NextHole at or past the end (ENXIO for lseek); storage, map and
// crypto errors as they come.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/result.h"
#include "crypto/crypt_engine.h"
#include "fs/image/block_map.h"
#include "fs/range_lock.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

class Volume {
 public:
  // REQUIRES: map->unit_size() == engine->sector_size(); the map's extents
  // lie inside storage.
  Volume(Storage* storage, std::unique_ptr<BlockMap> map,
         std::unique_ptr<crypto::CryptEngine> engine, bool read_only);

  uint64_t Size() const { return size_; }
  // Bytes backed by host data (BlockMap::AllocatedBytes), for st_blocks.
  uint64_t AllocatedBytes() const { return map_->AllocatedBytes(); }
  bool read_only() const { return read_only_; }
  const Storage& storage() const { return *storage_; }

  // Reads up to dst.size() bytes at `offset`; returns the count, short only
  // at the end (0 at or past it).
  Result<size_t> Read(uint64_t offset, std::span<uint8_t> dst);

  // Writes src at `offset`; returns the count, short only at the end.
  Result<size_t> Write(uint64_t offset, std::span<const uint8_t> src);

  // As Write(), but whole units of src are encrypted where they lie and
  // written from there, with no copy into a scratch buffer. Afterwards
  // src's bytes are unspecified (plaintext, ciphertext or a mix), on
  // success and on error; the caller must not read them again.
  Result<size_t> WriteConsuming(uint64_t offset, std::span<uint8_t> src);

  // Makes [offset, offset + length) (clipped to Size()) read as zeros:
  // whole granules through BlockMap::Discard, partial ones as written
  // zeros. The map is asked first, so a map that cannot discard refuses
  // (kNotSupported) before anything is written.
  Status Discard(uint64_t offset, uint64_t length);

  // Makes [offset, offset + length) (clipped to Size()) read as zeros and
  // stay allocated (FALLOC_FL_ZERO_RANGE): maps with zero_by_discard()
  // (qcow2) Discard; others (raw LUKS) get encrypted zeros written through
  // Write(), in chunks of kZeroChunk bytes (the engine spreads each chunk
  // over its threads). Not atomic as a whole: each unit is.
  Status ZeroRange(uint64_t offset, uint64_t length);
  static constexpr size_t kZeroChunk = size_t{1} << 20;  // bytes

  // SEEK_DATA / SEEK_HOLE: the first byte at or after `offset` that is
  // data (a kData extent) / a hole (kZero or kUnallocated; Size() counts as
  // the hole at the end). Unit-granular: a unit is data if any of it is.
  // Errors: kNotFound at or past Size(), or (NextData) no data after.
  Result<uint64_t> NextData(uint64_t offset);
  Result<uint64_t> NextHole(uint64_t offset);

  // Makes completed writes durable in storage (BlockMap::Flush).
  Status Flush();

  // Frees every cipher context and wipes the key. Irreversible.
  void DropKeys();

 private:
  // Reads and decrypts one contiguous kData run (whole units) into out.
  Status ReadData(uint64_t host, uint64_t iv, std::span<uint8_t> out);
  // Fills `out` (guest bytes [base, base + out.size()), whole units).
  Status ReadRange(uint64_t base, std::span<uint8_t> out);
  // Write() and WriteConsuming(): `consumable` is src itself when the
  // caller gave it up, empty otherwise.
  Result<size_t> WriteImpl(uint64_t offset, std::span<const uint8_t> src,
                           std::span<uint8_t> consumable);
  // Writes the part of src (guest [offset, offset + src.size())) that falls
  // in extent e, plus zeros (fresh) or the old bytes (in place) around it.
  // A non-empty `consumable` is src, free to be encrypted in place.
  Status WriteExtent(const Extent& e, uint64_t offset,
                     std::span<const uint8_t> src,
                     std::span<uint8_t> consumable);
  Result<uint64_t> Seek(uint64_t offset, bool want_data);
  // The unit range the lock covers for guest bytes [offset, end): units,
  // rounded out to BlockMap::lock_granularity().
  uint64_t LockFirst(uint64_t offset) const;
  uint64_t LockLast(uint64_t end) const;  // exclusive

  Storage* const storage_;
  const std::unique_ptr<BlockMap> map_;
  std::unique_ptr<crypto::CryptEngine> engine_;
  const uint64_t size_;
  const uint64_t ss_;  // unit size in bytes
  const uint64_t lock_bytes_;  // BlockMap::lock_granularity(), >= ss_
  const bool read_only_;
  std::atomic<bool> dropped_{false};  // set by DropKeys(): holes go dark too
  RangeLock unit_lock_;  // units under a read (shared) or write (exclusive)
};

}  // namespace luksfs::fs
