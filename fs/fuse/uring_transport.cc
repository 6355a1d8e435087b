#include "fs/fuse/uring_transport.h"

#include <fcntl.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <pthread.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/sysinfo.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>

#include "common/log.h"
#include "common/unique_fd.h"
#include "fs/fuse/init_hooks.h"

namespace luksfs::fs {

// The FUSE-over-io_uring part of the kernel ABI (include/uapi/linux/fuse.h,
// protocol 7.42, Linux 6.14). Debian 12's <linux/fuse.h> predates it.
namespace {

constexpr uint32_t kCmdRegister = 1;
constexpr uint32_t kCmdCommitAndFetch = 2;

struct RingEntInOut {
  uint64_t flags;
  uint64_t commit_id;   // to send back with the reply
  uint32_t payload_sz;  // bytes of the payload used, both directions
  uint32_t padding;
  uint64_t reserved;
};

struct RingReqHeader {
  char in_out[128];  // fuse_in_header, then fuse_out_header for the reply
  char op_in[128];   // the operation's own header (e.g. fuse_read_in)
  RingEntInOut ent;
};
static_assert(sizeof(RingReqHeader) == 288);

struct RingCmdReq {  // in the SQE128 command area
  uint64_t flags;
  uint64_t commit_id;
  uint16_t qid;
  uint8_t padding[6];
};

constexpr size_t kInHeader = sizeof(struct fuse_in_header);  // 40
// Room before the payload for the rebuilt classic request headers.
constexpr size_t kFront = 4096;
constexpr size_t kPage = 4096;

// Operation header sizes, for a kernel whose in_header.len does not add up.
size_t OpHeaderSize(uint32_t opcode) {
  switch (opcode) {
    case FUSE_GETATTR: return sizeof(struct fuse_getattr_in);
    case FUSE_SETATTR: return sizeof(struct fuse_setattr_in);
    case FUSE_OPEN:
    case FUSE_OPENDIR: return sizeof(struct fuse_open_in);
    case FUSE_READ:
    case FUSE_READDIR:
    case FUSE_READDIRPLUS: return sizeof(struct fuse_read_in);
    case FUSE_WRITE: return sizeof(struct fuse_write_in);
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR: return sizeof(struct fuse_release_in);
    case FUSE_FSYNC:
    case FUSE_FSYNCDIR: return sizeof(struct fuse_fsync_in);
    case FUSE_FLUSH: return sizeof(struct fuse_flush_in);
    case FUSE_GETXATTR:
    case FUSE_LISTXATTR: return sizeof(struct fuse_getxattr_in);
    case FUSE_ACCESS: return sizeof(struct fuse_access_in);
    case FUSE_LSEEK: return sizeof(struct fuse_lseek_in);
    case FUSE_FALLOCATE: return sizeof(struct fuse_fallocate_in);
    case FUSE_CREATE: return sizeof(struct fuse_create_in);
    default: return 0;  // LOOKUP, STATFS, ...: everything is payload
  }
}

}  // namespace

// Queues FUSE_IO_URING_CMD_REGISTER for `e` (its buffers are set): the
// kernel takes the entry and completes it with the next request.
// REQUIRES: a free SQE (one per entry, plus the eventfd's).
static bool QueueRegister(UringTransport::Queue* q, UringTransport::Entry* e);

namespace {

void* MapBuffer(size_t n) {
  void* p = mmap(nullptr, n, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  madvise(p, n, MADV_DONTDUMP);  // plaintext never reaches a core file
  return p;
}

}  // namespace

struct UringTransport::Entry {
  Queue* queue = nullptr;
  RingReqHeader* hdr = nullptr;  // kPage bytes, mmap'd
  uint8_t* region = nullptr;     // kFront + payload_size bytes, mmap'd
  uint8_t* payload = nullptr;    // region + kFront
  struct iovec iov[2] = {};
  uint64_t commit_id = 0;
  bool replied = false;
};

struct UringTransport::Queue {
  int qid = 0;
  int fuse_fd = -1;
  size_t payload_size = 0;
  struct io_uring ring = {};
  bool ring_ok = false;
  UniqueFd eventfd;  // owned; wakes the ring thread (Stop, WipeBuffers)
  std::vector<Entry> entries;
  // Asked by Stop(): the ring thread leaves its loop at the next wake-up.
  std::atomic<bool> stop_asked{false};
  // Wipe requests (WipeBuffers): asked counts requests, done the ones the
  // ring thread has served. The ring thread wipes its own payloads at the
  // top of its loop, right after the io_uring_enter that handed the kernel
  // every reply built so far, so no wipe clears a reply the kernel has not
  // taken, and the data path takes no lock.
  std::atomic<uint64_t> wipe_asked{0};
  // mu guards wipe_done and loop_running; never held across io_uring_enter
  // or a request.
  std::mutex mu;
  std::condition_variable wiped;  // wipe_done advanced or the loop ended
  uint64_t wipe_done = 0;
  bool loop_running = false;
};

namespace {
thread_local UringTransport::Entry* t_entry = nullptr;
thread_local UringTransport::Queue* t_queue = nullptr;  // the ring thread's

// Zeroes the payload regions of q (the plaintext: read replies, write
// data). The headers hold request headers only, and the kernel may be
// writing a new request into them: they are left alone.
void WipePayloads(UringTransport::Queue* q, size_t front) {
  for (UringTransport::Entry& e : q->entries) {
    if (e.region != nullptr) explicit_bzero(e.region, front + q->payload_size);
  }
}

// (Re)arms the one-shot poll on q's eventfd (user data nullptr).
bool ArmWakeup(UringTransport::Queue* q) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&q->ring);
  if (sqe == nullptr) return false;
  io_uring_prep_poll_add(sqe, q->eventfd.get(), POLLIN);
  io_uring_sqe_set_data(sqe, nullptr);
  return true;
}
}  // namespace

static bool QueueRegister(UringTransport::Queue* q, UringTransport::Entry* e) {
  struct io_uring_sqe* sqe = io_uring_get_sqe(&q->ring);
  if (sqe == nullptr) return false;
  std::memset(sqe, 0, 128);
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = q->fuse_fd;
  sqe->cmd_op = kCmdRegister;
  sqe->addr = reinterpret_cast<uint64_t>(e->iov);
  sqe->len = 2;
  io_uring_sqe_set_data(sqe, e);
  auto* req = reinterpret_cast<RingCmdReq*>(sqe->cmd);
  req->qid = static_cast<uint16_t>(q->qid);
  return true;
}

bool KernelOffersFuseUring() {
  UniqueFd fd(open("/sys/module/fuse/parameters/enable_uring", O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return false;
  char c = 0;
  return read(fd.get(), &c, 1) == 1 && (c == 'Y' || c == '1');
}

uint8_t* UringReplyBuffer(size_t n) {
  UringTransport::Entry* e = t_entry;
  if (e == nullptr || n > e->queue->payload_size) return nullptr;
  return e->payload;
}

UringTransport::UringTransport(UringOptions options) : options_(options) {}

UringTransport::~UringTransport() { Stop(); }

Status UringTransport::Attach(struct fuse_session* se, InitHooks* hooks) {
  if (options_.mode == UringMode::kOff) return Status();
  if (!KernelOffersFuseUring()) {
    if (options_.mode == UringMode::kOn) {
      return Status::Unavailable(
          "--io-uring=on: this kernel does not offer FUSE over io_uring "
          "(needs Linux 6.14+ and `echo Y > "
          "/sys/module/fuse/parameters/enable_uring` as root)");
    }
    return Status();
  }
  se_ = se;
  hooks->SetWritevFilter([this](int fd, struct iovec* iov, int count,
                                ssize_t* result) {
    return HookWritev(fd, iov, count, result);
  });
  hooks->Want(kFuseOverIoUring, [this](bool offered, bool granted) {
    if (granted) {
      StartRings();
    } else {
      Fail(offered ? "libfuse's INIT reply has no FUSE_INIT_EXT"
                   : "the kernel did not offer FUSE_OVER_IO_URING in INIT");
    }
  });
  return Status();
}

bool UringTransport::HookWritev(int, struct iovec* iov, int count,
                                ssize_t* result) {
  Entry* e = t_entry;
  if (e != nullptr && count >= 1 && iov[0].iov_len == sizeof(struct fuse_out_header)) {
    // A reply to the ring request this thread is serving.
    size_t total = 0;
    if (count == 2 && iov[1].iov_base == e->payload) {
      total = iov[1].iov_len;  // built in place (UringReplyBuffer)
    } else {
      for (int i = 1; i < count; ++i) {
        if (total + iov[i].iov_len > e->queue->payload_size) {
          errno = EINVAL;
          *result = -1;
          return true;
        }
        std::memcpy(e->payload + total, iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
      }
    }
    std::memcpy(e->hdr->in_out, iov[0].iov_base, sizeof(struct fuse_out_header));
    e->hdr->ent.payload_sz = static_cast<uint32_t>(total);
    e->replied = true;
    *result = static_cast<ssize_t>(sizeof(struct fuse_out_header) + total);
    return true;
  }
  return false;  // not ours: InitHooks writes it (and patches FUSE_INIT)
}

void UringTransport::Fail(const std::string& why) {
  if (failure_.load() != nullptr) return;
  failure_text_ = why;
  failure_.store(failure_text_.c_str());
  if (options_.mode == UringMode::kOn) {
    LogError("FUSE over io_uring refused: " + why + "; serving through /dev/fuse");
  } else {
    LogDebug("FUSE over io_uring not used: " + why);
  }
}

void UringTransport::StartRings() {
  if (started_.exchange(true)) return;
  std::lock_guard<std::mutex> setup(setup_mu_);
  const int nq = get_nprocs_conf();
  const size_t payload =
      (std::max<size_t>(options_.max_payload, 8192) + kPage - 1) / kPage * kPage;
  const unsigned depth = std::max(1u, options_.queue_depth);
  const int fd = fuse_session_fd(se_);
  queues_.reserve(static_cast<size_t>(nq));
  for (int qid = 0; qid < nq; ++qid) {
    auto q = std::make_unique<Queue>();
    q->qid = qid;
    q->fuse_fd = fd;
    q->payload_size = payload;
    struct io_uring_params p = {};
    p.flags = IORING_SETUP_SQE128 | IORING_SETUP_CQSIZE;
    p.cq_entries = 2 * (depth + 1);
    int rc = io_uring_queue_init_params(depth + 1, &q->ring, &p);
    if (rc != 0) {
      Fail(std::string("io_uring_setup: ") + std::strerror(-rc));
      return;
    }
    q->ring_ok = true;
    q->eventfd.reset(eventfd(0, EFD_CLOEXEC));
    q->entries.resize(depth);
    for (Entry& e : q->entries) {
      e.queue = q.get();
      e.hdr = static_cast<RingReqHeader*>(MapBuffer(kPage));
      e.region = static_cast<uint8_t*>(MapBuffer(kFront + payload));
      if (e.hdr == nullptr || e.region == nullptr || q->eventfd.get() < 0) {
        Fail("cannot allocate the ring buffers");
        queues_.push_back(std::move(q));
        return;
      }
      e.payload = e.region + kFront;
      e.iov[0] = {e.hdr, sizeof(RingReqHeader)};
      e.iov[1] = {e.payload, payload};
      QueueRegister(q.get(), &e);
    }
    ArmWakeup(q.get());
    queues_.push_back(std::move(q));
  }
  for (auto& q : queues_) {
    q->loop_running = true;  // before the thread exists: WipeBuffers waits
    threads_.emplace_back([this, qp = q.get()] { RingLoop(qp); });
  }
  LogDebug("FUSE over io_uring: " + std::to_string(nq) + " queue(s) of " +
           std::to_string(depth) + " entries, " + std::to_string(payload) +
           "-byte payloads");
}

void UringTransport::RingLoop(Queue* q) {
  // Signals go to the session's thread, never here.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  CPU_SET(q->qid, &cpus);
  pthread_setaffinity_np(pthread_self(), sizeof cpus, &cpus);
  t_queue = q;

  bool stop = false;
  size_t failures = 0;  // consecutive failed entries
  uint64_t wipes_seen = 0;
  while (!stop) {
    // One io_uring_enter per wake-up: it hands the kernel the commits of
    // the last batch (each COMMIT_AND_FETCH takes its reply from the entry
    // before the call returns) and waits for the next completion. A wipe
    // asked for while the batch ran (its eventfd completion may have been
    // in the batch already) is served without waiting.
    const bool wipe_pending =
        q->wipe_asked.load(std::memory_order_acquire) != wipes_seen;
    int rc = wipe_pending ? io_uring_submit(&q->ring)
                          : io_uring_submit_and_wait(&q->ring, 1);
    if (rc < 0 && rc != -EINTR) {
      Fail(std::string("io_uring_enter: ") + std::strerror(-rc));
      break;
    }
    // Every reply built so far is the kernel's now: a wipe asked for by
    // WipeBuffers() can clear the payloads without losing one.
    const uint64_t asked = q->wipe_asked.load(std::memory_order_acquire);
    if (asked != wipes_seen) {
      WipePayloads(q, kFront);
      wipes_seen = asked;
      std::lock_guard<std::mutex> lock(q->mu);
      q->wipe_done = asked;
      q->wiped.notify_all();
    }
    struct io_uring_cqe* cqe;
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&q->ring, head, cqe) {
      ++seen;
      auto* e = static_cast<Entry*>(io_uring_cqe_get_data(cqe));
      if (e == nullptr) {  // the eventfd: Stop() or WipeBuffers()
        uint64_t count;
        ssize_t ignored = read(q->eventfd.get(), &count, sizeof count);
        (void)ignored;
        if (q->stop_asked.load(std::memory_order_acquire) || !ArmWakeup(q)) {
          stop = true;
        }
        continue;
      }
      if (cqe->res < 0) {
        // ENOTCONN/ENODEV/ECANCELED: the connection is going away (unmount).
        if (cqe->res == -ENOTCONN || cqe->res == -ENODEV ||
            cqe->res == -ECANCELED) {
          stop = true;
          continue;
        }
        // Before the switch-over: the kernel refuses the rings (fall back
        // to /dev/fuse). Afterwards: the kernel dropped this one entry (a
        // commit it could not take); register it again, so the queue
        // never loses its entries, but give up on a queue that keeps
        // failing.
        if (!active_.load() || ++failures > 4 * q->entries.size() ||
            !QueueRegister(q, e)) {
          Fail(std::string("FUSE_IO_URING_CMD: ") + std::strerror(-cqe->res));
          stop = true;
        } else {
          LogWarning(std::string("FUSE over io_uring: an entry failed (") +
                     std::strerror(-cqe->res) + "); registered again");
        }
        continue;
      }
      failures = 0;
      RingReqHeader* hdr = e->hdr;
      auto* in = reinterpret_cast<struct fuse_in_header*>(hdr->in_out);
      const size_t psz = std::min<size_t>(hdr->ent.payload_sz, q->payload_size);
      e->commit_id = hdr->ent.commit_id;
      size_t op = OpHeaderSize(in->opcode);
      if (in->len >= kInHeader + psz && in->len - kInHeader - psz <= sizeof hdr->op_in) {
        op = in->len - kInHeader - psz;
      }
      uint8_t* start = e->payload - kInHeader - op;
      std::memcpy(start, in, kInHeader);
      std::memcpy(start + kInHeader, hdr->op_in, op);
      reinterpret_cast<struct fuse_in_header*>(start)->len =
          static_cast<uint32_t>(kInHeader + op + psz);
      struct fuse_buf buf = {};
      buf.mem = start;
      buf.size = kInHeader + op + psz;
      e->replied = false;
      t_entry = e;
      fuse_session_process_buf(se_, &buf);
      t_entry = nullptr;
      if (!e->replied) {  // no reply was sent (not expected on the ring)
        struct fuse_out_header out = {};
        out.len = sizeof out;
        out.error = -ENOSYS;
        out.unique = in->unique;
        std::memcpy(hdr->in_out, &out, sizeof out);
        hdr->ent.payload_sz = 0;
      }
      // A plain load first: an exchange on every request would bounce
      // this line between the ring threads' cores.
      if (!active_.load(std::memory_order_relaxed) && !active_.exchange(true)) {
        LogInfo("serving through FUSE over io_uring");
      }
      served_.fetch_add(1, std::memory_order_relaxed);
      struct io_uring_sqe* sqe = io_uring_get_sqe(&q->ring);
      if (sqe == nullptr) {
        Fail("no free SQE for a commit");
        stop = true;
        continue;
      }
      std::memset(sqe, 0, 128);
      sqe->opcode = IORING_OP_URING_CMD;
      sqe->fd = q->fuse_fd;
      sqe->cmd_op = kCmdCommitAndFetch;
      io_uring_sqe_set_data(sqe, e);
      auto* req = reinterpret_cast<RingCmdReq*>(sqe->cmd);
      req->qid = static_cast<uint16_t>(q->qid);
      req->commit_id = e->commit_id;
    }
    io_uring_cq_advance(&q->ring, seen);
    // The commits queued above go to the kernel with the next wait.
  }
  // Leaving: hand the kernel the replies still queued (it takes them or
  // the connection is gone), so that the wipes below and in WipeBuffers()
  // never race a reply.
  io_uring_submit(&q->ring);
  std::lock_guard<std::mutex> lock(q->mu);
  q->loop_running = false;
  q->wiped.notify_all();
}

void UringTransport::WipeBuffers() {
  std::lock_guard<std::mutex> setup(setup_mu_);
  // Ask every ring thread first, so that they all wipe in parallel.
  std::vector<std::pair<Queue*, uint64_t>> asked;
  for (auto& q : queues_) {
    if (q.get() == t_queue) {  // called on a ring thread: its own, inline
      WipePayloads(q.get(), kFront);
      continue;
    }
    const uint64_t n = q->wipe_asked.fetch_add(1, std::memory_order_acq_rel) + 1;
    if (q->eventfd.get() >= 0) {
      uint64_t one = 1;
      ssize_t ignored = write(q->eventfd.get(), &one, sizeof one);
      (void)ignored;
    }
    asked.emplace_back(q.get(), n);
  }
  for (const auto& ask : asked) {
    Queue* q = ask.first;
    const uint64_t n = ask.second;
    std::unique_lock<std::mutex> lock(q->mu);
    q->wiped.wait(lock, [q, n] { return !q->loop_running || q->wipe_done >= n; });
    if (!q->loop_running) WipePayloads(q, kFront);  // no thread: ours to wipe
  }
}

void UringTransport::Stop() {
  std::unique_lock<std::mutex> setup(setup_mu_);
  for (auto& q : queues_) {
    q->stop_asked.store(true, std::memory_order_release);
    if (q->eventfd.get() >= 0) {
      uint64_t one = 1;
      ssize_t ignored = write(q->eventfd.get(), &one, sizeof one);
      (void)ignored;
    }
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
  for (auto& q : queues_) {
    for (Entry& e : q->entries) {
      if (e.region != nullptr) explicit_bzero(e.region, kFront + q->payload_size);
      if (e.hdr != nullptr) explicit_bzero(e.hdr, kPage);
    }
    if (q->ring_ok) io_uring_queue_exit(&q->ring);
    q->ring_ok = false;
    for (Entry& e : q->entries) {
      if (e.region != nullptr) munmap(e.region, kFront + q->payload_size);
      if (e.hdr != nullptr) munmap(e.hdr, kPage);
      e.region = nullptr;
      e.hdr = nullptr;
    }
    q->eventfd.reset();
  }
  queues_.clear();
}

std::string UringTransport::Describe() const {
  if (active_.load()) return "io_uring";
  const char* f = failure_.load();
  if (f != nullptr) return std::string("/dev/fuse (io_uring not used: ") + f + ")";
  return "/dev/fuse";
}

}  // namespace luksfs::fs
