// RangeLock: exclusive locks on half-open ranges [begin, end) of encryption
// units, so that a read-modify-write of a partial unit cannot interleave
// with another write touching the same unit. Disjoint ranges never wait.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <vector>

namespace luksfs::fs {

class RangeLock {
 public:
  class Guard {
   public:
    Guard(RangeLock* owner, uint64_t begin, uint64_t end)
        : owner_(owner), begin_(begin), end_(end) {}
    ~Guard() { owner_->Unlock(begin_, end_); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    RangeLock* owner_;
    uint64_t begin_, end_;
  };

  // Blocks until [begin, end) overlaps no held range, then holds it.
  // REQUIRES: begin < end.
  [[nodiscard]] Guard Lock(uint64_t begin, uint64_t end);

 private:
  struct Range {
    uint64_t begin, end;
  };
  void Unlock(uint64_t begin, uint64_t end);
  bool OverlapsLocked(uint64_t begin, uint64_t end) const;  // REQUIRES: mu_

  // mu_ guards held_. Held only to test/insert/erase, never during I/O.
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<Range> held_;  // few entries: one per in-flight write
};

}  // namespace luksfs::fs
