// `luksfs mount`: unlock the image, mount the view, serve until unmounted.
//
// Without --foreground the command forks first: the child does everything
// (it reads the secret, unlocks, mounts) and tells the parent over a pipe,
// with one byte, whether the mount is serving (0) or which exit code it
// failed with. The parent holds no secret and exits with that code.
//
// Signals (man page, SIGNALS):
//   SIGTERM, SIGINT: unmount cleanly (flush, wipe the keys, exit 0).
//   SIGHUP: never unmounts; re-checks the KMS key (when watched) and
//     reopens the audit log, on the HangupWorker thread.
//   Until the child reports readiness it dies with its parent
//   (PR_SET_PDEATHSIG, whatever killed the parent, SIGKILL included), and
//   it checks for an orphaned start-up after the KDF and before reporting:
//   a killed `luksfs mount` never leaves a mount behind.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <atomic>
#include <chrono>

#include "common/log.h"
#include "common/secure_buffer.h"
#include "common/unique_fd.h"
#include "crypto/crypt_engine.h"
#include "crypto/kdf.h"
#include "fs/cli/commands.h"
#include "fs/cli/fuse_log.h"
#include "fs/cli/hangup.h"
#include "fs/cli/image.h"
#include "fs/cli/lock_image.h"
#include "fs/cli/systemd_notify.h"
#include "fs/fuse/view_fs.h"
#include "fs/revocation_watcher.h"
#include "fs/storage/s3_lease.h"
#include "fs/volume.h"

// gcc says __SANITIZE_ADDRESS__, clang __has_feature(address_sanitizer).
#if defined(__SANITIZE_ADDRESS__)
#define LUKSFS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LUKSFS_ASAN 1
#endif
#endif
#if defined(LUKSFS_ASAN)
#include <sanitizer/lsan_interface.h>
#endif

namespace luksfs::cli {

namespace {

// The revocation watcher of this daemon, for the SIGHUP work.
std::atomic<fs::RevocationWatcher*> g_watcher{nullptr};

// Whether a start-up has lost the `luksfs mount` that waits for it: its
// parent is no longer `parent` (0: foreground, nobody waits).
bool Orphaned(pid_t parent) { return parent > 0 && getppid() != parent; }

// Whether `dir` holds nothing but "." and ".." (unreadable counts as empty:
// the mount then decides).
bool DirectoryEmpty(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return true;
  bool empty = true;
  while (struct dirent* e = readdir(d)) {
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  closedir(d);
  return empty;
}

std::optional<CliError> ResolvePaths(const MountConfig& in, MountConfig* out) {
  *out = in;
  char buf[PATH_MAX];
  struct stat st;
  if (stat(in.mountpoint.c_str(), &st) != 0) {
    if (errno == ENOTCONN) {
      return CliError{kExitMount,
                      in.mountpoint + ": the FUSE daemon serving this "
                                      "mountpoint died (Transport endpoint is "
                                      "not connected); clean it up with "
                                      "`luksfs umount " + in.mountpoint +
                                      "` or `fusermount3 -u " + in.mountpoint +
                                      "`"};
    }
    return CliError{kExitMount, in.mountpoint + ": mountpoint" +
                                    (errno == ENOENT ? std::string(" does not exist")
                                                     : std::string(": ") + std::strerror(errno))};
  }
  if (!S_ISDIR(st.st_mode)) {
    return CliError{kExitMount,
                    in.mountpoint + ": mountpoint is not a directory"};
  }
  // Refuse to stack a second view on a mount point: two read-write daemons
  // over one image would corrupt it.
  struct stat parent;
  const std::string up = in.mountpoint + "/..";
  if (stat(up.c_str(), &parent) == 0 &&
      (parent.st_dev != st.st_dev || parent.st_ino == st.st_ino)) {
    return CliError{kExitMount, in.mountpoint +
                                    ": mountpoint is busy: something is "
                                    "already mounted there"};
  }
  if (!in.nonempty && !DirectoryEmpty(in.mountpoint)) {
    return CliError{kExitMount, in.mountpoint +
                                    ": mountpoint is not empty (its files "
                                    "would be hidden; -o nonempty mounts "
                                    "anyway)"};
  }
  if (realpath(in.mountpoint.c_str(), buf) == nullptr) {
    return CliError{kExitMount, in.mountpoint + ": " + std::strerror(errno)};
  }
  out->mountpoint = buf;
  // The daemon changes to "/", so local paths must be absolute.
  fs::S3Options& s3 = out->storage.s3;
  for (std::string* p : {&s3.cache_dir, &s3.ca_file}) {
    if (p->empty()) continue;
    if (realpath(p->c_str(), buf) == nullptr) {
      return CliError{kExitUsage, *p + ": " + std::strerror(errno)};
    }
    *p = buf;
  }
  if (fs::IsS3Uri(in.image)) return std::nullopt;  // not a local path
  if (realpath(in.image.c_str(), buf) == nullptr) {
    const int err = errno;
    return CliError{kExitStorage,
                    in.image + ": " + (err == ENOENT ? "no such file"
                                                     : std::strerror(err))};
  }
  out->image = buf;
  return std::nullopt;
}

// --io-uring, else the environment's LUKSFS_IO_URING (auto|on|off; the
// test suite runs the FUSE tests on both transports with it), else auto.
fs::UringMode TransportMode(const MountConfig& cfg) {
  MountConfig::IoUring m = cfg.io_uring;
  const char* env = getenv("LUKSFS_IO_URING");
  if (!cfg.io_uring_explicit && env != nullptr) {
    const std::string e = env;
    if (e == "on") m = MountConfig::IoUring::kOn;
    if (e == "off") m = MountConfig::IoUring::kOff;
  }
  switch (m) {
    case MountConfig::IoUring::kOn: return fs::UringMode::kOn;
    case MountConfig::IoUring::kOff: return fs::UringMode::kOff;
    default: return fs::UringMode::kAuto;
  }
}

// Locks all current and future pages (including OpenSSL's key schedules)
// when that cannot fail later for lack of RLIMIT_MEMLOCK.
void LockMemory() {
  struct rlimit rl;
  const bool unlimited = getrlimit(RLIMIT_MEMLOCK, &rl) == 0 &&
                         rl.rlim_cur == RLIM_INFINITY;
  if (geteuid() == 0 || unlimited) {
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0) {
      LogDebug(std::string("mlockall: ") + std::strerror(errno));
    }
  } else {
    LogDebug("not root and RLIMIT_MEMLOCK is limited: only secrets are locked");
  }
}

// Where the daemon's log goes once it has left the terminal: --log-file,
// else syslog (the journal under systemd), else -- no /dev/log, as in many
// containers -- a file: /var/log/luksfs.log for root,
// $XDG_RUNTIME_DIR/luksfs.log (or /tmp/luksfs-UID.log) for other users.
void RouteDaemonLog(const MountConfig& cfg) {
  if (!cfg.log_file.empty()) return;  // opened at start-up
  if (SyslogAvailable()) {
    LogToSyslog("luksfs");
    return;
  }
  std::string path = "/var/log/luksfs.log";
  if (geteuid() != 0) {
    const char* run = std::getenv("XDG_RUNTIME_DIR");
    path = run != nullptr && run[0] == '/'
               ? std::string(run) + "/luksfs.log"
               : "/tmp/luksfs-" + std::to_string(geteuid()) + ".log";
  }
  if (!LogToFile(path).ok()) LogToSyslog("luksfs");  // nowhere better
}

void Detach(const MountConfig& cfg) {
  setsid();
  if (chdir("/") != 0) LogWarning("chdir /");
  UniqueFd null(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (null.get() >= 0) {
    dup2(null.get(), STDIN_FILENO);
    dup2(null.get(), STDOUT_FILENO);
    dup2(null.get(), STDERR_FILENO);
    if (null.get() <= STDERR_FILENO) null.release();  // it is stdin/out/err now
  }
  RouteDaemonLog(cfg);
}

// Runs the whole mount in this process. `notify_fd`, if open, receives the
// start-up result byte (daemon mode), and `parent` is the `luksfs mount`
// process reading it.
int Serve(const MountConfig& cfg, UniqueFd notify_fd, pid_t parent) {
  auto fail = [&](const CliError& e) {
    int code = Report(e);
    if (notify_fd.get() >= 0) {
      const unsigned char b = static_cast<unsigned char>(code);
      ssize_t ignored = write(notify_fd.get(), &b, 1);
      (void)ignored;
    }
    return code;
  };
  Status hardened = HardenProcess();
  if (!hardened.ok()) return fail({kExitMount, "cannot harden the process: " +
                                                   hardened.message()});
  CaptureFuseLog();
  if (cfg.debug || cfg.verbose) SetLogLevel(LogLevel::kDebug);
  if (cfg.quiet) SetLogLevel(LogLevel::kWarning);
  if (!cfg.log_file.empty()) {
    Status logging = LogToFile(cfg.log_file);
    if (!logging.ok()) return fail({kExitUsage, logging.message()});
  }
  LockMemory();

  auto audit = fs::AuditLog::Open(cfg.kms.audit_log);
  if (!audit.ok()) return fail({kExitUsage, audit.status().message()});
  // Held until this function returns: after the final flush.
  std::unique_ptr<fs::ImageLock> image_lock;
  if (auto e = LockImage(cfg.image,
                         cfg.read_only ? fs::ImageLockMode::kReadOnly
                                       : fs::ImageLockMode::kReadWrite,
                         cfg.no_lock, &image_lock)) {
    return fail(*e);
  }
  OpenedImage image;
  fs::ContainerOptions container_opts;
  container_opts.allow_discards = cfg.allow_discards;
  if (auto e = OpenImage(cfg.image, !cfg.read_only, cfg.storage,
                         container_opts, &image)) {
    // A local image this user may read but not write: say how to mount it.
    if (!cfg.read_only && cfg.image.rfind("s3://", 0) != 0 &&
        access(cfg.image.c_str(), R_OK) == 0 && access(cfg.image.c_str(), W_OK) != 0) {
      e->message += " (not writable: mount it with --read-only or -o ro)";
    }
    return fail(*e);
  }
  crypto::DataLayout layout;
  if (auto e = CheckImage(image, &layout)) return fail(*e);
  // s3://, read-write: the lease object (after the header read, so
  // that a missing object or bucket is reported as before), held until
  // after the final flush.
  std::atomic<fs::ViewFs*> lease_view{nullptr};
  std::unique_ptr<fs::S3Lease> lease;
  if (fs::IsS3Uri(cfg.image) && !cfg.read_only && !cfg.no_lock) {
    auto l = fs::S3Lease::Acquire(
        cfg.image, cfg.storage.s3, fs::ProcessEnv(), cfg.mountpoint,
        cfg.s3_lease_ttl, [&lease_view](const std::string&) {
          fs::ViewFs* v = lease_view.load();
          if (v != nullptr) v->Revoke(false);
        });
    if (!l.ok()) {
      return fail({l.status().os_errno() == EAGAIN ? kExitBusy : kExitStorage,
                   l.status().message()});
    }
    lease = std::move(l).value();
  }
  Unlocked unlocked;
  if (auto e = UnlockImage(image, cfg.secret, cfg.kms, audit->get(), &unlocked)) {
    return fail(*e);
  }
  if (Orphaned(parent)) return kExitMount;  // killed during the KDF
  crypto::UnlockedKey& key = unlocked.key;
  LogDebug("keyslot " + std::to_string(key.keyslot) + " opened");
  for (const crypto::Keyslot& ks : image.header.keyslots) {
    if (ks.index == key.keyslot) LogDebug("keyslot KDF: " + crypto::DescribeKdf(ks.kdf));
  }
  const std::string uuid = image.header.uuid;

  crypto::EngineOptions eo;
  eo.threads = cfg.threads;
  auto engine = crypto::CryptEngine::Create(layout.cipher, key.volume_key.span(),
                                            layout.sector_size, eo);
  key.volume_key.Wipe();
  if (!engine.ok()) {
    return fail({kExitBadImage, cfg.image + ": " + engine.status().message()});
  }
  LogDebug("crypto: " + layout.cipher + ", " +
           std::to_string(layout.sector_size) + "-byte sectors, " +
           ((*engine)->vector_aes() ? "VAES XTS kernel" : "portable kernel") +
           ", " + std::to_string((*engine)->threads()) + " thread(s)");
  auto map = image.container->OpenMap(image.header, !cfg.read_only);
  if (!map.ok()) {
    return fail({ExitCodeFor(fs::ImageStep::kImage, map.status()),
                 cfg.image + ": " + map.status().message()});
  }
  // `image` owns the storage the map and the volume borrow; it outlives both.
  fs::Volume volume(image.storage.get(), std::move(map).value(),
                    std::move(engine).value(), cfg.read_only);

  fs::ViewOptions vo;
  vo.mountpoint = cfg.mountpoint;
  vo.file_name = cfg.name;
  vo.fs_name = cfg.image;
  vo.read_only = cfg.read_only;
  vo.allow_other = cfg.allow_other;
  vo.direct_io = cfg.direct_io;
  vo.kernel_readahead_kib = cfg.kernel_readahead_kib;
  vo.io_uring = TransportMode(cfg);
  if (cfg.uid && *cfg.uid != getuid() && !cfg.allow_other) {
    LogWarning("uid=" + std::to_string(*cfg.uid) + " without allow_other: "
               "FUSE lets no user but the one who mounted reach the view");
  }
  if (cfg.uid) vo.uid = *cfg.uid;
  if (cfg.gid) vo.gid = *cfg.gid;
  if (cfg.mode) vo.file_mode = static_cast<int>(*cfg.mode);
  if (cfg.umask) {
    const int ro = cfg.read_only ? 0222 : 0;
    vo.file_mode = 0666 & ~static_cast<int>(*cfg.umask) & ~ro;
    vo.dir_mode = 0777 & ~static_cast<int>(*cfg.umask) & ~ro;
  }
  vo.debug = cfg.debug && cfg.foreground;
  vo.partitions = !cfg.no_partitions;
  fs::ViewFs view(&volume, vo);
  lease_view.store(&view);
  // A KMS-unlocked mount is watched: revoking the root key drops the keys.
  std::unique_ptr<fs::RevocationWatcher> watcher;
  if (unlocked.kms) {
    const std::string kms_uri = unlocked.binding->kms;
    watcher = std::make_unique<fs::RevocationWatcher>(
        std::move(unlocked.kms), std::chrono::seconds(cfg.kms.poll_seconds),
        std::chrono::seconds(cfg.kms.grace_seconds),
        [&view, &audit, uuid, kms_uri, unmount = cfg.kms.unmount_on_revoke](
            const std::string& reason) {
          LogError("root key " + kms_uri + " revoked (" + reason +
                   "): dropping the keys");
          (*audit)->Event("revocation_seen", {{"image_uuid", uuid},
                                              {"kms", kms_uri},
                                              {"reason", reason}});
          view.Revoke(unmount);
          (*audit)->Event("keys_dropped", {{"image_uuid", uuid},
                                           {"kms", kms_uri}});
        });
    watcher->SetOnEvent([&audit, uuid, kms_uri](
                            const std::string& event,
                            const std::map<std::string, std::string>& f) {
      std::map<std::string, std::string> fields = f;
      fields["image_uuid"] = uuid;
      fields["kms"] = kms_uri;
      (*audit)->Event(event, fields);
    });
  }
  HangupWorker hangup([&audit] {
    fs::RevocationWatcher* w = g_watcher.load();
    if (w != nullptr) w->Poke();
    Status r = (*audit)->Reopen();
    if (!r.ok()) LogError("SIGHUP: " + r.message());
  });
  bool mounted = false;
  Status s = view.Run([&] {
    mounted = true;
    if (notify_fd.get() < 0) {
      LogInfo("serving " + cfg.image + " at " + cfg.mountpoint + "/" + cfg.name);
      NotifyReady("serving " + cfg.image + " at " + cfg.mountpoint);
    } else {
      // From here on the daemon outlives its parent; until the byte is
      // written, a lost parent means nobody knows of this mount: undo it.
      prctl(PR_SET_PDEATHSIG, 0);
      const unsigned char ok = 0;
      const bool told = !Orphaned(parent) && write(notify_fd.get(), &ok, 1) == 1;
      notify_fd.reset();
      if (!told) {
        LogError(cfg.mountpoint + ": `luksfs mount` died during start-up; "
                 "unmounting");
        view.Stop();
        return;
      }
      Detach(cfg);
    }
    if (watcher) {
      g_watcher.store(watcher.get());
      watcher->Start();
    }
  }, [&] {
    if (watcher) {
      g_watcher.store(nullptr);
      watcher->Stop();
    }
  }, HangupWorker::Handler);
  if (mounted && notify_fd.get() < 0) NotifyStopping();
  Status flushed = cfg.read_only ? Status() : volume.Flush();
  lease_view.store(nullptr);
  lease.reset();  // after the last commit: the next writer may come
  volume.DropKeys();
  if (!s.ok()) {
    if (!mounted) {
      const std::string why = LastFuseError();  // libfuse's reason, if it gave one
      return fail({kExitMount, cfg.mountpoint + ": " + s.message() +
                                   (why.empty() ? "" : " (" + why + ")")});
    }
    LogError(cfg.mountpoint + ": " + s.message());
    return kExitMount;
  }
  if (!flushed.ok()) {
    LogError(cfg.image + ": final flush failed: " + flushed.message());
    return kExitStorage;
  }
  LogInfo("unmounted " + cfg.mountpoint + "; keys wiped");
  (*audit)->Event("keys_dropped", {{"image_uuid", uuid}, {"reason", "unmount"}});
  return kExitOk;
}

}  // namespace

int RunMount(const MountConfig& in) {
  if (!in.mount_namespace.empty()) {
    // mount.luksfs -N: make the mount in that namespace (paths resolve there).
    const bool pid = in.mount_namespace.find_first_not_of("0123456789") == std::string::npos;
    const std::string ns = pid ? "/proc/" + in.mount_namespace + "/ns/mnt" : in.mount_namespace;
    UniqueFd fd(open(ns.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0 || setns(fd.get(), CLONE_NEWNS) != 0) {
      return Report({kExitMount, "mount namespace " + ns + ": " + std::strerror(errno)});
    }
  }
  MountConfig cfg;
  if (auto e = ResolvePaths(in, &cfg)) return Report(*e);
  if (cfg.fake) {
    // mount -f: check what can be checked without unlocking, mount nothing.
    OpenedImage image;
    if (auto e = OpenImage(cfg.image, false, cfg.storage, &image)) return Report(*e);
    crypto::DataLayout layout;
    if (auto e = CheckImage(image, &layout)) return Report(*e);
    return kExitOk;
  }
  if (cfg.kernel_readahead_set && cfg.kernel_readahead_kib != 0 && geteuid() != 0) {
    // The bdi's read_ahead_kb in sysfs is writable by root only.
    LogWarning("--kernel-readahead needs root; the kernel default readahead stays");
  }
  if (cfg.foreground) return Serve(cfg, UniqueFd(), 0);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return Report({kExitMount, std::string("pipe: ") + std::strerror(errno)});
  }
  UniqueFd rd(fds[0]);
  UniqueFd wr(fds[1]);
  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    return Report({kExitMount, std::string("fork: ") + std::strerror(errno)});
  }
  if (pid == 0) {
    rd.reset();
    // Die with the parent until the mount is reported (see the top).
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || Orphaned(parent)) {
      _exit(kExitMount);
    }
    const int rc = Serve(cfg, std::move(wr), parent);
#if defined(LUKSFS_ASAN)
    // _exit skips LeakSanitizer's check at exit: run it here, so the
    // sanitizer runs of make check see the daemon's leaks too.
    __lsan_do_leak_check();
#endif
    _exit(rc);
  }
  wr.reset();
  unsigned char code = 0;
  ssize_t n;
  do {
    n = read(rd.get(), &code, 1);
  } while (n < 0 && errno == EINTR);
  rd.reset();
  if (n != 1) {
    return Report({kExitMount, cfg.mountpoint +
                                   ": the daemon exited during start-up"});
  }
  return code;
}

}  // namespace luksfs::cli
