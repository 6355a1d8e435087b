// Reading the passphrase: from a file (first line), a key file (all bytes),
// stdin ("-"), or a no-echo prompt on the terminal. Never from argv.
// The result lives in a SecureBuffer; intermediate buffers are wiped.
#pragma once

#include <string>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "fs/cli/options.h"

namespace luksfs::cli {

// Largest accepted secret, as cryptsetup's default keyfile size limit.
constexpr size_t kMaxSecretBytes = 8 << 20;

// Errors: kInvalidArgument (no source and no terminal; too large),
// kNotFound / kIOError (file problems).
Result<SecureBuffer> ReadSecret(const SecretOptions& opts,
                                const std::string& image);

}  // namespace luksfs::cli
