#include "fs/storage/s3_stream.h"

#include <algorithm>
#include <memory>

namespace luksfs::fs {

BlockAssembler::BlockAssembler(uint64_t block_size, uint64_t first_block,
                               uint64_t end_byte)
    : block_(block_size), end_(end_byte), next_(first_block) {}

uint64_t BlockAssembler::BlockLen() const {
  const uint64_t begin = next_ * block_;
  return begin >= end_ ? 0 : std::min(block_, end_ - begin);
}

bool BlockAssembler::Add(std::span<const uint8_t> chunk, const BeginFn& begin,
                         const EmitFn& emit) {
  while (!chunk.empty()) {
    const uint64_t len = BlockLen();
    if (len == 0) return false;  // past end_byte
    if (cur_.empty()) {
      if (!begin(next_)) return false;
      cur_.reserve(len);
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(chunk.size(), len - cur_.size()));
    cur_.insert(cur_.end(), chunk.begin(), chunk.begin() + static_cast<ptrdiff_t>(take));
    chunk = chunk.subspan(take);
    if (cur_.size() == len) {
      auto blk = std::make_shared<const std::vector<uint8_t>>(std::move(cur_));
      cur_ = std::vector<uint8_t>();
      const uint64_t index = next_++;
      if (!emit(index, std::move(blk))) return false;
    }
  }
  return true;
}

}  // namespace luksfs::fs
