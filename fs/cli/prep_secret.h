// Secrets for the preparation commands (create, convert): a NEW passphrase
// is read from a file or key file, or asked twice on the terminal; a
// generated one (for a KMS binding) is 32 random bytes as 64 hex digits.
// Everything lives in SecureBuffers; nothing is shown or logged.
#pragma once

#include <string>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "fs/cli/options.h"

namespace luksfs::cli {

// Errors: kInvalidArgument (no source and no terminal; the two entries
// differ; empty), and those of ReadSecret.
Result<SecureBuffer> ReadNewSecret(const SecretOptions& opts,
                                   const std::string& image);

Result<SecureBuffer> GenerateHexPassphrase();

}  // namespace luksfs::cli
