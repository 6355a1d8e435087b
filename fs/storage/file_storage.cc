#include "fs/storage/file_storage.h"

#include "common/unique_fd.h"
#include "fs/storage/posix_io.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <linux/falloc.h>
#include <utility>

namespace luksfs::fs {

Result<std::unique_ptr<FileStorage>> FileStorage::Open(const std::string& path,
                                                       bool writable,
                                                       bool map_reads) {
  UniqueFd fd(open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound("no such file");
    return PosixError("cannot open", err);
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) {
    const int err = errno;
    return PosixError("fstat", err);
  }
  uint64_t size = 0;
  uint64_t hole_block = 0;
  if (S_ISREG(st.st_mode)) {
    size = static_cast<uint64_t>(st.st_size);
    // A power of two of at least 512, else holes are not trusted.
    const uint64_t b = static_cast<uint64_t>(st.st_blksize);
    if (b >= 512 && (b & (b - 1)) == 0) hole_block = b;
  } else if (S_ISBLK(st.st_mode)) {
    if (ioctl(fd.get(), BLKGETSIZE64, &size) != 0) {
      const int err = errno;
      return PosixError("BLKGETSIZE64", err);
    }
  } else {
    return Status::IOError("not a regular file or block device", EINVAL);
  }
  std::unique_ptr<MappedFile> map;
  if (map_reads && S_ISREG(st.st_mode) && size > 0) {
    Result<std::unique_ptr<MappedFile>> m = MappedFile::Create(
        fd.get(), size + (writable ? kGrowthRoom : 0), path);
    if (m.ok()) map = std::move(m).value();  // else: preads only
  }
  return std::unique_ptr<FileStorage>(new FileStorage(
      path, std::move(fd), size, writable, hole_block, std::move(map)));
}

std::optional<Status> FileStorage::ReadInPlace(uint64_t offset, size_t len,
                                               size_t /*unit*/, InPlaceFn fn) const {
  if (map_ == nullptr || map_->damaged()) return std::nullopt;
  const uint64_t size = Size();
  if (offset > size || len > size - offset || offset + len > map_->length()) {
    return std::nullopt;
  }
  return map_->Read(offset, len,
                    [&](std::span<const uint8_t> bytes) { return fn(0, bytes); });
}

FileStorage::~FileStorage() = default;

Status FileStorage::ReadAt(uint64_t offset, std::span<uint8_t> dst) const {
  const uint64_t size = Size();
  if (offset > size || dst.size() > size - offset) {
    return Status::Corruption("image is truncated: read of " +
                              std::to_string(dst.size()) + " bytes at " +
                              std::to_string(offset) + " passes its end (" +
                              std::to_string(size) + " bytes)");
  }
  return PreadAll(fd_.get(), offset, dst, "image");
}

Status FileStorage::WriteAt(uint64_t offset, std::span<const uint8_t> src) {
  if (!writable_) return Status::InvalidArgument("storage is read-only");
  if (src.size() > UINT64_MAX - offset) {
    return Status::InvalidArgument("write passes the end of the address space");
  }
  LUKSFS_RETURN_IF_ERROR(PwriteAll(fd_.get(), offset, src, "image"));
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
  if (fdatasync(fd_.get()) != 0) return PosixError("fdatasync", errno);
  return Status();
}

}  // namespace luksfs::fs

namespace luksfs::fs {

Status FileStorage::PunchHole(uint64_t offset, uint64_t length) {
  if (!writable_) return Status::InvalidArgument("storage is read-only");
  if (hole_block_ == 0) return Storage::PunchHole(offset, length);
  if (offset % hole_block_ != 0 || length % hole_block_ != 0 ||
      offset > Size() || length > Size() - offset) {
    return Status::InvalidArgument(
        "hole of " + std::to_string(length) + " bytes at " +
        std::to_string(offset) + " is not whole blocks of the image");
  }
  if (length == 0) return Status();
  if (fallocate(fd_.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                static_cast<off_t>(offset), static_cast<off_t>(length)) != 0) {
    const int err = errno;
    if (err == EOPNOTSUPP || err == ENOSYS) {
      return Status::NotSupported(
          "the file system of the image cannot punch holes");
    }
    return PosixError("fallocate(PUNCH_HOLE)", err);
  }
  return Status();
}

Result<uint64_t> FileStorage::Seek(uint64_t offset, int whence) const {
  const uint64_t size = Size();
  if (offset >= size) return size;
  const off_t r = lseek(fd_.get(), static_cast<off_t>(offset), whence);
  if (r < 0) {
    const int err = errno;
    if (err == ENXIO) return size;
    return PosixError(whence == SEEK_DATA ? "lseek(SEEK_DATA)"
                                          : "lseek(SEEK_HOLE)",
                      err);
  }
  return std::min<uint64_t>(static_cast<uint64_t>(r), size);
}

Result<uint64_t> FileStorage::NextData(uint64_t offset) const {
  if (hole_block_ == 0) return Storage::NextData(offset);
  return Seek(offset, SEEK_DATA);
}

Result<uint64_t> FileStorage::NextHole(uint64_t offset) const {
  if (hole_block_ == 0) return Storage::NextHole(offset);
  return Seek(offset, SEEK_HOLE);
}

}  // namespace luksfs::fs
