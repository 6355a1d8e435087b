// Opening an image for a command: storage, header, unlock — with each
// failure turned into a documented exit code and a one-line message that
// names the image.
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

struct OpenedImage {
  std::string path;
  std::unique_ptr<fs::Storage> storage;
  crypto::LuksHeader header;
  crypto::ReadFn read;  // reads from storage
};

// Opens storage and parses the header (does not check mountability).
// `path` may be a file or an s3:// URI (see fs/storage/open_storage.h).
std::optional<CliError> OpenImage(const std::string& path, bool writable,
                                  const fs::StorageOptions& storage,
                                  OpenedImage* out);

// CheckMountable + ComputeDataLayout.
std::optional<CliError> CheckImage(const OpenedImage& image,
                                   crypto::DataLayout* layout);

// How an image was unlocked.
struct Unlocked {
  crypto::UnlockedKey key;
  std::optional<KmsBinding> binding;         // set when the KMS unwrapped it
  std::unique_ptr<kms::KmsClient> kms;       // the client that did
};

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

// Writes each ImageWrite in order, flushing storage after each one (or,
// with flush_each false, once after all), so key material is durable
// before the header that points at it.
std::optional<CliError> ApplyWrites(const OpenedImage& image,
                                    const std::vector<crypto::ImageWrite>& w,
                                    bool flush_each = true);

}  // namespace luksfs::cli
