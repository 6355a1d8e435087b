#include "fs/cli/prep_secret.h"

#include <unistd.h>

#include "crypto/keyslot_create.h"
#include "fs/cli/secrets.h"

namespace luksfs::cli {

Result<SecureBuffer> ReadNewSecret(const SecretOptions& opts,
                                   const std::string& image) {
  if (!opts.passphrase_file.empty() || !opts.key_file.empty()) {
    LUKSFS_ASSIGN_OR_RETURN(SecureBuffer s, ReadSecret(opts, image));
    if (s.empty()) return Status::InvalidArgument("the new passphrase is empty");
    return s;
  }
  if (!isatty(STDIN_FILENO)) {
    return Status::InvalidArgument(
        "no passphrase: use --passphrase-file, --key-file or --kms (no "
        "terminal to prompt on)");
  }
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer first, ReadSecret(opts, "new image " + image));
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer again, ReadSecret(opts, image + " (again)"));
  if (first.size() != again.size() || !first.Equals(again.span())) {
    return Status::InvalidArgument("the passphrases do not match");
  }
  if (first.empty()) return Status::InvalidArgument("the new passphrase is empty");
  return first;
}

Result<SecureBuffer> GenerateHexPassphrase() {
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer raw, SecureBuffer::Create(32));
  LUKSFS_RETURN_IF_ERROR(crypto::RandomBytes(raw.span()));
  LUKSFS_ASSIGN_OR_RETURN(SecureBuffer hex, SecureBuffer::Create(64));
  static const char kDigits[] = "0123456789abcdef";
  for (size_t i = 0; i < 32; ++i) {
    hex.data()[2 * i] = kDigits[raw.data()[i] >> 4];
    hex.data()[2 * i + 1] = kDigits[raw.data()[i] & 15];
  }
  return hex;
}

}  // namespace luksfs::cli
