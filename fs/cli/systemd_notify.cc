#include "fs/cli/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstring>

#include "common/log.h"

namespace luksfs::cli {

namespace {

void Notify(const std::string& state) {
  // unset_environment=0: a child (none today) could notify as well.
  const int rc = sd_notify(0, state.c_str());
  if (rc < 0) LogDebug("sd_notify: " + std::string(std::strerror(-rc)));
}

}  // namespace

void NotifyReady(const std::string& status) {
  Notify("READY=1\nSTATUS=" + status);
}

void NotifyStopping() { Notify("STOPPING=1\nSTATUS=unmounting"); }

}  // namespace luksfs::cli
