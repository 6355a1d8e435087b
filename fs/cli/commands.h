// The luksfs commands. Each returns the process exit code (exit_codes.h)
// and reports failures as one line on stderr.
#pragma once

#include "fs/cli/options.h"

namespace luksfs::cli {

int RunMount(const MountConfig& config);
int RunUmount(const std::string& mountpoint);
int RunInfo(const std::string& image, bool json,
            const fs::StorageOptions& storage);
int RunCheck(const std::string& image, const SecretOptions& secret,
             const fs::StorageOptions& storage);

}  // namespace luksfs::cli
