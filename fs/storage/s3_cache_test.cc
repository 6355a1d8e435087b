#include "fs/storage/s3_cache.h"

#include <gtest/gtest.h>

#include <random>
#include <thread>

namespace luksfs::fs {
namespace {

Block B(size_t n, uint8_t v = 0) {
  return std::make_shared<const std::vector<uint8_t>>(n, v);
}

TEST(BlockCache, LruBound) {
  BlockCache c(300);
  const uint64_t e = c.epoch();
  c.Insert(e, 1, B(100, 1));
  c.Insert(e, 2, B(100, 2));
  c.Insert(e, 3, B(100, 3));
  EXPECT_EQ(c.bytes(), 300u);
  ASSERT_TRUE(c.Get(1));  // 1 becomes most recent; 2 is the oldest
  c.Insert(e, 4, B(100, 4));
  EXPECT_EQ(c.count(), 3u);
  EXPECT_FALSE(c.Get(2));
  EXPECT_TRUE(c.Get(1));
  EXPECT_EQ((*c.Get(4))[0], 4);
  c.Insert(e, 5, B(301));  // larger than the cache: not kept
  EXPECT_FALSE(c.Get(5));
  EXPECT_LE(c.bytes(), 300u);
  c.Insert(e, 4, B(50, 9));  // replace
  EXPECT_EQ((*c.Get(4))[0], 9);
  EXPECT_EQ(c.bytes(), 250u);
}

TEST(BlockCache, InvalidateAndStaleEpoch) {
  BlockCache c(1000);
  const uint64_t e = c.epoch();
  for (uint64_t i = 0; i < 5; ++i) c.Insert(e, i, B(10));
  c.Invalidate(1, 2);
  EXPECT_FALSE(c.Get(1));
  EXPECT_FALSE(c.Get(2));
  EXPECT_TRUE(c.Get(3));
  c.Insert(e, 1, B(10));  // fetched before the invalidation: dropped
  EXPECT_FALSE(c.Get(1));
  c.Insert(c.epoch(), 1, B(10));
  EXPECT_TRUE(c.Get(1));
  c.Invalidate(0, 1000000);
  EXPECT_EQ(c.count(), 0u);
  EXPECT_EQ(c.bytes(), 0u);
}

TEST(BlockCache, ConcurrentStaysBounded) {
  BlockCache c(64 * 10);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&c, t] {
      std::mt19937 rng(t);
      for (int i = 0; i < 5000; ++i) {
        const uint64_t k = rng() % 40;
        if (rng() % 2) {
          c.Insert(c.epoch(), k, B(64));
        } else {
          c.Get(k);
        }
        if (i % 1000 == 0) c.Invalidate(k, k + 3);
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_LE(c.bytes(), 640u);
  EXPECT_EQ(c.bytes(), c.count() * 64);
}

using R = RangeSet::Range;

TEST(RangeSet, AddMerges) {
  RangeSet s;
  s.Add(10, 20);
  s.Add(30, 40);
  EXPECT_EQ(s.All(), (std::vector<R>{{10, 20}, {30, 40}}));
  s.Add(20, 30);  // touching ranges merge
  EXPECT_EQ(s.All(), (std::vector<R>{{10, 40}}));
  s.Add(5, 12);
  s.Add(38, 50);
  s.Add(0, 0);  // empty: ignored
  EXPECT_EQ(s.All(), (std::vector<R>{{5, 50}}));
  s.Add(60, 70);
  s.Add(0, 100);
  EXPECT_EQ(s.All(), (std::vector<R>{{0, 100}}));
  EXPECT_EQ(s.TotalBytes(), 100u);
}

TEST(RangeSet, SubtractSplits) {
  RangeSet s;
  s.Add(0, 100);
  s.Subtract(40, 60);
  EXPECT_EQ(s.All(), (std::vector<R>{{0, 40}, {60, 100}}));
  s.Subtract(0, 10);
  s.Subtract(90, 200);
  EXPECT_EQ(s.All(), (std::vector<R>{{10, 40}, {60, 90}}));
  s.Subtract(30, 70);
  EXPECT_EQ(s.All(), (std::vector<R>{{10, 30}, {70, 90}}));
  s.Subtract(0, 1000);
  EXPECT_TRUE(s.empty());
}

TEST(RangeSet, OverlapsAndIntersect) {
  RangeSet s;
  s.Add(10, 20);
  s.Add(30, 40);
  EXPECT_FALSE(s.Overlaps(0, 10));
  EXPECT_TRUE(s.Overlaps(0, 11));
  EXPECT_FALSE(s.Overlaps(20, 30));
  EXPECT_TRUE(s.Overlaps(19, 31));
  EXPECT_TRUE(s.Overlaps(35, 36));
  EXPECT_FALSE(s.Overlaps(40, 100));
  EXPECT_FALSE(s.Overlaps(15, 15));
  EXPECT_EQ(s.Intersect(15, 35), (std::vector<R>{{15, 20}, {30, 35}}));
  EXPECT_EQ(s.Intersect(0, 100), (std::vector<R>{{10, 20}, {30, 40}}));
  EXPECT_TRUE(s.Intersect(20, 30).empty());
  RangeSet t;
  t.Add(18, 32);
  t.AddAll(s);
  EXPECT_EQ(t.All(), (std::vector<R>{{10, 40}}));
}

// Random operations against a bitmap model.
TEST(RangeSet, MatchesBitmapModel) {
  std::mt19937 rng(7);
  RangeSet s;
  std::vector<bool> model(256);
  for (int i = 0; i < 3000; ++i) {
    uint64_t a = rng() % 256, b = rng() % 257;
    if (a > b) std::swap(a, b);
    if (rng() % 3) {
      s.Add(a, b);
      for (uint64_t k = a; k < b; ++k) model[k] = true;
    } else {
      s.Subtract(a, b);
      for (uint64_t k = a; k < b; ++k) model[k] = false;
    }
    std::vector<bool> got(256);
    uint64_t prev_end = 0;
    bool first = true;
    for (const auto& r : s.All()) {
      ASSERT_LT(r.begin, r.end);
      if (!first) {
        ASSERT_GT(r.begin, prev_end);  // disjoint and coalesced
      }
      first = false;
      prev_end = r.end;
      for (uint64_t k = r.begin; k < r.end; ++k) got[k] = true;
    }
    ASSERT_EQ(got, model) << "step " << i;
    const uint64_t x = rng() % 256, y = x + rng() % 20;
    bool any = false;
    for (uint64_t k = x; k < std::min<uint64_t>(y, 256); ++k) any = any || model[k];
    ASSERT_EQ(s.Overlaps(x, y), any);
  }
}

// Scan blocks: bounded by their own part, oldest inserted out first, never
// promoted by Get, and never pushing normal blocks out while under it.
TEST(BlockCache, ScanBlocksRecycleTheirOwnPart) {
  BlockCache c(1000, 300);
  const uint64_t e = c.epoch();
  c.Insert(e, 100, B(100, 7));  // a normal block (a random read's)
  for (uint64_t i = 0; i < 10; ++i) {
    c.Insert(e, i, B(100, static_cast<uint8_t>(i)), /*scan=*/true);
    ASSERT_TRUE(c.Get(i));  // read once; must not promote it
    EXPECT_LE(c.scan_bytes(), 300u);
  }
  EXPECT_EQ(c.scan_bytes(), 300u);
  EXPECT_EQ(c.bytes(), 400u);
  EXPECT_TRUE(c.Get(100));  // the normal block survived the scan
  EXPECT_FALSE(c.Get(6));
  for (uint64_t i = 7; i < 10; ++i) EXPECT_EQ((*c.Get(i))[0], i);
  // Get(7) above did not promote 7: the next scan block evicts it.
  c.Insert(e, 10, B(100), true);
  EXPECT_FALSE(c.Get(7));
  EXPECT_TRUE(c.Get(8));
  // Inserted again as a normal block, 8 leaves the scan part.
  c.Insert(e, 8, B(100, 88));
  EXPECT_EQ(c.scan_bytes(), 200u);
  c.Insert(e, 11, B(100), true);
  c.Insert(e, 12, B(100), true);
  EXPECT_EQ((*c.Get(8))[0], 88);
  EXPECT_FALSE(c.Get(9));
  // Invalidate drops scan blocks too and keeps the byte counts right.
  c.Invalidate(0, 20);
  EXPECT_EQ(c.scan_bytes(), 0u);
  EXPECT_EQ(c.bytes(), 100u);
  // A scan block larger than the scan part is not kept.
  c.Insert(c.epoch(), 30, B(301), true);
  EXPECT_FALSE(c.Get(30));
}

// Over the whole capacity, scan blocks go before normal ones.
TEST(BlockCache, ScanBlocksGoFirstOverTheWholeBound) {
  BlockCache c(300, 200);
  const uint64_t e = c.epoch();
  c.Insert(e, 1, B(100), true);
  c.Insert(e, 2, B(100), true);
  c.Insert(e, 3, B(100));
  c.Insert(e, 4, B(100));
  EXPECT_EQ(c.bytes(), 300u);
  EXPECT_FALSE(c.Get(1));
  EXPECT_TRUE(c.Get(2));
  EXPECT_TRUE(c.Get(3));
  EXPECT_TRUE(c.Get(4));
  EXPECT_EQ(c.scan_bytes(), 100u);
}

}  // namespace
}  // namespace luksfs::fs
