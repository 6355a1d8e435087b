#include "fs/storage/s3_cache.h"

#include <algorithm>

namespace luksfs::fs {

Block BlockCache::Get(uint64_t index) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = map_.find(index);
  if (it == map_.end()) return nullptr;
  if (!it->second.scan) lru_.splice(lru_.begin(), lru_, it->second.lru);
  return it->second.block;
}

uint64_t BlockCache::epoch() const {
  std::lock_guard<std::mutex> l(mu_);
  return epoch_;
}

void BlockCache::Insert(uint64_t epoch, uint64_t index, Block block, bool scan) {
  if (!block || block->size() > (scan ? scan_capacity_ : capacity_)) return;
  std::lock_guard<std::mutex> l(mu_);
  if (epoch != epoch_) return;
  auto it = map_.find(index);
  if (it != map_.end()) EraseLocked(it);
  std::list<uint64_t>& list = scan ? scan_ : lru_;
  list.push_front(index);
  bytes_ += block->size();
  if (scan) scan_bytes_ += block->size();
  map_.emplace(index, Entry{std::move(block), list.begin(), scan});
  EvictLocked();
}

void BlockCache::EraseLocked(std::unordered_map<uint64_t, Entry>::iterator it) {
  const uint64_t n = it->second.block->size();
  bytes_ -= n;
  if (it->second.scan) {
    scan_bytes_ -= n;
    scan_.erase(it->second.lru);
  } else {
    lru_.erase(it->second.lru);
  }
  map_.erase(it);
}

void BlockCache::Invalidate(uint64_t first, uint64_t last) {
  std::lock_guard<std::mutex> l(mu_);
  ++epoch_;
  if (last - first > map_.size()) {
    for (auto it = map_.begin(); it != map_.end();) {
      if (it->first >= first && it->first <= last) {
        EraseLocked(it++);
      } else {
        ++it;
      }
    }
    return;
  }
  for (uint64_t i = first; i <= last; ++i) {
    auto it = map_.find(i);
    if (it == map_.end()) continue;
    EraseLocked(it);
  }
}

void BlockCache::EvictLocked() {
  // Scan blocks go first: over their own bound, then over the whole one.
  while (scan_bytes_ > scan_capacity_ && !scan_.empty()) {
    EraseLocked(map_.find(scan_.back()));
  }
  while (bytes_ > capacity_ && !scan_.empty()) EraseLocked(map_.find(scan_.back()));
  while (bytes_ > capacity_ && !lru_.empty()) EraseLocked(map_.find(lru_.back()));
}

uint64_t BlockCache::scan_bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return scan_bytes_;
}

uint64_t BlockCache::bytes() const {
  std::lock_guard<std::mutex> l(mu_);
  return bytes_;
}

size_t BlockCache::count() const {
  std::lock_guard<std::mutex> l(mu_);
  return map_.size();
}

void RangeSet::Add(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  auto it = map_.upper_bound(begin);
  if (it != map_.begin()) {
    auto prev = std::prev(it);
    if (prev->second >= begin) {
      begin = prev->first;
      end = std::max(end, prev->second);
      it = map_.erase(prev);
    }
  }
  while (it != map_.end() && it->first <= end) {
    end = std::max(end, it->second);
    it = map_.erase(it);
  }
  map_.emplace(begin, end);
}

void RangeSet::Subtract(uint64_t begin, uint64_t end) {
  if (begin >= end) return;
  auto it = map_.upper_bound(begin);
  if (it != map_.begin()) --it;
  while (it != map_.end() && it->first < end) {
    const uint64_t b = it->first, e = it->second;
    if (e <= begin) {
      ++it;
      continue;
    }
    it = map_.erase(it);
    if (b < begin) map_.emplace(b, begin);
    if (e > end) it = map_.emplace(end, e).first;
  }
}

void RangeSet::AddAll(const RangeSet& other) {
  for (const auto& [b, e] : other.map_) Add(b, e);
}

bool RangeSet::Overlaps(uint64_t begin, uint64_t end) const {
  if (begin >= end) return false;
  auto it = map_.lower_bound(end);  // first range starting at or after end
  if (it == map_.begin()) return false;
  --it;
  return it->second > begin;
}

std::vector<RangeSet::Range> RangeSet::Intersect(uint64_t begin,
                                                 uint64_t end) const {
  std::vector<Range> out;
  if (begin >= end) return out;
  auto it = map_.upper_bound(begin);
  if (it != map_.begin()) --it;
  for (; it != map_.end() && it->first < end; ++it) {
    const uint64_t b = std::max(begin, it->first);
    const uint64_t e = std::min(end, it->second);
    if (b < e) out.push_back({b, e});
  }
  return out;
}

std::vector<RangeSet::Range> RangeSet::All() const {
  std::vector<Range> out;
  for (const auto& [b, e] : map_) out.push_back({b, e});
  return out;
}

uint64_t RangeSet::TotalBytes() const {
  uint64_t n = 0;
  for (const auto& [b, e] : map_) n += e - b;
  return n;
}

}  // namespace luksfs::fs
