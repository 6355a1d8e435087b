// The qcow2 skeleton writer: its bytes are re-parsed by the strict parser
// and the map, and checked by qemu-img (check, map, convert) as the oracle.
#include "fs/image/qcow2_create.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "fs/image/qcow2_binding.h"
#include "fs/image/qcow2_map.h"
#include "fs/image/qcow2_test_util.h"
#include "fs/storage/file_storage.h"

namespace luksfs::fs::qcow2 {
namespace {

using fs::testing::ReadFile;
using fs::testing::Sh;
using fs::testing::TempDir;

// Writes the builder's image (data clusters filled with `fill` + guest
// cluster index) to `path`.
void WriteImage(const std::string& path, const ImageBuilder& b,
                const std::vector<std::pair<uint64_t, uint64_t>>& data_at) {
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> buf(b.cluster_size());
  for (const auto& [guest, host] : data_at) {
    std::memset(buf.data(), static_cast<int>(0x40 + guest % 64), buf.size());
    ASSERT_EQ(pwrite(fd, buf.data(), buf.size(), static_cast<off_t>(host)),
              static_cast<ssize_t>(buf.size()));
  }
  Result<FinishedImage> f = b.Finish();
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  for (const MetaWrite& w : f->writes) {
    ASSERT_EQ(pwrite(fd, w.bytes.data(), w.bytes.size(), static_cast<off_t>(w.offset)),
              static_cast<ssize_t>(w.bytes.size()));
  }
  ASSERT_EQ(0, ftruncate(fd, static_cast<off_t>(f->file_size)));
  close(fd);
}

Header Reparse(const std::string& path) {
  std::vector<uint8_t> bytes = ReadFile(path);
  Result<Header> h = ParseHeader(
      std::span<const uint8_t>(bytes.data(), std::min<size_t>(bytes.size(), kMaxHeaderBytes)),
      bytes.size());
  EXPECT_TRUE(h.ok()) << h.status().ToString();
  return h.ok() ? *h : Header{};
}

TEST(Qcow2CreateTest, EmptySkeletonForEveryClusterSizeIsCleanForQemu) {
  TempDir dir;
  for (uint64_t cs : {512ULL, 4096ULL, 65536ULL, 2ULL << 20}) {
    SCOPED_TRACE(cs);
    CreateSpec spec;
    spec.virtual_size = 1ULL << 30;
    spec.cluster_size = cs;
    auto b = ImageBuilder::Create(spec);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    const std::string img = dir / ("e" + std::to_string(cs) + ".qcow2");
    WriteImage(img, **b, {});
    Header h = Reparse(img);
    EXPECT_EQ(h.version, 3u);
    EXPECT_EQ(h.cluster_size(), cs);
    EXPECT_EQ(h.size, 1ULL << 30);
    EXPECT_EQ(h.crypt_method, kCryptNone);
    EXPECT_FALSE(h.has_fde);
    auto st = FileStorage::Open(img, false);
    ASSERT_TRUE(st.ok());
    Qcow2MapOptions mo;
    mo.unit_size = 512;
    auto m = Qcow2Map::Open(st->get(), h, mo);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(*(*m)->CountAllocated(), 0u);
    EXPECT_EQ((*m)->Refcount(0).value(), 1u);
    std::string out;
    EXPECT_EQ(0, Sh("qemu-img check '" + img + "'", &out)) << out;
  }
}

TEST(Qcow2CreateTest, DataRunsMapWhereTheyWereAppended) {
  TempDir dir;
  for (bool ext : {false, true}) {
    for (uint32_t bits : {1u, 16u, 64u}) {
      SCOPED_TRACE(std::to_string(ext) + "/" + std::to_string(bits));
      CreateSpec spec;
      spec.virtual_size = 64ULL << 20;
      spec.cluster_size = 65536;
      spec.refcount_bits = bits;
      spec.extended_l2 = ext;
      auto b = ImageBuilder::Create(spec);
      ASSERT_TRUE(b.ok());
      std::vector<std::pair<uint64_t, uint64_t>> at;
      for (auto [g, n] : {std::pair<uint64_t, uint64_t>{0, 3}, {500, 1}, {1023, 1}}) {
        auto host = (*b)->AppendData(g, n);
        ASSERT_TRUE(host.ok()) << host.status().ToString();
        for (uint64_t k = 0; k < n; ++k) at.emplace_back(g + k, *host + k * 65536);
      }
      EXPECT_FALSE((*b)->AppendData(600, 1).ok());  // behind the last run
      const std::string img = dir / "d.qcow2";
      WriteImage(img, **b, at);
      std::string out;
      EXPECT_EQ(0, Sh("qemu-img check '" + img + "'", &out)) << out;
      // qemu-img convert is the oracle for the plaintext.
      const std::string raw = dir / "d.raw";
      ASSERT_EQ(0, Sh("qemu-img convert -O raw '" + img + "' '" + raw + "'", &out)) << out;
      std::vector<uint8_t> plain = ReadFile(raw);
      ASSERT_EQ(plain.size(), 64u << 20);
      for (uint64_t g : {0ULL, 1ULL, 2ULL, 3ULL, 499ULL, 500ULL, 1023ULL}) {
        const bool data = g <= 2 || g == 500 || g == 1023;
        const uint8_t want = data ? static_cast<uint8_t>(0x40 + g % 64) : 0;
        EXPECT_EQ(plain[g * 65536], want) << g;
        EXPECT_EQ(plain[g * 65536 + 65535], want) << g;
      }
      // Holes stay holes for qemu.
      ASSERT_EQ(0, Sh("qemu-img map --output=json '" + img + "'", &out));
      EXPECT_NE(out.find("\"start\": 196608, \"length\": 32571392, \"depth\": 0, "
                         "\"present\": false, \"zero\": true, \"data\": false"),
                std::string::npos)
          << out;
    }
  }
}

TEST(Qcow2CreateTest, EncryptedSkeletonCarriesTheFdeExtension) {
  TempDir dir;
  CreateSpec spec;
  spec.virtual_size = 100ULL << 30;
  spec.cluster_size = 65536;
  spec.luks_bytes = 2068480;  // qemu's LUKS1 header + 8 slots, 512-bit key
  auto b = ImageBuilder::Create(spec);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->luks_offset(), 65536u);
  EXPECT_EQ((*b)->next_host(), 65536u + 32 * 65536u);
  const std::string img = dir / "l.qcow2";
  WriteImage(img, **b, {});
  Header h = Reparse(img);
  EXPECT_EQ(h.crypt_method, kCryptLuks);
  EXPECT_TRUE(h.has_fde);
  EXPECT_EQ(h.fde_offset, 65536u);
  EXPECT_EQ(h.fde_length, 2068480u);
  EXPECT_EQ(h.l1_size, 200u);  // 1600 Ki clusters / 8192 per L2 table
  // Sparse: header, LUKS clusters, L1, one refcount block and the table.
  EXPECT_EQ(ReadFile(img).size(), (1u + 32 + 1 + 1 + 1) * 65536u);
}

TEST(Qcow2CreateTest, BindingRecordIsTheLastExtensionAndQemuKeepsTheImageClean) {
  TempDir dir;
  const std::string json =
      "{\"type\":\"luksfs-kms\",\"keyslots\":[\"0\"],\"kms\":\"file:/k#a\"}";
  // (cluster size, LUKS bytes): qemu-img checks the plaintext one (an
  // encrypted one needs a real LUKS header and its secret).
  for (auto [cs, luks] : {std::pair<uint64_t, uint64_t>{512, 0}, {65536, 4096}}) {
    SCOPED_TRACE(cs);
    CreateSpec spec;
    spec.virtual_size = 8ULL << 20;
    spec.cluster_size = cs;
    spec.luks_bytes = luks;
    spec.binding_record = json;
    auto b = ImageBuilder::Create(spec);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    const std::string img = dir / ("r" + std::to_string(cs) + ".qcow2");
    WriteImage(img, **b, {});
    Header h = Reparse(img);
    ASSERT_EQ(h.extensions.size(), luks ? 2u : 1u);
    if (luks) {
      EXPECT_EQ(h.extensions[0].type, kExtFde);
    }
    EXPECT_EQ(h.extensions.back().type, kExtLuksfsKms);
    EXPECT_EQ(h.extensions.back().data.size() % 8, 0u);
    Result<std::optional<std::string>> rec = BindingRecord(h);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    ASSERT_TRUE(rec->has_value());
    EXPECT_EQ(**rec, json);
    if (!luks) {
      std::string out;
      EXPECT_EQ(0, Sh("qemu-img check -f qcow2 '" + img + "' 2>&1", &out)) << out;
      EXPECT_NE(out.find("No errors"), std::string::npos) << out;
    }
  }
}

TEST(Qcow2CreateTest, BindingRecordThatDoesNotFitIsRefusedSayingWhatIsFree) {
  CreateSpec spec;
  spec.virtual_size = 8ULL << 20;
  spec.cluster_size = 512;
  spec.luks_bytes = 4096;
  // 512 - 112 - 24 - 8 = 368 bytes free: a record of 360 fits, 361 does not.
  spec.binding_record = std::string(360, 'x');
  EXPECT_TRUE(ImageBuilder::Create(spec).ok());
  spec.binding_record = std::string(361, 'x');
  Status st = ImageBuilder::Create(spec).status();
  EXPECT_EQ(st.code(), Status::Code::kResourceExhausted) << st.ToString();
  EXPECT_NE(st.message().find("needs 376 bytes but only 368 are free in the 512-byte"),
            std::string::npos)
      << st.ToString();
  EXPECT_NE(st.message().find("--cluster-size"), std::string::npos);
  spec.cluster_size = 4096;
  EXPECT_TRUE(ImageBuilder::Create(spec).ok());
  spec.binding_record = std::string("a\0b", 3);
  EXPECT_EQ(ImageBuilder::Create(spec).status().code(), Status::Code::kInvalidArgument);
}

TEST(Qcow2CreateTest, BadSpecsAreRefusedNamingTheOption) {
  auto bad = [](CreateSpec s, const std::string& needle) {
    Status st = ImageBuilder::Create(s).status();
    EXPECT_FALSE(st.ok());
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.ToString();
  };
  CreateSpec s;
  s.virtual_size = 1ULL << 30;
  for (uint64_t cs : {0ULL, 256ULL, 3000ULL, 4ULL << 20}) {
    CreateSpec c = s;
    c.cluster_size = cs;
    bad(c, "--cluster-size");
  }
  CreateSpec r = s;
  r.refcount_bits = 3;
  bad(r, "--refcount-bits");
  r.refcount_bits = 128;
  bad(r, "--refcount-bits");
  CreateSpec e = s;
  e.cluster_size = 4096;
  e.extended_l2 = true;
  bad(e, "--extended-l2");
  CreateSpec z = s;
  z.virtual_size = 1000;
  bad(z, "multiple of 512");
  z.virtual_size = 0;
  bad(z, "multiple of 512");
  CreateSpec big = s;
  big.virtual_size = 1ULL << 40;
  big.cluster_size = 512;
  bad(big, "L1 table over 32 MiB");
  // The edges that are allowed.
  CreateSpec ok = s;
  ok.cluster_size = 512;
  EXPECT_TRUE(ImageBuilder::Create(ok).ok());
  ok.cluster_size = 2ULL << 20;
  ok.extended_l2 = true;
  ok.refcount_bits = 1;
  EXPECT_TRUE(ImageBuilder::Create(ok).ok());
}

}  // namespace
}  // namespace luksfs::fs::qcow2
