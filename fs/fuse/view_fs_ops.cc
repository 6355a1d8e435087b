// The libfuse3 low-level callbacks of ViewFs. Every callback is noexcept in
// effect: exceptions (allocation failure) are caught here and become ENOMEM
// or EIO, never crossing into C. No lock is held across fuse_reply_*.
#include <fuse_lowlevel.h>

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include "common/log.h"
#include "fs/fuse/errno_map.h"
#include "fs/fuse/uring_transport.h"
#include "fs/fuse/view_fs.h"
#include "fs/scratch.h"

namespace luksfs::fs {

namespace {

constexpr double kAttrTimeout = 3600.0;  // the view's size never changes

ViewFs& Fs(fuse_req_t req) {
  return *static_cast<ViewFs*>(fuse_req_userdata(req));
}

// Runs `body`, turning an escaping exception into an error reply.
template <typename F>
void Guarded(fuse_req_t req, F&& body) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    LogError(std::string("BUG: exception in a FUSE callback: ") + e.what());
    fuse_reply_err(req, EIO);
  }
}

// Read replies go through a per-thread, page-aligned buffer that
// Volume::DropKeys() wipes (fs/scratch.h).
// On a ring thread the reply is built in the ring entry's payload buffer,
// which needs no copy (uring_transport.h); the transport wipes those.
uint8_t* ReadBuffer(size_t n) {
  if (uint8_t* ring = UringReplyBuffer(n)) return ring;
  return ThreadScratch(ScratchSlot::kReply, n).data();
}

void Init(void* userdata, struct fuse_conn_info* conn) {
  auto* fs = static_cast<ViewFs*>(userdata);
  const size_t max = fs->options().max_request;
  conn->max_write = static_cast<unsigned>(max);
  conn->max_readahead = static_cast<unsigned>(max);
  conn->want |= FUSE_CAP_ASYNC_READ;
  conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
                  FUSE_CAP_SPLICE_MOVE);
}

void Destroy(void* userdata) noexcept {
  try {
    auto* fs = static_cast<ViewFs*>(userdata);
    if (!fs->options().read_only) {
      Status s = fs->volume().Flush();
      if (!s.ok()) LogError("flush at unmount failed: " + s.ToString());
    }
  } catch (...) {
    // Never let an exception cross into libfuse's C code.
  }
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (parent != kRootInode || fs.options().file_name != name) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    struct fuse_entry_param e = {};
    e.ino = kViewInode;
    e.attr_timeout = kAttrTimeout;
    e.entry_timeout = kAttrTimeout;
    fs.FillAttr(kViewInode, &e.attr);
    fuse_reply_entry(req, &e);
  });
}

void Getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  Guarded(req, [&] {
    if (ino != kRootInode && ino != kViewInode) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    struct stat st;
    Fs(req).FillAttr(ino, &st);
    fuse_reply_attr(req, &st, kAttrTimeout);
  });
}

void Setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
             struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (to_set & FUSE_SET_ATTR_SIZE) {
      if (ino != kViewInode ||
          static_cast<uint64_t>(attr->st_size) != fs.volume().Size()) {
        LogWarning("refused to resize " + fs.options().file_name +
                   ": the view has a fixed size of " +
                   std::to_string(fs.volume().Size()) + " bytes");
        fuse_reply_err(req, EPERM);
        return;
      }
    }
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
      // chown/chmod live in memory for the life of the mount (libvirt's DAC
      // labelling). The kernel checked the caller (default_permissions);
      // check again: uid only by root, gid and mode by root or the owner.
      const struct fuse_ctx* ctx = fuse_req_ctx(req);
      InodeAttr& a = fs.Attr(ino);
      const bool root = ctx->uid == 0;
      const bool owner = root || ctx->uid == a.uid.load();
      if (((to_set & FUSE_SET_ATTR_UID) && !root &&
           attr->st_uid != a.uid.load()) ||
          ((to_set & (FUSE_SET_ATTR_GID | FUSE_SET_ATTR_MODE)) && !owner)) {
        fuse_reply_err(req, EPERM);
        return;
      }
      if (to_set & FUSE_SET_ATTR_UID) a.uid.store(attr->st_uid);
      if (to_set & FUSE_SET_ATTR_GID) a.gid.store(attr->st_gid);
      if (to_set & FUSE_SET_ATTR_MODE) a.mode.store(attr->st_mode & 07777);
    }
    // Time updates are accepted and ignored (touch works).
    struct stat st;
    fs.FillAttr(ino, &st);
    fuse_reply_attr(req, &st, kAttrTimeout);
  });
}

void Open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (ino != kViewInode) {
      fuse_reply_err(req, EISDIR);
      return;
    }
    if (fs.options().read_only && (fi->flags & O_ACCMODE) != O_RDONLY) {
      fuse_reply_err(req, EROFS);
      return;
    }
    fi->direct_io = fs.options().direct_io ? 1 : 0;
    // Only luksfs changes the view, so cached pages stay valid across opens.
    fi->keep_cache = fs.options().direct_io ? 0 : 1;
    fuse_reply_open(req, fi);
  });
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off,
          struct fuse_file_info*) {
  Guarded(req, [&] {
    uint8_t* buf = ReadBuffer(size);
    Result<size_t> n = Fs(req).volume().Read(static_cast<uint64_t>(off),
                                             std::span<uint8_t>(buf, size));
    if (!n.ok()) {
      // After a revocation every read fails by design; the watcher already
      // logged it once, so don't flood the log at the guest's I/O rate.
      if (n.status().code() != Status::Code::kKeyRevoked) {
        LogError("read of " + std::to_string(size) + " bytes at " +
                 std::to_string(off) + ": " + n.status().ToString());
      }
      fuse_reply_err(req, ToErrno(n.status()));
      return;
    }
    fuse_reply_buf(req, reinterpret_cast<const char*>(buf), *n);
  });
}

void Write(fuse_req_t req, fuse_ino_t, const char* data, size_t size,
           off_t off, struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (fs.options().read_only) {
      fuse_reply_err(req, EROFS);
      return;
    }
    Result<size_t> n = fs.volume().Write(
        static_cast<uint64_t>(off),
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data), size));
    if (!n.ok()) {
      if (n.status().code() != Status::Code::kResourceExhausted &&
          n.status().code() != Status::Code::kKeyRevoked) {
        LogError("write of " + std::to_string(size) + " bytes at " +
                 std::to_string(off) + ": " + n.status().ToString());
      }
      fuse_reply_err(req, ToErrno(n.status()));
      return;
    }
    fuse_reply_write(req, *n);
  });
}

void Flush(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) {
  fuse_reply_err(req, 0);  // writes are already in storage; fsync syncs
}

void Fsync(fuse_req_t req, fuse_ino_t ino, int, struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (ino != kViewInode || fs.options().read_only) {
      fuse_reply_err(req, 0);
      return;
    }
    Status s = fs.volume().Flush();
    if (!s.ok()) LogError("fsync: " + s.ToString());
    fuse_reply_err(req, ToErrno(s));
  });
}

// SEEK_DATA / SEEK_HOLE from the block map (raw LUKS: all data, the one
// hole is the end). The kernel answers SEEK_SET/CUR/END itself.
void Lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
           struct fuse_file_info*) {
  Guarded(req, [&] {
    if (ino != kViewInode || (whence != SEEK_DATA && whence != SEEK_HOLE) ||
        off < 0) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    Volume& v = Fs(req).volume();
    Result<uint64_t> r = whence == SEEK_DATA
                             ? v.NextData(static_cast<uint64_t>(off))
                             : v.NextHole(static_cast<uint64_t>(off));
    if (!r.ok()) {
      fuse_reply_err(req, r.status().code() == Status::Code::kNotFound
                              ? ENXIO
                              : ToErrno(r.status()));
      return;
    }
    fuse_reply_lseek(req, static_cast<off_t>(*r));
  });
}

// fallocate(PUNCH_HOLE | KEEP_SIZE) discards (Volume::Discard): whole
// granules leave the map, partial ones become zeros. The view's size is
// fixed, so every other mode is EOPNOTSUPP; so is a raw LUKS view, whose
// map cannot discard. The kernel drops the cached pages of the range.
void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
               off_t length, struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (ino != kViewInode || off < 0 || length <= 0) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    // PUNCH_HOLE|KEEP_SIZE: Volume::Discard (qcow2 always; raw only with
    // allow_discards, else EOPNOTSUPP). ZERO_RANGE [|KEEP_SIZE]:
    // Volume::ZeroRange. The view cannot grow: without KEEP_SIZE a range
    // past its end is EINVAL (as a block device answers); with KEEP_SIZE it
    // is clipped to the end. Any other mode: EOPNOTSUPP.
    const bool keep = (mode & FALLOC_FL_KEEP_SIZE) != 0;
    const int op = mode & ~FALLOC_FL_KEEP_SIZE;
    const bool punch = op == FALLOC_FL_PUNCH_HOLE && keep;
    const bool zero = op == FALLOC_FL_ZERO_RANGE;
    if (!punch && !zero) {
      fuse_reply_err(req, EOPNOTSUPP);
      return;
    }
    if (fs.options().read_only) {
      fuse_reply_err(req, EROFS);
      return;
    }
    const uint64_t size = fs.volume().Size();
    if (zero && !keep &&
        (static_cast<uint64_t>(off) > size ||
         static_cast<uint64_t>(length) > size - static_cast<uint64_t>(off))) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    Status s = punch ? fs.volume().Discard(static_cast<uint64_t>(off),
                                           static_cast<uint64_t>(length))
                     : fs.volume().ZeroRange(static_cast<uint64_t>(off),
                                             static_cast<uint64_t>(length));
    if (!s.ok() && s.code() != Status::Code::kNotSupported &&
        s.code() != Status::Code::kKeyRevoked) {
      LogError(std::string(punch ? "discard" : "zeroing") + " of " +
               std::to_string(length) + " bytes at " + std::to_string(off) +
               ": " + s.ToString());
    }
    fuse_reply_err(req, ToErrno(s));
  });
}

void Release(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) {
  fuse_reply_err(req, 0);
}

void Opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  if (ino != kRootInode) {
    fuse_reply_err(req, ENOTDIR);
    return;
  }
  fuse_reply_open(req, fi);
}

void Readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
             struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (ino != kRootInode) {
      fuse_reply_err(req, ENOTDIR);
      return;
    }
    struct Entry {
      const char* name;
      fuse_ino_t ino;
      mode_t mode;
    } entries[] = {{".", kRootInode, S_IFDIR},
                   {"..", kRootInode, S_IFDIR},
                   {fs.options().file_name.c_str(), kViewInode, S_IFREG}};
    std::string out(size, '\0');
    size_t used = 0;
    for (off_t i = off; i < 3; ++i) {
      struct stat st = {};
      st.st_ino = entries[i].ino;
      st.st_mode = entries[i].mode;
      size_t need = fuse_add_direntry(req, out.data() + used, size - used,
                                      entries[i].name, &st, i + 1);
      if (need > size - used) break;
      used += need;
    }
    fuse_reply_buf(req, out.data(), used);
  });
}

void Statfs(fuse_req_t req, fuse_ino_t) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    struct statvfs sv = {};
    sv.f_bsize = 4096;
    sv.f_frsize = 4096;
    sv.f_blocks = (fs.volume().Size() + 4095) / 4096;
    sv.f_files = 2;
    sv.f_namemax = 255;
    fuse_reply_statfs(req, &sv);
  });
}

// No xattr ops on purpose: libfuse then answers ENOSYS, and the kernel
// stops asking (fc->no_getxattr). A connection that serves getxattr gets a
// GETXATTR(security.capability) before every buffered write.
struct fuse_lowlevel_ops MakeOps() {
  struct fuse_lowlevel_ops ops = {};
  ops.init = Init;
  ops.destroy = Destroy;
  ops.lookup = Lookup;
  ops.getattr = Getattr;
  ops.setattr = Setattr;
  ops.open = Open;
  ops.read = Read;
  ops.write = Write;
  ops.flush = Flush;
  ops.fsync = Fsync;
  ops.release = Release;
  ops.lseek = Lseek;
  ops.fallocate = Fallocate;
  ops.opendir = Opendir;
  ops.readdir = Readdir;
  ops.statfs = Statfs;
  return ops;
}

}  // namespace

extern const struct fuse_lowlevel_ops kViewOps = MakeOps();

}  // namespace luksfs::fs
