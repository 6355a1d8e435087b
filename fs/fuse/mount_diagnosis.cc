#include "fs/fuse/mount_diagnosis.h"

#include "common/unique_fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace luksfs::fs {

bool UserAllowOther(const std::string& fuse_conf) {
  std::ifstream in(fuse_conf);
  std::string line;
  while (std::getline(in, line)) {
    const size_t b = line.find_first_not_of(" \t");
    if (b == std::string::npos || line[b] == '#') continue;
    const size_t e = line.find_last_not_of(" \t\r");
    if (line.substr(b, e - b + 1) == "user_allow_other") return true;
  }
  return false;
}

std::string MountFailureReason(bool allow_other, uid_t euid,
                               const std::string& dev_fuse,
                               const std::string& fuse_conf) {
  UniqueFd dev(open(dev_fuse.c_str(), O_RDWR | O_CLOEXEC));
  const int err = errno;
  const bool opened = dev.get() >= 0;
  dev.reset();  // only whether it opens matters
  if (!opened && (err == EACCES || err == EPERM)) {
    return "FUSE mount failed: cannot open " + dev_fuse + ": " +
           std::strerror(err) + " (this user needs read-write access to " +
           dev_fuse + ")";
  }
  if (!opened && err == ENOENT) {
    return "FUSE mount failed: no " + dev_fuse +
           " (modprobe fuse; in a container, pass the device in)";
  }
  if (allow_other && euid != 0 && !UserAllowOther(fuse_conf)) {
    return "FUSE mount failed: allow_other needs 'user_allow_other' in " +
           fuse_conf + " for users other than root";
  }
  return "FUSE mount failed (is /dev/fuse available, and fuse3 installed?)";
}

}  // namespace luksfs::fs
