// The LUKS1 writer never writes where the header does not say it may:
// hostile offsets in inactive keyslots (which the parser does not need to
// validate for reading) are refused before any write is produced.
#include "crypto/luks1_writer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "crypto/af.h"

namespace luksfs::crypto {
namespace {

void PutBe32(std::vector<uint8_t>& b, size_t off, uint32_t v) {
  b[off] = v >> 24;
  b[off + 1] = v >> 16;
  b[off + 2] = v >> 8;
  b[off + 3] = v;
}

// aes xts-plain64, 64-byte key, slot 0 active, slots 1..7 disabled at
// cryptsetup's offsets, payload at sector 4096.
std::vector<uint8_t> Header() {
  std::vector<uint8_t> b(592, 0);
  const uint8_t magic[6] = {'L', 'U', 'K', 'S', 0xba, 0xbe};
  std::memcpy(b.data(), magic, 6);
  b[7] = 1;
  std::memcpy(b.data() + 8, "aes", 3);
  std::memcpy(b.data() + 40, "xts-plain64", 11);
  std::memcpy(b.data() + 72, "sha256", 6);
  PutBe32(b, 104, 4096);
  PutBe32(b, 108, 64);
  for (int i = 0; i < 8; ++i) {
    PutBe32(b, 208 + 48 * i, i == 0 ? 0x00AC71F3 : 0x0000DEAD);
    PutBe32(b, 208 + 48 * i + 40, 8 + 504 * i);
    PutBe32(b, 208 + 48 * i + 44, 4000);
  }
  return b;
}

NewKeyslot Slot() {
  NewKeyslot ks;
  ks.kdf.type = KdfType::kPbkdf2;
  ks.kdf.iterations = 1000;
  ks.kdf.salt.assign(32, 7);
  ks.material.assign(AfSplitSize(64, 4000), 0x5a);
  return ks;
}

TEST(Luks1WriterTest, AddsIntoTheFirstFreeSlotAtItsOffset) {
  int slot = -1;
  auto w = Luks1AddKeyslot(Header(), Slot(), std::nullopt, &slot);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(slot, 1);
  ASSERT_EQ(w->size(), 2u);
  EXPECT_EQ((*w)[0].offset, 512u * 512);  // slot 1 material, sector 512
  EXPECT_EQ((*w)[1].offset, 0u);          // then the header
}

TEST(Luks1WriterTest, RefusesHostileInactiveSlotOffsets) {
  auto into_payload = Header();
  PutBe32(into_payload, 208 + 48 + 40, 4000);  // slot 1 runs into the data
  int slot = -1;
  EXPECT_EQ(Luks1AddKeyslot(into_payload, Slot(), std::nullopt, &slot)
                .status()
                .code(),
            Status::Code::kCorruption);
  auto onto_slot0 = Header();
  PutBe32(onto_slot0, 208 + 48 + 40, 100);  // slot 1 over slot 0's material
  EXPECT_EQ(
      Luks1AddKeyslot(onto_slot0, Slot(), std::nullopt, &slot).status().code(),
      Status::Code::kCorruption);
  EXPECT_EQ(Luks1DisableKeyslots(onto_slot0, {1}).status().code(),
            Status::Code::kCorruption);
}

}  // namespace
}  // namespace luksfs::crypto
