#include "fs/storage/s3_stream.h"

#include <gtest/gtest.h>

#include <random>

namespace luksfs::fs {
namespace {

std::vector<uint8_t> Bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// Random chunkings of a stream that starts at block 3 and ends inside a
// block: every block comes out once, in order, with the right bytes and
// length, each begun before its first byte is taken.
TEST(BlockAssembler, CutsAnyChunkingIntoBlocks) {
  constexpr uint64_t kBs = 64;
  const uint64_t first = 3, end = 3 * kBs + 10 * kBs + 17;
  const auto data = Bytes(end - first * kBs, 1);
  std::mt19937 rng(2);
  for (int round = 0; round < 200; ++round) {
    BlockAssembler a(kBs, first, end);
    std::vector<uint64_t> begun, emitted;
    std::vector<uint8_t> out;
    size_t pos = 0;
    while (pos < data.size()) {
      const size_t n = std::min<size_t>(data.size() - pos, 1 + rng() % (round % 2 ? 200 : 7));
      ASSERT_TRUE(a.Add(std::span(data).subspan(pos, n),
                        [&](uint64_t i) { begun.push_back(i); return true; },
                        [&](uint64_t i, Block b) {
                          EXPECT_EQ(i, emitted.size() + first);
                          EXPECT_EQ(b->size(), i == first + 10 ? 17u : kBs);
                          emitted.push_back(i);
                          out.insert(out.end(), b->begin(), b->end());
                          return true;
                        }));
      pos += n;
      EXPECT_EQ(a.next_byte(), first * kBs + pos);
    }
    EXPECT_TRUE(a.done());
    ASSERT_EQ(emitted.size(), 11u);
    EXPECT_EQ(begun, emitted);
    EXPECT_EQ(out, data);
  }
}

TEST(BlockAssembler, BeginCanStopBeforeAnyByteOfTheBlock) {
  const auto data = Bytes(300, 3);
  BlockAssembler a(100, 0, 300);
  int emitted = 0;
  auto emit = [&](uint64_t, Block) { ++emitted; return true; };
  // Stop at block 2: blocks 0 and 1 are emitted, nothing of block 2 taken.
  EXPECT_FALSE(a.Add(data, [](uint64_t i) { return i < 2; }, emit));
  EXPECT_EQ(emitted, 2);
  EXPECT_EQ(a.next_byte(), 200u);
  EXPECT_FALSE(a.done());
}

TEST(BlockAssembler, EmitCanStopAndBytesPastTheEndAreRefused) {
  const auto data = Bytes(250, 4);
  {
    BlockAssembler a(100, 0, 250);
    int emitted = 0;
    EXPECT_FALSE(a.Add(data, [](uint64_t) { return true; },
                       [&](uint64_t, Block) { return ++emitted < 1; }));
    EXPECT_EQ(emitted, 1);
  }
  {
    BlockAssembler a(100, 0, 200);  // the server sends 50 bytes too many
    std::vector<uint64_t> emitted;
    EXPECT_FALSE(a.Add(data, [](uint64_t) { return true; },
                       [&](uint64_t i, Block) { emitted.push_back(i); return true; }));
    EXPECT_EQ(emitted, (std::vector<uint64_t>{0, 1}));
    EXPECT_TRUE(a.done());
  }
}

TEST(StreamWindow, FlowControlAndSegments) {
  // Block 10 of 100 bytes starts at 1000: allowed while it is less than
  // lookahead past the reader.
  EXPECT_TRUE(StreamMayAdvance(10, 100, 600, 401));
  EXPECT_FALSE(StreamMayAdvance(10, 100, 600, 400));
  EXPECT_TRUE(StreamMayAdvance(10, 100, 1000, 1));
  EXPECT_EQ(StreamSegmentEnd(0, 256, 1000), 256u);
  EXPECT_EQ(StreamSegmentEnd(900, 256, 1000), 1000u);
  EXPECT_EQ(StreamSegmentEnd(1000, 256, 1000), 1000u);
  EXPECT_EQ(StreamSegmentEnd(5, UINT64_MAX, 1000), 1000u);  // no overflow
}

}  // namespace
}  // namespace luksfs::fs
