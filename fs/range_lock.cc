#include "fs/range_lock.h"

namespace luksfs::fs {

bool RangeLock::ConflictsLocked(uint64_t begin, uint64_t end,
                                bool exclusive) const {
  for (const Range& r : held_) {
    if (begin < r.end && r.begin < end && (exclusive || r.exclusive)) {
      return true;
    }
  }
  return false;
}

RangeLock::Guard RangeLock::Acquire(uint64_t begin, uint64_t end,
                                    bool exclusive) {
  std::unique_lock<std::mutex> lock(mu_);
  released_.wait(lock,
                 [&] { return !ConflictsLocked(begin, end, exclusive); });
  held_.push_back({begin, end, exclusive});
  return Guard(this, begin, end, exclusive);
}

void RangeLock::Unlock(uint64_t begin, uint64_t end, bool exclusive) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < held_.size(); ++i) {
      const Range& r = held_[i];
      if (r.begin == begin && r.end == end && r.exclusive == exclusive) {
        held_[i] = held_.back();
        held_.pop_back();
        break;
      }
    }
  }
  released_.notify_all();
}

}  // namespace luksfs::fs
