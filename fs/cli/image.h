// Opening an image for a command: the image layer (fs/image/image.h) does
// the work; this file turns its failures into a documented exit code and a
// one-line message that names the image, in one place (ExitCodeFor).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "common/exit_codes.h"
#include "crypto/keyslot_unlock.h"
#include "crypto/luks_header.h"
#include "fs/cli/options.h"
#include "fs/storage/open_storage.h"
#include "fs/audit_log.h"
#include "fs/cli/kms_binding.h"
#include "fs/image/image.h"
#include "fs/storage/storage.h"
#include "crypto/luks2_metadata.h"
#include "kms-client/kms.h"

namespace luksfs::cli {

struct CliError {
  int exit_code = kExitUsage;
  std::string message;  // "IMAGE: problem" (printed after "luksfs: ")
};

// Prints "luksfs: MESSAGE" on stderr and returns the exit code.
int Report(const CliError& e);

// THE mapping from an image-layer failure to an exit code (the table is in
// fs/image/image.h): kStorage 1/4, kImage 4/3, kSecret 1/4, kUnlock 2/4/3,
// kKms 5.
int ExitCodeFor(fs::ImageStep step, const Status& s);

// The image's storage, container, LUKS header (read through the container;
// header offsets are relative to its LUKS region, image.luks_size() bytes).
using OpenedImage = fs::OpenedImage;
// How an image was unlocked (key, binding, KMS client).
using Unlocked = fs::Unlocked;

// Opens storage and parses the header (does not check mountability).
// `path` may be a file or an s3:// URI (see fs/storage/open_storage.h).
std::optional<CliError> OpenImage(const std::string& path, bool writable,
                                  const fs::StorageOptions& storage,
                                  OpenedImage* out);
// The same with container options (mount: allow_discards).
std::optional<CliError> OpenImage(const std::string& path, bool writable,
                                  const fs::StorageOptions& storage,
                                  const fs::ContainerOptions& container,
                                  OpenedImage* out);

// CheckMountable + ComputeDataLayout over the LUKS region (raw: the data
// layout; qcow2: only cipher and sector_size are meaningful).
std::optional<CliError> CheckImage(const OpenedImage& image,
                                   crypto::DataLayout* layout);

// Unlocks a keyslot with, in this order: the secret options (passphrase or
// key file), else the image's luksfs-kms binding (the KMS unwraps the
// passphrase), else a terminal prompt. Secrets are wiped before return.
// KMS failures exit 5; wrong secrets 2.
std::optional<CliError> UnlockImage(const OpenedImage& image,
                                    const SecretOptions& opts,
                                    const KmsConfig& kms, fs::AuditLog* audit,
                                    Unlocked* out);

// Unlocks with a given passphrase (optionally only `slot`).
std::optional<CliError> UnlockWithPassphrase(const OpenedImage& image,
                                             std::span<const uint8_t> pass,
                                             std::optional<int> slot,
                                             uint64_t max_kdf_memory_kib,
                                             crypto::UnlockedKey* out,
                                             double max_kdf_seconds =
                                                 crypto::kDefaultMaxKdfSeconds);

// The image's binding: a luksfs-kms LUKS2 token, or the sidecar of a local
// LUKS1 image. nullopt if there is none.
std::optional<CliError> FindBinding(const OpenedImage& image,
                                    std::optional<KmsBinding>* out);

// A CliError (exit 5) for a failed KMS operation.
CliError KmsError(const std::string& what, const Status& s);

// Writes each ImageWrite (offsets in the LUKS region) through the
// container in order, flushing after each one (or, with flush_each false,
// once after all), so key material is durable before the header that
// points at it.
std::optional<CliError> ApplyWrites(const OpenedImage& image,
                                    const std::vector<crypto::ImageWrite>& w,
                                    bool flush_each = true);

}  // namespace luksfs::cli
