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
#include "fs/storage/storage.h"

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

// Reads the secret and unlocks a keyslot. The secret is wiped before return.
std::optional<CliError> UnlockImage(const OpenedImage& image,
                                    const SecretOptions& opts,
                                    crypto::UnlockedKey* out);

}  // namespace luksfs::cli
