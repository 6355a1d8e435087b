// ImageLock: the OFD byte-range locks qemu's file driver (block/file-posix.c)
// takes on an image, so that luksfs, qemu, qemu-img and qemu-io see each
// other's use of one image file.
//
// qemu's protocol, per permission bit P of its block layer (CONSISTENT_READ
// = bit 0, WRITE = 1, WRITE_UNCHANGED = 2, RESIZE = 3):
//   - a user of P holds a shared (F_RDLCK) lock on byte 100 + P;
//   - a user that does not let others have P holds a shared lock on byte
//     200 + P;
//   - before using P, a newcomer checks that nobody locks byte 200 + P, and
//     before forbidding P, that nobody locks byte 100 + P (F_OFD_GETLK with
//     F_WRLCK: any lock there conflicts).
// Every lock is an OFD lock (fcntl F_OFD_SETLK): it belongs to the open file
// description, not to the process, so it survives fork() in the holder and
// conflicts with any other open of the file, even in the same process. It
// lasts until the description is closed (by ImageLock's destructor, or by
// the holder's death: nothing stale survives a crash).
//
// Modes:
//   kReadWrite: uses CONSISTENT_READ, WRITE, WRITE_UNCHANGED; forbids WRITE
//     and RESIZE. Another writer (qemu, qemu-io, a second read-write luksfs)
//     is refused, and so is a reader that itself forbids writers (qemu-img
//     info without -U, a read-only luksfs mount) — qemu's rules for a disk a
//     running guest has open.
//   kReadOnly: uses CONSISTENT_READ; forbids WRITE and RESIZE. Readers
//     coexist; writers are refused.
//
// Thread-safety: an ImageLock is owned by one thread; Acquire is safe from
// any thread.
// Errors: kIOError with os_errno() EAGAIN when another open of the file
// holds a conflicting lock (the message names the image and the permission);
// kIOError for open/fcntl failures; kNotSupported if the filesystem has no
// OFD locks.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace luksfs::fs {

enum class ImageLockMode { kReadOnly, kReadWrite };

class ImageLock {
 public:
  // Opens `path` (O_RDONLY: shared locks need only read access), takes the
  // mode's locks, then checks for conflicts; on a conflict the locks are
  // dropped again and the error returned.
  static Result<std::unique_ptr<ImageLock>> Acquire(const std::string& path,
                                                    ImageLockMode mode);

  // Closes the descriptor: every lock is released.
  ~ImageLock() = default;
  ImageLock(const ImageLock&) = delete;
  ImageLock& operator=(const ImageLock&) = delete;

  ImageLockMode mode() const { return mode_; }

 private:
  ImageLock(UniqueFd fd, ImageLockMode mode) : fd_(std::move(fd)), mode_(mode) {}

  UniqueFd fd_;  // the open file description that owns the locks
  ImageLockMode mode_;
};

// qemu's lock byte offsets, exposed for tests.
inline constexpr int kQemuLockPermBase = 100;    // "I use permission P"
inline constexpr int kQemuLockSharedBase = 200;  // "others may not have P"
// qemu's BLK_PERM_* bit numbers.
inline constexpr int kPermConsistentRead = 0;
inline constexpr int kPermWrite = 1;
inline constexpr int kPermWriteUnchanged = 2;
inline constexpr int kPermResize = 3;

}  // namespace luksfs::fs
