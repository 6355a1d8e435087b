// UringTransport: FUSE over io_uring beside libfuse's /dev/fuse loop.
//
// Linux 6.14 and later can carry FUSE requests through io_uring instead of
// read(2)/writev(2) on /dev/fuse (module parameter fuse.enable_uring, flag
// FUSE_OVER_IO_URING in FUSE_INIT; kernel documentation
// Documentation/filesystems/fuse/fuse-io-uring.rst). Debian 12's libfuse
// 3.14 predates it, so luksfs speaks the ring protocol itself:
//
//   1. Attach() asks the session's InitHooks (init_hooks.h: libfuse's
//      custom-I/O hooks) for FUSE_OVER_IO_URING in the INIT reply when the
//      kernel offers it, and installs a writev filter there that captures
//      the replies to ring requests.
//   2. Right after the INIT reply is written, one ring per possible CPU
//      (the kernel's queue count) is set up with SQE128, and each queue
//      registers `queue_depth` entries (FUSE_IO_URING_CMD_REGISTER): a
//      288-byte header buffer and a payload buffer of max_payload bytes.
//      The kernel switches over once every queue has an entry.
//   3. Each ring's thread waits for completions. A completed entry holds one
//      request: fuse_in_header in the header's in_out area, the operation's
//      own header in op_in, the rest in the payload. The thread rebuilds the
//      classic request in front of the payload (no copy of write data) and
//      hands it to fuse_session_process_buf, so the ops table stays the one
//      in view_fs_ops.cc. The reply libfuse writes is captured by the writev
//      filter on that thread, placed in the entry (fuse_out_header in in_out,
//      the reply arguments in the payload) and committed with
//      FUSE_IO_URING_CMD_COMMIT_AND_FETCH, which also fetches the next.
//   4. The /dev/fuse loop keeps running: interrupts, forgets, replies to
//      notifications and every request before the switch-over come there.
//      If the kernel refuses the flag or a registration, the rings stop and
//      /dev/fuse serves everything (the fallback), unless mode is kOn.
//
// Plaintext: the payload buffers hold read replies and write data.
// WipeBuffers() clears every payload (revocation; Stop() clears the headers
// too). Each ring thread does one io_uring_enter per wake-up: it submits the
// commits of its last batch and waits in the same call. WipeBuffers() does
// not touch a running queue's buffers itself: it asks the ring thread
// (eventfd), which wipes right after its io_uring_enter returned, when the
// kernel has taken every reply built so far, and waits for the answer. So a
// wipe never clears a reply the kernel has not taken, and the data path
// takes no lock. The buffers are mmap'd anonymous memory, locked when the
// process has mlockall.
//
// Thread-safety: Attach/Stop are called from the thread that runs the
// session; the hooks run on libfuse's and the rings' threads; active(),
// served() and WipeBuffers() from any thread. The InitHooks given to
// Attach must outlive the session loop.
// Errors: Attach returns kUnavailable when mode is kOn and the kernel does
// not offer FUSE over io_uring; later failures are logged and fall back.
#pragma once

#include <fuse_lowlevel.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace luksfs::fs {

class InitHooks;

enum class UringMode { kAuto, kOn, kOff };

struct UringOptions {
  UringMode mode = UringMode::kAuto;
  unsigned queue_depth = 8;         // entries per CPU queue
  size_t max_payload = 1 << 20;     // bytes; >= the session's max_write
};

// Whether this kernel offers FUSE over io_uring now (fuse.enable_uring=Y).
bool KernelOffersFuseUring();

class UringTransport {
 public:
  explicit UringTransport(UringOptions options);
  ~UringTransport();  // Stop()
  UringTransport(const UringTransport&) = delete;
  UringTransport& operator=(const UringTransport&) = delete;

  // Registers with `hooks` (mounted session, loop not started yet; the
  // caller installs the hooks after). kOff: does nothing. kAuto without
  // kernel support: does nothing.
  Status Attach(struct fuse_session* se, InitHooks* hooks);

  // Stops and joins the ring threads, frees the rings, wipes the buffers.
  // Idempotent. Call after the session loop returned.
  void Stop();

  // Zeroes every payload buffer; returns when each ring thread has wiped
  // its own (after the reply it may be building has gone to the kernel:
  // it waits for a request in progress to finish).
  void WipeBuffers();

  // Every queue registered and the kernel accepted them.
  bool active() const { return active_.load(); }
  // Requests answered through the rings so far.
  uint64_t served() const { return served_.load(); }
  // "io_uring", "/dev/fuse", or "/dev/fuse (io_uring refused: ...)".
  std::string Describe() const;

  // --- the writev filter and ring threads (uring_transport.cc) ---
  struct Queue;
  struct Entry;
  // A reply written on a ring thread goes into its entry (true, with the
  // byte count or -1 in *result); anything else is not ours (false).
  bool HookWritev(int fd, struct iovec* iov, int count, ssize_t* result);

 private:
  void StartRings();
  void RingLoop(Queue* q);
  void Fail(const std::string& why);

  const UringOptions options_;
  struct fuse_session* se_ = nullptr;
  std::atomic<bool> started_{false};
  std::atomic<bool> active_{false};
  std::atomic<uint64_t> served_{0};
  std::atomic<int> registered_queues_{0};
  // Guards queues_ and threads_ (filled once by StartRings, emptied by
  // Stop). The ring threads never take it; WipeBuffers takes it, then each
  // queue's own mutex (Queue::mu, which the ring threads take only to
  // answer a wipe).
  std::mutex setup_mu_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::thread> threads_;
  mutable std::atomic<const char*> failure_{nullptr};  // static text
  std::string failure_text_;  // written once before failure_ is set
};

// The buffer a read reply should be built in when the calling thread is
// serving a ring entry (so the reply needs no copy), else nullptr.
uint8_t* UringReplyBuffer(size_t n);

}  // namespace luksfs::fs
