// luksfs: the composition root. Parses argv and runs one command.
#include <cstdio>
#include <string>
#include <vector>

#include "common/exit_codes.h"
#include "fs/cli/commands.h"
#include "fs/cli/mount_helper.h"
#include "fs/cli/options.h"

#ifndef LUKSFS_VERSION
#define LUKSFS_VERSION "0.1.0"
#endif

int main(int argc, char** argv) {
  using luksfs::cli::Command;
  std::vector<std::string> args(argv + 1, argv + argc);
  luksfs::cli::ParseResult parsed =
      argc > 0 && luksfs::cli::IsMountHelperName(argv[0])
          ? luksfs::cli::ParseMountHelper(args)  // as mount(8) calls it
          : luksfs::cli::ParseCommandLine(args);
  if (!parsed.command) {
    // "VERB: problem" points at that command's own help.
    std::string verb = parsed.error.substr(0, parsed.error.find(": "));
    if (verb == "mount.luksfs") verb = "mount";
    const bool one_word = !verb.empty() && verb.size() < parsed.error.size() &&
                          verb.find_first_of(" /'-") == std::string::npos;
    std::fprintf(stderr, "luksfs: %s (see 'luksfs %s--help')\n",
                 parsed.error.c_str(), one_word ? (verb + " ").c_str() : "");
    return luksfs::kExitUsage;
  }
  const Command& cmd = *parsed.command;
  switch (cmd.kind) {
    case Command::Kind::kHelp:
      if (cmd.usage_error) {  // no command at all
        std::fputs(cmd.help_text.c_str(), stderr);
        return luksfs::kExitUsage;
      }
      std::fputs(cmd.help_text.c_str(), stdout);
      return luksfs::kExitOk;
    case Command::Kind::kVersion:
      std::puts("luksfs " LUKSFS_VERSION);
      return luksfs::kExitOk;
    case Command::Kind::kMount:
      return luksfs::cli::RunMount(cmd.mount);
    case Command::Kind::kUmount:
      return luksfs::cli::RunUmount(cmd.mountpoint);
    case Command::Kind::kPid:
      return luksfs::cli::RunPid(cmd.mountpoint);
    case Command::Kind::kInfo:
      return luksfs::cli::RunInfo(cmd.image, cmd.json, cmd.storage);
    case Command::Kind::kBind:
      return luksfs::cli::RunBind(cmd);
    case Command::Kind::kUnbind:
      return luksfs::cli::RunUnbind(cmd);
    case Command::Kind::kShred:
      return luksfs::cli::RunShred(cmd);
    case Command::Kind::kWrap:
      return luksfs::cli::RunWrap(cmd);
    case Command::Kind::kUnwrap:
      return luksfs::cli::RunUnwrap(cmd);
    case Command::Kind::kRewrap:
      return luksfs::cli::RunRewrap(cmd);
    case Command::Kind::kKmsAdmin:
      return luksfs::cli::RunKmsAdmin(cmd);
    case Command::Kind::kCreate:
      return luksfs::cli::RunCreate(cmd);
    case Command::Kind::kConvert:
      return luksfs::cli::RunConvert(cmd);
    case Command::Kind::kCompare:
      return luksfs::cli::RunCompare(cmd);
    case Command::Kind::kCheck:
      return luksfs::cli::RunCheck(cmd.image, cmd.secret, cmd.kms, cmd.storage);
  }
  return luksfs::kExitUsage;
}
