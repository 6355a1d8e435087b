// mount.luksfs: the command line mount(8) gives a file system helper,
//   mount.luksfs SPEC DIR [-sfnvr] [-N NAMESPACE] [-o OPTIONS] [-t TYPE]
// translated to a `luksfs mount` Command. Pure (no I/O).
//
// Flags as mount(8) means them: -f is *fake* (check everything, mount
// nothing; not --foreground), -s sloppy (unknown -o words are ignored),
// -n (no mtab) is ignored, -v verbose, -r read-only, -N the mount namespace
// (a path or a PID) the mount is made in, -t the type mount(8) was given.
// Options for mount(8) and systemd (x-systemd.*, _netdev, nofail, noauto,
// user, ...) are ignored as mount.fuse3 ignores them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fs/cli/options.h"

namespace luksfs::cli {

// True when the program was started as mount.luksfs (argv[0]'s base name).
bool IsMountHelperName(std::string_view argv0);

// Parses the helper form (ARGS without argv[0]); errors are usage errors.
ParseResult ParseMountHelper(const std::vector<std::string>& args);

}  // namespace luksfs::cli
