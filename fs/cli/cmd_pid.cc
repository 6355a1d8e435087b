// `luksfs pid`: print the pid of the daemon serving a luksfs mount, found on
// its rendezvous socket (fs/fuse/daemon_socket.h).
#include <cstdio>
#include <string>

#include "common/exit_codes.h"
#include "fs/cli/commands.h"
#include "fs/cli/image.h"
#include "fs/fuse/daemon_socket.h"

namespace luksfs::cli {

int RunPid(const std::string& mountpoint) {
  Result<pid_t> pid = fs::FindDaemon(mountpoint);
  if (!pid.ok()) return Report({kExitMount, pid.status().message()});
  std::printf("%d\n", static_cast<int>(*pid));
  return kExitOk;
}

}  // namespace luksfs::cli
