// FormatOptions checks and SIZE parsing (no I/O).
#include "fs/prep/format.h"

#include <gtest/gtest.h>

namespace luksfs::fs::prep {
namespace {

TEST(PrepFormatTest, ParsesSizes) {
  EXPECT_EQ(*ParseSize("4096"), 4096u);
  EXPECT_EQ(*ParseSize("512K"), 512u << 10);
  EXPECT_EQ(*ParseSize("100M"), 100u << 20);
  EXPECT_EQ(*ParseSize("1G"), 1u << 30);
  EXPECT_EQ(*ParseSize("1GiB"), 1u << 30);
  EXPECT_EQ(*ParseSize("2t"), 2ull << 40);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("G").ok());
  EXPECT_FALSE(ParseSize("12Q").ok());
  EXPECT_FALSE(ParseSize("-1").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseSize("20000000T").ok());
}

TEST(PrepFormatTest, ValidatesCombinations) {
  FormatOptions o;
  EXPECT_TRUE(ValidateFormat(o).ok());
  o.version = 1;
  EXPECT_TRUE(ValidateFormat(o).ok());  // pbkdf2 by default
  o.pbkdf = "argon2id";
  EXPECT_FALSE(ValidateFormat(o).ok());
  o = FormatOptions();
  o.sector_size = 1000;
  EXPECT_FALSE(ValidateFormat(o).ok());
  o = FormatOptions();
  o.key_bits = 260;
  EXPECT_FALSE(ValidateFormat(o).ok());
  o = FormatOptions();
  o.parallel = 9;
  EXPECT_FALSE(ValidateFormat(o).ok());
  o = FormatOptions();
  o.uuid = "xyz";
  EXPECT_FALSE(ValidateFormat(o).ok());
}

TEST(PrepFormatTest, SectorSizeFollowsTheDataSize) {
  FormatOptions o;
  EXPECT_EQ(EffectiveSectorSize(o, 1 << 20), 4096u);
  EXPECT_EQ(EffectiveSectorSize(o, 4096 + 512), 512u);
  o.version = 1;
  EXPECT_EQ(EffectiveSectorSize(o, 1 << 20), 512u);
}

}  // namespace
}  // namespace luksfs::fs::prep
