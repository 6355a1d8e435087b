// Qcow2Target: zero clusters dropped, the rest packed in guest order onto
// consecutive host clusters, encrypted with the host-offset IV; and the
// header length qemu reserves for the LUKS1 header.
#include "fs/prep/qcow2_target.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace luksfs::fs::prep {
namespace {

TEST(Qcow2TargetTest, QemuLuksHeaderLength) {
  // qemu-img create -f qcow2 -o encrypt.format=luks (aes-256-xts): FDE
  // length 0x1f9000, payload offset 4040 sectors.
  EXPECT_EQ(QemuLuksHeaderBytes(64), 2068480u);
  EXPECT_EQ(QemuLuksHeaderBytes(32), 4096u + 8 * 131072u);  // 128000 -> 32 pages
}

TEST(Qcow2TargetTest, PlacePacksNonZeroClustersInGuestOrder) {
  qcow2::CreateSpec spec;
  spec.virtual_size = 1 << 20;
  spec.cluster_size = 4096;
  auto t = Qcow2Target::Create(spec, nullptr);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  std::vector<uint8_t> buf(64 * 1024, 0);
  // Guest clusters 1, 2 and 5 of this chunk hold data; the chunk is
  // 5.5 clusters long, so the last one is padded with zeros.
  std::memset(buf.data() + 1 * 4096, 0x11, 4096);
  std::memset(buf.data() + 2 * 4096, 0x22, 4096);
  std::memset(buf.data() + 5 * 4096, 0x55, 2048);
  std::memset(buf.data() + 5 * 4096 + 2048, 0x99, 2048);  // past `length`
  auto run = (*t)->Place(0, buf.data(), 5 * 4096 + 2048, buf.size());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->host_offset, 4096u);  // cluster 1: no LUKS header
  EXPECT_EQ(run->length, 3u * 4096);
  EXPECT_EQ(buf[0], 0x11);
  EXPECT_EQ(buf[4096], 0x22);
  EXPECT_EQ(buf[2 * 4096], 0x55);
  EXPECT_EQ(buf[2 * 4096 + 2048], 0);  // the padding, not the stale 0x99
  // An all-zero chunk allocates nothing.
  std::vector<uint8_t> zeros(8192, 0);
  run = (*t)->Place(8 * 4096, zeros.data(), zeros.size(), zeros.size());
  ASSERT_TRUE(run.ok());
  EXPECT_EQ(run->length, 0u);
  // Unaligned or overflowing chunks are refused.
  EXPECT_FALSE((*t)->Place(100, zeros.data(), 4096, zeros.size()).ok());
  EXPECT_FALSE((*t)->Place(16 * 4096, zeros.data(), 8000, 4096).ok());
}

TEST(Qcow2TargetTest, EncryptionUsesTheHostOffsetIv) {
  qcow2::CreateSpec spec;
  spec.virtual_size = 1 << 20;
  spec.cluster_size = 4096;
  spec.luks_bytes = QemuLuksHeaderBytes(64);
  std::vector<uint8_t> key(64);
  for (size_t i = 0; i < key.size(); ++i) key[i] = static_cast<uint8_t>(i * 7 + 1);
  auto engine = crypto::CryptEngine::Create("aes-xts-plain64", key, 512, {});
  ASSERT_TRUE(engine.ok());
  auto t = Qcow2Target::Create(spec, engine->get());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)->luks_offset(), 4096u);
  std::vector<uint8_t> buf(2 * 4096, 0);
  std::memset(buf.data() + 4096, 0x42, 4096);  // guest cluster 9 only
  auto run = (*t)->Place(8 * 4096, buf.data(), buf.size(), buf.size());
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  const uint64_t host = 4096 + (spec.luks_bytes + 4095) / 4096 * 4096;
  EXPECT_EQ(run->host_offset, host);
  EXPECT_EQ(run->length, 4096u);
  std::vector<uint8_t> plain(4096, 0x42), want(4096);
  ASSERT_TRUE((*engine)->Encrypt(host / 512, plain, want).ok());
  EXPECT_EQ(0, std::memcmp(buf.data(), want.data(), 4096));
}

}  // namespace
}  // namespace luksfs::fs::prep
