// FileStorage: Storage over a local file or block device, with pread/pwrite.
// Holes: a regular file supports them (SupportsHoles); PunchHole is
// fallocate(PUNCH_HOLE|KEEP_SIZE) and NextData/NextHole are lseek
// SEEK_DATA/SEEK_HOLE, in blocks of the file system's st_blksize. A block
// device has none (the Storage defaults).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "common/unique_fd.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

class FileStorage : public Storage {
 public:
  // Opens `path` read-only or read-write (O_CLOEXEC, no O_CREAT).
  // Errors: kNotFound (ENOENT), kIOError (other errno, e.g. EACCES, EISDIR).
  static Result<std::unique_ptr<FileStorage>> Open(const std::string& path,
                                                   bool writable);
  ~FileStorage() override;

  uint64_t Size() const override {
    return size_.load(std::memory_order_acquire);
  }
  Status ReadAt(uint64_t offset, std::span<uint8_t> dst) const override;
  Status WriteAt(uint64_t offset, std::span<const uint8_t> src) override;
  Status Flush() override;
  const std::string& name() const override { return path_; }

  bool SupportsHoles() const override { return hole_block_ != 0; }
  uint64_t hole_block() const override { return hole_block_; }
  Status PunchHole(uint64_t offset, uint64_t length) override;
  Result<uint64_t> NextData(uint64_t offset) const override;
  Result<uint64_t> NextHole(uint64_t offset) const override;

 private:
  FileStorage(std::string path, UniqueFd fd, uint64_t size, bool writable,
              uint64_t hole_block)
      : path_(std::move(path)),
        fd_(std::move(fd)),
        size_(size),
        writable_(writable),
        hole_block_(hole_block) {}
  // lseek(SEEK_DATA or SEEK_HOLE) clipped to Size(); ENXIO -> Size().
  Result<uint64_t> Seek(uint64_t offset, int whence) const;

  const std::string path_;
  const UniqueFd fd_;
  // Grows (never shrinks) as writes pass the end; see Storage::WriteAt.
  std::atomic<uint64_t> size_;
  const bool writable_;
  const uint64_t hole_block_;  // st_blksize of a regular file, else 0
};

}  // namespace luksfs::fs
