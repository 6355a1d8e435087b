// The bookkeeping of S3Storage's streaming read-ahead, without network or
// locks (so it can be tested alone):
//   BlockAssembler     - cuts the body of one long GET into cache blocks;
//   StreamMayAdvance   - the flow control between the stream and the reader;
//   StreamSegmentEnd   - where one streaming GET of the object ends.
// Units: bytes and block indices (block i covers [i * block, (i+1) * block)).
// Thread-safety: none; each object is used by one stream at a time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "fs/storage/s3_cache.h"

namespace luksfs::fs {

// Receives the bytes [first_block * block_size, end_byte) in order, in
// chunks of any size, and emits each block as soon as its last byte
// arrived (the last block may be short: it ends at end_byte). Every byte is
// copied once, from the chunk into the block; nothing is zero-filled.
class BlockAssembler {
 public:
  // begin(index): called before the first byte of block `index` is taken;
  // false stops (Add returns false, the byte is not taken).
  // emit(index, block): the completed block; false stops after it.
  using BeginFn = std::function<bool(uint64_t index)>;
  using EmitFn = std::function<bool(uint64_t index, Block block)>;

  // REQUIRES: block_size > 0, first_block * block_size < end_byte.
  BlockAssembler(uint64_t block_size, uint64_t first_block, uint64_t end_byte);

  // Takes the chunk. False when a callback stopped, or when the chunk
  // passes end_byte (then nothing past end_byte is emitted).
  bool Add(std::span<const uint8_t> chunk, const BeginFn& begin, const EmitFn& emit);

  uint64_t next_block() const { return next_; }      // being assembled
  uint64_t next_byte() const { return std::min(end_, next_ * block_ + cur_.size()); }
  bool done() const { return next_byte() >= end_; }  // every block emitted

 private:
  uint64_t BlockLen() const;  // of block next_

  const uint64_t block_;
  const uint64_t end_;
  uint64_t next_;
  std::vector<uint8_t> cur_;  // bytes of block next_ so far (reserved whole)
};

// Whether the stream may start on block `next_block` when the reader has
// read up to `reader_end` (or waits, at least, for that byte) and the
// stream may run `lookahead` bytes ahead of it.
inline bool StreamMayAdvance(uint64_t next_block, uint64_t block_size,
                             uint64_t reader_end, uint64_t lookahead) {
  return next_block * block_size < reader_end + lookahead;
}

// The end of the streaming GET that starts at byte `begin`: `window` bytes
// on, clipped to the object's `size`.
inline uint64_t StreamSegmentEnd(uint64_t begin, uint64_t window, uint64_t size) {
  return begin >= size ? size : begin + std::min(window, size - begin);
}

}  // namespace luksfs::fs
