// Why a FUSE mount failed, in words an operator can act on.
//
// fuse_session_mount() only says that it failed; libfuse and fusermount3
// print the reason on stderr, which a daemon has already lost to syslog or
// /dev/null. MountFailureReason looks at what is visible from here: the
// device, and for an unprivileged allow_other mount, /etc/fuse.conf.
//
// Thread-safety: free functions; safe from any thread.
#pragma once

#include <sys/types.h>

#include <string>

namespace luksfs::fs {

// Whether `fuse_conf` (normally /etc/fuse.conf) has an uncommented
// "user_allow_other" line. A missing file has none.
bool UserAllowOther(const std::string& fuse_conf);

// "FUSE mount failed: ..." naming the cause: EACCES/EPERM or ENOENT on
// `dev_fuse`; allow_other asked by a non-root `euid` without
// user_allow_other in `fuse_conf`; else the generic hint.
std::string MountFailureReason(bool allow_other, uid_t euid,
                               const std::string& dev_fuse = "/dev/fuse",
                               const std::string& fuse_conf = "/etc/fuse.conf");

}  // namespace luksfs::fs
