// libFuzzer target: the command line (fs/cli/options.h). argv is untrusted
// where luksfs runs as mount.luksfs from fstab or a mount helper: every
// subcommand, option and "-o" word must parse or give a usage error, never
// crash or throw.
//
// The input is split at NUL bytes into argv[1..]; argv[0] is "luksfs".
// ExpandMountOptions also sees the fields as "-o" lists.
//
// Build: make fuzz. Run: build/fuzz/options_fuzz CORPUS_DIR

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fs/cli/options.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace luksfs::cli;
  if (size > 4096) return 0;
  std::vector<std::string> args = {"luksfs"};
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(std::move(cur));
      cur.clear();
      if (args.size() > 64) return 0;
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  args.push_back(std::move(cur));

  const ParseResult r = ParseCommandLine(args);
  if (!r.command && r.error.empty()) {
    std::fprintf(stderr, "ParseCommandLine: no command and no error\n");
    std::abort();
  }
  std::vector<std::string> expanded;
  std::vector<std::string> as_o(args.begin() + 1, args.end());
  for (std::string& a : as_o) a = "-o" + a;
  (void)ExpandMountOptions(as_o, &expanded);
  return 0;
}
