// HangupWorker: runs the daemon's SIGHUP work (re-check the KMS key, reopen
// the audit log) on a thread of its own, since neither is async-signal-safe.
//
// The SIGHUP handler (Handler(), installed by ViewFs::Run) only writes one
// byte to a non-blocking pipe; the thread wakes and calls `work`. Several
// signals before the thread runs collapse into one call.
//
// One worker per process: Handler() reaches the live worker through a
// global. Thread-safety: construct and destroy on one thread; `work` runs on
// the worker's thread.
#pragma once

#include <functional>
#include <thread>

#include "common/unique_fd.h"

namespace luksfs::cli {

class HangupWorker {
 public:
  // Starts the thread. If the pipe or the thread cannot be made, SIGHUP is
  // still harmless, it just does nothing (logged).
  explicit HangupWorker(std::function<void()> work);
  // Stops and joins the thread; later SIGHUPs are ignored.
  ~HangupWorker();
  HangupWorker(const HangupWorker&) = delete;
  HangupWorker& operator=(const HangupWorker&) = delete;

  // The SIGHUP handler: async-signal-safe.
  static void Handler(int);

 private:
  void Loop();

  std::function<void()> work_;
  UniqueFd read_fd_;
  UniqueFd write_fd_;
  std::thread thread_;
};

}  // namespace luksfs::cli
