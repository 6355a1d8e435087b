#include "fs/fuse/daemon_socket.h"

#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <system_error>
#include <utility>

#include "common/unique_fd.h"

namespace luksfs::fs {

namespace {

// Pending connections the kernel queues before the accept thread runs.
constexpr int kBacklog = 128;
// A client waits up to 200 x 5 ms for room in a full backlog.
constexpr int kConnectAttempts = 200;
constexpr auto kConnectRetryDelay = std::chrono::milliseconds(5);
// How long the accept thread waits for a request byte or EOF.
constexpr int kRequestWaitMs = 500;
// How long AskDropKeys waits for the answer.
constexpr int kAnswerWaitMs = 10000;
constexpr char kDropKeys = 'D';
constexpr char kDone = 'K';
constexpr char kRefused = 'F';

// The address of an abstract name (leading NUL, no terminator).
socklen_t MakeAddress(const std::string& name, struct sockaddr_un* addr) {
  *addr = {};
  addr->sun_family = AF_UNIX;
  std::memcpy(addr->sun_path, name.data(), name.size());
  return static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) +
                                name.size());
}

// How ss(8) and /proc/net/unix show an abstract name.
std::string Shown(const std::string& name) { return "@" + name.substr(1); }

std::string ErrnoText(int err) {
  char buf[256];
  return strerror_r(err, buf, sizeof buf);  // GNU: may not return buf
}

std::optional<uid_t> MountUid(const MountInfo& mount) {
  std::optional<std::string> v = SuperOption(mount, "user_id");
  if (!v) return std::nullopt;
  uid_t uid = 0;
  auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), uid);
  if (ec != std::errc() || end != v->data() + v->size()) return std::nullopt;
  return uid;
}

// realpath(3); for a mount whose daemon is gone, lstat() of the mount
// point fails with ENOTCONN, so resolve its parent and append the name.
Result<std::string> Canonical(const std::string& path) {
  char buf[PATH_MAX];
  if (realpath(path.c_str(), buf) != nullptr) return std::string(buf);
  const int err = errno;
  if (err == ENOTCONN) {
    std::string p = path;
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    const size_t slash = p.rfind('/');
    const std::string dir = slash == std::string::npos ? "."
                            : slash == 0               ? "/"
                                                       : p.substr(0, slash);
    const std::string base =
        slash == std::string::npos ? p : p.substr(slash + 1);
    if (!base.empty() && base != "." && base != ".." &&
        realpath(dir.c_str(), buf) != nullptr) {
      std::string out = buf;
      if (out != "/") out += '/';
      return out + base;
    }
  }
  return PosixError(path, err);
}

// The pid of the listener `fd` is connected to, if it may speak for
// `mount` (CheckDaemonOwner).
Result<pid_t> PeerPid(const std::string& mountpoint, const MountInfo& mount,
                      int fd) {
  struct ucred cred = {};
  socklen_t cred_len = sizeof cred;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cred_len) != 0) {
    return PosixError(mountpoint + ": SO_PEERCRED", errno);
  }
  LUKSFS_RETURN_IF_ERROR(
      CheckDaemonOwner(mountpoint, cred.uid, MountUid(mount)));
  if (cred.pid <= 0) {
    return Status::Unavailable(mountpoint +
                               ": the daemon is in another pid namespace");
  }
  return cred.pid;
}

}  // namespace

std::string DaemonSocketName(unsigned major, unsigned minor) {
  return std::string(1, '\0') + "luksfs/" + std::to_string(major) + ":" +
         std::to_string(minor);
}

// ---------------------------------------------------------------- listener

DaemonSocket::DaemonSocket(UniqueFd listen_fd, UniqueFd wake_fd)
    : listen_fd_(std::move(listen_fd)), wake_fd_(std::move(wake_fd)) {}

Result<std::unique_ptr<DaemonSocket>> DaemonSocket::Listen(
    unsigned major, unsigned minor, std::function<void()> drop_keys) {
  const std::string name = DaemonSocketName(major, minor);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return PosixError("socket(AF_UNIX)", errno);
  struct sockaddr_un addr;
  const socklen_t len = MakeAddress(name, &addr);
  if (bind(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), len) != 0 ||
      listen(fd.get(), kBacklog) != 0) {
    return PosixError(Shown(name), errno);
  }
  UniqueFd wake(eventfd(0, EFD_CLOEXEC));
  if (wake.get() < 0) return PosixError("eventfd", errno);
  std::unique_ptr<DaemonSocket> s(new DaemonSocket(std::move(fd), std::move(wake)));
  s->drop_keys_ = std::move(drop_keys);
  try {
    s->thread_ = std::thread([p = s.get()] { p->AcceptLoop(); });
  } catch (const std::system_error& e) {
    return Status::ResourceExhausted(Shown(name) +
                                     ": cannot start a thread: " + e.what());
  }
  return s;
}

DaemonSocket::~DaemonSocket() {
  const uint64_t one = 1;
  ssize_t ignored = write(wake_fd_.get(), &one, sizeof one);
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  listen_fd_.reset();
  wake_fd_.reset();
}

// Never logs: the daemon may switch logging to syslog while this runs.
void DaemonSocket::AcceptLoop() {
  struct pollfd fds[2] = {{listen_fd_.get(), POLLIN, 0}, {wake_fd_.get(), POLLIN, 0}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    if (fds[0].revents & POLLNVAL) return;
    if (fds[0].revents == 0) continue;
    UniqueFd conn(accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.get() >= 0) {
      Serve(std::move(conn));
    } else if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED) {
      // Out of fds or memory: back off instead of spinning.
      struct pollfd wake = {wake_fd_.get(), POLLIN, 0};
      if (poll(&wake, 1, 100) > 0) return;
    }
  }
}

void DaemonSocket::Serve(UniqueFd c) {
  const int conn = c.get();
  // `luksfs pid` clients close at once (EOF); a request comes at once too.
  struct pollfd p = {conn, POLLIN, 0};
  if (poll(&p, 1, kRequestWaitMs) <= 0) return;
  char req = 0;
  if (recv(conn, &req, 1, MSG_DONTWAIT) != 1 || req != kDropKeys) return;
  struct ucred cred = {};
  socklen_t len = sizeof cred;
  const bool allowed =
      getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
      (cred.uid == 0 || cred.uid == getuid());
  char answer = kRefused;
  if (allowed && drop_keys_) {
    drop_keys_();
    answer = kDone;
  }
  ssize_t ignored = send(conn, &answer, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
  (void)ignored;
}

// ---------------------------------------------------------------- client

Result<ViewMount> FindViewMount(const std::string& mountpoint) {
  LUKSFS_ASSIGN_OR_RETURN(std::string path, Canonical(mountpoint));
  Result<MountInfo> info = FindMount(path);
  if (!info.ok() && info.status().code() != Status::Code::kNotFound) {
    return info.status().WithContext(mountpoint);
  }
  if (!info.ok() || info->fstype != kViewFsType) {
    return Status::InvalidArgument(mountpoint + ": not a luksfs mount");
  }
  return ViewMount{std::move(path), std::move(*info)};
}

Status CheckDaemonOwner(const std::string& mountpoint, uid_t peer_uid,
                        std::optional<uid_t> mount_uid) {
  if (peer_uid == 0 || (mount_uid && peer_uid == *mount_uid)) return Status();
  return Status::PermissionDenied(
      mountpoint + ": daemon socket owned by uid " + std::to_string(peer_uid) +
      ", mount belongs to uid " +
      (mount_uid ? std::to_string(*mount_uid) : std::string("(unknown)")));
}

Result<pid_t> FindDaemon(const std::string& mountpoint,
                         const MountInfo& mount) {
  const std::string name = DaemonSocketName(mount.major, mount.minor);
  struct sockaddr_un addr;
  const socklen_t len = MakeAddress(name, &addr);
  // Non-blocking: a full backlog fails with EAGAIN instead of hanging (a
  // unix connect() never returns EINPROGRESS). It is full only for a burst
  // of clients or a stopped daemon: retry for a while.
  for (int attempt = 1;; ++attempt) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
    if (fd.get() < 0) return PosixError("socket(AF_UNIX)", errno);
    if (connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), len) ==
        0) {
      return PeerPid(mountpoint, mount, fd.get());
    }
    const int err = errno;
    if (err == EAGAIN && attempt < kConnectAttempts) {
      std::this_thread::sleep_for(kConnectRetryDelay);
      continue;
    }
    if (err == EAGAIN) {
      return Status::Unavailable(mountpoint +
                                 ": the daemon does not accept on " +
                                 Shown(name) + " (is it stopped?)");
    }
    return Status::Unavailable(mountpoint + ": no daemon listens on " +
                               Shown(name) + ": " + ErrnoText(err));
  }
}

Result<pid_t> FindDaemon(const std::string& mountpoint) {
  LUKSFS_ASSIGN_OR_RETURN(ViewMount mount, FindViewMount(mountpoint));
  return FindDaemon(mountpoint, mount.info);
}

Status AskDropKeys(const std::string& mountpoint, const MountInfo& mount) {
  const std::string name = DaemonSocketName(mount.major, mount.minor);
  struct sockaddr_un addr;
  const socklen_t len = MakeAddress(name, &addr);
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return PosixError("socket(AF_UNIX)", errno);
  if (connect(fd.get(), reinterpret_cast<struct sockaddr*>(&addr), len) != 0) {
    return Status::Unavailable(mountpoint + ": no daemon listens on " +
                               Shown(name) + ": " + ErrnoText(errno));
  }
  Result<pid_t> pid = PeerPid(mountpoint, mount, fd.get());
  if (!pid.ok()) return pid.status();
  if (send(fd.get(), &kDropKeys, 1, MSG_NOSIGNAL) != 1) {
    return Status::Unavailable(mountpoint + ": cannot ask the daemon: " +
                               ErrnoText(errno));
  }
  struct pollfd p = {fd.get(), POLLIN, 0};
  char answer = 0;
  if (poll(&p, 1, kAnswerWaitMs) <= 0 || recv(fd.get(), &answer, 1, 0) != 1) {
    return Status::Unavailable(mountpoint + ": daemon " + std::to_string(*pid) +
                               " did not answer (too old a luksfs?)");
  }
  if (answer != kDone) {
    return Status::PermissionDenied(mountpoint + ": daemon " +
                                    std::to_string(*pid) +
                                    " refused to drop its keys");
  }
  return Status();
}

}  // namespace luksfs::fs
