#include "fs/cli/secrets.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/unique_fd.h"

namespace luksfs::cli {

namespace {

// Reads from fd until EOF (or the first '\n' when `line`), into locked
// memory. The newline is not kept.
Result<SecureBuffer> ReadAll(int fd, bool line, const std::string& what) {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer buf, SecureBuffer::Create(256));
  size_t used = 0;
  for (;;) {
    if (used == buf.size()) {
      if (buf.size() >= kMaxSecretBytes) {
        return Status::InvalidArgument(what + " is larger than " +
                                       std::to_string(kMaxSecretBytes) +
                                       " bytes");
      }
      LUKSFS_ASSIGN_OR_RETURN(SecureBuffer bigger,
                              SecureBuffer::Create(buf.size() * 2));
      std::memcpy(bigger.data(), buf.data(), used);
      buf = std::move(bigger);  // the old buffer is wiped by its destructor
    }
    // One byte at a time for lines, so nothing after the newline is consumed.
    const size_t want = line ? 1 : buf.size() - used;
    ssize_t n = read(fd, buf.data() + used, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError("cannot read " + what, errno);
    }
    if (n == 0) break;
    if (line && buf.data()[used] == '\n') {
      buf.data()[used] = 0;
      break;
    }
    used += static_cast<size_t>(n);
  }
  buf.Truncate(used);
  return buf;
}

Result<SecureBuffer> ReadFile(const std::string& path, bool line) {
  const std::string what = line ? "passphrase file '" + path + "'"
                                : "key file '" + path + "'";
  if (path == "-") return ReadAll(STDIN_FILENO, line, "standard input");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Status::NotFound(what + " does not exist");
    return PosixError("cannot open " + what, errno);
  }
  UniqueFd guard(fd);
  return ReadAll(fd, line, what);
}

Result<SecureBuffer> Prompt(const std::string& image) {
  int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) return PosixError("cannot open the terminal", errno);
  UniqueFd guard(fd);
  const std::string prompt = "Enter passphrase for " + image + ": ";
  if (write(fd, prompt.data(), prompt.size()) < 0) {
    return PosixError("cannot write the prompt", errno);
  }
  struct termios old_t;
  bool restore = tcgetattr(fd, &old_t) == 0;
  if (restore) {
    struct termios t = old_t;
    t.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    t.c_lflag |= ECHONL;
    tcsetattr(fd, TCSAFLUSH, &t);
  }
  Result<SecureBuffer> r = ReadAll(fd, true, "the terminal");
  if (restore) tcsetattr(fd, TCSAFLUSH, &old_t);
  return r;
}

}  // namespace

Result<SecureBuffer> ReadSecret(const SecretOptions& opts,
                                const std::string& image) {
  if (!opts.passphrase_file.empty()) return ReadFile(opts.passphrase_file, true);
  if (!opts.key_file.empty()) return ReadFile(opts.key_file, false);
  if (isatty(STDIN_FILENO)) return Prompt(image);
  return Status::InvalidArgument(
      "no passphrase: use --passphrase-file or --key-file (no terminal to "
      "prompt on)");
}

}  // namespace luksfs::cli
