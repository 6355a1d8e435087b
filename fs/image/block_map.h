// BlockMap: the seam between the plaintext Volume and the ciphertext
// Storage. It maps guest (plaintext) byte ranges to host extents, and owns
// the container's metadata: for raw LUKS the map is linear (LinearMap); for
// qcow2 it walks L1/L2 tables, keeps refcounts and allocates on write.
//
// A BlockMap never sees plaintext or key material: Volume decrypts and
// encrypts, the map only says WHERE each byte lives and WHICH IV sector it
// uses. Storage I/O of data happens in Volume, one ReadAt/WriteAt per
// contiguous data extent; the map does its own metadata I/O.
//
// Units: every offset and length is in BYTES. Guest offsets run from 0 to
// Size(). Host offsets are byte offsets in the Storage. iv_sector is in
// 512-byte units (what SectorCipher / CryptEngine take) and belongs to the
// FIRST byte of the extent; it advances by 1 per 512 bytes of the extent
// (raw LUKS: iv_tweak + guest/512; qcow2+LUKS: host/512).
//
// Alignment: every extent boundary that Map or PrepareWrite returns is a
// multiple of unit_size() (the LUKS sector size) in guest AND host space, so
// Volume can decrypt extents independently. Requests to Map may be
// unaligned; returned extents then start at or before `offset` and end at or
// after `offset + length`, rounded out to unit_size().
//
// Thread-safety: every method may be called concurrently. Implementations
// document their locks at the mutex.
// Errors: kCorruption for metadata that is malformed or points outside the
// container (the message names the table and index); kIOError from
// Storage; kResourceExhausted when the container cannot grow;
// kInvalidArgument for writes to a read-only map.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "common/result.h"
#include "common/status.h"

namespace luksfs::fs {

struct Extent {
  enum class Kind {
    kData,         // ciphertext at host_offset, decrypt with iv_sector
    kZero,         // reads as plaintext zeros; no host bytes (qcow2 zero flag)
    kUnallocated,  // reads as plaintext zeros; a hole (SEEK_HOLE reports it)
  };
  Kind kind = Kind::kData;
  uint64_t guest_offset = 0;  // bytes
  uint64_t length = 0;        // bytes, > 0, a multiple of unit_size()
  uint64_t host_offset = 0;   // kData only: bytes in Storage
  uint64_t iv_sector = 0;     // kData only: 512-byte IV sector of the 1st byte
  // PrepareWrite only: the host bytes were just allocated (or were a zero
  // cluster) and hold no valid ciphertext. The caller must write ALL of the
  // extent: its data where the request covers it, encrypted zeros elsewhere.
  bool fresh = false;
};

// What PrepareWrite reserved, to be committed after the data is written.
// Move-only; a plan that is destroyed without CommitWrite() releases its
// claims (the reserved clusters leak, which qemu-img check reports as a
// leak, never as corruption).
class WritePlan {
 public:
  WritePlan() = default;
  virtual ~WritePlan() = default;
  WritePlan(const WritePlan&) = delete;
  WritePlan& operator=(const WritePlan&) = delete;

  // Covers [offset, offset + length) of the request in order, rounded out
  // to unit_size() and, for fresh extents, to the allocation granularity.
  std::vector<Extent> extents;
};

class BlockMap {
 public:
  virtual ~BlockMap() = default;

  // Plaintext (guest) size in bytes. Fixed for the life of the map.
  virtual uint64_t Size() const = 0;
  // The encryption unit (LUKS sector size) in bytes: 512..4096.
  virtual uint32_t unit_size() const = 0;
  // Allocation granularity in bytes (qcow2: the cluster size; linear: the
  // unit size). Discard acts on whole granules.
  virtual uint64_t granularity() const = 0;

  // Appends to `out` the extents covering [offset, offset + length),
  // clipped to Size(), in guest order, adjacent extents of one kind merged
  // when contiguous in host space (and IV). Allocates nothing.
  virtual Status Map(uint64_t offset, uint64_t length,
                     std::vector<Extent>* out) = 0;

  // For a write of [offset, offset + length): every returned extent is
  // kData. Unallocated or zero granules are allocated (marked fresh) and
  // their host space reserved; nothing becomes visible to Map() until
  // CommitWrite(). Two concurrent writers into one unallocated granule
  // allocate it once: the second waits for the first's commit and then gets
  // the in-place extent. Granules are claimed in ascending order (no
  // deadlock between multi-granule writers).
  virtual Result<std::unique_ptr<WritePlan>> PrepareWrite(uint64_t offset,
                                                          uint64_t length) = 0;

  // Called after every byte of plan's fresh extents was written to Storage:
  // links the new granules into the metadata (in qcow2's order: refcounts
  // before L2 before L1), and releases the claims.
  virtual Status CommitWrite(std::unique_ptr<WritePlan> plan) = 0;

  // Deallocates (or marks as zero) whole granules inside
  // [offset, offset + length); partial granules at the edges are left to
  // the caller (which writes encrypted zeros there). Linear maps return
  // kNotSupported. `length` may be 0 (no whole granule): Volume asks first
  // so that a map that cannot discard refuses before anything is written.
  virtual Status Discard(uint64_t offset, uint64_t length) = 0;

  // Whether zeroing a range (FALLOC_FL_ZERO_RANGE) may Discard its whole
  // granules: true where a discarded granule reads as zeros and is
  // allocated again on the next write (qcow2: the zero flag or an
  // unallocated cluster). false: Volume writes encrypted zeros (raw LUKS,
  // where a discard would leave a hole of undefined content to other
  // readers of the image).
  virtual bool zero_by_discard() const { return false; }

  // Bytes: Volume's unit lock covers whole, aligned runs of this size
  // around every read and write (a multiple of unit_size()). A map whose
  // write may rewrite neighbouring units of the request (LinearMap filling
  // a hole block of the file) returns that block, so no reader or writer
  // of a neighbour runs meanwhile.
  virtual uint64_t lock_granularity() const { return unit_size(); }

  // Guest bytes backed by host data (allocated granules), for st_blocks:
  // a hole-aware copy (cp --sparse) skips the rest. Cheap (a counter).
  // Linear maps: Size().
  virtual uint64_t AllocatedBytes() const { return Size(); }

  // Writes every cached metadata update to Storage in order and makes it
  // durable together with the data written before (Storage::Flush).
  virtual Status Flush() = 0;
};

}  // namespace luksfs::fs
