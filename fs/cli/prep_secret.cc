#include "fs/cli/prep_secret.h"

#include <unistd.h>

#include "crypto/keyslot_create.h"
#include "crypto/luks2_writer.h"
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

std::optional<CliError> BindNewImage(const KmsConfig& kms, const std::string& verb,
                                     const std::string& image,
                                     fs::prep::FormatOptions* format,
                                     SecureBuffer* pass,
                                     std::optional<KmsBinding>* binding,
                                     std::optional<CreatedKeyGuard>* created_key) {
  if (format->uuid.empty()) {
    auto uuid = crypto::RandomUuid();
    if (!uuid.ok()) return CliError{kExitBadImage, image + ": " + uuid.status().message()};
    format->uuid = *uuid;
  }
  std::string uri = kms.uri;
  if (kms.create_key) {
    kms::NewKeyAttributes attrs;
    attrs.name = "luksfs-" + format->uuid;
    attrs.identifier = format->uuid;
    auto created = kms::CreateRootKey(uri, kms.options, attrs);
    if (!created.ok()) return KmsError("KMS " + uri, created.status());
    uri = *created;
    created_key->emplace(verb, uri, kms.options);
  }
  auto client = kms::OpenKms(uri, kms.options);
  if (!client.ok()) return KmsError("KMS " + uri, client.status());
  auto gen = GenerateHexPassphrase();
  if (!gen.ok()) return CliError{kExitBadImage, gen.status().message()};
  *pass = std::move(gen).value();
  auto wrapped = (*client)->Wrap(pass->span());
  if (!wrapped.ok()) return KmsError("KMS " + uri, wrapped.status());
  KmsBinding b;
  b.keyslot = 0;
  b.kms = uri;
  b.key_id = (*client)->key_id();
  b.wrapped = std::move(wrapped).value();
  b.created = NowRfc3339();
  if (format->version == 2) format->tokens.push_back(BindingToJson(b));
  format->pbkdf = "pbkdf2";
  format->force_iterations = 1000;
  *binding = std::move(b);
  return std::nullopt;
}

}  // namespace luksfs::cli
