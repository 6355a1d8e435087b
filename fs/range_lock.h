// RangeLock: reader/writer locks on half-open ranges [begin, end) of
// encryption units. Writers (a write, or the read-modify-write of a partial
// unit) exclude every overlapping holder; readers exclude only overlapping
// writers. This gives the view the per-unit atomicity a disk gives its
// sectors: no read ever decrypts a unit that a write has half-written, and
// no two read-modify-writes of one unit interleave. Disjoint ranges never
// wait.
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
    Guard(RangeLock* owner, uint64_t begin, uint64_t end, bool exclusive)
        : owner_(owner), begin_(begin), end_(end), exclusive_(exclusive) {}
    ~Guard() { owner_->Unlock(begin_, end_, exclusive_); }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    RangeLock* owner_;
    uint64_t begin_, end_;
    bool exclusive_;
  };

  // Blocks until [begin, end) overlaps no conflicting holder, then holds it.
  // REQUIRES: begin < end.
  [[nodiscard]] Guard Lock(uint64_t begin, uint64_t end) {  // exclusive
    return Acquire(begin, end, true);
  }
  [[nodiscard]] Guard LockShared(uint64_t begin, uint64_t end) {
    return Acquire(begin, end, false);
  }

 private:
  struct Range {
    uint64_t begin, end;
    bool exclusive;
  };
  Guard Acquire(uint64_t begin, uint64_t end, bool exclusive);
  void Unlock(uint64_t begin, uint64_t end, bool exclusive);
  bool ConflictsLocked(uint64_t begin, uint64_t end, bool exclusive) const;

  // mu_ guards held_. Held only to test/insert/erase, never during I/O or
  // crypto.
  std::mutex mu_;
  std::condition_variable released_;
  std::vector<Range> held_;  // few entries: one per in-flight request
};

}  // namespace luksfs::fs
