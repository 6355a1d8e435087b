// ViewFs: the filesystem luksfs mounts — one directory holding one regular
// file, the plaintext view of a Volume — served through libfuse3's low-level
// API with a multithreaded session.
//
// Errors: Run() returns kUnavailable if FUSE cannot be set up or mounted
// (no /dev/fuse, mountpoint busy); the message says why.
// Thread-safety: Run() is called once; the FUSE callbacks run on libfuse's
// worker threads and only touch the Volume (thread-safe) and const state.
#pragma once

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "fs/fuse/init_hooks.h"
#include "fs/fuse/uring_transport.h"
#include "fs/volume.h"

namespace luksfs::fs {

struct MountInfo;

struct ViewOptions {
  std::string mountpoint;         // absolute path of an existing directory
  std::string file_name = "disk.raw";
  std::string fs_name;            // shown in /proc/mounts (the image path)
  bool read_only = false;
  bool allow_other = false;
  bool direct_io = false;         // bypass the kernel page cache
  // With direct_io: ask for FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6+), so a
  // shared mmap of the view works; without it MAP_SHARED fails (ENODEV).
  bool debug = false;             // libfuse request tracing
  unsigned max_threads = 16;      // FUSE worker threads (max idle)
  size_t max_request = 1 << 20;   // bytes per read/write request
  // Kernel readahead for the view, KiB (the mount's bdi read_ahead_kb);
  // 0 keeps the kernel's default. Needs root; ignored otherwise.
  unsigned kernel_readahead_kib = 1024;
  // FUSE over io_uring (uring_transport.h): auto uses it when the kernel
  // offers it, on requires it, off never tries.
  UringMode io_uring = UringMode::kAuto;
  unsigned uring_queue_depth = 8;  // entries per CPU queue
  // Owner and permission bits of the view and of its directory, checked by
  // the kernel (default_permissions). -1 / unset: the daemon's uid and gid,
  // file 0600 (0400 read-only), directory 0755 (0555 read-only).
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  int file_mode = -1;  // 0..07777
  int dir_mode = -1;   // 0..07777
};

// What chown(2)/chmod(2) changed, kept in memory for the life of the mount.
struct InodeAttr {
  std::atomic<uid_t> uid;
  std::atomic<gid_t> gid;
  std::atomic<mode_t> mode;  // permission bits only
};

class ViewFs {
 public:
  ViewFs(Volume* volume, ViewOptions options);

  // Mounts, publishes this process on the mount's rendezvous socket
  // (daemon_socket.h; only a warning if that fails), calls `on_mounted`,
  // serves until unmounted or signalled (SIGINT, SIGTERM), closes the
  // socket, then calls `before_teardown` (while the session still exists)
  // and unmounts. SIGHUP never ends the session: it calls `on_sighup`
  // (async-signal-safe work only), or is ignored when that is null.
  Status Run(const std::function<void()>& on_mounted,
             const std::function<void()>& before_teardown = {},
             void (*on_sighup)(int) = nullptr);

  // Revocation: drops the volume's keys (every later I/O fails with EIO),
  // invalidates the kernel's page cache of the view so no cached plaintext
  // survives, and with `unmount` also detaches the mount so the daemon
  // exits. Safe from any thread while Run() is serving.
  void Revoke(bool unmount);

  // Ends the session as SIGTERM does (the view unmounts, Run() returns).
  // Safe from any thread, and from `on_mounted`.
  void Stop();

  // --- called from the FUSE thunks (view_fs_ops.cc) ---
  Volume& volume() { return *volume_; }
  const ViewOptions& options() const { return options_; }
  void FillAttr(fuse_ino_t ino, struct stat* st) const;
  // The in-memory owner and mode of `ino` (kRootInode or kViewInode).
  InodeAttr& Attr(fuse_ino_t ino) { return ino == 1 ? dir_attr_ : file_attr_; }

 private:
  void SetKernelReadahead(const MountInfo& mount);

  Volume* volume_;  // not owned; outlives Run()
  // Created by Run() before the session serves, stopped after unmount;
  // Revoke() wipes its buffers (they hold plaintext).
  std::unique_ptr<UringTransport> uring_;
  // The session's FUSE_INIT flags beyond libfuse's (init_hooks.h): io_uring,
  // and with direct_io FUSE_DIRECT_IO_ALLOW_MMAP. Outlives the loop.
  std::unique_ptr<InitHooks> init_hooks_;
  // The live session, set by Run() before on_mounted and cleared after
  // before_teardown; read by Revoke() from the watcher thread.
  std::atomic<struct fuse_session*> session_{nullptr};
  pthread_t run_thread_{};  // the thread in Run(); set before session_
  ViewOptions options_;
  InodeAttr dir_attr_;
  InodeAttr file_attr_;
  struct timespec mount_time_;
};

// Inode numbers of the two objects.
constexpr fuse_ino_t kRootInode = 1;
constexpr fuse_ino_t kViewInode = 2;

}  // namespace luksfs::fs
