// ViewFs: the filesystem luksfs mounts — one directory holding the
// plaintext view of a Volume as a regular file (disk.raw), and, when the
// view holds an MBR or GPT partition table, one file per partition
// (disk.raw.p1, ...) — served through libfuse3's low-level API with a
// multithreaded session.
//
// Every file is a ViewFile: a window (offset, length) onto the one Volume;
// disk.raw is the window (0, Size()). The partition files are read from the
// table at Run(), and again by a thread of their own (the background
// thread) after a write through disk.raw touches the table's sectors
// (fs/partition_view.h). The files have a page cache each: after a write
// through one, that thread also invalidates the same bytes in the others'.
// Flush/fsync wait for both.
//
// Errors: Run() returns kUnavailable if FUSE cannot be set up or mounted
// (no /dev/fuse, mountpoint busy); the message says why.
// Thread-safety: Run() is called once; the FUSE callbacks run on libfuse's
// worker threads and touch the Volume (thread-safe), const state, and the
// file table under files_mu_.
#pragma once

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/status.h"
#include "fs/fuse/init_hooks.h"
#include "fs/fuse/uring_transport.h"
#include "fs/partition_view.h"
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
  // A file per partition of a table in the view (file_name + ".pN");
  // false: disk.raw only (--no-partitions).
  bool partitions = true;
};

// What chown(2)/chmod(2) changed, kept in memory for the life of the mount.
struct InodeAttr {
  std::atomic<uid_t> uid;
  std::atomic<gid_t> gid;
  std::atomic<mode_t> mode;  // permission bits only
};

// A regular file of the mount: bytes [window.offset, window.offset +
// window.length) of the view. Immutable but for `attr`; shared by the file
// table and the callbacks using it, so a re-read of the partition table
// may drop it while a request runs.
struct ViewFile {
  fuse_ino_t ino = 0;
  std::string name;
  int partition = 0;  // 0: the whole view; else the table's number
  ViewWindow window;
  InodeAttr attr;
  // Set by the first open: the kernel may cache pages of this file, which
  // a write through another file over the same bytes must invalidate.
  std::atomic<bool> opened{false};
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
  // The file with inode `ino` / named `name`, or null (the root, a
  // partition no longer in the table, an unknown number).
  std::shared_ptr<ViewFile> File(fuse_ino_t ino) const;
  std::shared_ptr<ViewFile> FileNamed(std::string_view name) const;
  // disk.raw, then the partition files by number.
  std::vector<std::shared_ptr<ViewFile>> Files() const;
  // The root directory's attributes, or the file's.
  void FillDirAttr(struct stat* st) const;
  void FillAttr(const ViewFile& f, struct stat* st) const;
  InodeAttr& DirAttr() { return dir_attr_; }
  // After a completed write (or discard) of view bytes [off, off + len)
  // through `f`: queues the invalidation of those bytes in the other files'
  // page caches, and, for disk.raw, a re-read of the table if the write
  // touched its sectors. Never blocks on the kernel.
  void AfterWrite(const ViewFile& f, uint64_t off, uint64_t len);
  // Flush/fsync: waits (bounded) until the work queued so far is done.
  void WaitForBackground();

 private:
  void SetKernelReadahead(const MountInfo& mount);
  // Reads the table and replaces the partition files; with `notify`, tells
  // the kernel which names and inodes changed. Called by Run() before the
  // session serves, then only by the background thread.
  void ReadPartitions(bool notify);
  void BackgroundLoop();

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
  std::shared_ptr<ViewFile> view_file_;  // disk.raw; set by the constructor
  // Lock order: files_mu_ is a leaf; no FUSE reply or notify under it.
  mutable std::shared_mutex files_mu_;
  std::vector<std::shared_ptr<ViewFile>> partitions_;  // GUARDED_BY(files_mu_)
  std::vector<ByteRange> table_ranges_;                // GUARDED_BY(files_mu_)
  std::vector<std::shared_ptr<ViewFile>> departed_;    // GUARDED_BY(files_mu_)
  fuse_ino_t next_ino_ = 3;  // only ReadPartitions() (one thread at a time)
  // Work for the background thread; RescanSignal wakes it and lets flush
  // wait. Lock order: work_mu_ is a leaf.
  std::mutex work_mu_;
  bool table_dirty_ = false;  // GUARDED_BY(work_mu_)
  struct Inval {
    fuse_ino_t ino;
    uint64_t offset, length;  // file bytes
  };
  std::vector<Inval> inval_;  // GUARDED_BY(work_mu_)
  RescanSignal rescan_;
  std::thread rescan_thread_;  // runs BackgroundLoop() while serving
  struct timespec mount_time_;
};

// Inode numbers of the directory and of disk.raw. Partition files get
// numbers from 3 up, never reused within a mount: a partition whose window
// changes is a new file.
constexpr fuse_ino_t kRootInode = 1;
constexpr fuse_ino_t kViewInode = 2;

}  // namespace luksfs::fs
