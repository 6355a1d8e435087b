#include "common/hex.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace luksfs {
namespace {

TEST(HexTest, EncodesEveryByteValueInBothCases) {
  std::vector<uint8_t> all(256);
  for (int i = 0; i < 256; ++i) all[i] = uint8_t(i);
  const std::string lower = HexEncode(all);
  ASSERT_EQ(lower.size(), 512u);
  for (int i = 0; i < 256; ++i) {
    char want[3];
    std::snprintf(want, sizeof want, "%02x", i);
    EXPECT_EQ(lower.substr(2 * i, 2), want) << i;
  }
  EXPECT_EQ(HexEncode(all, HexCase::kUpper).substr(508), "FEFF");
}

TEST(HexTest, SeparatorGoesBetweenBytesOnly) {
  const std::vector<uint8_t> b = {0x0a, 0xbc, 0xde};
  EXPECT_EQ(HexEncode(b, HexCase::kUpper, ":"), "0A:BC:DE");
  EXPECT_EQ(HexEncode({}, HexCase::kUpper, ":"), "");
  EXPECT_EQ(HexEncode(std::span<const uint8_t>(b).first(1), HexCase::kLower, ":"), "0a");
}

TEST(HexTest, SecureEncodingMatchesThePlainOne) {
  const std::vector<uint8_t> b = {0x00, 0x7f, 0x80, 0xff, 0x12};
  auto s = HexEncodeSecure(b);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(std::string(s->data(), s->data() + s->size()), HexEncode(b));
}

}  // namespace
}  // namespace luksfs
