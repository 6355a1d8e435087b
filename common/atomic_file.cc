#include "common/atomic_file.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"

namespace luksfs {

std::string DirectoryOf(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteFileAtomic(const std::string& path,
                       std::span<const uint8_t> bytes, mode_t mode) {
  const std::string what = "cannot write '" + path + "'";
  std::string tmp = path + ".tmp.XXXXXX";
  UniqueFd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) return PosixError(what, errno);
  int err = 0;
  if (fchmod(fd.get(), mode) != 0) err = errno;
  size_t done = 0;
  while (err == 0 && done < bytes.size()) {
    const ssize_t n = write(fd.get(), bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) err = errno;
    if (n > 0) done += size_t(n);
  }
  if (err == 0 && fsync(fd.get()) != 0) err = errno;
  if (err == 0 && close(fd.release()) != 0) err = errno;
  if (err == 0 && rename(tmp.c_str(), path.c_str()) != 0) err = errno;
  if (err != 0) {
    unlink(tmp.c_str());
    return PosixError(what, err);
  }
  const std::string dir = DirectoryOf(path);
  UniqueFd dfd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0 || fsync(dfd.get()) != 0) {
    return PosixError("cannot sync directory '" + dir + "'", errno);
  }
  return Status::Ok();
}

}  // namespace luksfs
