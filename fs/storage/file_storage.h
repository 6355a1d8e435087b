// FileStorage: Storage over a local file or block device, with pread/pwrite.
#pragma once

#include <atomic>
#include <memory>
#include <string>

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

 private:
  FileStorage(std::string path, int fd, uint64_t size, bool writable)
      : path_(std::move(path)), fd_(fd), size_(size), writable_(writable) {}

  const std::string path_;
  const int fd_;
  // Grows (never shrinks) as writes pass the end; see Storage::WriteAt.
  std::atomic<uint64_t> size_;
  const bool writable_;
};

}  // namespace luksfs::fs
