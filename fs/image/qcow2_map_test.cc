// The qcow2 map against qemu: images made by qemu-img and written by
// qemu-io at test time, read through Qcow2Map + the LUKS header in the FDE
// clusters + CryptEngine, compared with `qemu-img convert -O raw`; then
// written through the map and checked with `qemu-img check` and convert.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <thread>

#include "fs/image/qcow2_map.h"
#include "fs/image/qcow2_test_util.h"

namespace luksfs::fs {
namespace {

using testing::ConvertToRaw;
using testing::MakeImage;
using testing::Opened;
using testing::OpenImage;
using testing::QemuCheck;
using testing::QemuIo;
using testing::ReadView;
using testing::TempDir;
using testing::WriteView;

constexpr uint64_t kMiB = 1 << 20;

struct Config {
  const char* name;
  const char* opts;     // qemu-img create -o
  bool v2 = false;
};

class Qcow2QemuTest : public ::testing::TestWithParam<Config> {
 protected:
  void SetUp() override {
    img_ = dir_ / "img.qcow2";
    MakeImage(img_, "64M", GetParam().opts);
    QemuIo(img_, {"write -P 0x41 0 4k", "write -P 0x42 100k 300k",
                  "write -P 0x43 1000001 5000", "write -z 2M 1M",
                  "write -P 0x44 3M 64k", "write -z 3076k 8k",
                  "write -P 0x45 10M 1M", "discard 10M 512k",
                  "write -P 0x46 63M 1M"});
  }

  // The whole view, in 1 MiB steps, equals `expect`.
  void ExpectView(Opened& o, const std::vector<uint8_t>& expect) {
    ASSERT_EQ(o.map->Size(), expect.size());
    std::vector<uint8_t> got;
    for (uint64_t off = 0; off < expect.size(); off += kMiB) {
      ASSERT_TRUE(ReadView(o, off, kMiB, &got).ok());
      ASSERT_TRUE(std::equal(got.begin(), got.end(), expect.begin() + off))
          << GetParam().name << ": view differs in MiB " << off / kMiB;
    }
  }

  TempDir dir_;
  std::string img_;
};

INSTANTIATE_TEST_SUITE_P(
    Images, Qcow2QemuTest,
    ::testing::Values(
        Config{"c64k", ""}, Config{"c512_rc1", "cluster_size=512,refcount_bits=1"},
        Config{"c4k_rc2", "cluster_size=4k,refcount_bits=2"},
        Config{"c2m_rc8", "cluster_size=2M,refcount_bits=8"},
        Config{"c64k_ext", "extended_l2=on"},
        Config{"c16k_ext_rc64", "cluster_size=16k,extended_l2=on,refcount_bits=64"},
        Config{"c512_rc64", "cluster_size=512,refcount_bits=64"},
        Config{"c32k_rc32", "cluster_size=32k,refcount_bits=32"},
        Config{"compat010", "compat=0.10", true}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_P(Qcow2QemuTest, ViewEqualsQemuConvert) {
  const std::vector<uint8_t> expect = ConvertToRaw(img_, dir_ / "ref.raw");
  Opened o;
  Status s = OpenImage(img_, false, &o);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectView(o, expect);
  // Sparse semantics: a never-written MiB is one hole; write -z is kZero
  // on v3 (a zero flag, no host bytes).
  std::vector<Extent> ex;
  ASSERT_TRUE(o.map->Map(40 * kMiB, kMiB, &ex).ok());
  ASSERT_EQ(ex.size(), 1u);
  EXPECT_EQ(ex[0].kind, Extent::Kind::kUnallocated);
  EXPECT_EQ(ex[0].length, kMiB);
  // (qemu writes encrypted zeros for a write -z smaller than a cluster.)
  if (!GetParam().v2 && o.map->granularity() <= kMiB) {
    ex.clear();
    ASSERT_TRUE(o.map->Map(2 * kMiB, kMiB, &ex).ok());
    for (const Extent& e : ex) EXPECT_EQ(e.kind, Extent::Kind::kZero);
  }
  // The IV of data is the HOST sector.
  ex.clear();
  ASSERT_TRUE(o.map->Map(0, 4096, &ex).ok());
  ASSERT_FALSE(ex.empty());
  EXPECT_EQ(ex[0].kind, Extent::Kind::kData);
  EXPECT_EQ(ex[0].iv_sector, ex[0].host_offset / 512);
  EXPECT_NE(ex[0].host_offset, 0u);
}

TEST_P(Qcow2QemuTest, WritesThroughTheMapAgreeWithQemu) {
  std::vector<uint8_t> expect = ConvertToRaw(img_, dir_ / "ref.raw");
  std::mt19937_64 rng(7);
  struct W {
    uint64_t off, len;
  };
  const std::vector<W> writes = {
      {20 * kMiB - 100, 70000},   // unallocated, unaligned, crosses clusters
      {1000, 3000},               // inside allocated data
      {2 * kMiB + 512, 4096},     // inside a zero region
      {3 * kMiB + 4000, 10000},   // across data and a zero hole
      {10 * kMiB + 100, 300000},  // discarded then partly written
      {64 * kMiB - 1000, 1000},   // the last bytes of the disk
      {5 * kMiB, 3 * kMiB},       // large, allocating
  };
  {
    Opened o;
    Status s = OpenImage(img_, true, &o);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (const W& w : writes) {
      std::vector<uint8_t> data(w.len);
      for (auto& b : data) b = static_cast<uint8_t>(rng());
      s = WriteView(o, w.off, data);
      ASSERT_TRUE(s.ok()) << s.ToString();
      std::copy(data.begin(), data.end(), expect.begin() + w.off);
    }
    ExpectView(o, expect);  // before any flush: from the cache
    ASSERT_TRUE(o.map->Flush().ok());
    // The st_blocks counter kept by the writes equals a fresh L2 walk.
    auto* qm = static_cast<Qcow2Map*>(o.map.get());
    EXPECT_EQ(qm->AllocatedBytes(), *qm->CountAllocated());
  }
  std::string out;
  EXPECT_EQ(0, QemuCheck(img_, &out)) << out;
  EXPECT_EQ(expect, ConvertToRaw(img_, dir_ / "after.raw"));
  Opened o;
  ASSERT_TRUE(OpenImage(img_, false, &o).ok());
  ExpectView(o, expect);
}

TEST_P(Qcow2QemuTest, DiscardZeroesWholeClustersAndFreesThem) {
  std::vector<uint8_t> expect = ConvertToRaw(img_, dir_ / "ref.raw");
  {
    Opened o;
    ASSERT_TRUE(OpenImage(img_, true, &o).ok());
    const uint64_t g = o.map->granularity();
    // [100 KiB, 400 KiB) of 0x42: whole clusters inside it become zero.
    ASSERT_TRUE(o.map->Discard(100 * 1024, 300 * 1024).ok());
    const uint64_t a = (100 * 1024 + g - 1) / g * g;
    const uint64_t b = (400 * 1024) / g * g;
    for (uint64_t i = a; i < b; ++i) expect[i] = 0;
    ExpectView(o, expect);
    ASSERT_TRUE(o.map->Flush().ok());
    auto* qm = static_cast<Qcow2Map*>(o.map.get());
    EXPECT_EQ(qm->AllocatedBytes(), *qm->CountAllocated());
  }
  std::string out;
  EXPECT_EQ(0, QemuCheck(img_, &out)) << out;  // 3 would be a leak
  EXPECT_EQ(expect, ConvertToRaw(img_, dir_ / "after.raw"));
}

TEST_P(Qcow2QemuTest, ConcurrentAllocatingWritersShareClusters) {
  std::vector<uint8_t> expect = ConvertToRaw(img_, dir_ / "ref.raw");
  const uint64_t base = 30 * kMiB + 512;  // not cluster-aligned
  const int kThreads = 6, kUnits = 96;
  {
    Opened o;
    ASSERT_TRUE(OpenImage(img_, true, &o).ok());
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      ts.emplace_back([&, t] {
        // Thread t writes every kThreads-th 512-byte unit: neighbours in
        // the same new clusters, racing to allocate them.
        for (int u = t; u < kUnits; u += kThreads) {
          std::vector<uint8_t> d(512, static_cast<uint8_t>(0x10 + t));
          if (!WriteView(o, base + u * 4096, d).ok()) ++failures;
        }
      });
    }
    for (auto& t : ts) t.join();
    ASSERT_EQ(failures.load(), 0);
    ASSERT_TRUE(o.map->Flush().ok());
  }
  for (int u = 0; u < kUnits; ++u) {
    std::fill_n(expect.begin() + base + u * 4096, 512,
                static_cast<uint8_t>(0x10 + u % kThreads));
  }
  std::string out;
  EXPECT_EQ(0, QemuCheck(img_, &out)) << out;  // a double allocation leaks
  EXPECT_EQ(expect, ConvertToRaw(img_, dir_ / "after.raw"));
}

// A tiny metadata cache forces flushes and evictions in the middle of a
// workload that touches many L2 tables and refcount blocks; a 512-byte
// cluster image with 64-bit refcounts makes the refcount table grow.
TEST(Qcow2MapTest, SmallCacheAndRefcountTableGrowth) {
  TempDir dir;
  const std::string img = dir / "img.qcow2";
  MakeImage(img, "64M", "cluster_size=512,refcount_bits=64");
  std::vector<uint8_t> expect = ConvertToRaw(img, dir / "ref.raw");
  {
    Opened o;
    ASSERT_TRUE(OpenImage(img, true, &o, /*cache_bytes=*/2048).ok());
    std::vector<uint8_t> d(64 * 1024);
    for (uint64_t i = 0; i < 96; ++i) {  // 6 MiB, 12288 new clusters
      std::fill(d.begin(), d.end(), static_cast<uint8_t>(i));
      const uint64_t off = (i % 2 ? 32 * kMiB : 0) + (i / 2) * d.size() + 7;
      Status s = WriteView(o, off, d);
      ASSERT_TRUE(s.ok()) << s.ToString();
      std::copy(d.begin(), d.end(), expect.begin() + off);
    }
    ASSERT_TRUE(o.map->Flush().ok());
  }
  std::string out;
  EXPECT_EQ(0, QemuCheck(img, &out)) << out;
  EXPECT_EQ(expect, ConvertToRaw(img, dir / "after.raw"));
}

// Sparse 1 TiB image, 2 MiB clusters, written in a few places by qemu-io.
TEST(Qcow2MapTest, SparseTerabyteImage) {
  TempDir dir;
  const std::string img = dir / "big.qcow2";
  MakeImage(img, "1T", "cluster_size=2M");
  QemuIo(img, {"write -P 0x61 0 1M", "write -P 0x62 500G 3M",
               "write -z 700G 4M", "write -P 0x63 1023G 1M"});
  Opened o;
  ASSERT_TRUE(OpenImage(img, false, &o).ok());
  std::vector<Extent> ex;
  ASSERT_TRUE(o.map->Map(0, o.map->Size(), &ex).ok());
  uint64_t data = 0;
  for (const Extent& e : ex) {
    if (e.kind == Extent::Kind::kData) data += e.length;
  }
  EXPECT_EQ(data, 8 * kMiB);  // whole 2 MiB clusters: 1 + 2 + 1
  EXPECT_LT(ex.size(), 20u);
  std::vector<uint8_t> got;
  ASSERT_TRUE(ReadView(o, 500ULL << 30, 3 * kMiB, &got).ok());
  EXPECT_TRUE(std::all_of(got.begin(), got.end(),
                          [](uint8_t b) { return b == 0x62; }));
  ASSERT_TRUE(ReadView(o, 1023ULL << 30, kMiB, &got).ok());
  EXPECT_TRUE(std::all_of(got.begin(), got.end(),
                          [](uint8_t b) { return b == 0x63; }));
  ASSERT_TRUE(ReadView(o, 700ULL << 30, 4 * kMiB, &got).ok());
  EXPECT_TRUE(std::all_of(got.begin(), got.end(),
                          [](uint8_t b) { return b == 0; }));
}

TEST(Qcow2MapTest, FactsAndReadOnlyRefusals) {
  TempDir dir;
  const std::string img = dir / "img.qcow2";
  MakeImage(img, "16M", "extended_l2=on");
  QemuIo(img, {"write -P 0x41 0 6k"});
  Opened o;
  ASSERT_TRUE(OpenImage(img, false, &o).ok());
  std::map<std::string, std::string> f;
  for (auto& [k, v] : o.container->Facts()) f[k] = v;
  EXPECT_EQ(f["version"], "3");
  EXPECT_EQ(f["cluster_size"], "65536");
  EXPECT_EQ(f["virtual_size"], std::to_string(16 * kMiB));
  EXPECT_EQ(f["allocated_bytes"], std::to_string(3 * 2048));  // 3 subclusters
  EXPECT_EQ(f["encryption"], "luks");
  EXPECT_EQ(f["extended_l2"], "yes");
  EXPECT_EQ(f["refcount_bits"], "16");
  EXPECT_EQ(std::string(o.container->format()), "qcow2");
  std::vector<uint8_t> d(512);
  EXPECT_EQ(o.map->PrepareWrite(0, 512).status().code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(o.container->WriteLuks(0, d).code(),
            Status::Code::kInvalidArgument);
  EXPECT_EQ(o.container->ReadLuks(o.container->luks_region_size() - 10, d)
                .code(),
            Status::Code::kCorruption);
}

}  // namespace
}  // namespace luksfs::fs
