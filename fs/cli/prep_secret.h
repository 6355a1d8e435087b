// Secrets for the preparation commands (create, convert): a NEW passphrase
// is read from a file or key file, or asked twice on the terminal; a
// generated one (for a KMS binding) is 32 random bytes as 64 hex digits.
// Everything lives in SecureBuffers; nothing is shown or logged.
#pragma once

#include <string>

#include "common/result.h"
#include "common/secure_buffer.h"
#include "fs/cli/created_key.h"
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

// For a new image bound to the KMS at `kms.uri` (created first with
// kms.create_key): generates the passphrase into *pass, wraps it, and sets
// *binding (keyslot 0). The keyslot then uses pbkdf2 at 1000 iterations
// (the passphrase has 256 bits of entropy; the policy of `luksfs bind`).
// LUKS2 (format->version 2): the luksfs-kms token is added to *format.
// LUKS1 (raw, or inside qcow2): *format gets no token; the caller stores
// the binding (qcow2 header record or sidecar: binding_store.h). Gives a
// UUID to *format if it has none. Called before any byte of the new image
// is written, so a KMS error leaves nothing. A key made for
// kms.create_key goes into *created_key (armed: destroyed again unless the
// caller disarms it once the image is written; `verb`, "create" or
// "convert", names the command in what it says). Errors: exit 5 for the KMS.
std::optional<CliError> BindNewImage(const KmsConfig& kms, const std::string& verb,
                                     const std::string& image,
                                     fs::prep::FormatOptions* format,
                                     SecureBuffer* pass,
                                     std::optional<KmsBinding>* binding,
                                     std::optional<CreatedKeyGuard>* created_key);

}  // namespace luksfs::cli
