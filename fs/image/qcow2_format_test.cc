// Hostile qcow2 headers and tables: crafted bytes for the parser, and
// qemu-img-made images patched on disk for the map. Each case must be a
// clear kCorruption / kNotSupported, no crash, nothing written.
#include "fs/image/qcow2_format.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "fs/image/qcow2_map.h"
#include "fs/image/qcow2_test_util.h"

namespace luksfs::fs::qcow2 {
namespace {

using fs::testing::MakeImage;
using fs::testing::Opened;
using fs::testing::OpenImage;
using fs::testing::QemuIo;
using fs::testing::ReadFile;
using fs::testing::TempDir;

constexpr uint64_t kFile = 4 << 20;

// A valid v3 LUKS header: 64 KiB clusters, 1 GiB, refcount table at
// 0x10000, L1 (2 entries) at 0x30000, LUKS header at 0x40000.
std::vector<uint8_t> GoodHeader() {
  std::vector<uint8_t> b(65536, 0);
  uint8_t* p = b.data();
  StoreBe32(p, kMagic);
  StoreBe32(p + 4, 3);
  StoreBe32(p + 20, 16);
  StoreBe64(p + 24, 1ULL << 30);
  StoreBe32(p + 32, kCryptLuks);
  StoreBe32(p + 36, 2);
  StoreBe64(p + 40, 0x30000);
  StoreBe64(p + 48, 0x10000);
  StoreBe32(p + 56, 1);
  StoreBe32(p + 96, 4);
  StoreBe32(p + 100, 112);
  // Extensions at 112: FDE, an unknown one, end.
  StoreBe32(p + 112, kExtFde);
  StoreBe32(p + 116, 16);
  StoreBe64(p + 120, 0x40000);
  StoreBe64(p + 128, 0x1f9000);
  StoreBe32(p + 136, 0x12345678);
  StoreBe32(p + 140, 5);
  std::memcpy(p + 144, "hello", 5);
  return b;
}

Status Parse(const std::vector<uint8_t>& b) {
  return ParseHeader(b, kFile).status();
}

void ExpectCode(const std::vector<uint8_t>& b, Status::Code code,
                const std::string& needle) {
  Status s = Parse(b);
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
}

TEST(Qcow2FormatTest, GoodHeaderParsesAndRoundTrips) {
  auto b = GoodHeader();
  Result<Header> h = ParseHeader(b, kFile);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->version, 3u);
  EXPECT_EQ(h->cluster_size(), 65536u);
  EXPECT_TRUE(h->has_fde);
  EXPECT_EQ(h->fde_offset, 0x40000u);
  EXPECT_EQ(h->fde_length, 0x1f9000u);
  ASSERT_EQ(h->extensions.size(), 2u);
  EXPECT_EQ(h->extensions[1].type, 0x12345678u);  // unknown: kept
  Result<std::vector<uint8_t>> out = SerializeHeader(*h);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(std::equal(out->begin(), out->end(), b.begin()));
  Result<Header> again = ParseHeader(*out, kFile);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->extensions[1].data, h->extensions[1].data);
}

TEST(Qcow2FormatTest, RefusesWhatItDoesNotServe) {
  auto b = GoodHeader();
  b[0] = 'X';
  ExpectCode(b, Status::Code::kCorruption, "bad magic");
  b = GoodHeader();
  StoreBe32(&b[4], 4);
  ExpectCode(b, Status::Code::kNotSupported, "version 4");
  b = GoodHeader();
  StoreBe32(&b[20], 22);
  ExpectCode(b, Status::Code::kCorruption, "cluster_bits 22");
  b = GoodHeader();
  StoreBe32(&b[20], 8);
  ExpectCode(b, Status::Code::kCorruption, "cluster_bits 8");
  b = GoodHeader();
  StoreBe32(&b[32], kCryptAes);
  ExpectCode(b, Status::Code::kNotSupported,
             "legacy qcow2 AES encryption (encrypt.format=aes)");
  b = GoodHeader();
  StoreBe64(&b[72], 1ULL << 9);
  ExpectCode(b, Status::Code::kNotSupported, "incompatible feature bit 9");
  b = GoodHeader();
  StoreBe64(&b[72], kIncompatDataFile);
  ExpectCode(b, Status::Code::kNotSupported, "external data file");
  b = GoodHeader();
  StoreBe64(&b[8], 0x8000);
  StoreBe32(&b[16], 8);
  std::memcpy(&b[0x8000], "base.img", 8);
  ExpectCode(b, Status::Code::kNotSupported, "backing file 'base.img'");
  b = GoodHeader();
  StoreBe32(&b[96], 7);
  ExpectCode(b, Status::Code::kCorruption, "refcount_order 7");
  b = GoodHeader();
  StoreBe32(&b[100], 101);
  ExpectCode(b, Status::Code::kCorruption, "header_length");
}

TEST(Qcow2FormatTest, BadFdeExtension) {
  auto b = GoodHeader();
  StoreBe32(&b[116], 8);  // length 8: the next extension shifts too
  ExpectCode(b, Status::Code::kCorruption, "length 8");
  b = GoodHeader();
  StoreBe64(&b[120], 0x40200);  // not cluster-aligned
  ExpectCode(b, Status::Code::kCorruption, "full disk encryption");
  b = GoodHeader();
  StoreBe64(&b[128], kFile);  // past the file
  ExpectCode(b, Status::Code::kCorruption, "full disk encryption");
  b = GoodHeader();
  StoreBe64(&b[120], 0);  // in the header
  ExpectCode(b, Status::Code::kCorruption, "full disk encryption");
  b = GoodHeader();
  StoreBe64(&b[120], 0xfffffffffff00000ULL);  // overflow
  ExpectCode(b, Status::Code::kCorruption, "full disk encryption");
  b = GoodHeader();
  StoreBe32(&b[112], 0x12121212);  // LUKS without FDE
  ExpectCode(b, Status::Code::kCorruption, "without a full disk");
  b = GoodHeader();
  StoreBe32(&b[140], 70000);  // an extension past the cluster
  ExpectCode(b, Status::Code::kCorruption, "overruns");
  b = GoodHeader();
  StoreBe32(&b[32], kCryptNone);  // FDE without LUKS
  ExpectCode(b, Status::Code::kCorruption, "without LUKS");
}

TEST(Qcow2FormatTest, TableBounds) {
  auto b = GoodHeader();
  StoreBe32(&b[36], 0xffffffff);  // huge L1
  ExpectCode(b, Status::Code::kCorruption, "larger than 32 MiB");
  b = GoodHeader();
  StoreBe32(&b[36], 1);  // too small for 1 GiB (needs 2)
  ExpectCode(b, Status::Code::kCorruption, "too small");
  b = GoodHeader();
  StoreBe64(&b[40], kFile - 8);  // L1 past the file
  ExpectCode(b, Status::Code::kCorruption, "L1 table");
  b = GoodHeader();
  StoreBe64(&b[40], 0x10000);  // L1 on the refcount table
  ExpectCode(b, Status::Code::kCorruption, "overlaps the refcount table");
  b = GoodHeader();
  StoreBe64(&b[40], 0x50000);  // L1 on the LUKS header
  ExpectCode(b, Status::Code::kCorruption, "overlaps the LUKS header");
  b = GoodHeader();
  StoreBe32(&b[56], 1000);  // refcount table 64 MB
  ExpectCode(b, Status::Code::kCorruption, "refcount table");
  b = GoodHeader();
  StoreBe64(&b[48], 0);  // refcount table in the header
  ExpectCode(b, Status::Code::kCorruption, "refcount table");
  b = GoodHeader();
  StoreBe64(&b[24], 1ULL << 62);  // virtual size beyond any L1
  ExpectCode(b, Status::Code::kCorruption, "too small");
}

TEST(Qcow2FormatTest, TruncatedInputNeverReadsPastIt) {
  const auto good = GoodHeader();
  for (size_t n = 0; n < 160; ++n) {  // 160: the end marker
    std::vector<uint8_t> b(good.begin(), good.begin() + n);
    EXPECT_FALSE(ParseHeader(b, kFile).ok()) << n;
  }
}

TEST(Qcow2FormatTest, L2EntryDecoding) {
  auto b = GoodHeader();
  Header h = *ParseHeader(b, kFile);
  auto d = [&](uint64_t e, uint64_t bm = 0) {
    return DecodeL2Entry(h, e, bm, "L2 test");
  };
  EXPECT_EQ(d(0)->type, L2Entry::Type::kUnallocated);
  EXPECT_EQ(d(kFlagZero)->type, L2Entry::Type::kZero);
  auto n = d(kFlagCopied | 0x70000);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->type, L2Entry::Type::kNormal);
  EXPECT_EQ(n->host_offset, 0x70000u);
  EXPECT_TRUE(n->copied);
  EXPECT_EQ(d(kFlagCompressed | 0x70000).status().code(),
            Status::Code::kNotSupported);
  EXPECT_NE(d(kFlagCompressed).status().message().find("compressed"),
            std::string::npos);
  EXPECT_EQ(d(0x70200).status().code(), Status::Code::kCorruption);  // align
  EXPECT_EQ(d(0x70000 | 2).status().code(), Status::Code::kCorruption);
  EXPECT_EQ(d(kFlagCopied).status().code(), Status::Code::kCorruption);
  // Extended L2.
  h.incompatible_features |= kIncompatExtendedL2;
  auto x = d(0x70000, 0x0000000100000006ULL);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->alloc, 6u);
  EXPECT_EQ(x->zero, 1u);
  EXPECT_EQ(d(0x70000, 0x0000000100000001ULL).status().code(),
            Status::Code::kCorruption);  // allocated and zero
  EXPECT_EQ(d(0, 1).status().code(), Status::Code::kCorruption);  // no host
  EXPECT_EQ(d(kFlagZero | 0x70000, 0).status().code(),
            Status::Code::kCorruption);  // bit 0 reserved with extended L2
}

TEST(Qcow2FormatTest, RefcountEntriesOfEveryWidth) {
  for (uint32_t order = 0; order <= 6; ++order) {
    std::vector<uint8_t> block(512, 0);
    const uint64_t entries = 512 * 8 >> order;
    const uint64_t max = order == 6 ? ~0ULL : (1ULL << (1u << order)) - 1;
    for (uint64_t i = 0; i < entries; ++i) SetRefcount(block, order, i, i & max);
    SetRefcount(block, order, 3, max);
    for (uint64_t i = 0; i < entries; ++i) {
      ASSERT_EQ(GetRefcount(block, order, i), i == 3 ? max : (i & max))
          << order << " " << i;
    }
  }
  // 16-bit refcounts are big-endian.
  std::vector<uint8_t> block(512, 0);
  SetRefcount(block, 4, 1, 0x0102);
  EXPECT_EQ(block[2], 1);
  EXPECT_EQ(block[3], 2);
}

// --- Hostile tables in a real image (patched after qemu-img made it) ---

class Qcow2HostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    img_ = dir_ / "img.qcow2";
    MakeImage(img_, "64M", "");
    QemuIo(img_, {"write -P 0x41 0 64k", "write -P 0x42 1M 64k"});
    auto bytes = ReadFile(img_);
    h_ = *ParseHeader(std::span<const uint8_t>(bytes).first(65536),
                      bytes.size());
    l2_ = LoadBe64(&bytes[h_.l1_table_offset]) & kOffsetMask;
    ASSERT_NE(l2_, 0u);
  }
  void Patch64(uint64_t off, uint64_t v) {
    int fd = open(img_.c_str(), O_WRONLY);
    uint8_t b[8];
    StoreBe64(b, v);
    ASSERT_EQ(8, pwrite(fd, b, 8, off));
    close(fd);
  }
  // Opens writable, maps the first 2 MiB, tries a write there; expects
  // `code` with `needle` in the message, and the file unchanged.
  void ExpectRefused(Status::Code code, const std::string& needle) {
    const auto before = ReadFile(img_);
    Opened o;
    Status s = OpenImage(img_, true, &o);
    if (s.ok()) {
      std::vector<Extent> ex;
      s = o.map->Map(0, 2 << 20, &ex);
      if (s.ok()) {
        std::vector<uint8_t> d(4096, 1);
        s = fs::testing::WriteView(o, 0, d);
        if (s.ok()) s = fs::testing::WriteView(o, 1 << 20, d);
        if (s.ok()) s = o.map->Flush();
      }
    }
    EXPECT_EQ(s.code(), code) << s.ToString();
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.ToString();
    o.Reset();
    EXPECT_EQ(before, ReadFile(img_)) << "the image was written";
  }

  TempDir dir_;
  std::string img_;
  Header h_;
  uint64_t l2_ = 0;
};

TEST_F(Qcow2HostileTest, L1EntryPastTheFile) {
  Patch64(h_.l1_table_offset, kFlagCopied | (1ULL << 40));
  ExpectRefused(Status::Code::kCorruption, "L1 table index 0");
}

TEST_F(Qcow2HostileTest, L1EntryIntoTheHeader) {
  Patch64(h_.l1_table_offset, kFlagCopied | 0x200);
  ExpectRefused(Status::Code::kCorruption, "L1 table index 0");
}

TEST_F(Qcow2HostileTest, L1EntryOnTheRefcountTable) {
  Patch64(h_.l1_table_offset, kFlagCopied | h_.refcount_table_offset);
  ExpectRefused(Status::Code::kCorruption, "overlaps the refcount table");
}

TEST_F(Qcow2HostileTest, L2EntryPastTheFile) {
  Patch64(l2_, kFlagCopied | (1ULL << 45));
  ExpectRefused(Status::Code::kCorruption, "past the end of the file");
}

TEST_F(Qcow2HostileTest, L2EntryIntoTheHeader) {
  Patch64(l2_ + 8 * 16, kFlagCopied | 0);  // guest 1 MiB: host 0 + copied
  ExpectRefused(Status::Code::kCorruption, "L2 table at");
}

TEST_F(Qcow2HostileTest, L2EntryOnTheLuksHeader) {
  Patch64(l2_, kFlagCopied | h_.fde_offset);
  ExpectRefused(Status::Code::kCorruption, "overlaps the LUKS header");
}

TEST_F(Qcow2HostileTest, L2EntryOnItsOwnTable) {
  Patch64(l2_, kFlagCopied | l2_);
  ExpectRefused(Status::Code::kCorruption, "overlaps an L2 table");
}

TEST_F(Qcow2HostileTest, CompressedCluster) {
  Patch64(l2_, kFlagCompressed | 0x123400);
  ExpectRefused(Status::Code::kNotSupported, "compressed cluster");
}

TEST_F(Qcow2HostileTest, RefcountTableLoop) {
  Patch64(h_.refcount_table_offset, h_.refcount_table_offset);
  ExpectRefused(Status::Code::kCorruption, "refcount table entry 0");
}

TEST_F(Qcow2HostileTest, RefcountBlocksOverlap) {
  const auto bytes = ReadFile(img_);
  Patch64(h_.refcount_table_offset + 8,
          LoadBe64(&bytes[h_.refcount_table_offset]));
  ExpectRefused(Status::Code::kCorruption, "refcount table entry 1");
}

TEST_F(Qcow2HostileTest, SharedClusterIsNotWrittenInPlace) {
  // Refcount 2 on the data cluster of guest 0 (16-bit refcounts), without
  // the copied flag: a write there must be refused, not done in place.
  const auto bytes = ReadFile(img_);
  const uint64_t data = LoadBe64(&bytes[l2_]) & kOffsetMask;
  const uint64_t block = LoadBe64(&bytes[h_.refcount_table_offset]);
  Patch64(l2_, data);
  int fd = open(img_.c_str(), O_WRONLY);
  const uint8_t two[2] = {0, 2};
  ASSERT_EQ(2, pwrite(fd, two, 2, block + 2 * (data / 65536)));
  close(fd);
  ExpectRefused(Status::Code::kNotSupported, "shared");
}

TEST_F(Qcow2HostileTest, DirtyImageIsRepairedOrRefused) {
  // Dirty, and the refcount of guest 0's data cluster lost (as after a
  // crash with lazy refcounts): a writable open rebuilds it and clears the
  // dirty bit; qemu-img check is then clean.
  auto bytes = ReadFile(img_);
  const uint64_t data = LoadBe64(&bytes[l2_]) & kOffsetMask;
  const uint64_t block = LoadBe64(&bytes[h_.refcount_table_offset]);
  Patch64(72, kIncompatDirty);
  int fd = open(img_.c_str(), O_WRONLY);
  const uint8_t zero[2] = {0, 0};
  ASSERT_EQ(2, pwrite(fd, zero, 2, block + 2 * (data / 65536)));
  close(fd);
  std::string out;
  EXPECT_NE(fs::testing::QemuCheck(img_, &out), 0) << out;  // control
  {
    Opened o;
    ASSERT_TRUE(OpenImage(img_, true, &o).ok());
  }
  bytes = ReadFile(img_);
  EXPECT_EQ(LoadBe64(&bytes[72]), 0u) << "dirty bit not cleared";
  EXPECT_EQ(fs::testing::QemuCheck(img_, &out), 0) << out;
  // Unrepairable here (the first clusters lose their refcount block):
  // refused, saying how to repair, nothing written.
  Patch64(72, kIncompatDirty);
  Patch64(h_.refcount_table_offset, 0);
  ExpectRefused(Status::Code::kNotSupported, "qemu-img check -r all");
}

TEST_F(Qcow2HostileTest, CorruptBitRefusesReadWrite) {
  Patch64(72, kIncompatCorrupt);
  ExpectRefused(Status::Code::kNotSupported, "read-only");
  Opened o;  // read-only is fine
  EXPECT_TRUE(OpenImage(img_, false, &o).ok());
}

TEST_F(Qcow2HostileTest, NotEncryptedQcow2) {
  const std::string plain = dir_ / "plain.qcow2";
  ASSERT_EQ(0, fs::testing::Sh("qemu-img create -q -f qcow2 " + plain + " 1M"));
  auto st = FileStorage::Open(plain, false);
  ASSERT_TRUE(st.ok());
  auto c = OpenQcow2(st->get(), false, ContainerOptions());
  ASSERT_TRUE(c.ok()) << c.status().ToString();  // info can describe it
  std::vector<uint8_t> d(592);
  Status s = (*c)->ReadLuks(0, d);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported);
  EXPECT_NE(s.message().find("not encrypted"), std::string::npos);
}

}  // namespace
}  // namespace luksfs::fs::qcow2
