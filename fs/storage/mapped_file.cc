#include "fs/storage/mapped_file.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <mutex>

namespace luksfs::fs {

namespace {

// The Read() in progress on this thread: the bytes its fn may touch.
// Written by Read() with signal fences around fn; read by the handler,
// which runs on the faulting thread.
struct Access {
  const uint8_t* begin = nullptr;
  const uint8_t* end = nullptr;
  volatile sig_atomic_t faulted = 0;
};
thread_local Access t_access;

struct sigaction g_previous;  // the disposition before ours; set once
uintptr_t g_page = 4096;      // bytes; set once, before the handler exists

void OnSigbus(int sig, siginfo_t* info, void* context) {
  Access& a = t_access;
  const auto* p = static_cast<const uint8_t*>(info->si_addr);
  if (info->si_code > 0 && a.begin != nullptr && p >= a.begin && p < a.end) {
    void* page = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) & ~(g_page - 1));
    // Zeros in place of the vanished page; the faulting access then completes.
    if (mmap(page, g_page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) !=
        MAP_FAILED) {
      a.faulted = 1;
      return;
    }
  }
  // Not a fault of ours: whatever was there before.
  if ((g_previous.sa_flags & SA_SIGINFO) != 0 && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  signal(SIGBUS, SIG_DFL);
  // A hardware fault repeats on return and now terminates; a sent signal
  // (si_code <= 0) is raised again.
  if (info->si_code <= 0) raise(SIGBUS);
}

Status InstallHandler() {
  static std::once_flag once;
  static int error = 0;
  std::call_once(once, [] {
    const long page = sysconf(_SC_PAGESIZE);
    if (page > 0) g_page = static_cast<uintptr_t>(page);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGBUS, &sa, &g_previous) != 0) error = errno;
  });
  if (error != 0) return Status::IOError("sigaction(SIGBUS)", error);
  return Status();
}

}  // namespace

Result<std::unique_ptr<MappedFile>> MappedFile::Create(int fd, uint64_t length,
                                                       std::string name) {
  if (length == 0 || length > SIZE_MAX) {
    return Status::InvalidArgument(name + ": nothing to map");
  }
  LUKSFS_RETURN_IF_ERROR(InstallHandler());
  void* p = mmap(nullptr, static_cast<size_t>(length), PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    const int err = errno;
    return Status::IOError(name + ": mmap", err);
  }
  // mlockall(MCL_FUTURE) marked the new mapping locked: undo that before
  // anything is touched, so read pages stay reclaimable.
  (void)munlock(p, static_cast<size_t>(length));
  (void)madvise(p, static_cast<size_t>(length), MADV_DONTDUMP);
  return std::unique_ptr<MappedFile>(
      new MappedFile(static_cast<const uint8_t*>(p), length, std::move(name)));
}

MappedFile::~MappedFile() {
  munmap(const_cast<uint8_t*>(base_), static_cast<size_t>(length_));
}

Status MappedFile::Read(uint64_t offset, size_t len,
                        FunctionRef<Status(std::span<const uint8_t>)> fn) const {
  Access& a = t_access;
  const Access saved{a.begin, a.end, a.faulted};
  a.begin = base_ + offset;
  a.end = a.begin + len;
  a.faulted = 0;
  std::atomic_signal_fence(std::memory_order_seq_cst);
  Status s = fn(std::span<const uint8_t>(a.begin, len));
  std::atomic_signal_fence(std::memory_order_seq_cst);
  const bool faulted = a.faulted != 0;
  a.begin = saved.begin;
  a.end = saved.end;
  a.faulted = saved.faulted;
  if (faulted) {
    damaged_.store(true, std::memory_order_release);
    return Status::IOError(name_ + ": bytes " + std::to_string(offset) + ".." +
                               std::to_string(offset + len) +
                               " vanished while being read (was the file truncated?)",
                           EIO);
  }
  return s;
}

}  // namespace luksfs::fs
