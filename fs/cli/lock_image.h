// Taking the image lock (fs/storage/image_lock.h) for a command, and naming
// the holder when it is refused.
//
// A mount holds its lock for the life of the daemon; a header edit (bind,
// unbind, rewrap, shred) holds the read-write lock for its whole
// read-modify-write. s3:// images are not locked here (no local file; a
// read-write mount holds an S3 lease instead, fs/storage/s3_lease.h).
//
// Refusal: exit 7 (kExitBusy, common/exit_codes.h) and "IMAGE: in use by
// luksfs pid N, mounted at MNT" when a luksfs view of that image is mounted
// in this mount namespace, else "IMAGE: locked by another process (qemu?)".
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "fs/cli/image.h"
#include "fs/fuse/mountinfo.h"
#include "fs/storage/image_lock.h"

namespace luksfs::cli {

// The luksfs mount serving `image` (an absolute path), if any.
struct ImageHolder {
  std::string mountpoint;
  pid_t pid = 0;  // 0 when its daemon cannot be found
  fs::MountInfo info;
};
std::optional<ImageHolder> FindImageHolder(const std::string& image);

// Locks `image` in `mode` into *out (a mount: the refusal suggests
// -o nolock). With `no_lock`, takes nothing and logs a warning. nullopt on
// success.
std::optional<CliError> LockImage(const std::string& image,
                                  fs::ImageLockMode mode, bool no_lock,
                                  std::unique_ptr<fs::ImageLock>* out);

// RAII guard for a header edit: holds the read-write lock until destroyed.
//   EditLock lock;
//   if (auto e = lock.Take(cmd.image)) return Report(*e);
class EditLock {
 public:
  // Refused (exit 7) while anyone else uses the image.
  std::optional<CliError> Take(const std::string& image);

  // For `shred --yes`: as Take, but if the holder is a luksfs daemon, it
  // is asked to drop its keys (fs/fuse/daemon_socket.h) and the edit goes
  // ahead once the daemon says its view is dark (the daemon keeps its
  // lock; nothing is served any more). Refused if the daemon cannot be
  // asked or does not confirm: the keyslots are never wiped while
  // plaintext is served.
  std::optional<CliError> TakeDarkening(const std::string& image);

 private:
  std::unique_ptr<fs::ImageLock> lock_;
};

}  // namespace luksfs::cli
