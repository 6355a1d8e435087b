#include "fs/cli/mount_helper.h"

#include <sstream>

namespace luksfs::cli {

bool IsMountHelperName(std::string_view argv0) {
  const size_t slash = argv0.rfind('/');
  const std::string_view base =
      slash == std::string_view::npos ? argv0 : argv0.substr(slash + 1);
  return base == "mount.luksfs";
}

ParseResult ParseMountHelper(const std::vector<std::string>& args) {
  auto error = [](const std::string& m) {
    return ParseResult{std::nullopt, "mount.luksfs: " + m};
  };
  std::vector<std::string> positional;
  std::vector<std::string> words;  // the -o words, in order
  bool fake = false, sloppy = false, verbose = false, read_only = false;
  std::string ns;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    if (a == "--") {
      positional.insert(positional.end(), args.begin() + i + 1, args.end());
      break;
    }
    // A cluster of flags: -sfnv, -o VALUE / -oVALUE, -N NS, -t TYPE.
    for (size_t j = 1; j < a.size(); ++j) {
      const char f = a[j];
      if (f == 'o' || f == 'N' || f == 't') {
        std::string value = a.substr(j + 1);
        if (value.empty()) {
          if (i + 1 >= args.size()) return error(std::string("-") + f + " needs a value");
          value = args[++i];
        }
        if (f == 'o') {
          std::stringstream ss(value);
          std::string w;
          while (std::getline(ss, w, ',')) words.push_back(w);
        } else if (f == 'N') {
          ns = value;
        }  // -t: the type; fuse.luksfs or luksfs, nothing to do
        break;
      }
      switch (f) {
        case 'f': fake = true; break;
        case 's': sloppy = true; break;
        case 'n': break;  // no /etc/mtab to write
        case 'v': verbose = true; break;
        case 'r': read_only = true; break;
        case 'w': break;  // read-write: the default
        case 'h': {
          std::vector<std::string> help = {"mount", "--help"};
          return ParseCommandLine(help);
        }
        default:
          return error(std::string("unknown flag -") + f);
      }
    }
  }
  if (positional.size() != 2) {
    return error("usage: mount.luksfs IMAGE MOUNTPOINT [-sfnvr] [-N NS] [-o OPTIONS]");
  }
  std::vector<std::string> cmd = {"mount"};
  if (read_only) cmd.push_back("--read-only");
  for (const std::string& w : words) {
    // Each word on its own, so that -s can drop just the unknown ones.
    std::vector<std::string> expanded;
    ParseResult r = ExpandMountOptions({"-o", w}, &expanded);
    if (!r.command) {
      if (sloppy) continue;
      return error(r.error);
    }
    cmd.insert(cmd.end(), expanded.begin(), expanded.end());
  }
  cmd.push_back(positional[0]);
  cmd.push_back(positional[1]);
  ParseResult r = ParseCommandLine(cmd);
  if (!r.command) return r;
  if (r.command->kind == Command::Kind::kMount) {
    r.command->mount.fake = fake;
    r.command->mount.mount_namespace = ns;
    if (verbose) r.command->mount.verbose = true;
  }
  return r;
}

}  // namespace luksfs::cli
