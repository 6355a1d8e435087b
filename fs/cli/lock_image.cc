#include "fs/cli/lock_image.h"

#include <limits.h>
#include <stdlib.h>

#include <cerrno>
#include <fstream>
#include <string>

#include "common/log.h"
#include "fs/fuse/daemon_socket.h"
#include "fs/fuse/mountinfo.h"
#include "fs/storage/s3_uri.h"

namespace luksfs::cli {

std::optional<ImageHolder> FindImageHolder(const std::string& image) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  std::optional<fs::MountInfo> found;
  while (std::getline(in, line)) {
    Result<fs::MountInfo> m = fs::ParseMountInfoLine(line);
    if (!m.ok() || m->fstype != fs::kViewFsType || m->source != image) continue;
    found = std::move(m).value();  // the last one is on top
  }
  if (!found) return std::nullopt;
  ImageHolder h;
  h.mountpoint = found->mount_point;
  Result<pid_t> pid = fs::FindDaemon(h.mountpoint, *found);
  if (pid.ok()) h.pid = *pid;
  h.info = std::move(*found);
  return h;
}

namespace {

std::string Canonical(const std::string& image) {
  char buf[PATH_MAX];
  return realpath(image.c_str(), buf) ? std::string(buf) : image;
}

std::string Who(const std::optional<ImageHolder>& h) {
  if (!h) return "locked by another process (qemu?)";
  return "in use by luksfs" +
         (h->pid > 0 ? " pid " + std::to_string(h->pid) : std::string()) +
         ", mounted at " + h->mountpoint;
}

// Takes the lock; on a conflict, *busy is set and the holder looked up.
std::optional<CliError> TryLock(const std::string& image,
                                fs::ImageLockMode mode,
                                std::unique_ptr<fs::ImageLock>* out,
                                std::optional<ImageHolder>* holder) {
  const std::string path = Canonical(image);
  Result<std::unique_ptr<fs::ImageLock>> lock = fs::ImageLock::Acquire(path, mode);
  if (lock.ok()) {
    *out = std::move(lock).value();
    return std::nullopt;
  }
  const Status& s = lock.status();
  if (s.os_errno() == EAGAIN) {
    *holder = FindImageHolder(path);
    return CliError{kExitBusy, image + ": " + Who(*holder)};
  }
  if (s.os_errno() == ENOENT) return CliError{kExitStorage, image + ": no such file"};
  return CliError{kExitStorage, s.message()};
}

}  // namespace

std::optional<CliError> EditLock::Take(const std::string& image) {
  if (fs::IsS3Uri(image)) return std::nullopt;
  std::optional<ImageHolder> holder;
  auto e = TryLock(image, fs::ImageLockMode::kReadWrite, &lock_, &holder);
  if (e && e->exit_code == kExitBusy && holder) {
    e->message += " (unmount it first: luksfs umount " + holder->mountpoint + ")";
  }
  return e;
}

std::optional<CliError> EditLock::TakeDarkening(const std::string& image) {
  if (fs::IsS3Uri(image)) return std::nullopt;
  std::optional<ImageHolder> holder;
  auto e = TryLock(image, fs::ImageLockMode::kReadWrite, &lock_, &holder);
  if (!e || e->exit_code != kExitBusy || !holder) return e;
  Status asked = fs::AskDropKeys(holder->mountpoint, holder->info);
  if (!asked.ok()) {
    e->message += "; cannot make its daemon drop its keys (" +
                  asked.message() + "): unmount it first (luksfs umount " +
                  holder->mountpoint + ")";
    return e;
  }
  LogWarning(image + ": the luksfs daemon" +
             (holder->pid > 0 ? " pid " + std::to_string(holder->pid)
                              : std::string()) +
             " serving " + holder->mountpoint +
             " dropped its keys: its view is dark (luksfs umount " +
             holder->mountpoint + " removes it)");
  return std::nullopt;
}

std::optional<CliError> LockImage(const std::string& image,
                                  fs::ImageLockMode mode, bool no_lock,
                                  std::unique_ptr<fs::ImageLock>* out) {
  if (fs::IsS3Uri(image)) return std::nullopt;
  if (no_lock) {
    LogWarning(image + ": not locked (nolock): nothing stops another "
               "writer from corrupting it");
    return std::nullopt;
  }
  std::optional<ImageHolder> holder;
  auto e = TryLock(image, mode, out, &holder);
  if (e && e->exit_code == kExitBusy) {
    e->message += " (-o nolock overrides, at your risk)";
  }
  return e;
}

}  // namespace luksfs::cli
