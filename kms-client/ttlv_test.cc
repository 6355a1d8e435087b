#include "kms-client/ttlv.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace luksfs::kms {
namespace {

std::vector<uint8_t> FromHex(std::string_view hex) {
  std::vector<uint8_t> out;
  int half = -1;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      v = c - 'A' + 10;
    } else {
      continue;  // spaces
    }
    if (half < 0) {
      half = v;
    } else {
      out.push_back(static_cast<uint8_t>(half << 4 | v));
      half = -1;
    }
  }
  return out;
}

std::vector<uint8_t> Encode(const TtlvItem& item) {
  Result<std::vector<uint8_t>> r = EncodeTtlv(item);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : std::vector<uint8_t>{};
}

void ExpectRoundTrip(const TtlvItem& item, std::string_view hex) {
  const std::vector<uint8_t> bytes = Encode(item);
  EXPECT_EQ(bytes, FromHex(hex)) << TtlvToString(item, false);
  Result<TtlvItem> back = DecodeTtlv(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(*back == item) << TtlvToString(*back, false);
}

Status::Code DecodeCode(std::string_view hex, const TtlvLimits& l = {}) {
  return DecodeTtlv(FromHex(hex), l).status().code();
}

// Examples from the KMIP 1.x spec §9.1.2 (Tag 0x420020).
TEST(TtlvTest, EveryTypeRoundTrips) {
  ExpectRoundTrip(TtlvItem::Integer(0x420020, 8),
                  "42002002 00000004 00000008 00000000");
  ExpectRoundTrip(TtlvItem::Integer(0x420020, -1),
                  "42002002 00000004 ffffffff 00000000");
  ExpectRoundTrip(TtlvItem::LongInteger(0x420020, 123456789000000000),
                  "42002003 00000008 01b69b4ba5749200");
  const std::vector<uint8_t> big = FromHex("0000000003fd35eb 6bc2df4618080000");
  ExpectRoundTrip(TtlvItem::BigInteger(0x420020, big),
                  "42002004 00000010 0000000003fd35eb6bc2df4618080000");
  ExpectRoundTrip(TtlvItem::Enumeration(0x420020, 255),
                  "42002005 00000004 000000ff 00000000");
  ExpectRoundTrip(TtlvItem::Boolean(0x420020, true),
                  "42002006 00000008 0000000000000001");
  ExpectRoundTrip(TtlvItem::Text(0x420020, "Hello World"),
                  "42002007 0000000b 48656c6c6f20576f726c640000000000");
  const std::vector<uint8_t> b3 = {1, 2, 3};
  ExpectRoundTrip(TtlvItem::Bytes(0x420020, b3),
                  "42002008 00000003 0102030000000000");
  ExpectRoundTrip(TtlvItem::DateTime(0x420020, 0x47DA67F8),
                  "42002009 00000008 0000000047da67f8");
  ExpectRoundTrip(TtlvItem::Interval(0x420020, 864000),
                  "4200200a 00000004 000d2f00 00000000");
  ExpectRoundTrip(
      TtlvItem::Structure(0x420020, {TtlvItem::Enumeration(0x420004, 254),
                                     TtlvItem::Integer(0x420005, 255)}),
      "42002001 00000020 42000405 00000004 000000fe 00000000"
      "42000502 00000004 000000ff 00000000");
}

TEST(TtlvTest, EdgeValues) {
  ExpectRoundTrip(TtlvItem::Text(0x420020, ""), "42002007 00000000");
  ExpectRoundTrip(TtlvItem::Bytes(0x420020, std::vector<uint8_t>(8, 0xAB)),
                  "42002008 00000008 abababababababab");
  ExpectRoundTrip(TtlvItem::Structure(0x420020), "42002001 00000000");
  ExpectRoundTrip(TtlvItem::Enumeration(0x420020, 0xFFFFFFFF),
                  "42002005 00000004 ffffffff 00000000");
  ExpectRoundTrip(TtlvItem::LongInteger(0x420020, -2),
                  "42002003 00000008 fffffffffffffffe");
  ExpectRoundTrip(TtlvItem::Boolean(0x420020, false),
                  "42002006 00000008 0000000000000000");
}

TEST(TtlvTest, FindAndFindAll) {
  TtlvItem s = TtlvItem::Structure(1);
  s.Add(TtlvItem::Integer(2, 1)).Add(TtlvItem::Integer(3, 2));
  s.Add(TtlvItem::Integer(2, 3));
  ASSERT_NE(s.Find(3), nullptr);
  EXPECT_EQ(s.Find(3)->integer, 2);
  EXPECT_EQ(s.Find(4), nullptr);
  EXPECT_EQ(s.FindAll(2).size(), 2u);
  EXPECT_EQ(s.FindAll(2)[1]->integer, 3);
}

TEST(TtlvTest, EncoderRejectsInvalidValues) {
  TtlvItem i = TtlvItem::Integer(0x420020, 0);
  i.integer = int64_t{1} << 40;
  EXPECT_EQ(EncodeTtlv(i).status().code(), Status::Code::kInvalidArgument);
  TtlvItem e = TtlvItem::Enumeration(0x420020, 0);
  e.integer = -1;
  EXPECT_FALSE(EncodeTtlv(e).ok());
  TtlvItem b = TtlvItem::Boolean(0x420020, true);
  b.integer = 2;
  EXPECT_FALSE(EncodeTtlv(b).ok());
  EXPECT_FALSE(
      EncodeTtlv(TtlvItem::BigInteger(0x420020, std::vector<uint8_t>(5))).ok());
  EXPECT_FALSE(EncodeTtlv(TtlvItem::Integer(0x1000000, 1)).ok());
  TtlvItem scalar_with_child = TtlvItem::Integer(0x420020, 1);
  scalar_with_child.children.push_back(TtlvItem::Integer(1, 1));
  EXPECT_FALSE(EncodeTtlv(scalar_with_child).ok());
}

TEST(TtlvTest, HostileInputsAreCorruption) {
  const auto kBad = Status::Code::kCorruption;
  EXPECT_EQ(DecodeCode(""), kBad);
  EXPECT_EQ(DecodeCode("420020"), kBad);                      // short header
  EXPECT_EQ(DecodeCode("42002002 00000004 00000008"), kBad);  // truncated
  EXPECT_EQ(DecodeCode("42002007 ffffffff 41"), kBad);        // huge length
  EXPECT_EQ(DecodeCode("42002008 fffffff9 00"), kBad);        // pads past 4G
  EXPECT_EQ(DecodeCode("42002002 00000004 00000008 00000001"), kBad);  // pad
  EXPECT_EQ(DecodeCode("42002007 00000001 41000000 00000100"), kBad);  // pad
  EXPECT_EQ(DecodeCode("42002002 00000008 00000008 00000000"), kBad);  // size
  EXPECT_EQ(DecodeCode("42002003 00000004 00000008 00000000"), kBad);
  EXPECT_EQ(DecodeCode("42002006 00000008 0000000000000002"), kBad);   // bool
  EXPECT_EQ(DecodeCode("42002004 00000004 00000001 00000000"), kBad);  // big
  EXPECT_EQ(DecodeCode("42002004 00000000"), kBad);
  EXPECT_EQ(DecodeCode("4200200b 00000000"), kBad);  // unknown type
  EXPECT_EQ(DecodeCode("42002000 00000000"), kBad);
  // Structure whose length is not a multiple of 8, or cuts a child.
  EXPECT_EQ(DecodeCode("42002001 00000004 00000000"), kBad);
  EXPECT_EQ(DecodeCode("42002001 00000008 42000402 00000004"), kBad);
  // Structure length larger than the buffer.
  EXPECT_EQ(DecodeCode("42002001 00000100 42000402 00000004 00000001 00000000"),
            kBad);
  // Trailing bytes after the item.
  EXPECT_EQ(DecodeCode("42002002 00000004 00000008 00000000 00"), kBad);
}

TEST(TtlvTest, DepthAndSizeLimits) {
  // 40 nested empty structures.
  TtlvItem deep = TtlvItem::Structure(0x420020);
  for (int i = 0; i < 40; ++i) {
    deep = TtlvItem::Structure(0x420020, {std::move(deep)});
  }
  const std::vector<uint8_t> bytes = Encode(deep);
  Result<TtlvItem> r = DecodeTtlv(bytes);
  EXPECT_EQ(r.status().code(), Status::Code::kCorruption);
  EXPECT_NE(r.status().message().find("nested"), std::string::npos);
  TtlvLimits roomy;
  roomy.max_depth = 64;
  EXPECT_TRUE(DecodeTtlv(bytes, roomy).ok());

  TtlvLimits small;
  small.max_message_bytes = 16;
  EXPECT_EQ(
      DecodeCode("42002007 00000010 41414141414141414141414141414141", small),
      Status::Code::kCorruption);
  TtlvLimits few;
  few.max_items = 2;
  EXPECT_EQ(
      DecodeCode("42002001 00000010 42000402 00000004 00000001 00000000", few),
      Status::Code::kOk);
  few.max_items = 1;
  EXPECT_EQ(
      DecodeCode("42002001 00000010 42000402 00000004 00000001 00000000", few),
      Status::Code::kCorruption);
}

TEST(TtlvTest, BodyLengthForFraming) {
  std::vector<uint8_t> h = FromHex("42007b01 00000060");
  Result<size_t> n = TtlvBodyLength(std::span<const uint8_t, 8>(h.data(), 8));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0x60u);
  h = FromHex("42007b02 00000004");  // not a Structure
  EXPECT_FALSE(TtlvBodyLength(std::span<const uint8_t, 8>(h.data(), 8)).ok());
  h = FromHex("42007b01 7ffffff8");  // 2 GiB
  EXPECT_EQ(
      TtlvBodyLength(std::span<const uint8_t, 8>(h.data(), 8)).status().code(),
      Status::Code::kCorruption);
  h = FromHex("42007b01 00000061");
  EXPECT_FALSE(TtlvBodyLength(std::span<const uint8_t, 8>(h.data(), 8)).ok());
}

TEST(TtlvTest, ToStringRedactsByDefault) {
  TtlvItem s = TtlvItem::Structure(
      0x420020, {TtlvItem::Text(0x4200A1, "hunter2"), TtlvItem::Integer(1, 7)});
  const std::string redacted = TtlvToString(s);
  EXPECT_EQ(redacted.find("hunter2"), std::string::npos);
  EXPECT_NE(redacted.find("[7 bytes]"), std::string::npos);
  EXPECT_NE(TtlvToString(s, false).find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace luksfs::kms
