#include "fs/storage/posix_io.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string>

namespace luksfs::fs {

Status PreadAll(int fd, uint64_t offset, std::span<uint8_t> dst,
                std::string_view what) {
  size_t done = 0;
  while (done < dst.size()) {
    ssize_t n = pread(fd, dst.data() + done, dst.size() - done,
                      static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(std::string(what) + ": read at byte " +
                            std::to_string(offset + done),
                        errno);
    }
    if (n == 0) {
      return Status::Corruption(std::string(what) + ": end of file at byte " +
                                std::to_string(offset + done));
    }
    done += static_cast<size_t>(n);
  }
  return Status();
}

Status PwriteAll(int fd, uint64_t offset, std::span<const uint8_t> src,
                 std::string_view what) {
  size_t done = 0;
  while (done < src.size()) {
    ssize_t n = pwrite(fd, src.data() + done,
                       std::min(src.size() - done, kMaxPwriteBytes),
                       static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(std::string(what) + ": write at byte " +
                            std::to_string(offset + done),
                        errno);
    }
    done += static_cast<size_t>(n);
  }
  return Status();
}

}  // namespace luksfs::fs
