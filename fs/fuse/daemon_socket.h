// The daemon's rendezvous socket: how `luksfs pid` and `luksfs umount`
// find the daemon that serves a mount without sending the mount a request.
//
// The daemon listens on the abstract AF_UNIX stream socket
// "\0luksfs/MAJOR:MINOR", where MAJOR:MINOR is its mount's device number
// (field 3 of /proc/self/mountinfo). A client connects, never reads or
// writes, and takes the daemon's pid and uid from SO_PEERCRED. Abstract
// names belong to the network namespace and vanish with the socket: no
// file, nothing stale after a crash. A client in another network namespace
// finds nothing.
//
// Anyone may bind any abstract name, so a client believes a listener only
// if it runs as the mount's owner (the mount's user_id= option) or as root.
//
// One request exists: a client may write the byte 'D' ("drop your keys",
// before `luksfs shred` wipes the keyslots). The daemon then, if the
// client runs as root or as the daemon's own uid, calls its drop-keys
// callback and answers 'K' (done) or 'F' (refused, or no callback); a
// client that writes nothing is simply closed, as before.
//
// Thread-safety: DaemonSocket is created and destroyed by one thread; the
// free functions are safe from any thread. The callback runs on the accept
// thread.
// Errors: Status; messages are one line and name the mount point.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.h"
#include "common/unique_fd.h"
#include "fs/fuse/mountinfo.h"

namespace luksfs::fs {

// The fstype of a luksfs view in mountinfo (ViewFs mounts subtype=luksfs).
inline constexpr std::string_view kViewFsType = "fuse.luksfs";

// "\0luksfs/MAJOR:MINOR": the abstract socket name (leading NUL included)
// of the daemon serving the mount with that device number.
std::string DaemonSocketName(unsigned major, unsigned minor);

// The listening end, owned by the daemon for as long as it serves.
class DaemonSocket {
 public:
  // Binds DaemonSocketName(major, minor), listens, and starts a thread that
  // accepts each connection and closes it at once (a connection left
  // pending would fill the backlog, and later clients would be refused).
  // kIOError with os_errno() EADDRINUSE if another socket holds the name.
  // `drop_keys`, if set, serves the 'D' request.
  static Result<std::unique_ptr<DaemonSocket>> Listen(
      unsigned major, unsigned minor, std::function<void()> drop_keys = {});

  // Stops the thread and closes the socket: the name is free again.
  ~DaemonSocket();
  DaemonSocket(const DaemonSocket&) = delete;
  DaemonSocket& operator=(const DaemonSocket&) = delete;

 private:
  DaemonSocket(UniqueFd listen_fd, UniqueFd wake_fd);
  void AcceptLoop();
  void Serve(UniqueFd conn);  // one accepted connection; closes it

  std::function<void()> drop_keys_;
  UniqueFd listen_fd_;  // close-on-exec, non-blocking; closed first in ~DaemonSocket
  UniqueFd wake_fd_;    // eventfd; written once to stop the thread
  std::thread thread_;
};

// The luksfs mount at `mountpoint`: its realpath(3) (resolved through the
// parent directory when the mount's own daemon is gone: ENOTCONN) and its
// mountinfo entry, the one on top. kInvalidArgument "MNT: not a luksfs
// mount" when nothing, or something else, is mounted there; kIOError when
// the path cannot be resolved.
struct ViewMount {
  std::string path;  // canonical mount point
  MountInfo info;
};
Result<ViewMount> FindViewMount(const std::string& mountpoint);

// Whether a socket listener running as `peer_uid` may speak for a mount
// owned by `mount_uid` (nullopt: the mount shows no user_id): yes when the
// uids match or the peer is root. Otherwise kPermissionDenied "MNT: daemon
// socket owned by uid X, mount belongs to uid Y".
Status CheckDaemonOwner(const std::string& mountpoint, uid_t peer_uid,
                        std::optional<uid_t> mount_uid);

// The pid of the daemon serving `mount` (found by FindViewMount; messages
// name `mountpoint`). kUnavailable when no daemon listens (it died, or it
// is in another network namespace) or its pid is not visible in this pid
// namespace; kPermissionDenied from CheckDaemonOwner.
Result<pid_t> FindDaemon(const std::string& mountpoint, const MountInfo& mount);

// FindViewMount, then FindDaemon.
Result<pid_t> FindDaemon(const std::string& mountpoint);

// Asks the daemon serving `mount` to drop its keys ('D', above) and waits
// up to 10 s for its answer. OK once the daemon says its view is dark;
// kUnavailable (no daemon, no answer) or kPermissionDenied (refused)
// otherwise, naming `mountpoint`.
Status AskDropKeys(const std::string& mountpoint, const MountInfo& mount);

}  // namespace luksfs::fs
