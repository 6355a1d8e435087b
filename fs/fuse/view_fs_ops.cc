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
#include <memory>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "common/log.h"
#include "fs/fuse/errno_map.h"
#include "fs/fuse/uring_transport.h"
#include "fs/fuse/view_fs.h"
#include "fs/scratch.h"

namespace luksfs::fs {

namespace {

// The view's size never changes; a partition file that changes is a new
// inode, and the names that change are invalidated (ViewFs::ReadPartitions).
constexpr double kAttrTimeout = 3600.0;

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
    std::shared_ptr<ViewFile> f =
        parent == kRootInode ? fs.FileNamed(name) : nullptr;
    if (f == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    struct fuse_entry_param e = {};
    e.ino = f->ino;
    e.attr_timeout = kAttrTimeout;
    e.entry_timeout = kAttrTimeout;
    fs.FillAttr(*f, &e.attr);
    fuse_reply_entry(req, &e);
  });
}

void Getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    struct stat st;
    if (ino == kRootInode) {
      fs.FillDirAttr(&st);
    } else if (std::shared_ptr<ViewFile> f = fs.File(ino)) {
      fs.FillAttr(*f, &st);
    } else {
      fuse_reply_err(req, ENOENT);
      return;
    }
    fuse_reply_attr(req, &st, kAttrTimeout);
  });
}

void Setattr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set,
             struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    std::shared_ptr<ViewFile> f = fs.File(ino);
    if (f == nullptr && ino != kRootInode) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (to_set & FUSE_SET_ATTR_SIZE) {
      if (f == nullptr ||
          static_cast<uint64_t>(attr->st_size) != f->window.length) {
        const std::string name = f ? f->name : fs.options().mountpoint;
        const uint64_t size = f ? f->window.length : 0;
        LogWarning("refused to resize " + name + ": it has a fixed size of " +
                   std::to_string(size) + " bytes");
        fuse_reply_err(req, EPERM);
        return;
      }
    }
    if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
      // chown/chmod live in memory for the life of the mount (libvirt's DAC
      // labelling). The kernel checked the caller (default_permissions);
      // check again: uid only by root, gid and mode by root or the owner.
      const struct fuse_ctx* ctx = fuse_req_ctx(req);
      InodeAttr& a = f ? f->attr : fs.DirAttr();
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
    if (f) {
      fs.FillAttr(*f, &st);
    } else {
      fs.FillDirAttr(&st);
    }
    fuse_reply_attr(req, &st, kAttrTimeout);
  });
}

void Open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info* fi) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (ino == kRootInode) {
      fuse_reply_err(req, EISDIR);
      return;
    }
    std::shared_ptr<ViewFile> f = fs.File(ino);
    if (f == nullptr) {
      fuse_reply_err(req, ENOENT);
      return;
    }
    if (fs.options().read_only && (fi->flags & O_ACCMODE) != O_RDONLY) {
      fuse_reply_err(req, EROFS);
      return;
    }
    fi->direct_io = fs.options().direct_io ? 1 : 0;
    // Only luksfs changes the view, so cached pages stay valid across opens
    // (a write through another file invalidates them: ViewFs::AfterWrite).
    fi->keep_cache = fs.options().direct_io ? 0 : 1;
    f->opened.store(true);
    fuse_reply_open(req, fi);
  });
}

void Read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
          struct fuse_file_info*) {
  Guarded(req, [&] {
    std::shared_ptr<ViewFile> f = Fs(req).File(ino);
    if (f == nullptr) {
      fuse_reply_err(req, ESTALE);  // a partition gone from the table
      return;
    }
    const ByteRange r = ClipToWindow(f->window, static_cast<uint64_t>(off), size);
    if (r.length == 0) {
      fuse_reply_buf(req, nullptr, 0);  // at or past the end: EOF
      return;
    }
    uint8_t* buf = ReadBuffer(r.length);
    Result<size_t> n = Fs(req).volume().Read(
        r.offset, std::span<uint8_t>(buf, static_cast<size_t>(r.length)));
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

// write_buf rather than write: libfuse hands over its receive buffer as
// mutable memory, so the volume encrypts the request's units where they lie
// (Volume::WriteConsuming) instead of into a scratch copy, and the request's
// plaintext does not stay behind in that buffer. A spliced request (an fd
// buffer) is copied into the reply scratch first.
void WriteBuf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec* in_buf,
              off_t off, struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (fs.options().read_only) {
      fuse_reply_err(req, EROFS);
      return;
    }
    std::shared_ptr<ViewFile> f = fs.File(ino);
    if (f == nullptr) {
      fuse_reply_err(req, ESTALE);  // a partition gone from the table
      return;
    }
    const size_t size = fuse_buf_size(in_buf);
    const ByteRange r = ClipToWindow(f->window, static_cast<uint64_t>(off), size);
    if (r.length == 0 && size != 0) {
      fuse_reply_err(req, ENOSPC);  // at or past the end, as the view
      return;
    }
    uint8_t* data = nullptr;
    const struct fuse_buf& first = in_buf->buf[in_buf->idx];
    if (in_buf->count - in_buf->idx == 1 && !(first.flags & FUSE_BUF_IS_FD)) {
      data = static_cast<uint8_t*>(first.mem) + in_buf->off;
    } else {
      data = ThreadScratch(ScratchSlot::kReply, size).data();
      struct fuse_bufvec dst = FUSE_BUFVEC_INIT(size);
      dst.buf[0].mem = data;
      const ssize_t got = fuse_buf_copy(&dst, in_buf, FUSE_BUF_NO_SPLICE);
      if (got < 0 || static_cast<size_t>(got) != size) {
        fuse_reply_err(req, got < 0 ? static_cast<int>(-got) : EIO);
        return;
      }
    }
    Result<size_t> n = fs.volume().WriteConsuming(
        r.offset, std::span<uint8_t>(data, static_cast<size_t>(r.length)));
    if (!n.ok()) {
      if (n.status().code() != Status::Code::kResourceExhausted &&
          n.status().code() != Status::Code::kKeyRevoked) {
        LogError("write of " + std::to_string(size) + " bytes at " +
                 std::to_string(off) + ": " + n.status().ToString());
      }
      fuse_reply_err(req, ToErrno(n.status()));
      return;
    }
    // Other files' cached pages of these bytes; the table (disk.raw only).
    fs.AfterWrite(*f, r.offset, *n);
    fuse_reply_write(req, *n);
  });
}

// Writes are already in storage; fsync syncs. A close after rewriting the
// partition table sees the new partition files, and the other files' page
// caches of the bytes written are invalidated.
void Flush(fuse_req_t req, fuse_ino_t, struct fuse_file_info*) {
  Guarded(req, [&] {
    Fs(req).WaitForBackground();
    fuse_reply_err(req, 0);
  });
}

void Fsync(fuse_req_t req, fuse_ino_t ino, int, struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    if (fs.File(ino) == nullptr || fs.options().read_only) {
      fuse_reply_err(req, 0);
      return;
    }
    Status s = fs.volume().Flush();
    fs.WaitForBackground();
    if (!s.ok()) LogError("fsync: " + s.ToString());
    fuse_reply_err(req, ToErrno(s));
  });
}

// SEEK_DATA / SEEK_HOLE from the block map (raw LUKS: all data, the one
// hole is the end). The kernel answers SEEK_SET/CUR/END itself.
void Lseek(fuse_req_t req, fuse_ino_t ino, off_t off, int whence,
           struct fuse_file_info*) {
  Guarded(req, [&] {
    std::shared_ptr<ViewFile> f = Fs(req).File(ino);
    if (f == nullptr || (whence != SEEK_DATA && whence != SEEK_HOLE) ||
        off < 0) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    if (static_cast<uint64_t>(off) >= f->window.length) {
      fuse_reply_err(req, ENXIO);  // at or past the end, as the view
      return;
    }
    Volume& v = Fs(req).volume();
    const uint64_t at = f->window.offset + static_cast<uint64_t>(off);
    Result<uint64_t> r = whence == SEEK_DATA ? v.NextData(at) : v.NextHole(at);
    if (!r.ok() && r.status().code() != Status::Code::kNotFound) {
      fuse_reply_err(req, ToErrno(r.status()));
      return;
    }
    std::optional<uint64_t> found = SeekInWindow(
        f->window, whence == SEEK_DATA,
        r.ok() ? std::optional<uint64_t>(*r) : std::nullopt);
    if (!found) {
      fuse_reply_err(req, ENXIO);
      return;
    }
    fuse_reply_lseek(req, static_cast<off_t>(*found));
  });
}

// fallocate on a view file: PUNCH_HOLE|KEEP_SIZE discards (Volume::Discard),
// ZERO_RANGE writes zeros (Volume::ZeroRange); see the mode rules below.
// The kernel drops the cached pages of the range.
void Fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off,
               off_t length, struct fuse_file_info*) {
  Guarded(req, [&] {
    ViewFs& fs = Fs(req);
    std::shared_ptr<ViewFile> f = fs.File(ino);
    if (f == nullptr || off < 0 || length <= 0) {
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
    // Sizes and offsets below are the file's (a partition file is a window
    // of the view); the range is then mapped into view bytes.
    const uint64_t size = f->window.length;
    if (zero && !keep &&
        (static_cast<uint64_t>(off) > size ||
         static_cast<uint64_t>(length) > size - static_cast<uint64_t>(off))) {
      fuse_reply_err(req, EINVAL);
      return;
    }
    // The file's range in view bytes, clipped to the file's end.
    const ByteRange r = ClipToWindow(f->window, static_cast<uint64_t>(off),
                                     static_cast<uint64_t>(length));
    Status s = r.length == 0 ? Status()
               : punch       ? fs.volume().Discard(r.offset, r.length)
                             : fs.volume().ZeroRange(r.offset, r.length);
    if (!s.ok() && s.code() != Status::Code::kNotSupported &&
        s.code() != Status::Code::kKeyRevoked) {
      LogError(std::string(punch ? "discard" : "zeroing") + " of " +
               std::to_string(length) + " bytes at " + std::to_string(off) +
               ": " + s.ToString());
    }
    // As a write: other files' cached pages, the table's sectors.
    if (s.ok()) fs.AfterWrite(*f, r.offset, r.length);
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
      std::string name;
      fuse_ino_t ino;
      mode_t mode;
    };
    std::vector<Entry> entries = {{".", kRootInode, S_IFDIR},
                                  {"..", kRootInode, S_IFDIR}};
    for (const std::shared_ptr<ViewFile>& f : fs.Files()) {
      entries.push_back({f->name, f->ino, S_IFREG});
    }
    std::string out(size, '\0');
    size_t used = 0;
    // Offsets are positions in this list; a table re-read between two
    // calls may shift them, as a directory changing under readdir does.
    for (off_t i = off; i >= 0 && static_cast<size_t>(i) < entries.size(); ++i) {
      struct stat st = {};
      st.st_ino = entries[i].ino;
      st.st_mode = entries[i].mode;
      size_t need = fuse_add_direntry(req, out.data() + used, size - used,
                                      entries[i].name.c_str(), &st, i + 1);
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
    sv.f_files = 1 + fs.Files().size();
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
  ops.write_buf = WriteBuf;
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
