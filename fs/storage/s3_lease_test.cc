#include "fs/storage/s3_lease.h"

#include <gtest/gtest.h>

#include <random>

namespace luksfs::fs {
namespace {

LeaseRecord Sample() {
  LeaseRecord r;
  r.host = "h1.example";
  r.pid = 4242;
  r.mounted = "2026-12-01T21:00:00Z";
  r.expires = 1796158860;
  r.seconds = 60;
  r.nonce = "00112233445566778899aabbccddeeff";
  return r;
}

TEST(LeaseRecord, RoundTrip) {
  const LeaseRecord r = Sample();
  auto p = LeaseRecord::Parse(r.ToJson());
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->host, r.host);
  EXPECT_EQ(p->pid, r.pid);
  EXPECT_EQ(p->mounted, r.mounted);
  EXPECT_EQ(p->expires, r.expires);
  EXPECT_EQ(p->seconds, r.seconds);
  EXPECT_EQ(p->nonce, r.nonce);
  EXPECT_EQ(p->Holder(), "host h1.example pid 4242 since 2026-12-01T21:00:00Z");
}

TEST(LeaseRecord, RejectsMalformed) {
  for (const char* bad :
       {"", "{}", "not json", "{\"host\":\"a\"}",
        "{\"host\":\"a\",\"pid\":x,\"mounted\":\"m\",\"expires\":1,\"seconds\":1,\"nonce\":\"n\"}",
        "{\"host\":\"a\",\"pid\":1,\"mounted\":\"m\",\"expires\":1,\"seconds\":1,\"nonce\":\"n",
        "{\"host\":\"a\\\\\",\"pid\":1,\"mounted\":\"m\",\"expires\":1,\"seconds\":1,\"nonce\":\"n\"}",
        "{\"host\":\"a\",\"pid\":1,\"mounted\":\"m\",\"expires\":1234567890123456789012,"
        "\"seconds\":1,\"nonce\":\"n\"}"}) {
    EXPECT_FALSE(LeaseRecord::Parse(bad).has_value()) << bad;
  }
  EXPECT_FALSE(LeaseRecord::Parse(std::string(5000, ' ') + Sample().ToJson()).has_value());
}

// Truncations and random byte flips of a valid record never crash and give
// either nullopt or a record with bounded fields.
TEST(LeaseRecord, MutationsAreSafe) {
  const std::string good = Sample().ToJson();
  for (size_t n = 0; n < good.size(); ++n) (void)LeaseRecord::Parse(good.substr(0, n));
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s = good;
    for (int k = 0; k < 3; ++k) s[rng() % s.size()] = static_cast<char>(rng());
    auto p = LeaseRecord::Parse(s);
    if (p) {
      EXPECT_LE(p->host.size(), 256u);
      EXPECT_GE(p->pid, 0);
    }
  }
}

}  // namespace
}  // namespace luksfs::fs
