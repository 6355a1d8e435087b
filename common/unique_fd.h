// UniqueFd: a file descriptor closed when the object goes out of scope.
//
// Ownership: owns the descriptor it was given (any value < 0 means none);
// release() gives it up without closing. Move-only.
// Thread-safety: none; one owner.
// Errors: close(2)'s result is ignored (read paths, sockets, locks: nothing
// to report that the caller could act on); write paths that must know
// whether data reached the disk call fsync/close themselves.
#pragma once

#include <unistd.h>

#include <utility>

namespace luksfs {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(other.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace luksfs
