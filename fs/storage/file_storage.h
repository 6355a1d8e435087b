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
#include "fs/storage/mapped_file.h"
#include "fs/storage/storage.h"

namespace luksfs::fs {

class FileStorage : public Storage {
 public:
  // Opens `path` read-only or read-write (O_CLOEXEC, no O_CREAT). A
  // non-empty regular file is also mapped for ReadInPlace (map_reads);
  // when mmap fails, reads are preads and nothing else changes.
  // Errors: kNotFound (ENOENT), kIOError (other errno, e.g. EACCES, EISDIR).
  static Result<std::unique_ptr<FileStorage>> Open(const std::string& path,
                                                   bool writable,
                                                   bool map_reads = true);
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
  // From the file's mapping (MappedFile), for a regular file whose mmap
  // worked and has not been damaged; nullopt otherwise, and for ranges
  // past Size() (ReadAt reports those).
  // One piece (the whole range).
  std::optional<Status> ReadInPlace(uint64_t offset, size_t len, size_t unit,
                                    InPlaceFn fn) const override;

  // Address space mapped past the end of a writable file, so that a file
  // that grows (qcow2 appends clusters) is still read in place: bytes.
  static constexpr uint64_t kGrowthRoom = uint64_t{1} << 40;

 private:
  FileStorage(std::string path, UniqueFd fd, uint64_t size, bool writable,
              uint64_t hole_block, std::unique_ptr<MappedFile> map)
      : path_(std::move(path)),
        fd_(std::move(fd)),
        size_(size),
        writable_(writable),
        hole_block_(hole_block),
        map_(std::move(map)) {}
  // lseek(SEEK_DATA or SEEK_HOLE) clipped to Size(); ENXIO -> Size().
  Result<uint64_t> Seek(uint64_t offset, int whence) const;

  const std::string path_;
  const UniqueFd fd_;
  // Grows (never shrinks) as writes pass the end; see Storage::WriteAt.
  std::atomic<uint64_t> size_;
  const bool writable_;
  const uint64_t hole_block_;  // st_blksize of a regular file, else 0
  const std::unique_ptr<MappedFile> map_;  // null: every read is a pread
};

}  // namespace luksfs::fs
