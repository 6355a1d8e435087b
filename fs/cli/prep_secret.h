// Secrets for the preparation commands (create, convert): a NEW passphrase
// is read from a file or key file, or asked twice on the terminal; a
// generated one (for a KMS binding) is 32 random bytes as 64 hex digits.
// Everything lives in SecureBuffers; nothing is shown or logged.
#pragma once

#include <string>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "fs/cli/image.h"
#include "fs/cli/kms_binding.h"
#include "fs/cli/options.h"
#include "fs/prep/format.h"

namespace luksfs::cli {

// Errors: kInvalidArgument (no source and no terminal; the two entries
// differ; empty), and those of ReadSecret.
Result<SecureBuffer> ReadNewSecret(const SecretOptions& opts,
                                   const std::string& image);

Result<SecureBuffer> GenerateHexPassphrase();

// For a new LUKS2 image bound to the KMS at `kms.uri` (created first with
// kms.create_key): generates the passphrase into *pass, wraps it, and adds
// the luksfs-kms token for keyslot 0 to *format, whose keyslot then uses
// pbkdf2 at 1000 iterations (the passphrase has 256 bits of entropy; the
// policy of `luksfs bind`). Gives a UUID to *format if it has none.
// Errors: exit 1 for LUKS1, 5 for the KMS.
std::optional<CliError> BindNewImage(const KmsConfig& kms, const std::string& image,
                                     fs::prep::FormatOptions* format,
                                     SecureBuffer* pass,
                                     std::optional<KmsBinding>* binding);

}  // namespace luksfs::cli
