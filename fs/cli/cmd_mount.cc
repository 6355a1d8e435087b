// `luksfs mount`: unlock the image, mount the view, serve until unmounted.
//
// Without --foreground the command forks first: the child does everything
// (it reads the secret, unlocks, mounts) and tells the parent over a pipe,
// with one byte, whether the mount is serving (0) or which exit code it
// failed with. The parent holds no secret and exits with that code.
#include <fcntl.h>
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
#include "crypto/crypt_engine.h"
#include "fs/cli/commands.h"
#include "fs/cli/image.h"
#include "fs/fuse/view_fs.h"
#include "fs/revocation_watcher.h"
#include "fs/volume.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

namespace luksfs::cli {

namespace {

// The revocation watcher of this daemon, for the SIGHUP handler.
std::atomic<fs::RevocationWatcher*> g_watcher{nullptr};

void OnSighup(int) {
  fs::RevocationWatcher* w = g_watcher.load();
  if (w != nullptr) w->Poke();
}

std::optional<CliError> ResolvePaths(const MountConfig& in, MountConfig* out) {
  *out = in;
  char buf[PATH_MAX];
  struct stat st;
  if (stat(in.mountpoint.c_str(), &st) != 0) {
    return CliError{kExitMount, in.mountpoint + ": mountpoint " +
                                    (errno == ENOENT ? "does not exist"
                                                     : std::strerror(errno))};
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

void Detach() {
  setsid();
  if (chdir("/") != 0) LogWarning("chdir /");
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    dup2(null, STDIN_FILENO);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    if (null > STDERR_FILENO) close(null);
  }
  LogToSyslog("luksfs");
}

// Runs the whole mount in this process. `notify_fd` >= 0 receives the
// start-up result byte (daemon mode).
int Serve(const MountConfig& cfg, int notify_fd) {
  auto fail = [&](const CliError& e) {
    int code = Report(e);
    if (notify_fd >= 0) {
      const unsigned char b = static_cast<unsigned char>(code);
      ssize_t ignored = write(notify_fd, &b, 1);
      (void)ignored;
    }
    return code;
  };
  Status hardened = HardenProcess();
  if (!hardened.ok()) return fail({kExitMount, "cannot harden the process: " +
                                                   hardened.message()});
  if (cfg.debug) SetLogLevel(LogLevel::kDebug);
  LockMemory();

  auto audit = fs::AuditLog::Open(cfg.kms.audit_log);
  if (!audit.ok()) return fail({kExitUsage, audit.status().message()});
  OpenedImage image;
  if (auto e = OpenImage(cfg.image, !cfg.read_only, cfg.storage, &image)) return fail(*e);
  crypto::DataLayout layout;
  if (auto e = CheckImage(image, &layout)) return fail(*e);
  Unlocked unlocked;
  if (auto e = UnlockImage(image, cfg.secret, cfg.kms, audit->get(), &unlocked)) {
    return fail(*e);
  }
  crypto::UnlockedKey& key = unlocked.key;
  LogDebug("keyslot " + std::to_string(key.keyslot) + " opened");
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
  fs::Volume volume(std::move(image.storage), layout, std::move(engine).value(),
                    cfg.read_only);

  fs::ViewOptions vo;
  vo.mountpoint = cfg.mountpoint;
  vo.file_name = cfg.name;
  vo.fs_name = cfg.image;
  vo.read_only = cfg.read_only;
  vo.allow_other = cfg.allow_other;
  vo.direct_io = cfg.direct_io;
  vo.kernel_readahead_kib = cfg.kernel_readahead_kib;
  vo.debug = cfg.debug && cfg.foreground;
  fs::ViewFs view(&volume, vo);
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
  }
  bool mounted = false;
  Status s = view.Run([&] {
    mounted = true;
    if (notify_fd < 0) {
      LogInfo("serving " + cfg.image + " at " + cfg.mountpoint + "/" + cfg.name);
    } else {
      const unsigned char ok = 0;
      ssize_t ignored = write(notify_fd, &ok, 1);
      (void)ignored;
      close(notify_fd);
      notify_fd = -1;
      Detach();
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
  }, watcher ? OnSighup : nullptr);
  Status flushed = cfg.read_only ? Status() : volume.Flush();
  volume.DropKeys();
  if (!s.ok()) {
    if (!mounted) return fail({kExitMount, cfg.mountpoint + ": " + s.message()});
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
  MountConfig cfg;
  if (auto e = ResolvePaths(in, &cfg)) return Report(*e);
  if (cfg.foreground) return Serve(cfg, -1);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return Report({kExitMount, std::string("pipe: ") + std::strerror(errno)});
  }
  pid_t pid = fork();
  if (pid < 0) {
    return Report({kExitMount, std::string("fork: ") + std::strerror(errno)});
  }
  if (pid == 0) {
    close(fds[0]);
    const int rc = Serve(cfg, fds[1]);
#if defined(__SANITIZE_ADDRESS__)
    // _exit skips LeakSanitizer's check at exit: run it here, so the
    // sanitizer runs of make check see the daemon's leaks too.
    __lsan_do_leak_check();
#endif
    _exit(rc);
  }
  close(fds[1]);
  unsigned char code = 0;
  ssize_t n;
  do {
    n = read(fds[0], &code, 1);
  } while (n < 0 && errno == EINTR);
  close(fds[0]);
  if (n != 1) {
    return Report({kExitMount, cfg.mountpoint +
                                   ": the daemon exited during start-up"});
  }
  return code;
}

}  // namespace luksfs::cli
