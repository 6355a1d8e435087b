#include "fs/storage/file_storage.h"

#include "fs/storage/posix_io.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace luksfs::fs {

Result<std::unique_ptr<FileStorage>> FileStorage::Open(const std::string& path,
                                                       bool writable) {
  int fd = open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound("no such file");
    return PosixError("cannot open", err);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int err = errno;
    close(fd);
    return PosixError("fstat", err);
  }
  uint64_t size = 0;
  if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    if (ioctl(fd, BLKGETSIZE64, &size) != 0) {
      const int err = errno;
      close(fd);
      return PosixError("BLKGETSIZE64", err);
    }
  } else {
    close(fd);
    return Status::IOError("not a regular file or block device", EINVAL);
  }
  return std::unique_ptr<FileStorage>(
      new FileStorage(path, fd, size, writable));
}

FileStorage::~FileStorage() { close(fd_); }

Status FileStorage::ReadAt(uint64_t offset, std::span<uint8_t> dst) const {
  const uint64_t size = Size();
  if (offset > size || dst.size() > size - offset) {
    return Status::Corruption("image is truncated: read of " +
                              std::to_string(dst.size()) + " bytes at " +
                              std::to_string(offset) + " passes its end (" +
                              std::to_string(size) + " bytes)");
  }
  return PreadAll(fd_, offset, dst, "image");
}

Status FileStorage::WriteAt(uint64_t offset, std::span<const uint8_t> src) {
  if (!writable_) return Status::InvalidArgument("storage is read-only");
  if (src.size() > UINT64_MAX - offset) {
    return Status::InvalidArgument("write passes the end of the address space");
  }
  LUKSFS_RETURN_IF_ERROR(PwriteAll(fd_, offset, src, "image"));
  // Growth: publish the new end once the bytes are there.
  const uint64_t end = offset + src.size();
  uint64_t cur = size_.load(std::memory_order_relaxed);
  while (end > cur &&
         !size_.compare_exchange_weak(cur, end, std::memory_order_acq_rel)) {
  }
  return Status();
}

Status FileStorage::Flush() {
  if (!writable_) return Status();
  if (fdatasync(fd_) != 0) return PosixError("fdatasync", errno);
  return Status();
}

}  // namespace luksfs::fs
