// Telling systemd about the daemon's state (sd_notify(3), libsystemd), so
// that units of Type=notify start when the view is serving.
//
// Does nothing when $NOTIFY_SOCKET is not set (not started by systemd).
// Errors are logged at debug level only: a mount never fails for them.
// Thread-safety: may be called from any thread.
#pragma once

#include <string>

namespace luksfs::cli {

// READY=1 and a STATUS= line: the view is mounted and serving.
void NotifyReady(const std::string& status);
// STOPPING=1: the view is being unmounted; the keys are about to be wiped.
void NotifyStopping();

}  // namespace luksfs::cli
