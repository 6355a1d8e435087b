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

TEST(PrepFormatTest, ReKeyedDstInheritsSrcUnlessGiven) {
  SourceFormat src;
  src.cipher = "aes-cbc-essiv:sha256";
  src.key_bits = 256;
  src.sector_size = 512;
  src.hash = "sha512";
  src.label = "vm";
  FormatOptions o;
  InheritFormat(src, &o);
  EXPECT_EQ(o.cipher, "aes-cbc-essiv:sha256");
  EXPECT_EQ(o.key_bits, 256u);
  EXPECT_EQ(*o.sector_size, 512u);
  EXPECT_EQ(o.hash, "sha512");
  EXPECT_EQ(o.label, "vm");
  // Given options win.
  FormatOptions g;
  g.cipher = "aes-xts-plain64";
  g.key_bits = 512;
  g.label = "new";
  g.given = {"cipher", "key-size", "label"};
  InheritFormat(src, &g);
  EXPECT_EQ(g.cipher, "aes-xts-plain64");
  EXPECT_EQ(g.key_bits, 512u);
  EXPECT_EQ(g.label, "new");
  EXPECT_EQ(g.hash, "sha512");
  // LUKS1 and qcow2 DSTs: no label, no sector size.
  FormatOptions l1;
  l1.version = 1;
  InheritFormat(src, &l1);
  EXPECT_TRUE(l1.label.empty());
  EXPECT_FALSE(l1.sector_size.has_value());
  EXPECT_EQ(l1.cipher, "aes-cbc-essiv:sha256");
  // A raw SRC: nothing to inherit.
  FormatOptions raw;
  InheritFormat(SourceFormat(), &raw);
  EXPECT_EQ(raw.cipher, "aes-xts-plain64");
  EXPECT_EQ(raw.key_bits, 512u);
  EXPECT_EQ(raw.hash, "sha256");
}

}  // namespace
}  // namespace luksfs::fs::prep
