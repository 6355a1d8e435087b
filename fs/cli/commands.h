// The luksfs commands. Each returns the process exit code (exit_codes.h)
// and reports failures as one line on stderr.
#pragma once

#include "fs/cli/options.h"

namespace luksfs::cli {

int RunMount(const MountConfig& config);
int RunUmount(const std::string& mountpoint);
int RunPid(const std::string& mountpoint);
int RunInfo(const std::string& image, bool json,
            const fs::StorageOptions& storage);
int RunCheck(const std::string& image, const SecretOptions& secret,
             const KmsConfig& kms,
             const fs::StorageOptions& storage);

int RunBind(const Command& cmd);
int RunUnbind(const Command& cmd);
int RunShred(const Command& cmd);
int RunWrap(const Command& cmd);
int RunUnwrap(const Command& cmd);
int RunRewrap(const Command& cmd);
int RunKmsAdmin(const Command& cmd);

// Image preparation (cmd_create.cc, cmd_convert.cc, cmd_compare.cc).
int RunCreate(const Command& cmd);
int RunConvert(const Command& cmd);
int RunCompare(const Command& cmd);

}  // namespace luksfs::cli
