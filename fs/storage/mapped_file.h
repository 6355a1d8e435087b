// MappedFile: a read-only shared mapping of an image file, so that the data
// path decrypts straight out of the page cache instead of first copying the
// ciphertext into a buffer with pread: one pass over every byte fewer (see
// doc/perf.md, "Decrypting from the page cache").
//
// Not locked in memory: the mapping is munlock()ed right after mmap(), so
// that the daemon's mlockall(MCL_FUTURE) does not pin the image's page cache
// as it is read; and it is left out of core dumps (MADV_DONTDUMP).
//
// Truncation under the mount: touching a mapped page past the file's end
// raises SIGBUS. A process-wide handler, installed by the first Create(),
// recognises a fault inside a Read() in progress on the faulting thread,
// maps a page of zeros over the faulting page so that the access completes,
// and Read() then fails with kIOError; the mapping is marked damaged() and
// its owner stops using it. Any other SIGBUS keeps its previous disposition.
//
// Units: byte offsets into the file. Ownership: owns the mapping (unmapped
// by the destructor); the file descriptor is the caller's and may be closed
// after Create().
// Thread-safety: Read() may be called concurrently from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/function_ref.h"
#include "common/result.h"

namespace luksfs::fs {

class MappedFile {
 public:
  // Maps [0, length) of `fd` (opened for reading) with PROT_READ,
  // MAP_SHARED. `length` may pass the file's current end (room for a file
  // that grows): pages there become readable once the file covers them.
  // `name` is used in messages. Errors: kIOError (mmap's errno).
  static Result<std::unique_ptr<MappedFile>> Create(int fd, uint64_t length,
                                                    std::string name);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  uint64_t length() const { return length_; }
  // True once a Read() hit SIGBUS; the mapping then holds zero pages.
  bool damaged() const { return damaged_.load(std::memory_order_acquire); }

  // Runs fn on the mapped bytes [offset, offset + len) and returns its
  // status; fn must not keep the span. REQUIRES: offset + len <= length(),
  // and the file (as far as the caller knows) covers the range.
  // Errors: fn's; kIOError (EIO) if the bytes vanished while fn read them.
  Status Read(uint64_t offset, size_t len,
              FunctionRef<Status(std::span<const uint8_t>)> fn) const;

 private:
  MappedFile(const uint8_t* base, uint64_t length, std::string name)
      : base_(base), length_(length), name_(std::move(name)) {}

  const uint8_t* const base_;
  const uint64_t length_;
  const std::string name_;
  mutable std::atomic<bool> damaged_{false};
};

}  // namespace luksfs::fs
