// Discard, zeroing and holes of a raw LUKS volume over a REAL sparse file
// (FileStorage: fallocate PUNCH_HOLE, lseek SEEK_DATA/SEEK_HOLE), with
// LinearMap in its discards mode (mount option allow_discards) and without.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <atomic>
#include <vector>

#include "fs/image/linear_map.h"
#include "fs/storage/file_storage.h"
#include "fs/volume.h"

namespace luksfs::fs {
namespace {

using Bytes = std::vector<uint8_t>;

constexpr uint64_t kDataOffset = 1 << 20;  // block-aligned, as cryptsetup's
constexpr uint64_t kDataSize = 4 << 20;

class DiscardTest : public testing::TestWithParam<uint32_t> {
 protected:
  void SetUp() override {
    ss_ = GetParam();
    char tmpl[] = "/tmp/luksfs-discard-test.XXXXXX";
    const int fd = mkstemp(tmpl);
    ASSERT_GE(fd, 0);
    path_ = tmpl;
    // A sparse image: header bytes, then a data segment that is all hole.
    ASSERT_EQ(ftruncate(fd, kDataOffset + kDataSize), 0);
    Bytes header(4096, 0x5a);
    ASSERT_EQ(pwrite(fd, header.data(), header.size(), 0), 4096);
    close(fd);
    layout_.offset = kDataOffset;
    layout_.size = kDataSize;
    layout_.sector_size = ss_;
    layout_.iv_tweak = 0;
    layout_.cipher = "aes-xts-plain64";
    std::mt19937_64 rng(ss_);
    key_.resize(64);
    for (auto& b : key_) b = static_cast<uint8_t>(rng());
  }
  void TearDown() override {
    volume_.reset();
    storage_.reset();
    unlink(path_.c_str());
  }

  void Open(bool discards) {
    volume_.reset();
    auto st = FileStorage::Open(path_, true);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    storage_ = std::move(st).value();
    crypto::EngineOptions opts;
    opts.threads = 2;
    auto engine = crypto::CryptEngine::Create(layout_.cipher, key_, ss_, opts);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    auto map = std::make_unique<LinearMap>(storage_.get(), layout_, true,
                                           discards);
    map_ = map.get();
    volume_ = std::make_unique<Volume>(storage_.get(), std::move(map),
                                       std::move(engine).value(), false);
  }

  Bytes Read(uint64_t off, size_t n) {
    Bytes out(n, 0xee);
    auto r = volume_->Read(off, out);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return out;
  }
  void Write(uint64_t off, const Bytes& b) {
    auto w = volume_->Write(off, b);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
    ASSERT_EQ(*w, b.size());
  }
  Bytes Random(size_t n, int seed) {
    std::mt19937_64 rng(seed);
    Bytes b(n);
    for (auto& x : b) x = static_cast<uint8_t>(rng());
    return b;
  }
  // The file's own view of [host, host + n): is any of it a hole?
  bool FileHasHole(uint64_t host, uint64_t n) {
    const int fd = open(path_.c_str(), O_RDONLY);
    const off_t h = lseek(fd, static_cast<off_t>(host), SEEK_HOLE);
    close(fd);
    return h >= 0 && static_cast<uint64_t>(h) < host + n;
  }
  Bytes FileBytes(uint64_t host, size_t n) {
    const int fd = open(path_.c_str(), O_RDONLY);
    Bytes b(n);
    EXPECT_EQ(pread(fd, b.data(), n, static_cast<off_t>(host)),
              static_cast<ssize_t>(n));
    close(fd);
    return b;
  }

  uint32_t ss_ = 512;
  std::string path_;
  crypto::DataLayout layout_;
  Bytes key_;
  std::unique_ptr<FileStorage> storage_;
  LinearMap* map_ = nullptr;
  std::unique_ptr<Volume> volume_;
};

TEST_P(DiscardTest, WithoutDiscardsHolesDecryptAndDiscardIsRefused) {
  Open(false);
  EXPECT_EQ(map_->granularity(), ss_);
  std::vector<Extent> ext;
  ASSERT_TRUE(map_->Map(0, kDataSize, &ext).ok());
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].kind, Extent::Kind::kData);
  // A hole decrypts to noise, as cryptsetup and qemu show it.
  EXPECT_NE(Read(0, 4096), Bytes(4096, 0));
  const Bytes model = Random(kDataSize, 1);
  Write(0, model);
  EXPECT_EQ(volume_->Discard(0, 1 << 20).code(), Status::Code::kNotSupported);
  EXPECT_EQ(Read(0, kDataSize), model);
}

TEST_P(DiscardTest, SparseSegmentReadsZerosAndIsUnallocated) {
  Open(true);
  EXPECT_TRUE(map_->holes());
  EXPECT_GE(map_->granularity(), ss_);
  std::vector<Extent> ext;
  ASSERT_TRUE(map_->Map(0, kDataSize, &ext).ok());
  ASSERT_EQ(ext.size(), 1u);
  EXPECT_EQ(ext[0].kind, Extent::Kind::kUnallocated);
  EXPECT_EQ(Read(0, kDataSize), Bytes(kDataSize, 0));
  EXPECT_EQ(volume_->AllocatedBytes(), 0u);
  // A partial write into a hole: the rest of its unit reads as zeros, not
  // as decrypted zero bytes.
  const Bytes small = Random(100, 2);
  Write(3 * ss_ + 10, small);
  Bytes want(4 * ss_, 0);
  std::memcpy(want.data() + 3 * ss_ + 10, small.data(), small.size());
  EXPECT_EQ(Read(0, 4 * ss_), want);
  ext.clear();
  ASSERT_TRUE(map_->Map(0, kDataSize, &ext).ok());
  ASSERT_GE(ext.size(), 2u);
  // The block the write allocated is data (rounded out to units), the
  // rest is a hole; together they cover the segment in order.
  uint64_t pos = 0;
  const uint64_t g = map_->granularity();
  for (const Extent& e : ext) {
    // The written block (whole, with zeros around) is data; all else hole.
    const bool has_write = e.guest_offset <= 3 * ss_ &&
                           3 * ss_ < e.guest_offset + e.length;
    EXPECT_EQ(e.kind == Extent::Kind::kData, has_write);
    if (has_write) {
      EXPECT_EQ(e.guest_offset, 3 * ss_ / g * g);
      EXPECT_EQ(e.length, g);
    }
    EXPECT_EQ(e.guest_offset, pos);
    EXPECT_EQ(e.length % ss_, 0u);
    if (e.kind == Extent::Kind::kData) {
      EXPECT_EQ(e.host_offset, kDataOffset + e.guest_offset);
      EXPECT_EQ(e.iv_sector, e.guest_offset / 512);
    }
    pos += e.length;
  }
  EXPECT_EQ(pos, kDataSize);
  EXPECT_EQ(volume_->AllocatedBytes(), g);
  // Reopened: the same bytes.
  Open(true);
  EXPECT_EQ(Read(0, 4 * ss_), want);
}

TEST_P(DiscardTest, DiscardPunchesWholeBlocksAndZeroesTheEdges) {
  Open(true);
  const Bytes model0 = Random(kDataSize, 3);
  Write(0, model0);
  EXPECT_FALSE(FileHasHole(kDataOffset, kDataSize));
  const uint64_t g = map_->granularity();
  // Partial granules at both ends: 3 and 13 (granules 4..12 whole).
  const uint64_t off = 3 * g + 100, len = 10 * g;
  ASSERT_TRUE(volume_->Discard(off, len).ok());
  Bytes model = model0;
  std::memset(model.data() + off, 0, len);
  EXPECT_EQ(Read(0, kDataSize), model);
  // The whole granules inside are holes of the file; the edges are not.
  for (uint64_t i = 4; i < 13; ++i) {
    EXPECT_TRUE(FileHasHole(kDataOffset + i * g, g)) << i;
  }
  EXPECT_FALSE(FileHasHole(kDataOffset + 3 * g, g));
  EXPECT_FALSE(FileHasHole(kDataOffset + 13 * g, g));
  EXPECT_EQ(FileBytes(kDataOffset + 5 * g, g), Bytes(g, 0));
  // Reopened (nothing cached): still zeros.
  Open(true);
  EXPECT_EQ(Read(0, kDataSize), model);
  // Writing into the hole again.
  const Bytes again = Random(2 * g, 4);
  Write(6 * g + 5, again);
  std::memcpy(model.data() + 6 * g + 5, again.data(), again.size());
  EXPECT_EQ(Read(0, kDataSize), model);
}

TEST_P(DiscardTest, ZeroCiphertextIsDataNotAHole) {
  Open(true);
  Write(0, Random(kDataSize, 5));
  // All-zero ciphertext bytes on disk (not a hole) still decrypt.
  const int fd = open(path_.c_str(), O_WRONLY);
  const Bytes zeros(4096, 0);
  ASSERT_EQ(pwrite(fd, zeros.data(), zeros.size(), kDataOffset + 8192), 4096);
  close(fd);
  EXPECT_NE(Read(8192, 4096), zeros);
}

TEST_P(DiscardTest, ZeroRangeWritesEncryptedZeros) {
  for (bool discards : {false, true}) {
    Open(discards);
    Bytes model = Random(kDataSize, 6);
    Write(0, model);
    const uint64_t off = 7 * ss_ + 3, len = Volume::kZeroChunk + 3 * ss_;
    ASSERT_TRUE(volume_->ZeroRange(off, len).ok());
    std::memset(model.data() + off, 0, len);
    EXPECT_EQ(Read(0, kDataSize), model);
    // Allocated, and the file holds ciphertext, not zero bytes.
    EXPECT_FALSE(FileHasHole(kDataOffset, kDataSize));
    EXPECT_NE(FileBytes(kDataOffset + 8 * ss_, 4096), Bytes(4096, 0));
    // Clipped at the end.
    ASSERT_TRUE(volume_->ZeroRange(kDataSize - ss_, 10 * ss_).ok());
    std::memset(model.data() + kDataSize - ss_, 0, ss_);
    EXPECT_EQ(Read(0, kDataSize), model);
  }
}

TEST_P(DiscardTest, ConcurrentWritersIntoOneHoleBlockLoseNothing) {
  Open(true);
  const uint64_t g = map_->granularity();
  if (g == ss_) GTEST_SKIP() << "one unit per hole block";
  const uint64_t per_block = g / ss_;
  const uint64_t kBlocks = kDataSize / g;
  Bytes model(kBlocks * g, 0);
  // Thread t writes unit t of every block: each write lands in a hole
  // block that the others are filling at the same time.
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  std::atomic<bool> go{false};
  for (uint64_t t = 0; t < per_block; ++t) {
    const Bytes unit = Random(ss_, 100 + static_cast<int>(t));
    for (uint64_t b = 0; b < kBlocks; ++b) {
      std::memcpy(model.data() + b * g + t * ss_, unit.data(), ss_);
    }
    threads.emplace_back([this, t, g, kBlocks, unit, &errors, &go] {
      while (!go.load()) std::this_thread::yield();
      for (uint64_t b = 0; b < kBlocks; ++b) {
        auto w = volume_->Write(b * g + t * ss_, unit);
        if (!w.ok()) errors.fetch_add(1);
      }
    });
  }
  go.store(true);
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(Read(0, model.size()), model);
}

TEST_P(DiscardTest, RevokedAndReadOnly) {
  Open(true);
  volume_->DropKeys();
  EXPECT_EQ(volume_->ZeroRange(0, 4096).code(), Status::Code::kKeyRevoked);
  EXPECT_EQ(volume_->Discard(0, 1 << 20).code(), Status::Code::kKeyRevoked);
}

INSTANTIATE_TEST_SUITE_P(SectorSizes, DiscardTest,
                         testing::Values(512u, 4096u));

TEST(FileStorageHolesTest, PunchNeedsWholeBlocks) {
  char tmpl[] = "/tmp/luksfs-punch-test.XXXXXX";
  const int fd = mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  Bytes data(1 << 20, 0x77);
  ASSERT_EQ(pwrite(fd, data.data(), data.size(), 0),
            static_cast<ssize_t>(data.size()));
  close(fd);
  auto st = FileStorage::Open(tmpl, true);
  ASSERT_TRUE(st.ok());
  ASSERT_TRUE((*st)->SupportsHoles());
  const uint64_t b = (*st)->hole_block();
  EXPECT_EQ((*st)->PunchHole(1, b).code(), Status::Code::kInvalidArgument);
  EXPECT_EQ((*st)->PunchHole(0, (1 << 20) + b).code(),
            Status::Code::kInvalidArgument);
  auto d0 = (*st)->NextHole(0);
  ASSERT_TRUE(d0.ok());
  EXPECT_EQ(*d0, 1u << 20);  // only the end
  ASSERT_TRUE((*st)->PunchHole(2 * b, 2 * b).ok());
  EXPECT_EQ(*(*st)->NextHole(0), 2 * b);
  EXPECT_EQ(*(*st)->NextData(2 * b), 4 * b);
  EXPECT_EQ(*(*st)->NextData(1 << 20), 1u << 20);
  Bytes back(b);
  ASSERT_TRUE((*st)->ReadAt(2 * b, back).ok());
  EXPECT_EQ(back, Bytes(b, 0));
  auto ro = FileStorage::Open(tmpl, false);
  ASSERT_TRUE(ro.ok());
  EXPECT_EQ((*ro)->PunchHole(0, b).code(), Status::Code::kInvalidArgument);
  unlink(tmpl);
}

}  // namespace
}  // namespace luksfs::fs
