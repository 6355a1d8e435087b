#include "fs/fuse/init_hooks.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace luksfs::fs {

namespace {

std::atomic<InitHooks*> g_hooks{nullptr};

ssize_t ReadThunk(int fd, void* buf, size_t len, void*) {
  return g_hooks.load()->HookRead(fd, buf, len);
}
ssize_t WritevThunk(int fd, struct iovec* iov, int count, void*) {
  return g_hooks.load()->HookWritev(fd, iov, count);
}

constexpr size_t kInHeader = sizeof(struct fuse_in_header);

}  // namespace

std::optional<InitOffer> ParseInitRequest(const void* buf, size_t n) {
  if (n < kInHeader + offsetof(struct fuse_init_in, flags) + 4) {
    return std::nullopt;
  }
  struct fuse_in_header in;
  std::memcpy(&in, buf, sizeof in);
  if (in.opcode != FUSE_INIT) return std::nullopt;
  struct fuse_init_in ii = {};
  std::memcpy(&ii, static_cast<const uint8_t*>(buf) + kInHeader,
              std::min(sizeof ii, n - kInHeader));
  InitOffer offer;
  offer.unique = in.unique;
  offer.flags = ii.flags;
  // flags2 exists only in a request long enough to hold it.
  if ((offer.flags & kFuseInitExt) != 0 &&
      n >= kInHeader + offsetof(struct fuse_init_in, flags2) + 4) {
    offer.flags |= static_cast<uint64_t>(ii.flags2) << 32;
  }
  return offer;
}

uint64_t AddInitFlags(struct fuse_init_out* reply, uint64_t offered,
                      uint64_t want) {
  if ((reply->flags & kFuseInitExt) == 0) return 0;
  const uint64_t add = want & offered;
  reply->flags |= static_cast<uint32_t>(add);
  reply->flags2 |= static_cast<uint32_t>(add >> 32);
  return add;
}

InitHooks::~InitHooks() {
  if (installed_) {
    InitHooks* self = this;
    g_hooks.compare_exchange_strong(self, nullptr);
  }
}

void InitHooks::Want(uint64_t flags, AfterInit after) {
  wants_.push_back({flags, std::move(after)});
}

void InitHooks::SetWritevFilter(WritevFilter filter) {
  filter_ = std::move(filter);
}

Status InitHooks::Install(struct fuse_session* se) {
  InitHooks* expected = nullptr;
  if (!g_hooks.compare_exchange_strong(expected, this)) {
    return Status::Internal("FUSE I/O hooks are already installed");
  }
  struct fuse_custom_io io = {};
  io.read = ReadThunk;
  io.writev = WritevThunk;
  if (fuse_session_custom_io(se, &io, fuse_session_fd(se)) != 0) {
    g_hooks.store(nullptr);
    return Status::Unavailable("fuse_session_custom_io failed");
  }
  installed_ = true;
  return Status();
}

ssize_t InitHooks::HookRead(int fd, void* buf, size_t len) {
  const ssize_t n = ::read(fd, buf, len);
  if (n > 0 && offered_.load() == 0 && init_unique_.load() == 0) {
    if (auto offer = ParseInitRequest(buf, static_cast<size_t>(n))) {
      offered_.store(offer->flags);
      init_unique_.store(offer->unique);
    }
  }
  return n;
}

ssize_t InitHooks::HookWritev(int fd, struct iovec* iov, int count) {
  ssize_t filtered = 0;
  if (filter_ && filter_(fd, iov, count, &filtered)) return filtered;
  const uint64_t init = init_unique_.load();
  if (init == 0 || count != 2 ||
      iov[0].iov_len != sizeof(struct fuse_out_header) ||
      iov[1].iov_len < offsetof(struct fuse_init_out, flags2) + 4) {
    return ::writev(fd, iov, count);
  }
  const auto* out = static_cast<const struct fuse_out_header*>(iov[0].iov_base);
  if (out->unique != init) return ::writev(fd, iov, count);
  init_unique_.store(0);
  struct fuse_init_out reply = {};
  std::memcpy(&reply, iov[1].iov_base, std::min(sizeof reply, iov[1].iov_len));
  const uint64_t offered = offered_.load();
  uint64_t want = 0;
  for (const Wanted& w : wants_) {
    if ((w.flags & offered) == w.flags) want |= w.flags;
  }
  const uint64_t granted =
      out->error == 0 ? AddInitFlags(&reply, offered, want) : 0;
  struct iovec patched[2] = {iov[0], {&reply, iov[1].iov_len}};
  const ssize_t n = ::writev(fd, patched, 2);
  const int err = errno;
  if (n >= 0) granted_.store(granted);
  for (const Wanted& w : wants_) {
    if (w.after) {
      w.after((w.flags & offered) == w.flags,
              n >= 0 && (w.flags & granted) == w.flags);
    }
  }
  errno = err;
  return n;
}

}  // namespace luksfs::fs
