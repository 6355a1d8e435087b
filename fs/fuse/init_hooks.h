// InitHooks: the one way luksfs adds flags to the FUSE_INIT reply.
//
// Debian 12's libfuse 3.14 can only ask for the 32-bit `conn->want` flags.
// Newer kernels offer more in `flags2` (FUSE_INIT_EXT, the upper 32 bits of
// the 64-bit flag space; include/uapi/linux/fuse.h): bit 36
// FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6+: shared mmap of a file opened with
// FOPEN_DIRECT_IO) and bit 41 FUSE_OVER_IO_URING (Linux 6.14+). InitHooks
// installs libfuse's custom-I/O hooks (fuse_session_custom_io) on the
// session: the read hook notes the kernel's FUSE_INIT request and the flags
// it offers; the writev hook ORs each wanted flag the kernel offered into
// libfuse's INIT reply and then tells the one who wanted it.
//
// Another user of the same hooks (the io_uring transport, which answers
// ring requests through writev) installs a writev filter that sees every
// write first.
//
// Ownership: one InitHooks per session, outliving the session loop; the
// hooks find it through a process-wide pointer (one session per process).
// Thread-safety: Want/SetWritevFilter/Install before the loop starts, on
// the thread that runs the session; the hooks run on libfuse's threads;
// granted()/offered() from any thread.
// Errors: Install returns kUnavailable if libfuse refuses the hooks, and
// kInternal if another InitHooks is installed.
#pragma once

#include <fuse_lowlevel.h>
#include <linux/fuse.h>
#include <sys/uio.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "common/status.h"

namespace luksfs::fs {

// 64-bit FUSE_INIT flags that Debian 12's <linux/fuse.h> does not name.
constexpr uint64_t kFuseInitExt = uint64_t{1} << 30;
constexpr uint64_t kFuseDirectIoAllowMmap = uint64_t{1} << 36;
constexpr uint64_t kFuseOverIoUring = uint64_t{1} << 41;

// A FUSE_INIT request: its unique id and the 64-bit flags the kernel
// offers (flags, plus flags2 << 32 when FUSE_INIT_EXT is set).
struct InitOffer {
  uint64_t unique = 0;
  uint64_t flags = 0;
};

// The offer in `buf` (n bytes read from /dev/fuse) if it is a FUSE_INIT
// request, else nullopt.
std::optional<InitOffer> ParseInitRequest(const void* buf, size_t n);

// ORs into `reply` the flags of `want` that `offered` has; returns them.
// Nothing is added (0) unless the reply carries FUSE_INIT_EXT, since only
// then does the kernel read flags2.
uint64_t AddInitFlags(struct fuse_init_out* reply, uint64_t offered,
                      uint64_t want);

class InitHooks {
 public:
  // Sees every writev first; returns true when it wrote (or failed) itself,
  // with the result in *result.
  using WritevFilter =
      std::function<bool(int fd, struct iovec* iov, int count, ssize_t* result)>;
  // Right after the INIT reply was written: whether the kernel offered the
  // flags and whether they were granted (added to the reply).
  using AfterInit = std::function<void(bool offered, bool granted)>;

  InitHooks() = default;
  ~InitHooks();
  InitHooks(const InitHooks&) = delete;
  InitHooks& operator=(const InitHooks&) = delete;

  // Adds `flags` to the INIT reply if the kernel offers all of them.
  void Want(uint64_t flags, AfterInit after);
  void SetWritevFilter(WritevFilter filter);
  // Whether Want or SetWritevFilter was called (else Install is pointless).
  bool needed() const { return !wants_.empty() || static_cast<bool>(filter_); }

  // Installs the custom-I/O hooks on `se` (mounted, loop not started).
  Status Install(struct fuse_session* se);

  uint64_t offered() const { return offered_.load(); }  // 0 before INIT
  uint64_t granted() const { return granted_.load(); }

  // --- the hooks (init_hooks.cc) ---
  ssize_t HookRead(int fd, void* buf, size_t len);
  ssize_t HookWritev(int fd, struct iovec* iov, int count);

 private:
  struct Wanted {
    uint64_t flags;
    AfterInit after;
  };
  std::vector<Wanted> wants_;  // fixed before Install
  WritevFilter filter_;        // fixed before Install
  bool installed_ = false;
  std::atomic<uint64_t> init_unique_{0};  // FUSE_INIT's unique, 0 if none
  std::atomic<uint64_t> offered_{0};
  std::atomic<uint64_t> granted_{0};
};

}  // namespace luksfs::fs
