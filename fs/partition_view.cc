#include "fs/partition_view.h"

#include <algorithm>

namespace luksfs::fs {

namespace {

// [a, a + alen) and [b, b + blen) share a byte. No overflow: every range
// here lies inside a view whose size fits in uint64_t.
bool Overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen) {
  return alen != 0 && blen != 0 && a < b + blen && b < a + alen;
}

}  // namespace

ByteRange ClipToWindow(const ViewWindow& w, uint64_t off, uint64_t len) {
  if (off >= w.length) return {w.offset + w.length, 0};
  return {w.offset + off, std::min(len, w.length - off)};
}

std::optional<uint64_t> SeekInWindow(const ViewWindow& w, bool want_data,
                                     std::optional<uint64_t> view_result) {
  const uint64_t end = w.offset + w.length;
  if (!view_result || *view_result >= end) {
    // Nothing in the window: no data; the hole is the file's end. (The
    // caller refuses off >= length before asking the view.)
    if (want_data) return std::nullopt;
    return w.length;
  }
  // The view answers at or after the offset asked for, which is inside the
  // window; max() only guards against a view that answers before it.
  return std::max(*view_result, w.offset) - w.offset;
}

std::vector<PartitionFile> PartitionFiles(const PartitionTable& table,
                                          const std::string& base,
                                          uint64_t view_size,
                                          std::vector<std::string>* skipped) {
  std::vector<PartitionFile> out;
  for (const Partition& p : table.partitions) {
    const std::string name = base + ".p" + std::to_string(p.number);
    std::string why;
    if (p.mbr_type == 0x05 || p.mbr_type == 0x0f || p.mbr_type == 0x85) {
      why = "it is an MBR extended partition (logical partitions get no file)";
    } else if (p.size == 0 || p.offset > view_size || p.size > view_size - p.offset) {
      why = "it does not lie inside the view";
    }
    for (const ByteRange& m : table.metadata) {
      if (why.empty() && Overlap(p.offset, p.size, m.offset, m.length)) {
        why = "it overlaps the partition table's own sectors";
      }
    }
    bool duplicate = false;
    for (const PartitionFile& f : out) duplicate |= f.number == p.number;
    if (why.empty() && duplicate) why = "its number appears twice";
    if (!why.empty()) {
      if (skipped != nullptr) skipped->push_back("no " + name + ": " + why);
      continue;
    }
    out.push_back({p.number, name, {p.offset, p.size}});
  }
  return out;
}

bool TouchesPartitionTable(uint64_t off, uint64_t len, uint64_t view_size,
                           const std::vector<ByteRange>& current) {
  if (len == 0) return false;
  if (Overlap(off, len, 0, std::min(kTableHeadBytes, view_size))) return true;
  const uint64_t tail = std::min(kTableTailBytes, view_size);
  if (Overlap(off, len, view_size - tail, tail)) return true;
  for (const ByteRange& m : current) {
    if (Overlap(off, len, m.offset, m.length)) return true;
  }
  return false;
}

uint64_t RescanSignal::Request() {
  std::lock_guard<std::mutex> lock(mu_);
  ++requested_;
  cv_.notify_all();
  return requested_;
}

uint64_t RescanSignal::requested() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requested_;
}

std::optional<uint64_t> RescanSignal::WaitForRequest() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [this] { return stopped_ || requested_ > served_; });
  if (stopped_) return std::nullopt;
  return requested_;
}

void RescanSignal::Served(uint64_t generation) {
  std::lock_guard<std::mutex> lock(mu_);
  served_ = std::max(served_, generation);
  cv_.notify_all();
}

bool RescanSignal::WaitServed(uint64_t generation,
                              std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, timeout,
               [&] { return stopped_ || served_ >= generation; });
  return served_ >= generation;
}

void RescanSignal::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  cv_.notify_all();
}

}  // namespace luksfs::fs
