// LUKS1 header parsing: valid, damaged, truncated and hostile headers.
// Headers are assembled byte by byte from the LUKS1 spec's table.
#include <gtest/gtest.h>

#include <cstring>

#include "crypto/luks_header.h"

namespace luksfs::crypto {
namespace {

void PutBe32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  b[off] = v >> 24;
  b[off + 1] = v >> 16;
  b[off + 2] = v >> 8;
  b[off + 3] = v;
}

void PutStr(std::vector<uint8_t>& b, size_t off, const char* s) {
  std::memcpy(b.data() + off, s, std::strlen(s));
}

// A cryptsetup-shaped LUKS1 header: aes xts-plain64, 64-byte key, slot 0
// active at sector 8, payload at sector 4096.
std::vector<uint8_t> ValidHeader() {
  std::vector<uint8_t> b(4096 * 512, 0);
  const uint8_t magic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
  std::memcpy(b.data(), magic, 6);
  b[7] = 1;
  PutStr(b, 8, "aes");
  PutStr(b, 40, "xts-plain64");
  PutStr(b, 72, "sha256");
  PutBe32(b, 104, 4096);
  PutBe32(b, 108, 64);
  PutBe32(b, 164, 1000);
  PutStr(b, 168, "0fd3d5b4-8a3f-4c7e-9d8c-1a2b3c4d5e6f");
  for (int i = 0; i < 8; ++i) {
    const size_t kb = 208 + 48 * i;
    PutBe32(b, kb, i == 0 ? 0x00AC71F3 : 0x0000DEAD);
    PutBe32(b, kb + 4, 1000);
    PutBe32(b, kb + 40, 8 + 504 * i);
    PutBe32(b, kb + 44, 4000);
  }
  return b;
}

Result<LuksHeader> Read(const std::vector<uint8_t>& img) {
  ReadFn read = [&](uint64_t off, std::span<uint8_t> dst) -> Status {
    if (off > img.size() || dst.size() > img.size() - off) {
      return Status::Corruption("image is truncated");
    }
    std::memcpy(dst.data(), img.data() + off, dst.size());
    return Status();
  };
  return ReadLuksHeader(read, img.size());
}

TEST(Luks1HeaderTest, ParsesValidHeader) {
  auto h = Read(ValidHeader());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->version, 1);
  EXPECT_EQ(h->uuid, "0fd3d5b4-8a3f-4c7e-9d8c-1a2b3c4d5e6f");
  EXPECT_EQ(h->key_bytes, 64u);
  ASSERT_EQ(h->keyslots.size(), 1u);
  EXPECT_EQ(h->keyslots[0].area_offset, 8u * 512);
  EXPECT_EQ(h->keyslots[0].area_size, 256000u);
  EXPECT_EQ(h->keyslots[0].kdf.iterations, 1000u);
  EXPECT_EQ(h->keyslots[0].area_cipher, "aes-xts-plain64");
  ASSERT_EQ(h->segments.size(), 1u);
  EXPECT_EQ(h->segments[0].offset, 4096u * 512);
  EXPECT_EQ(h->segments[0].sector_size, 512u);
  EXPECT_TRUE(CheckMountable(*h).ok());
  auto layout = ComputeDataLayout(*h, 4096 * 512 + 10 * 512 + 100);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->size, 10u * 512);  // partial trailing sector dropped
}

TEST(Luks1HeaderTest, RejectsBadMagicAndGarbage) {
  auto b = ValidHeader();
  b[0] = 'X';
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
  std::vector<uint8_t> garbage(1 << 20);
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = (i * 7919) >> 3;
  auto g = Read(garbage);
  EXPECT_EQ(g.status().code(), Status::Code::kCorruption);
  EXPECT_NE(g.status().message().find("not a LUKS image"), std::string::npos);
}

TEST(Luks1HeaderTest, RejectsTruncatedImage) {
  auto b = ValidHeader();
  b.resize(300);
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
  b.resize(5);
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
  auto h = Read(ValidHeader());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(ComputeDataLayout(*h, 1000).status().code(),
            Status::Code::kCorruption);
}

TEST(Luks1HeaderTest, RejectsHostileFields) {
  auto b = ValidHeader();
  PutBe32(b, 208 + 44, 3999);  // stripes
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
  b = ValidHeader();
  PutBe32(b, 108, 0x7fffffff);  // keyBytes
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
  b = ValidHeader();
  PutBe32(b, 208 + 40, 4095);  // key material runs into the payload
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
  b = ValidHeader();
  PutBe32(b, 208 + 48, 0x00AC71F3);  // slot 1 active...
  PutBe32(b, 208 + 48 + 40, 100);    // ...overlapping slot 0
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
  b = ValidHeader();
  PutBe32(b, 208, 0x12345678);  // invalid slot state
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
  b = ValidHeader();
  b[10] = 0x01;  // control byte in cipherName
  EXPECT_EQ(Read(b).status().code(), Status::Code::kCorruption);
}

TEST(Luks1HeaderTest, UnknownVersionAndDetachedAndQcow2AreNotSupported) {
  auto b = ValidHeader();
  b[7] = 3;
  EXPECT_EQ(Read(b).status().code(), Status::Code::kNotSupported);
  b = ValidHeader();
  PutBe32(b, 104, 0);
  EXPECT_EQ(Read(b).status().code(), Status::Code::kNotSupported);
  std::vector<uint8_t> q(4096, 0);
  std::memcpy(q.data(), "QFI\xfb", 4);
  EXPECT_EQ(Read(q).status().code(), Status::Code::kNotSupported);
}

TEST(Luks1HeaderTest, UnsupportedCipherIsNotMountable) {
  auto b = ValidHeader();
  std::memset(b.data() + 8, 0, 32);
  PutStr(b, 8, "twofish");
  auto h = Read(b);
  ASSERT_TRUE(h.ok());  // info can still describe it
  Status s = CheckMountable(*h);
  EXPECT_EQ(s.code(), Status::Code::kNotSupported);
  EXPECT_NE(s.message().find("twofish-xts-plain64"), std::string::npos);
}

}  // namespace
}  // namespace luksfs::crypto
