#include "fs/fuse/init_hooks.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace luksfs::fs {
namespace {

std::vector<uint8_t> InitRequest(uint64_t unique, uint32_t flags,
                                 uint32_t flags2, size_t init_len) {
  std::vector<uint8_t> buf(sizeof(fuse_in_header) + init_len, 0);
  fuse_in_header in = {};
  in.opcode = FUSE_INIT;
  in.unique = unique;
  in.len = static_cast<uint32_t>(buf.size());
  std::memcpy(buf.data(), &in, sizeof in);
  fuse_init_in ii = {};
  ii.major = 7;
  ii.minor = 40;
  ii.flags = flags;
  ii.flags2 = flags2;
  std::memcpy(buf.data() + sizeof in, &ii, std::min(sizeof ii, init_len));
  return buf;
}

TEST(InitHooksTest, ParsesTheOfferWithFlags2OnlyUnderInitExt) {
  const uint32_t ext = static_cast<uint32_t>(kFuseInitExt);
  auto buf = InitRequest(42, ext | 1, 1u << 4, sizeof(fuse_init_in));
  auto offer = ParseInitRequest(buf.data(), buf.size());
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->unique, 42u);
  EXPECT_EQ(offer->flags, kFuseInitExt | 1 | kFuseDirectIoAllowMmap);
  // No FUSE_INIT_EXT: flags2 is not part of the offer.
  buf = InitRequest(7, 1, 1u << 4, sizeof(fuse_init_in));
  offer = ParseInitRequest(buf.data(), buf.size());
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->flags, 1u);
  // An old kernel's short INIT (no flags2 field).
  buf = InitRequest(7, ext, 0xffffffff, offsetof(fuse_init_in, flags2));
  offer = ParseInitRequest(buf.data(), buf.size());
  ASSERT_TRUE(offer.has_value());
  EXPECT_EQ(offer->flags, kFuseInitExt);
  // Not INIT, or too short.
  buf[offsetof(fuse_in_header, opcode)] = FUSE_READ;
  EXPECT_FALSE(ParseInitRequest(buf.data(), buf.size()).has_value());
  EXPECT_FALSE(ParseInitRequest(buf.data(), 10).has_value());
}

TEST(InitHooksTest, AddsOnlyOfferedFlagsAndOnlyWithInitExt) {
  fuse_init_out reply = {};
  reply.flags = static_cast<uint32_t>(kFuseInitExt);
  const uint64_t offered = kFuseDirectIoAllowMmap | kFuseInitExt;
  EXPECT_EQ(AddInitFlags(&reply, offered,
                         kFuseDirectIoAllowMmap | kFuseOverIoUring),
            kFuseDirectIoAllowMmap);
  EXPECT_EQ(reply.flags2, 1u << 4);
  EXPECT_EQ(AddInitFlags(&reply, offered | kFuseOverIoUring, kFuseOverIoUring),
            kFuseOverIoUring);
  EXPECT_EQ(reply.flags2, (1u << 4) | (1u << 9));
  fuse_init_out old = {};  // libfuse did not set FUSE_INIT_EXT
  EXPECT_EQ(AddInitFlags(&old, offered, kFuseDirectIoAllowMmap), 0u);
  EXPECT_EQ(old.flags2, 0u);
}

}  // namespace
}  // namespace luksfs::fs
