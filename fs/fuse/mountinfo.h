// A mount's entry in /proc/self/mountinfo, found by its mount point.
//
// The format is proc(5)'s, one mount a line:
//   ID PARENT MAJOR:MINOR ROOT MOUNT-POINT OPTIONS [OPTIONAL...] - FSTYPE
//   SOURCE SUPER-OPTIONS
// The kernel escapes space, tab, newline and backslash inside a field as
// \ooo octal ("\040" for a space); MountInfo holds the unescaped text.
//
// Looking a mount up here never touches the mount itself, so a FUSE daemon
// may find its own mount before its loop serves requests (a stat() of the
// mount point would wait for that loop).
//
// Thread-safety: free functions over values; safe from any thread.
// Errors: Status, with one-line messages that name the line or mount point.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace luksfs::fs {

struct MountInfo {
  unsigned major = 0;         // the mount's device number: st_dev of its
  unsigned minor = 0;         // files, and its bdi /sys/class/bdi/MAJ:MIN
  std::string root;           // root of the mount within its filesystem
  std::string mount_point;    // absolute, relative to this process's root
  std::string fstype;         // "fuse.luksfs" for a luksfs view
  std::string source;         // a luksfs view's image path
  std::string super_options;  // comma-separated: "rw,user_id=0,group_id=0"
};

// Replaces every "\ooo" (three octal digits) with that byte; any other
// backslash is kept as it is.
std::string UnescapeMountInfo(std::string_view field);

// Parses one line, without its newline. kCorruption if it has too few
// fields, no "-" separator, or a device number that is not MAJOR:MINOR.
Result<MountInfo> ParseMountInfoLine(std::string_view line);

// The LAST entry of `text` (a whole mountinfo file) whose mount point is
// `mount_point`: mounts stack, and the last one is on top. `mount_point`
// must be absolute and canonical (realpath(3)). Lines that do not parse are
// skipped. kNotFound "MOUNT_POINT: not a mount point" if there is none.
Result<MountInfo> FindMountIn(std::string_view text,
                              std::string_view mount_point);

// FindMountIn over /proc/self/mountinfo; kIOError if it cannot be read.
Result<MountInfo> FindMount(const std::string& mount_point);

// The value of super option `name` ("user_id" -> "0"); nullopt if absent.
// A bare flag ("default_permissions") has the value "".
std::optional<std::string> SuperOption(const MountInfo& mount,
                                       std::string_view name);

}  // namespace luksfs::fs
