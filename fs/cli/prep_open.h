// Opening an image's plaintext for compare and convert: probe the
// container, then a raw file as is, or a LUKS image unlocked the usual way
// (passphrase or key file, else the image's KMS binding, else a prompt).
// qcow2 goes through the image layer's container and a read-only Volume
// (refused by that layer, exit 3, until the qcow2 container is there).
#pragma once

#include <string>

#include "common/secure_buffer.h"
#include "fs/cli/image.h"
#include "fs/prep/plain_image.h"

namespace luksfs::cli {

// `passphrase` (may be null) receives the passphrase that opened a LUKS
// image when it was read from a file or the terminal (left empty for raw
// images and KMS bindings), so that convert can reuse it for DST.
// `threads` sizes the crypto engine (0: CPUs).
std::optional<CliError> OpenPlain(const std::string& path,
                                  const SecretOptions& secret,
                                  const KmsConfig& kms,
                                  const fs::StorageOptions& storage,
                                  unsigned threads, fs::prep::PlainImage* out,
                                  SecureBuffer* passphrase);

// The exit code of a failed create/convert/compare step (fs/prep Status):
// kInvalidArgument and kNotSupported are usage (1), kIOError and kNotFound
// storage (4), kUnavailable an interrupt (130, as after SIGINT), anything
// else a bad image (3).
int PrepExitCode(const Status& s);

}  // namespace luksfs::cli
