// passthrough: the bench's FUSE ceiling. A minimal libfuse3 low-level,
// multithreaded passthrough that exposes one existing file as MNT/NAME
// (default disk.raw) with pread/pwrite and no crypto: whatever luksfs adds
// on top of this is the cost of LUKS, not of FUSE.
//
// Modelled on libfuse's example/passthrough_hp.cc, cut down to one file:
// max_write and max_readahead 1 MiB, async reads, no splice, keep_cache, a
// thread-local read buffer, multithreaded session loop (clone_fd off unless
// --clone-fd). Runs in the foreground; unmount with `fusermount3 -u MNT`.
//
//   passthrough [--name NAME] [--threads N] [--clone-fd] [--direct-io]
//               [--io-uring] [--pidfile FILE] BACKING MNT
//
// The pidfile is written once the mount is up (scripts wait for it).
//
// --io-uring serves requests over FUSE-over-io_uring (Linux 6.14+, module
// parameter fuse.enable_uring=Y) with luksfs's own ring transport
// (fs/fuse/uring_transport.h: libfuse 3.14 does not speak the protocol), so
// that the ceiling of luksfs --io-uring=on is measured with the same ring
// code, minus the crypto. It needs the build with -DPASSTHROUGH_URING; it
// refuses to start (exit 6) when the kernel does not offer the rings.
//
// Build (contrib/bench/run.sh does this):
//   g++ -O2 -std=c++20 -D_FILE_OFFSET_BITS=64 -DFUSE_USE_VERSION=314
//       $(pkg-config --cflags fuse3) passthrough.cc $(pkg-config --libs fuse3)
// with the ring transport, from the repository root after `make`:
//   g++ ... -DPASSTHROUGH_URING -I. contrib/bench/passthrough.cc
//       build/libfs.a build/libcommon.a $(pkg-config --libs fuse3 liburing)
#include <fuse_lowlevel.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#ifdef PASSTHROUGH_URING
#include "fs/fuse/init_hooks.h"
#include "fs/fuse/uring_transport.h"
#endif

namespace {

constexpr fuse_ino_t kRoot = FUSE_ROOT_ID;
constexpr fuse_ino_t kFile = 2;
constexpr unsigned kMaxRequest = 1u << 20;
constexpr double kTimeout = 86400.0;

struct Fs {
  int fd = -1;
  std::string name = "disk.raw";
  bool direct_io = false;
  struct stat backing {};
};

Fs g;

void FillAttr(fuse_ino_t ino, struct stat* st) {
  memset(st, 0, sizeof *st);
  st->st_ino = ino;
  st->st_uid = g.backing.st_uid;
  st->st_gid = g.backing.st_gid;
  st->st_atim = g.backing.st_atim;
  st->st_mtim = g.backing.st_mtim;
  st->st_ctim = g.backing.st_ctim;
  if (ino == kRoot) {
    st->st_mode = S_IFDIR | 0755;
    st->st_nlink = 2;
  } else {
    st->st_mode = S_IFREG | 0600;
    st->st_nlink = 1;
    st->st_size = g.backing.st_size;
    st->st_blksize = 4096;
    st->st_blocks = (g.backing.st_size + 511) / 512;
  }
}

void Init(void*, struct fuse_conn_info* conn) {
  conn->max_write = kMaxRequest;
  conn->max_readahead = kMaxRequest;
  conn->want |= FUSE_CAP_ASYNC_READ;
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                  FUSE_CAP_SPLICE_MOVE);
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  if (parent != kRoot || g.name != name) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct fuse_entry_param e = {};
  e.ino = kFile;
  e.attr_timeout = kTimeout;
  e.entry_timeout = kTimeout;
  FillAttr(kFile, &e.attr);
  fuse_reply_entry(req, &e);
}

void Getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  if (ino != kRoot && ino != kFile) {
    fuse_reply_err(req, ENOENT);
    return;
  }
  struct stat st;
  FillAttr(ino, &st);
  fuse_reply_attr(req, &st, kTimeout);
}

void Setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
             struct fuse_file_info*) {
  if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != g.backing.st_size) {
    fuse_reply_err(req, EPERM);
    return;
  }
  struct stat st;
  FillAttr(ino, &st);
  fuse_reply_attr(req, &st, kTimeout);
}

void Opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  if (ino != kRoot) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  fuse_reply_open(req, fi);
}

void Readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
             struct fuse_file_info*) {
  if (ino != kRoot) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  std::vector<char> buf(size);
  size_t used = 0;
  const char* names[] = {".", "..", g.name.c_str()};
  const fuse_ino_t inos[] = {kRoot, kRoot, kFile};
  for (off_t i = off; i < 3; ++i) {
    struct stat st = {};
    st.st_ino = inos[i];
    st.st_mode = i == 2 ? S_IFREG : S_IFDIR;
    size_t n = fuse_add_direntry(req, buf.data() + used, size - used,
                                 names[i], &st, i + 1);
    if (n > size - used) break;
    used += n;
  }
  fuse_reply_buf(req, buf.data(), used);
}

void Open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  if (ino != kFile) {
    fuse_reply_err(req, EISDIR);
    return;
  }
  fi->direct_io = g.direct_io ? 1 : 0;
  fi->keep_cache = g.direct_io ? 0 : 1;
  fuse_reply_open(req, fi);
}

uint8_t* ReadBuffer(size_t n) {
#ifdef PASSTHROUGH_URING
  // On a ring thread: the ring entry's payload, so the reply needs no copy
  // (as in luksfs's view_fs_ops.cc).
  if (uint8_t* ring = luksfs::fs::UringReplyBuffer(n)) return ring;
#endif
  struct Buf {
    uint8_t* p = nullptr;
    size_t size = 0;
    ~Buf() { free(p); }
  };
  thread_local Buf buf;
  if (buf.size < n) {
    free(buf.p);
    buf.size = (n + 4095) / 4096 * 4096;
    buf.p = static_cast<uint8_t*>(aligned_alloc(4096, buf.size));
    if (buf.p == nullptr) buf.size = 0;
  }
  return buf.p;
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off,
          struct fuse_file_info*) {
  uint8_t* buf = ReadBuffer(size);
  if (buf == nullptr) {
    fuse_reply_err(req, ENOMEM);
    return;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = pread(g.fd, buf + done, size - done, off + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fuse_reply_err(req, errno);
      return;
    }
    if (n == 0) break;
    done += n;
  }
  fuse_reply_buf(req, reinterpret_cast<const char*>(buf), done);
}

void Write(fuse_req_t req, fuse_ino_t, const char* data, size_t size,
           off_t off, struct fuse_file_info*) {
  if (off >= g.backing.st_size) {
    fuse_reply_err(req, ENOSPC);
    return;
  }
  if (static_cast<off_t>(size) > g.backing.st_size - off) {
    size = g.backing.st_size - off;
  }
  size_t done = 0;
  while (done < size) {
    ssize_t n = pwrite(g.fd, data + done, size - done, off + done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fuse_reply_err(req, errno);
      return;
    }
    done += n;
  }
  fuse_reply_write(req, done);
}

void Flush(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void Fsync(fuse_req_t req, fuse_ino_t, int datasync, struct fuse_file_info*) {
  int rc = datasync ? fdatasync(g.fd) : fsync(g.fd);
  fuse_reply_err(req, rc == 0 ? 0 : errno);
}

void Release(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void Statfs(fuse_req_t req, fuse_ino_t) {
  struct statvfs s = {};
  s.f_bsize = 4096;
  s.f_frsize = 4096;
  s.f_namemax = 255;
  fuse_reply_statfs(req, &s);
}

[[noreturn]] void Usage() {
  fprintf(stderr,
          "usage: passthrough [--name NAME] [--threads N] [--clone-fd] "
          "[--direct-io] [--io-uring] [--pidfile FILE] BACKING MNT\n");
  exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned threads = 16;
  bool clone_fd = false;
  bool io_uring = false;
  std::string pidfile;
  std::vector<std::string> pos;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--name" && i + 1 < argc) {
      g.name = argv[++i];
    } else if (a == "--threads" && i + 1 < argc) {
      threads = static_cast<unsigned>(atoi(argv[++i]));
    } else if (a == "--clone-fd") {
      clone_fd = true;
    } else if (a == "--io-uring") {
      io_uring = true;
    } else if (a == "--direct-io") {
      g.direct_io = true;
    } else if (a == "--pidfile" && i + 1 < argc) {
      pidfile = argv[++i];
    } else if (!a.empty() && a[0] == '-') {
      Usage();
    } else {
      pos.push_back(a);
    }
  }
  if (pos.size() != 2 || threads == 0) Usage();

  g.fd = open(pos[0].c_str(), O_RDWR | O_CLOEXEC);
  if (g.fd < 0 || fstat(g.fd, &g.backing) != 0) {
    perror(pos[0].c_str());
    return 4;
  }

  struct fuse_lowlevel_ops ops = {};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.getattr = Getattr;
  ops.setattr = Setattr;
  ops.opendir = Opendir;
  ops.readdir = Readdir;
  ops.open = Open;
  ops.read = Read;
  ops.write = Write;
  ops.flush = Flush;
  ops.fsync = Fsync;
  ops.release = Release;
  ops.statfs = Statfs;

  std::vector<std::string> args_s = {"passthrough", "-o",
                                     "default_permissions,fsname=passthrough,"
                                     "subtype=passthrough"};
  std::vector<char*> args_v;
  for (auto& s : args_s) args_v.push_back(s.data());
  struct fuse_args args =
      FUSE_ARGS_INIT(static_cast<int>(args_v.size()), args_v.data());
  struct fuse_session* se = fuse_session_new(&args, &ops, sizeof ops, nullptr);
  if (se == nullptr) return 6;
  if (fuse_set_signal_handlers(se) != 0) return 6;
  if (fuse_session_mount(se, pos[1].c_str()) != 0) return 6;
#ifdef PASSTHROUGH_URING
  luksfs::fs::UringOptions uo;
  uo.mode = io_uring ? luksfs::fs::UringMode::kOn : luksfs::fs::UringMode::kOff;
  uo.max_payload = kMaxRequest;
  luksfs::fs::UringTransport uring(uo);
  // As the view does: the transport asks for FUSE_OVER_IO_URING through
  // the INIT hooks, which are installed when someone wants a flag.
  luksfs::fs::InitHooks hooks;
  luksfs::Status us = uring.Attach(se, &hooks);
  if (us.ok() && hooks.needed()) us = hooks.Install(se);
  if (!us.ok()) {
    fprintf(stderr, "passthrough: --io-uring: %s\n", us.ToString().c_str());
    fuse_session_unmount(se);
    return 6;
  }
#else
  if (io_uring) {
    fprintf(stderr, "passthrough: built without -DPASSTHROUGH_URING\n");
    fuse_session_unmount(se);
    return 6;
  }
#endif
  if (!pidfile.empty()) {
    FILE* f = fopen(pidfile.c_str(), "w");
    if (f != nullptr) {
      fprintf(f, "%d\n", getpid());
      fclose(f);
    }
  }
  struct fuse_loop_config* cfg = fuse_loop_cfg_create();
  fuse_loop_cfg_set_clone_fd(cfg, clone_fd ? 1 : 0);
  fuse_loop_cfg_set_max_threads(cfg, threads);
  fuse_loop_cfg_set_idle_threads(cfg, threads);
  int rc = fuse_session_loop_mt(se, cfg);
  fuse_loop_cfg_destroy(cfg);
  fuse_session_unmount(se);
#ifdef PASSTHROUGH_URING
  if (io_uring) {
    fprintf(stderr, "passthrough: transport %s, %llu request(s) over io_uring\n",
            uring.Describe().c_str(),
            static_cast<unsigned long long>(uring.served()));
  }
  uring.Stop();  // after the unmount: no request can wait on a ring
#endif
  fuse_remove_signal_handlers(se);
  fuse_session_destroy(se);
  close(g.fd);
  return rc == 0 ? 0 : 6;
}
