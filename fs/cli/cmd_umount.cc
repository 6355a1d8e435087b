// `luksfs umount`: unmount a luksfs view and wait for its daemon to exit.
// The daemon is found on its rendezvous socket (fs/fuse/daemon_socket.h);
// if it cannot be found, the view is unmounted all the same, with a warning.
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "common/exit_codes.h"
#include "fs/cli/commands.h"
#include "fs/cli/image.h"
#include "fs/fuse/daemon_socket.h"

namespace luksfs::cli {

namespace {

constexpr auto kExitWait = std::chrono::seconds(60);

bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0 && errno == ESRCH) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() &&
         (line[paren + 2] == 'Z' || line[paren + 2] == 'X');
}

int FusermountUnmount(const std::string& mnt) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    execlp("fusermount3", "fusermount3", "-u", "--", mnt.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

int RunUmount(const std::string& mountpoint) {
  Result<fs::ViewMount> mount = fs::FindViewMount(mountpoint);
  if (!mount.ok()) return Report({kExitMount, mount.status().message()});
  const std::string& mnt = mount->path;
  // The daemon's pid, to wait for; found without a request to the mount.
  pid_t pid = 0;
  Result<pid_t> daemon = fs::FindDaemon(mountpoint, mount->info);
  if (daemon.ok()) {
    pid = *daemon;
  } else {
    std::fprintf(stderr,
                 "luksfs: warning: %s; cannot wait for the daemon, "
                 "unmounting anyway\n",
                 daemon.status().message().c_str());
  }

  if (geteuid() == 0) {
    if (umount2(mnt.c_str(), 0) != 0) {
      const int err = errno;
      return Report({kExitMount,
                     mountpoint + ": cannot unmount: " +
                         (err == EBUSY ? "the mount is busy (a file is open)"
                                       : std::strerror(err))});
    }
  } else if (FusermountUnmount(mnt) != 0) {
    return Report({kExitMount, mountpoint + ": fusermount3 -u failed"});
  }
  const auto deadline = std::chrono::steady_clock::now() + kExitWait;
  while (pid > 0 && !ProcessGone(pid)) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Report({kExitMount, mountpoint + ": unmounted, but daemon " +
                                     std::to_string(pid) +
                                     " has not exited"});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return kExitOk;
}

}  // namespace luksfs::cli
