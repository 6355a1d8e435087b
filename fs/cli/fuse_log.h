// libfuse's own messages ("fuse: failed to open /dev/fuse: Permission
// denied") go through the luksfs log instead of straight to stderr, so
// that a failed mount is still one line: the last one is kept and named in
// the mount error; all are logged at debug level.
// Thread-safety: the handler may run on any thread (a mutex guards the
// last message).
#pragma once

#include <string>

namespace luksfs::cli {

// Installs the handler (fuse_set_log_func). Call once, before mounting.
void CaptureFuseLog();

// The last error-level message libfuse logged, without "fuse: " and the
// newline; "" if none.
std::string LastFuseError();

}  // namespace luksfs::cli
