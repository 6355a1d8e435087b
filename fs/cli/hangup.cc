#include "fs/cli/hangup.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include "common/log.h"

namespace luksfs::cli {

namespace {

// The write end of the live worker's pipe, -1 when there is none. Borrowed
// from write_fd_ (which owns it): a plain atomic int for the signal handler.
std::atomic<int> g_hup_fd{-1};

constexpr char kHup = 'h';
constexpr char kStop = 's';

}  // namespace

void HangupWorker::Handler(int) {
  const int saved = errno;
  const int fd = g_hup_fd.load();
  if (fd >= 0) {
    ssize_t ignored = write(fd, &kHup, 1);  // full pipe: a wake-up is pending
    (void)ignored;
  }
  errno = saved;
}

HangupWorker::HangupWorker(std::function<void()> work) : work_(std::move(work)) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    LogWarning(std::string("SIGHUP will do nothing: pipe: ") +
               std::strerror(errno));
    return;
  }
  read_fd_.reset(fds[0]);
  write_fd_.reset(fds[1]);
  try {
    thread_ = std::thread([this] { Loop(); });
  } catch (const std::system_error& e) {
    LogWarning(std::string("SIGHUP will do nothing: ") + e.what());
    return;
  }
  g_hup_fd.store(write_fd_.get());
}

HangupWorker::~HangupWorker() {
  g_hup_fd.store(-1);
  if (thread_.joinable()) {
    // Blocking write of the stop byte: the reader drains the pipe.
    int flags = fcntl(write_fd_.get(), F_GETFL);
    fcntl(write_fd_.get(), F_SETFL, flags & ~O_NONBLOCK);
    ssize_t ignored = write(write_fd_.get(), &kStop, 1);
    (void)ignored;
    thread_.join();
  }
}

void HangupWorker::Loop() {
  struct pollfd p = {read_fd_.get(), POLLIN, 0};
  for (;;) {
    if (poll(&p, 1, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    char buf[64];
    bool hup = false;
    ssize_t n;
    while ((n = read(read_fd_.get(), buf, sizeof buf)) > 0) {
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == kStop) return;
        hup = true;
      }
    }
    if (hup && work_) work_();
  }
}

}  // namespace luksfs::cli
