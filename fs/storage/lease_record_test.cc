#include "fs/storage/lease_record.h"

#include <gtest/gtest.h>

#include <string>

namespace luksfs::fs {
namespace {

TEST(LeaseRecordTest, FormatParseRoundTrip) {
  LeaseRecord r;
  r.host = "node-1";
  r.pid = 4242;
  r.mount = "/run/luksfs/vm 1";
  r.nonce = "00112233445566778899aabbccddeeff";
  r.expires = 1800000000;
  std::optional<LeaseRecord> back = ParseLease(FormatLease(r));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(back->host, r.host);
  EXPECT_EQ(back->pid, r.pid);
  EXPECT_EQ(back->mount, r.mount);
  EXPECT_EQ(back->nonce, r.nonce);
  EXPECT_EQ(back->expires, r.expires);
}

TEST(LeaseRecordTest, RejectsWhatIsNotALease) {
  EXPECT_FALSE(ParseLease(""));
  EXPECT_FALSE(ParseLease("luksfs-lease 2\nexpires=1\n"));
  EXPECT_FALSE(ParseLease("luksfs-lease 1\nhost=x\n"));            // no expiry
  EXPECT_FALSE(ParseLease("luksfs-lease 1\nexpires=12x\n"));
  EXPECT_FALSE(ParseLease("luksfs-lease 1\npid=\nexpires=1\n"));
  EXPECT_FALSE(ParseLease("luksfs-lease 1\ngarbage\nexpires=1\n"));
  EXPECT_FALSE(ParseLease(std::string("luksfs-lease 1\nexpires=1\n") +
                          std::string(5000, 'x')));
  EXPECT_TRUE(ParseLease("luksfs-lease 1\nexpires=1\nfuture=ok\n"));
}

}  // namespace
}  // namespace luksfs::fs
