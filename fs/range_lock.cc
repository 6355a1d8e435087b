#include "fs/range_lock.h"

namespace luksfs::fs {

bool RangeLock::OverlapsLocked(uint64_t begin, uint64_t end) const {
  for (const Range& r : held_) {
    if (begin < r.end && r.begin < end) return true;
  }
  return false;
}

RangeLock::Guard RangeLock::Lock(uint64_t begin, uint64_t end) {
  std::unique_lock<std::mutex> lock(mu_);
  released_.wait(lock, [&] { return !OverlapsLocked(begin, end); });
  held_.push_back({begin, end});
  return Guard(this, begin, end);
}

void RangeLock::Unlock(uint64_t begin, uint64_t end) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < held_.size(); ++i) {
      if (held_[i].begin == begin && held_[i].end == end) {
        held_[i] = held_.back();
        held_.pop_back();
        break;
      }
    }
  }
  released_.notify_all();
}

}  // namespace luksfs::fs
