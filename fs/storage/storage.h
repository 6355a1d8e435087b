// Storage: where the ciphertext bytes of an image live (a local file now;
// an S3 object later). Knows nothing about LUKS.
//
// Units: byte offsets and sizes from the start of the image.
// Thread-safety: every method may be called concurrently from any thread.
// Errors: kIOError carries the OS errno; kNotFound for a missing image;
// kPermissionDenied is never used here (access problems are kIOError with
// EACCES so the caller can say "storage error").
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "common/function_ref.h"
#include "common/result.h"

namespace luksfs::fs {

class Storage {
 public:
  virtual ~Storage() = default;

  // Image size in bytes. Fixed for the life of the mount unless the storage
  // grows (see WriteAt); then it is the highest end of any completed write.
  virtual uint64_t Size() const = 0;

  // Reads exactly dst.size() bytes at `offset`. A read past the end is
  // kCorruption ("truncated"); an OS failure is kIOError.
  virtual Status ReadAt(uint64_t offset, std::span<uint8_t> dst) const = 0;

  // Writes all of src at `offset`. A write that ends past Size() GROWS the
  // storage (a container that allocates, such as qcow2, appends clusters):
  // Size() then reports the new end; a gap between the old end and `offset`
  // reads as zeros. Storages that cannot grow refuse such a write with
  // kNotSupported or kIOError (a block device: ENOSPC).
  // Errors: kIOError; kInvalidArgument if read-only.
  virtual Status WriteAt(uint64_t offset, std::span<const uint8_t> src) = 0;

  // Reads without a copy: calls fn(at, bytes) on the bytes [offset + at,
  // offset + at + bytes.size()) where the storage already holds them in
  // memory (a file's mapping of the page cache, an S3 block in the cache),
  // once or more, in order, the pieces covering [offset, offset + len)
  // with sizes that are multiples of `unit` (len is one); stops at fn's
  // first error and returns it. fn must not keep the span. nullopt (fn not
  // called) when there is no such view of the range: the caller uses
  // ReadAt, which also reports ranges past the end. If the bytes vanish
  // while fn reads them (the file was truncated), the status is kIOError.
  using InPlaceFn = FunctionRef<Status(size_t at, std::span<const uint8_t> bytes)>;
  virtual std::optional<Status> ReadInPlace(uint64_t offset, size_t len,
                                            size_t unit, InPlaceFn fn) const {
    (void)offset;
    (void)len;
    (void)unit;
    (void)fn;
    return std::nullopt;
  }

  // Makes every completed WriteAt durable (fsync/fdatasync, or a commit).
  virtual Status Flush() = 0;

  // A short name for messages ("disk.luks", "s3://b/k").
  virtual const std::string& name() const = 0;

  // --- holes (sparse files; used by raw LUKS with allow_discards) ---
  // The defaults describe a storage without holes: every byte is data and
  // PunchHole is kNotSupported (S3 objects, block devices).

  // Whether holes are real: PunchHole deallocates and NextData/NextHole
  // report the holes of the backing file (lseek SEEK_DATA/SEEK_HOLE).
  virtual bool SupportsHoles() const { return false; }
  // Bytes: holes form only in whole, aligned blocks of this size (the
  // file system's st_blksize). 0 when SupportsHoles() is false.
  virtual uint64_t hole_block() const { return 0; }
  // Deallocates [offset, offset + length) (fallocate PUNCH_HOLE|KEEP_SIZE):
  // it then reads as zero bytes and NextHole reports it. REQUIRES: offset
  // and length multiples of hole_block(), the range inside Size().
  // Errors: kNotSupported (no holes here, or the file system refuses),
  // kInvalidArgument (read-only or misaligned), kIOError.
  virtual Status PunchHole(uint64_t offset, uint64_t length) {
    (void)offset;
    (void)length;
    return Status::NotSupported(name() + " cannot punch holes");
  }
  // The first byte at or after `offset` that is data / in a hole; Size()
  // when there is none (the end counts as a hole). Hole boundaries are
  // multiples of hole_block(). Errors: kIOError.
  virtual Result<uint64_t> NextData(uint64_t offset) const {
    return offset < Size() ? offset : Size();
  }
  virtual Result<uint64_t> NextHole(uint64_t offset) const {
    (void)offset;
    return Size();
  }
};

}  // namespace luksfs::fs
