#include "fs/prep/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fs/storage/posix_io.h"

namespace luksfs::fs::prep {

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

Result<std::unique_ptr<OutputFile>> OutputFile::Create(const std::string& path,
                                                       bool force) {
  if (!force && PathExists(path)) {
    return Status::InvalidArgument(path + ": already exists (use --force to replace it)");
  }
  std::string tmp = path + ".tmp-XXXXXX";
  UniqueFd fd(mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) return PosixError(path + ": cannot create a temporary file", errno);
  return std::unique_ptr<OutputFile>(new OutputFile(path, tmp, std::move(fd)));
}

OutputFile::~OutputFile() {
  if (!committed_) unlink(tmp_.c_str());
}

Status OutputFile::WriteAt(uint64_t offset, std::span<const uint8_t> src) {
  return PwriteAll(fd_.get(), offset, src, tmp_);
}

Status OutputFile::Truncate(uint64_t size) {
  if (ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
    return PosixError(tmp_ + ": cannot set the size", errno);
  }
  return Status();
}

Status OutputFile::Commit() {
  if (fsync(fd_.get()) != 0) return PosixError(tmp_ + ": fsync", errno);
  const mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd_.get(), 0666 & ~mask) != 0) return PosixError(tmp_, errno);
  if (rename(tmp_.c_str(), path_.c_str()) != 0) {
    return PosixError(path_ + ": cannot rename the temporary file", errno);
  }
  committed_ = true;
  const size_t slash = path_.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
  UniqueFd d(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (d.get() >= 0) fsync(d.get());
  return Status();
}

}  // namespace luksfs::fs::prep
