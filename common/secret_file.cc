#include "common/secret_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace luksfs {

Result<SecureBuffer> ReadSecretFd(int fd, const std::string& label,
                                  SecretFormat format, size_t max_bytes) {
  const bool line = format != SecretFormat::kWhole;
  struct stat st;
  const bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  // One byte at a time where reading ahead would consume another's input.
  const bool bytewise = line && !regular;
  const size_t cap = max_bytes + 1;  // one more, to see "too long"
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer buf,
                          SecureBuffer::Create(std::min<size_t>(cap, 256)));
  size_t used = 0;
  size_t len = 0;
  bool have_line = false;
  while (!have_line) {
    if (used == buf.size()) {
      if (buf.size() >= cap) break;
      LUKSFS_ASSIGN_OR_RETURN(
          SecureBuffer bigger,
          SecureBuffer::Create(std::min(cap, buf.size() * 2)));
      std::memcpy(bigger.data(), buf.data(), used);
      buf = std::move(bigger);  // the old buffer is wiped by its destructor
    }
    const size_t want = bytewise ? 1 : buf.size() - used;
    const ssize_t n = read(fd, buf.data() + used, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("cannot read " + label, errno);
    }
    if (n == 0) break;
    if (line) {
      const void* nl = std::memchr(buf.data() + used, '\n', size_t(n));
      if (nl != nullptr) {
        len = size_t(static_cast<const uint8_t*>(nl) - buf.data());
        have_line = true;
      }
    }
    used += size_t(n);
  }
  if (!have_line) len = used;
  if (len > max_bytes) {
    return Status::InvalidArgument(label + " is longer than " +
                                   std::to_string(max_bytes) + " bytes");
  }
  if (have_line && format == SecretFormat::kFirstLineCrlf && len > 0 &&
      buf.data()[len - 1] == '\r') {
    --len;
  }
  buf.Truncate(len);  // wipes what followed the line
  return buf;
}

Result<SecureBuffer> ReadSecretFile(const std::string& path,
                                    std::string_view what,
                                    SecretFormat format, size_t max_bytes) {
  if (path == "-") {
    return ReadSecretFd(STDIN_FILENO,
                        std::string(what) + " on standard input", format,
                        max_bytes);
  }
  const std::string label = std::string(what) + " '" + path + "'";
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return Status::NotFound(label + " does not exist");
    return PosixError("cannot open " + label, errno);
  }
  return ReadSecretFd(fd.get(), label, format, max_bytes);
}

}  // namespace luksfs
