#include "fs/cli/secrets.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/secret_file.h"
#include "common/unique_fd.h"

namespace luksfs::cli {

namespace {

Result<SecureBuffer> ReadFile(const std::string& path, bool line) {
  return line ? ReadSecretFile(path, "passphrase file", SecretFormat::kFirstLine,
                               kMaxSecretBytes)
              : ReadSecretFile(path, "key file", SecretFormat::kWhole,
                               kMaxSecretBytes);
}

Result<SecureBuffer> Prompt(const std::string& image) {
  UniqueFd tty(open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
  if (tty.get() < 0) return PosixError("cannot open the terminal", errno);
  const int fd = tty.get();
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
  Result<SecureBuffer> r =
      ReadSecretFd(fd, "the terminal", SecretFormat::kFirstLine, kMaxSecretBytes);
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
