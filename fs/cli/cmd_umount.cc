// `luksfs umount`: unmount a luksfs view and wait for its daemon to exit.
// The daemon is found on its rendezvous socket (fs/fuse/daemon_socket.h);
// if it cannot be found, the view is unmounted all the same, with a warning.
#include <fcntl.h>
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
#include "common/unique_fd.h"
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

// Runs fusermount3 -u; its standard error is captured (last line in
// *error) so that umount still prints one line.
int FusermountUnmount(const std::string& mnt, std::string* error) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  UniqueFd rd(fds[0]), wr(fds[1]);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    dup2(wr.get(), STDERR_FILENO);
    execlp("fusermount3", "fusermount3", "-u", "--", mnt.c_str(),
           static_cast<char*>(nullptr));
    _exit(127);
  }
  wr.reset();
  std::string text;
  char buf[512];
  for (;;) {
    const ssize_t n = read(rd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    if (text.size() < 4096) text.append(buf, size_t(n));
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  while (!text.empty() && text.back() == '\n') text.pop_back();
  const size_t nl = text.rfind('\n');
  *error = nl == std::string::npos ? text : text.substr(nl + 1);
  if (error->rfind("fusermount3: ", 0) == 0) *error = error->substr(13);
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
  if (daemon.ok()) pid = *daemon;

  if (geteuid() == 0) {
    if (umount2(mnt.c_str(), 0) != 0) {
      const int err = errno;
      return Report({kExitMount,
                     mountpoint + ": cannot unmount: " +
                         (err == EBUSY ? "the mount is busy (a file is open)"
                                       : std::strerror(err))});
    }
  } else if (std::string why; FusermountUnmount(mnt, &why) != 0) {
    return Report({kExitMount, mountpoint + ": fusermount3 -u failed" +
                                   (why.empty() ? "" : ": " + why)});
  }
  // Printed only now, so that a failed unmount is still one line.
  if (!daemon.ok()) {
    std::fprintf(stderr,
                 "luksfs: warning: %s; cannot wait for the daemon, "
                 "unmounting anyway\n",
                 daemon.status().message().c_str());
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
