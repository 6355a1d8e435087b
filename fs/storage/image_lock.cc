#include "fs/storage/image_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

namespace luksfs::fs {

namespace {

constexpr int kPermCount = 4;  // qemu's BLK_PERM_ALL = 0x0f
const char* const kPermNames[kPermCount] = {"consistent read", "write",
                                            "write unchanged", "resize"};

uint32_t Bit(int p) { return 1u << p; }

// The permissions a mode uses, and those it does not share.
uint32_t Used(ImageLockMode m) {
  uint32_t u = Bit(kPermConsistentRead);
  if (m == ImageLockMode::kReadWrite) {
    u |= Bit(kPermWrite) | Bit(kPermWriteUnchanged);
  }
  return u;
}
uint32_t Forbidden(ImageLockMode) {
  return Bit(kPermWrite) | Bit(kPermResize);
}

struct flock Range(short type, int byte) {
  struct flock fl = {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = byte;
  fl.l_len = 1;
  fl.l_pid = 0;  // must be 0 for OFD locks
  return fl;
}

// Whether another open file description locks `byte` (any lock type).
Result<bool> Taken(int fd, int byte, const std::string& path) {
  struct flock fl = Range(F_WRLCK, byte);
  if (fcntl(fd, F_OFD_GETLK, &fl) != 0) {
    return PosixError(path + ": F_OFD_GETLK", errno);
  }
  return fl.l_type != F_UNLCK;
}

Status Conflict(const std::string& path, const std::string& what) {
  return Status::IOError(
      path + ": locked by another process (" + what + ")", EAGAIN);
}

}  // namespace

Result<std::unique_ptr<ImageLock>> ImageLock::Acquire(const std::string& path,
                                                      ImageLockMode mode) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return PosixError(path, errno);
  const uint32_t used = Used(mode);
  const uint32_t forbidden = Forbidden(mode);
  // Apply first, then check, as qemu does: of two racing openers at least
  // one sees the other.
  for (int p = 0; p < kPermCount; ++p) {
    for (auto [want, base] : {std::pair{used, kQemuLockPermBase},
                              std::pair{forbidden, kQemuLockSharedBase}}) {
      if (!(want & Bit(p))) continue;
      struct flock fl = Range(F_RDLCK, base + p);
      if (fcntl(fd.get(), F_OFD_SETLK, &fl) == 0) continue;
      const int err = errno;
      if (err == EAGAIN || err == EACCES) {
        return Conflict(path, std::string("it holds \"") + kPermNames[p] +
                                  "\" exclusively");
      }
      if (err == EINVAL) {
        return Status::NotSupported(path + ": no OFD locks on this filesystem");
      }
      return PosixError(path + ": F_OFD_SETLK", err);
    }
  }
  for (int p = 0; p < kPermCount; ++p) {
    if (used & Bit(p)) {
      LUKSFS_ASSIGN_OR_RETURN(bool t,
                              Taken(fd.get(), kQemuLockSharedBase + p, path));
      if (t) {
        return Conflict(path, std::string("it does not share \"") +
                                  kPermNames[p] + "\"");
      }
    }
    if (forbidden & Bit(p)) {
      LUKSFS_ASSIGN_OR_RETURN(bool t,
                              Taken(fd.get(), kQemuLockPermBase + p, path));
      if (t) {
        return Conflict(path, std::string("it uses \"") + kPermNames[p] +
                                  "\"");
      }
    }
  }
  return std::unique_ptr<ImageLock>(new ImageLock(std::move(fd), mode));
}

}  // namespace luksfs::fs
