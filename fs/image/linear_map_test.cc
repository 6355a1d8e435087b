#include "fs/image/linear_map.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>
#include <string>

namespace luksfs::fs {
namespace {

// A Storage that only counts flushes (LinearMap does no data I/O).
class NullStorage : public Storage {
 public:
  uint64_t Size() const override { return 1 << 20; }
  Status ReadAt(uint64_t, std::span<uint8_t>) const override {
    return Status::Internal("LinearMap must not read");
  }
  Status WriteAt(uint64_t, std::span<const uint8_t>) override {
    return Status::Internal("LinearMap must not write");
  }
  Status Flush() override {
    ++flushes;
    return Status();
  }
  const std::string& name() const override { return name_; }
  std::atomic<int> flushes{0};

 private:
  std::string name_ = "null";
};

crypto::DataLayout Layout(uint32_t ss, uint64_t iv_tweak) {
  crypto::DataLayout l;
  l.offset = 16384;
  l.size = 64 * ss;
  l.sector_size = ss;
  l.iv_tweak = iv_tweak;
  l.cipher = "aes-xts-plain64";
  return l;
}

TEST(LinearMapTest, SizesComeFromTheLayout) {
  NullStorage st;
  LinearMap m(&st, Layout(4096, 0), true);
  EXPECT_EQ(m.Size(), 64u * 4096);
  EXPECT_EQ(m.unit_size(), 4096u);
  EXPECT_EQ(m.granularity(), 4096u);
}

TEST(LinearMapTest, OneDataExtentRoundedOutAndClipped) {
  NullStorage st;
  for (uint32_t ss : {512u, 4096u}) {
    for (uint64_t tweak : {uint64_t{0}, uint64_t{7777}}) {
      LinearMap m(&st, Layout(ss, tweak), true);
      std::vector<Extent> out;
      // Unaligned inside: rounded out to units.
      ASSERT_TRUE(m.Map(ss + 3, 2 * ss, &out).ok());
      ASSERT_EQ(out.size(), 1u);
      EXPECT_EQ(out[0].kind, Extent::Kind::kData);
      EXPECT_EQ(out[0].guest_offset, ss);
      EXPECT_EQ(out[0].length, 3u * ss);
      EXPECT_EQ(out[0].host_offset, 16384u + ss);
      EXPECT_EQ(out[0].iv_sector, tweak + ss / 512);
      EXPECT_FALSE(out[0].fresh);
      // Past the end: clipped; at the end: nothing; appends.
      ASSERT_TRUE(m.Map(62 * ss, 100 * ss, &out).ok());
      ASSERT_EQ(out.size(), 2u);
      EXPECT_EQ(out[1].guest_offset, 62u * ss);
      EXPECT_EQ(out[1].length, 2u * ss);
      EXPECT_EQ(out[1].iv_sector, tweak + 62 * (ss / 512));
      ASSERT_TRUE(m.Map(64 * ss, 10, &out).ok());
      ASSERT_TRUE(m.Map(0, 0, &out).ok());
      ASSERT_TRUE(m.Map(~uint64_t{0} - 5, 100, &out).ok());
      EXPECT_EQ(out.size(), 2u);
    }
  }
}

TEST(LinearMapTest, WritesAreInPlaceAndCommitIsANoOp) {
  NullStorage st;
  LinearMap m(&st, Layout(512, 3), true);
  auto plan = m.PrepareWrite(1000, 100);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ((*plan)->extents.size(), 1u);
  const Extent& e = (*plan)->extents[0];
  EXPECT_EQ(e.kind, Extent::Kind::kData);
  EXPECT_FALSE(e.fresh);
  EXPECT_EQ(e.guest_offset, 512u);
  EXPECT_EQ(e.length, 1024u);
  EXPECT_EQ(e.host_offset, 16384u + 512);
  EXPECT_EQ(e.iv_sector, 4u);
  EXPECT_TRUE(m.CommitWrite(std::move(plan).value()).ok());
}

TEST(LinearMapTest, ReadOnlyRefusesWritesDiscardNotSupportedFlushFlushes) {
  NullStorage st;
  LinearMap ro(&st, Layout(512, 0), false);
  EXPECT_EQ(ro.PrepareWrite(0, 512).status().code(),
            Status::Code::kInvalidArgument);
  std::vector<Extent> out;
  EXPECT_TRUE(ro.Map(0, 512, &out).ok());
  LinearMap rw(&st, Layout(512, 0), true);
  EXPECT_EQ(rw.Discard(0, 4096).code(), Status::Code::kNotSupported);
  EXPECT_EQ(rw.Discard(0, 0).code(), Status::Code::kNotSupported);
  EXPECT_TRUE(rw.Flush().ok());
  EXPECT_EQ(st.flushes.load(), 1);
}

// A Storage with holes at fixed byte ranges (blocks of 4096), recording
// punches; no data I/O.
class HoleStorage : public NullStorage {
 public:
  bool SupportsHoles() const override { return true; }
  uint64_t hole_block() const override { return 4096; }
  Status PunchHole(uint64_t offset, uint64_t length) override {
    punched.emplace_back(offset, length);
    return Status();
  }
  Result<uint64_t> NextData(uint64_t offset) const override {
    for (auto [lo, hi] : holes) {
      if (offset >= lo && offset < hi) return hi;
    }
    return offset;
  }
  Result<uint64_t> NextHole(uint64_t offset) const override {
    uint64_t best = Size();
    for (auto [lo, hi] : holes) {
      if (offset >= lo && offset < hi) return offset;
      if (lo > offset) best = std::min(best, lo);
    }
    return best;
  }
  std::vector<std::pair<uint64_t, uint64_t>> holes;  // host [lo, hi)
  std::vector<std::pair<uint64_t, uint64_t>> punched;
};

TEST(LinearMapTest, DiscardsModeFollowsTheStorageHoles) {
  HoleStorage st;
  st.holes = {{16384 + 8192, 16384 + 16384}};  // guest [8192, 16384)
  LinearMap m(&st, Layout(512, 5), true, /*discards=*/true);
  EXPECT_TRUE(m.holes());
  EXPECT_EQ(m.granularity(), 4096u);
  EXPECT_EQ(m.lock_granularity(), 4096u);
  std::vector<Extent> out;
  ASSERT_TRUE(m.Map(0, 64 * 512, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].kind, Extent::Kind::kData);
  EXPECT_EQ(out[0].length, 8192u);
  EXPECT_EQ(out[1].kind, Extent::Kind::kUnallocated);
  EXPECT_EQ(out[1].guest_offset, 8192u);
  EXPECT_EQ(out[1].length, 8192u);
  EXPECT_EQ(out[2].kind, Extent::Kind::kData);
  EXPECT_EQ(out[2].guest_offset, 16384u);
  EXPECT_EQ(out[2].host_offset, 16384u + 16384);
  EXPECT_EQ(out[2].iv_sector, 5u + 32);
  // A small request inside the hole maps to its units only...
  out.clear();
  ASSERT_TRUE(m.Map(9000, 100, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].kind, Extent::Kind::kUnallocated);
  EXPECT_EQ(out[0].guest_offset, 8704u);
  EXPECT_EQ(out[0].length, 512u);
  // ...but a write there gets the whole hole block, fresh.
  auto plan = m.PrepareWrite(9000, 100);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ((*plan)->extents.size(), 1u);
  const Extent& e = (*plan)->extents[0];
  EXPECT_EQ(e.kind, Extent::Kind::kData);
  EXPECT_TRUE(e.fresh);
  EXPECT_EQ(e.guest_offset, 8192u);
  EXPECT_EQ(e.length, 4096u);
  EXPECT_EQ(e.host_offset, 16384u + 8192);
  EXPECT_EQ(e.iv_sector, 5u + 16);
  // Discard punches the host range.
  ASSERT_TRUE(m.Discard(4096, 8192).ok());
  ASSERT_EQ(st.punched.size(), 1u);
  EXPECT_EQ(st.punched[0].first, 16384u + 4096);
  EXPECT_EQ(st.punched[0].second, 8192u);
  EXPECT_EQ(m.AllocatedBytes(), 64u * 512 - 8192);
}

TEST(LinearMapTest, DiscardsNeedTheOptionHolesAndAlignment) {
  HoleStorage st;
  LinearMap off(&st, Layout(512, 0), true, /*discards=*/false);
  EXPECT_FALSE(off.holes());
  Status s = off.Discard(0, 4096);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported);
  EXPECT_NE(s.message().find("allow_discards"), std::string::npos);
  crypto::DataLayout l = Layout(512, 0);
  l.offset += 512;  // not on a 4096-byte block of the file
  LinearMap misaligned(&st, l, true, /*discards=*/true);
  EXPECT_FALSE(misaligned.holes());
  EXPECT_EQ(misaligned.granularity(), 512u);
  s = misaligned.Discard(0, 4096);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported);
  EXPECT_NE(s.message().find("not aligned"), std::string::npos);
  NullStorage plain;  // no holes at all (S3, block device)
  LinearMap nohole(&plain, Layout(512, 0), true, /*discards=*/true);
  EXPECT_FALSE(nohole.holes());
  EXPECT_EQ(nohole.Discard(0, 4096).code(), Status::Code::kNotSupported);
  EXPECT_TRUE(st.punched.empty());
}

}  // namespace
}  // namespace luksfs::fs
