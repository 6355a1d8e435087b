#include "fs/fuse/view_fs.h"

#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/unique_fd.h"
#include "fs/fuse/daemon_socket.h"
#include "fs/fuse/mount_diagnosis.h"
#include "fs/fuse/mountinfo.h"

namespace luksfs::fs {

// The fuse_lowlevel_ops table, defined in view_fs_ops.cc.
extern const struct fuse_lowlevel_ops kViewOps;

namespace {

// Publishes this daemon for `luksfs pid` and `luksfs umount`; nullptr, with
// a warning, if the name is taken: the view is served all the same.
std::unique_ptr<DaemonSocket> Publish(const std::string& mountpoint,
                                      const MountInfo& mount,
                                      std::function<void()> drop_keys) {
  Result<std::unique_ptr<DaemonSocket>> s =
      DaemonSocket::Listen(mount.major, mount.minor, std::move(drop_keys));
  if (s.ok()) return std::move(s).value();
  std::string why = s.status().message();
  if (s.status().os_errno() == EADDRINUSE) {
    why += " (another process holds the name)";
  }
  LogWarning(mountpoint + ": cannot publish the daemon's pid: " + why +
             "; `luksfs pid` and `luksfs umount` will not find this daemon");
  return nullptr;
}

// fsname goes into a comma-separated option string: escape ',' and '\'.
std::string EscapeOpt(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == ',' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

namespace {

// The background thread reads a rewritten table once no write has come for
// kTableSettle, or after kTableSettleMax of steady writes.
constexpr std::chrono::milliseconds kTableSettle(30);
constexpr std::chrono::milliseconds kTableSettleMax(1000);
// Partition files remembered after they left the table: one that comes
// back with the same number and window is the same file (inode, owner,
// mode), so a table caught half-written costs an open file nothing.
constexpr size_t kMaxDeparted = 64;

// The owner and mode every file starts with (ViewOptions: uid, gid,
// file_mode; default the daemon's ids, 0600, 0400 read-only).
void InitFileAttr(const ViewOptions& o, InodeAttr* a) {
  a->uid.store(o.uid != static_cast<uid_t>(-1) ? o.uid : getuid());
  a->gid.store(o.gid != static_cast<gid_t>(-1) ? o.gid : getgid());
  a->mode.store(o.file_mode >= 0 ? o.file_mode : (o.read_only ? 0400 : 0600));
}

}  // namespace

ViewFs::ViewFs(Volume* volume, ViewOptions options)
    : volume_(volume), options_(std::move(options)) {
  clock_gettime(CLOCK_REALTIME, &mount_time_);
  const bool ro = options_.read_only;
  InitFileAttr(options_, &dir_attr_);
  dir_attr_.mode.store(options_.dir_mode >= 0 ? options_.dir_mode
                                              : (ro ? 0555 : 0755));
  view_file_ = std::make_shared<ViewFile>();
  view_file_->ino = kViewInode;
  view_file_->name = options_.file_name;
  view_file_->window = {0, volume_->Size()};
  InitFileAttr(options_, &view_file_->attr);
}

std::shared_ptr<ViewFile> ViewFs::File(fuse_ino_t ino) const {
  if (ino == kViewInode) return view_file_;
  std::shared_lock<std::shared_mutex> lock(files_mu_);
  for (const std::shared_ptr<ViewFile>& f : partitions_) {
    if (f->ino == ino) return f;
  }
  return nullptr;
}

std::shared_ptr<ViewFile> ViewFs::FileNamed(std::string_view name) const {
  if (name == view_file_->name) return view_file_;
  std::shared_lock<std::shared_mutex> lock(files_mu_);
  for (const std::shared_ptr<ViewFile>& f : partitions_) {
    if (f->name == name) return f;
  }
  return nullptr;
}

std::vector<std::shared_ptr<ViewFile>> ViewFs::Files() const {
  std::vector<std::shared_ptr<ViewFile>> out = {view_file_};
  std::shared_lock<std::shared_mutex> lock(files_mu_);
  out.insert(out.end(), partitions_.begin(), partitions_.end());
  return out;
}

void ViewFs::FillDirAttr(struct stat* st) const {
  *st = {};
  st->st_ino = kRootInode;
  st->st_uid = dir_attr_.uid.load();
  st->st_gid = dir_attr_.gid.load();
  st->st_atim = st->st_mtim = st->st_ctim = mount_time_;
  st->st_mode = S_IFDIR | dir_attr_.mode.load();
  st->st_nlink = 2;
  st->st_blksize = 4096;
}

void ViewFs::FillAttr(const ViewFile& f, struct stat* st) const {
  *st = {};
  st->st_ino = f.ino;
  st->st_uid = f.attr.uid.load();
  st->st_gid = f.attr.gid.load();
  st->st_atim = st->st_mtim = st->st_ctim = mount_time_;
  st->st_mode = S_IFREG | f.attr.mode.load();
  st->st_nlink = 1;
  st->st_size = static_cast<off_t>(f.window.length);
  // The map counts allocation for the whole view only: a partition file
  // shows at most its own length (exact for raw LUKS, where all is data).
  st->st_blocks = static_cast<blkcnt_t>(
      (std::min(volume_->AllocatedBytes(), f.window.length) + 511) / 512);
  st->st_blksize = 4096;
}

void ViewFs::AfterWrite(const ViewFile& f, uint64_t off, uint64_t len) {
  if (!options_.partitions || len == 0) return;
  bool touches = false;
  std::vector<Inval> inval;
  {
    std::shared_lock<std::shared_mutex> lock(files_mu_);
    if (f.ino == kViewInode) {
      touches = TouchesPartitionTable(off, len, volume_->Size(), table_ranges_);
    }
    // With --direct-io the kernel caches no page of any file.
    if (!options_.direct_io && !partitions_.empty()) {
      auto add = [&](const ViewFile& g) {
        if (g.ino == f.ino || !g.opened.load()) return;
        const uint64_t s = std::max(off, g.window.offset);
        const uint64_t e = std::min(off + len, g.window.offset + g.window.length);
        if (s < e) inval.push_back({g.ino, s - g.window.offset, e - s});
      };
      add(*view_file_);
      for (const std::shared_ptr<ViewFile>& g : partitions_) add(*g);
    }
  }
  if (!touches && inval.empty()) return;
  {
    std::lock_guard<std::mutex> lock(work_mu_);
    table_dirty_ |= touches;
    inval_.insert(inval_.end(), inval.begin(), inval.end());
  }
  rescan_.Request();
}

void ViewFs::WaitForBackground() {
  if (!options_.partitions) return;
  // Bounded: a flush must not hang on work that cannot finish (the
  // background thread only reads the view and notifies the kernel).
  if (!rescan_.WaitServed(rescan_.requested(), std::chrono::seconds(10))) {
    LogWarning(options_.file_name + ": the partition table or the page "
               "caches of the partition files were not updated within 10 s");
  }
}

void ViewFs::ReadPartitions(bool notify) {
  const uint64_t size = volume_->Size();
  Result<PartitionTable> table = ReadPartitionTable(
      [this](uint64_t off, std::span<uint8_t> dst) -> Status {
        Result<size_t> n = volume_->Read(off, dst);
        if (!n.ok()) return n.status();
        if (*n != dst.size()) return Status::Corruption("short read of the view");
        return Status::Ok();
      },
      size);
  std::vector<PartitionFile> found;
  std::vector<ByteRange> ranges;
  if (table.ok()) {
    std::vector<std::string> skipped;
    found = PartitionFiles(*table, options_.file_name, size, &skipped);
    for (const std::string& why : skipped) LogDebug(why);
    ranges = table->metadata;
  } else if (table.status().code() == Status::Code::kCorruption) {
    // No table, or a damaged one: no partition files, and no error.
    LogDebug(options_.file_name + ": no partition files: " +
             table.status().message());
  } else {
    // The view cannot be read (revoked keys, storage): keep what is there.
    LogDebug(options_.file_name + ": cannot read the partition table: " +
             table.status().ToString());
    return;
  }
  std::vector<std::shared_ptr<ViewFile>> next, gone;
  std::vector<std::string> added;
  {
    std::unique_lock<std::shared_mutex> lock(files_mu_);
    for (const PartitionFile& pf : found) {
      std::shared_ptr<ViewFile> keep;
      for (const std::shared_ptr<ViewFile>& f : partitions_) {
        if (f->partition == pf.number && f->window == pf.window) keep = f;
      }
      for (const std::shared_ptr<ViewFile>& f : departed_) {
        if (!keep && f->partition == pf.number && f->window == pf.window) {
          keep = f;  // back after a moment without it: the same file
          added.push_back(pf.name);
        }
      }
      if (!keep) {
        keep = std::make_shared<ViewFile>();
        keep->ino = next_ino_++;
        keep->name = pf.name;
        keep->partition = pf.number;
        keep->window = pf.window;
        InitFileAttr(options_, &keep->attr);
        added.push_back(pf.name);
      }
      next.push_back(std::move(keep));
    }
    std::sort(next.begin(), next.end(),
              [](const auto& a, const auto& b) { return a->partition < b->partition; });
    for (const std::shared_ptr<ViewFile>& f : partitions_) {
      if (std::find(next.begin(), next.end(), f) == next.end()) gone.push_back(f);
    }
    std::erase_if(departed_, [&](const std::shared_ptr<ViewFile>& f) {
      return std::find(next.begin(), next.end(), f) != next.end();
    });
    departed_.insert(departed_.end(), gone.begin(), gone.end());
    if (departed_.size() > kMaxDeparted) {
      departed_.erase(departed_.begin(), departed_.end() - kMaxDeparted);
    }
    partitions_ = std::move(next);
    table_ranges_ = std::move(ranges);
  }
  for (const std::shared_ptr<ViewFile>& f : gone) {
    LogInfo(f->name + ": gone from the partition table");
  }
  for (const std::string& name : added) {
    LogInfo(name + ": a partition of the view's " + table->scheme +
            " table, served");
  }
  struct fuse_session* se = session_.load();
  if (!notify || se == nullptr || (gone.empty() && added.empty())) return;
  // The kernel keeps names and attributes for an hour (kAttrTimeout):
  // forget the names that changed, and the pages of files that went.
  for (const std::shared_ptr<ViewFile>& f : gone) {
    fuse_lowlevel_notify_inval_entry(se, kRootInode, f->name.c_str(),
                                     f->name.size());
    fuse_lowlevel_notify_inval_inode(se, f->ino, 0, 0);
  }
  for (const std::string& name : added) {
    fuse_lowlevel_notify_inval_entry(se, kRootInode, name.c_str(), name.size());
  }
  fuse_lowlevel_notify_inval_inode(se, kRootInode, 0, 0);
}

void ViewFs::BackgroundLoop() {
  while (std::optional<uint64_t> generation = rescan_.WaitForRequest()) {
    bool table;
    std::vector<Inval> inval;
    {
      std::lock_guard<std::mutex> lock(work_mu_);
      table = table_dirty_;
      table_dirty_ = false;
      inval.swap(inval_);
    }
    if (table) {
      // A tool writes a table in several writes (GPT: entries, backup,
      // header, protective MBR); read it once they have stopped coming.
      const auto until = std::chrono::steady_clock::now() + kTableSettleMax;
      uint64_t seen = *generation;
      while (std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(kTableSettle);
        const uint64_t now = rescan_.requested();
        if (now == seen) break;
        seen = now;
      }
      generation = seen;
      std::lock_guard<std::mutex> lock(work_mu_);
      table_dirty_ = false;
      std::vector<Inval> more;
      more.swap(inval_);
      inval.insert(inval.end(), more.begin(), more.end());
    }
    struct fuse_session* se = session_.load();
    for (const Inval& i : inval) {
      if (se == nullptr) break;
      // -ENOENT: the kernel holds no such inode (nothing cached).
      fuse_lowlevel_notify_inval_inode(se, i.ino, static_cast<off_t>(i.offset),
                                       static_cast<off_t>(i.length));
    }
    if (table) ReadPartitions(true);
    rescan_.Served(*generation);
  }
}

// The kernel reads ahead only 128 KiB on a FUSE mount by default; buffered
// sequential reads measured 1076 MB/s there and 1913 MB/s with 1 MiB.
void ViewFs::SetKernelReadahead(const MountInfo& mount) {
  if (options_.kernel_readahead_kib == 0) return;
  const std::string path = "/sys/class/bdi/" + std::to_string(mount.major) +
                           ":" + std::to_string(mount.minor) +
                           "/read_ahead_kb";
  const std::string value = std::to_string(options_.kernel_readahead_kib);
  UniqueFd fd(open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd.get() < 0 || write(fd.get(), value.data(), value.size()) < 0) {
    LogDebug("cannot set " + path + ": " + std::strerror(errno));
  }
}

void ViewFs::Revoke(bool unmount) {
  volume_->DropKeys();
  if (uring_) uring_->WipeBuffers();
  struct fuse_session* se = session_.load();
  if (se == nullptr) return;
  for (const std::shared_ptr<ViewFile>& f : Files()) {
    int rc = fuse_lowlevel_notify_inval_inode(se, f->ino, 0, 0);
    if (rc != 0 && rc != -ENOENT) {
      LogError("cannot invalidate the kernel page cache of " + f->name +
               ": error " + std::to_string(-rc));
    }
  }
  if (unmount) {
    fuse_session_exit(se);
    // Wake the loop: as root a lazy unmount ends the /dev/fuse reads; in any
    // case SIGTERM to Run()'s thread interrupts its wait, and Run() then
    // unmounts through fusermount3 when not root.
    if (geteuid() == 0 &&
        umount2(options_.mountpoint.c_str(), MNT_DETACH) != 0) {
      LogError("cannot unmount " + options_.mountpoint + ": " +
               std::strerror(errno));
    }
    pthread_kill(run_thread_, SIGTERM);
  }
}

void ViewFs::Stop() {
  struct fuse_session* se = session_.load();
  if (se == nullptr) return;
  fuse_session_exit(se);
  if (!pthread_equal(pthread_self(), run_thread_)) {
    pthread_kill(run_thread_, SIGTERM);  // interrupts Run()'s wait
  }
}

Status ViewFs::Run(const std::function<void()>& on_mounted,
                   const std::function<void()>& before_teardown,
                   void (*on_sighup)(int)) {
  if (options_.partitions) ReadPartitions(false);
  std::string opts = "fsname=" + EscapeOpt(options_.fs_name) +
                     ",subtype=luksfs,default_permissions";
  if (options_.read_only) opts += ",ro";
  if (options_.allow_other) opts += ",allow_other";
  std::vector<std::string> argv_s = {"luksfs", "-o", opts};
  if (options_.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (std::string& a : argv_s) argv.push_back(a.data());
  struct fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()),
                                         argv.data());

  struct fuse_session* se =
      fuse_session_new(&args, &kViewOps, sizeof kViewOps, this);
  // fuse_session_new may have replaced args.argv by an allocated copy; the
  // session keeps none of it.
  fuse_opt_free_args(&args);
  if (se == nullptr) {
    return Status::Unavailable("cannot create the FUSE session");
  }
  std::unique_ptr<fuse_session, decltype(&fuse_session_destroy)> session(
      se, fuse_session_destroy);
  // libfuse installs its handlers only over the default action; a daemon
  // started in the background of a script inherits SIGINT ignored, and
  // SIGINT must still unmount.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  if (fuse_set_signal_handlers(se) != 0) {
    return Status::Unavailable("cannot install signal handlers");
  }
  {
    // libfuse's handler would end the session on SIGHUP: a hangup must
    // never unmount.
    struct sigaction sa = {};
    sa.sa_handler = on_sighup != nullptr ? on_sighup : SIG_IGN;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, nullptr);
  }
  if (fuse_session_mount(se, options_.mountpoint.c_str()) != 0) {
    fuse_remove_signal_handlers(se);
    return Status::Unavailable(MountFailureReason(options_.allow_other, geteuid()));
  }
  UringOptions uo;
  uo.mode = options_.io_uring;
  uo.queue_depth = options_.uring_queue_depth;
  uo.max_payload = options_.max_request;
  uring_ = std::make_unique<UringTransport>(uo);
  init_hooks_ = std::make_unique<InitHooks>();
  if (options_.direct_io) {
    init_hooks_->Want(kFuseDirectIoAllowMmap, [](bool offered, bool granted) {
      if (!granted) {
        LogDebug(std::string("shared mmap of the view is off: ") +
                 (offered ? "the INIT reply could not carry "
                            "FUSE_DIRECT_IO_ALLOW_MMAP"
                          : "the kernel does not offer "
                            "FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6+)"));
      }
    });
  }
  Status us = uring_->Attach(se, init_hooks_.get());
  if (us.ok() && init_hooks_->needed()) {
    // Without the hooks only the extra INIT flags are lost (io_uring and
    // shared mmap); that is fatal only where io_uring is required.
    us = init_hooks_->Install(se);
    if (!us.ok() && options_.io_uring != UringMode::kOn) {
      LogWarning("FUSE_INIT flags beyond libfuse's are off: " + us.message());
      us = Status();
    }
  }
  if (!us.ok()) {
    fuse_session_unmount(se);
    fuse_remove_signal_handlers(se);
    uring_.reset();
    return us;
  }
  // The mount's entry, from /proc/self/mountinfo: stat() of the mountpoint
  // would ask this very daemon, whose loop is not running yet.
  std::unique_ptr<DaemonSocket> rendezvous;
  Result<MountInfo> mount = FindMount(options_.mountpoint);
  if (mount.ok() && mount->fstype == kViewFsType) {
    SetKernelReadahead(*mount);
    // `luksfs shred` of this image asks for this before wiping keyslots.
    rendezvous = Publish(options_.mountpoint, *mount, [this] {
      LogError(options_.mountpoint + ": dropping the keys on request "
               "(shred): the view is dark");
      Revoke(false);
    });
  } else {
    LogWarning("cannot find the new mount in /proc/self/mountinfo: " +
               (mount.ok() ? options_.mountpoint + ": another mount is on top"
                           : mount.status().message()));
  }
  run_thread_ = pthread_self();
  session_.store(se);
  if (options_.partitions) rescan_thread_ = std::thread([this] { BackgroundLoop(); });
  on_mounted();

  struct fuse_loop_config* cfg = fuse_loop_cfg_create();
  // One /dev/fuse clone per worker: measured 25K -> 45K 4 KiB random-read
  // IOPS at queue depth 1 on this machine kind (doc/perf.md).
  fuse_loop_cfg_set_clone_fd(cfg, 1);
  fuse_loop_cfg_set_max_threads(cfg, options_.max_threads);
  fuse_loop_cfg_set_idle_threads(cfg, options_.max_threads);
  int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  // Free the name at once: the kernel may give the device number to the
  // next mount while this process still flushes.
  rendezvous.reset();

  if (before_teardown) before_teardown();
  rescan_.Stop();
  if (rescan_thread_.joinable()) rescan_thread_.join();
  session_.store(nullptr);
  fuse_session_unmount(se);
  if (uring_) {
    LogDebug("transport: " + uring_->Describe() + ", " +
             std::to_string(uring_->served()) + " request(s) through io_uring");
    uring_->Stop();  // after the unmount: no request can wait on a ring
  }
  fuse_remove_signal_handlers(se);
  if (rc < 0) {
    return Status::Unavailable("FUSE session failed: error " +
                               std::to_string(-rc));
  }
  return Status();
}

}  // namespace luksfs::fs
